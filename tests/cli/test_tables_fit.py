"""Every table fits the terminal: no number is cut, no row wraps, hidden columns are named.

The rows below are built by hand with the widest values a real scan produces (seven-digit
multiplier symbols, binanceusdm venue symbols, three-digit APRs, negative rates), and each
check reads the *rendered text* a person would see, not the fitting decisions.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pandas as pd
import pytest
from rich.console import Console

from scanner.cli.collect_cmd import summary
from scanner.cli.execute_cmd import leg_table
from scanner.cli.render import JSON_COLUMNS, TABLE_COLUMNS, fit_opportunities
from scanner.cli.status_cmd import scans_table
from scanner.cli.tables import ColumnsError, Fitted
from scanner.collector import Collection, VenueResult, VenueStatus
from scanner.executor import LegView, PairView

WIDTHS = (80, 100, 120, 200)


def _row(i: int, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {c: 0.0 for c in JSON_COLUMNS}
    row.update(
        symbol="1000000MOG/USDT:USDT",
        pair_type="cross",
        long_venue="binanceusdm",
        short_venue="hyperliquid",
        long_symbol="1000000MOGUSDT",
        short_symbol="kMOG",
        long_rate=-0.0012346,
        long_interval_h=4.0,
        short_rate=0.0003,
        short_interval_h=1.0,
        gross_apr=13.9212 + i,
        cost_frac=0.0123456,
        net_apr=-1.392 + 3 * i,
        breakeven_h=1234.5,
        confidence=0.8312 if i % 2 else None,
        long_next_funding_ms=1_763_798_400_000,
        short_next_funding_ms=1_763_784_000_000,
        interval_mismatch=True,
        settle_mismatch=bool(i % 2),
        price_mismatch=False,
        executable=bool(i % 3),
        notional_usd=10_000.0,
    )
    row.update(kw)
    return row


FRAME = pd.DataFrame(
    [_row(i) for i in range(5)]
    + [
        _row(9, symbol="ETH/USDT:USDT", pair_type="carry", long_venue="bybit-spot",
             short_venue="bybit", long_canonical="ETH/USDT", short_canonical="ETH/USDT:USDT"),
        _row(10, symbol="ICP/USDC:USDC", long_venue="bybit", short_venue="bybit",
             long_canonical="ICP/USDT:USDT", short_canonical="ICP/USDC:USDC", settle_mismatch=True),
    ]
)  # fmt: skip


def _render(fitted: Fitted, width: int) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(fitted.renderable)
    return console.export_text().splitlines()


def _cells(fitted: Fitted) -> list[list[str]]:
    """The text of every shown cell, per row, formatted as the fitted table formats it."""
    from scanner.cli.render import opportunity_rows

    cols = [c for c in TABLE_COLUMNS if c.key in fitted.shown]
    return [[c.cell(r, fitted.compact) for c in cols] for r in opportunity_rows(FRAME)]


@pytest.mark.parametrize("width", WIDTHS)
def test_scan_table_fits_and_never_cuts_a_number(width: int) -> None:
    fitted = fit_opportunities(FRAME, "scan #1: 6 opportunities", width)
    lines = _render(fitted, width)
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert not fitted.cards
    for cells in _cells(fitted):
        # the whole row on one line, every cell whole: no cut, no wrap mid-number
        assert any(all(cell in line for cell in cells) for line in lines), cells
    assert "…" not in "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_hidden_columns_are_named_only_when_some_were_hidden(width: int) -> None:
    fitted = fit_opportunities(FRAME, "t", width)
    text = " ".join(" ".join(_render(fitted, width)).split())
    if fitted.hidden:
        assert "hidden to fit the terminal" in text and "--wide" in text
        for key in fitted.hidden:
            assert key in text
    else:
        assert "hidden" not in text
    # the essentials are always there
    assert {"rank", "symbol", "long", "short", "net_apr"} <= set(fitted.shown)


def test_narrow_terminals_hide_columns_in_the_stated_order() -> None:
    at_80 = fit_opportunities(FRAME, "t", 80)
    at_200 = fit_opportunities(FRAME, "t", 200)
    assert at_80.hidden, "the full table cannot fit 80 columns"
    assert "next_funding" in at_80.hidden  # the first to go
    assert len(at_200.hidden) < len(at_80.hidden)
    # whatever is hidden at 80 has a higher drop priority than whatever is shown
    prio = {c.key: c.priority for c in TABLE_COLUMNS}
    hidden = [prio[k] for k in at_80.hidden]
    shown = [prio[k] for k in at_80.shown]
    assert min(hidden) >= max(shown)


def test_compact_formats_and_venue_legend_when_narrow() -> None:
    fitted = fit_opportunities(FRAME, "t", 100)
    text = "\n".join(_render(fitted, 100))
    assert fitted.compact
    assert "+9%" not in text  # -1.392 + 3*... is never rounded into another value
    assert "-139%" in text  # net APR -1.392 as a compact whole percentage
    assert "BIN" in text and "HL" in text
    assert "BIN=binanceusdm" in text and "HL=hyperliquid" in text


def test_compact_legs_stay_unambiguous_on_one_venue() -> None:
    fitted = fit_opportunities(FRAME, "t", 100)
    text = "\n".join(_render(fitted, 100))
    assert fitted.compact
    assert "BYB-spot" in text  # the carry's spot leg
    assert "BYB:USDT" in text and "BYB:USDC" in text  # USDT perp against USDC perp on Bybit


def test_wide_shows_every_column_in_full_format() -> None:
    fitted = fit_opportunities(FRAME, "t", 80, wide=True)
    assert fitted.hidden == () and not fitted.compact
    text = "\n".join(_render(fitted, 400))
    assert "-0.1235%/4h" in text and "-139.2%" in text and "binanceusdm 1000000MOGUSDT" in text


def test_columns_option_picks_columns_and_names_unknown_ones() -> None:
    fitted = fit_opportunities(FRAME, "t", 80, columns=["symbol", "net APR", "conf"])
    assert fitted.shown == ("symbol", "net_apr", "conf")
    with pytest.raises(ColumnsError, match="bogus"):
        fit_opportunities(FRAME, "t", 80, columns=["symbol", "bogus"])


def test_very_narrow_terminal_gets_cards_with_whole_numbers() -> None:
    fitted = fit_opportunities(FRAME, "t", 44)
    assert fitted.cards
    lines = _render(fitted, 44)
    assert all(len(line) <= 44 for line in lines)
    text = "\n".join(lines)
    assert "-139%" in text and "-12.35bp/4h" in text and "+3.00bp/1h" in text


def test_no_color_output_carries_the_meaning_in_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    console = Console(width=200, file=out, force_terminal=True)
    console.print(fit_opportunities(FRAME, "t", 200).renderable)
    text = out.getvalue()
    assert "\x1b[1m" in text  # styles still reach the terminal (bold headers) ...
    assert not re.search(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])[;m]", text)  # ... colours do not
    assert "-139" in text and "thin" in text  # sign and flags are words, not colours


def _collection() -> Collection:
    results = {
        "bybit": VenueResult(venue="bybit", status=VenueStatus.OK, latency_ms=123.4),
        "okx": VenueResult(
            venue="okx",
            status=VenueStatus.FAILED,
            latency_ms=30_000.0,
            reason="timeout: no answer within the 30 s deadline " * 3,
        ),
    }
    return Collection(started_ms=0, finished_ms=1, deadline_s=30.0, results=results, candidates=[])


@pytest.mark.parametrize("width", WIDTHS)
def test_collect_table_fits_and_keeps_numbers_whole(width: int) -> None:
    fitted = summary(_collection(), width)
    lines = _render(fitted, width)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    assert "30000" in text and "123" in text and "failed" in text


def _pair_view() -> PairView:
    leg = LegView(
        role="long",
        venue="binanceusdm",
        venue_symbol="1000000MOGUSDT",
        side="buy",
        quantity=Decimal("123456.789"),
        average_price=Decimal("0.0012345678"),
        order_ids=("fs-abc-long-1",),
        fees_usd=Decimal("-1.23456"),
        funding_usd=Decimal("0.987654"),
    )
    short = LegView("short", "bybit", "1000000MOGUSDT", "sell", Decimal("123456.7"),
                    Decimal("0.0012349"), ("x",), None, None)  # fmt: skip
    return PairView("p-1a2b3c", "MOG/USDT:USDT|long=binanceusdm|short=bybit", "open",
                    Decimal("5000"), None, (leg, short))  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_execute_status_table_fits_and_keeps_numbers_whole(width: int) -> None:
    fitted = leg_table(_pair_view(), width)
    lines = _render(fitted, width)
    assert all(len(line) <= width for line in lines)
    rows = [r for r in lines if "1000000MOGUSDT" in r]
    assert len(rows) == 2
    assert "123456.789" in rows[0]  # quantity is essential: never hidden, never cut
    shown = {"price": "0.0012345678", "fees": "-1.23456", "funding": "0.987654"}
    for key, text in shown.items():
        assert (text in rows[0]) == (key in fitted.shown)
    if fitted.hidden:
        assert "hidden to fit the terminal" in " ".join(" ".join(lines).split())


def _scans() -> list[dict[str, object]]:
    venues = {
        v: {"status": "ok", "latency_ms": 1234 + i, "reason": None}
        for i, v in enumerate(("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid"))
    }
    venues["okx"] = {"status": "failed", "latency_ms": 30000, "reason": "timeout after 30 s"}
    return [
        {"id": 41, "started_ms": 1_763_784_000_000, "duration_s": 12.345,
         "opportunities_written": 370, "notes": None, "venues": venues},
        {"id": 42, "started_ms": 1_763_784_060_000, "duration_s": None,
         "opportunities_written": 0, "notes": "interrupted", "venues": {}},
    ]  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_status_scans_table_fits_and_keeps_numbers_whole(width: int) -> None:
    fitted = scans_table(_scans(), width)
    lines = _render(fitted, width)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    assert "#41" in text and "12.3s" in text and "370" in text and "unfinished" in text
    if "venues" in fitted.shown:
        assert "30000ms" in text and "1234ms" in text  # folded between venues, never inside
    else:
        assert "venues" in " ".join(text.split())  # named in the hidden-columns note
