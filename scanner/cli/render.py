"""Turn the engine's opportunity frame into what a person or a program reads.

Why separate from the commands: ``scan`` and ``demo`` print the same table, and the JSON/CSV
shapes are a contract for scripts, so they live in one place with one test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from rich.console import RenderableType

from scanner.cli.tables import WIDE_WIDTH, Col, Fitted, fit, select
from scanner.domain import OPPORTUNITY_COLUMNS
from strategies.llm_verdict import VERDICT_COLUMNS

JSON_COLUMNS: tuple[str, ...] = OPPORTUNITY_COLUMNS + VERDICT_COLUMNS
"""Every opportunity column, in the schema's order (``scanner.domain.Opportunity``), then the
LLM's verdict (null when ``--llm off``)."""


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python, dicts recursively."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with the documented keys, in rank order."""
    cols = [c for c in JSON_COLUMNS if c in df.columns]
    return [{c: _clean(row[c]) for c in cols} for row in df[cols].to_dict("records")]


def to_json(df: pd.DataFrame) -> str:
    return json.dumps(records(df), indent=2)


def to_csv(df: pd.DataFrame) -> str:
    flat = pd.DataFrame(records(df))
    for col in ("confidence_components", "llm_reasons"):
        if col in flat.columns:
            flat[col] = flat[col].map(lambda v: None if v is None else json.dumps(v))
    return str(flat.to_csv(index=False))


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def _pct(x: Any, digits: int = 1) -> str:
    return "-" if _missing(x) else f"{float(x) * 100:.{digits}f}%"


def _pct_compact(x: Any) -> str:
    """``+139%`` / ``+8.9%`` / ``-0.4%``: signed, whole per cent from 10 % up."""
    if _missing(x):
        return "-"
    v = float(x) * 100
    return f"{v:+.0f}%" if abs(v) >= 10 else f"{v:+.1f}%"


def _rate(x: Any) -> str:
    return "-" if x is None else f"{float(x) * 100:+.4f}%"


def _rate_bp(x: Any) -> str:
    """A per-interval rate in basis points (1 bp = 0.01 %), the compact unit traders use."""
    return "-" if x is None else f"{float(x) * 10_000:+.2f}bp"


def _hours(x: Any) -> str:
    return "-" if _missing(x) else f"{float(x):.1f}h"


def _hours_compact(x: Any) -> str:
    if _missing(x):
        return "-"
    h = float(x)
    return f"{h / 24:.1f}d" if h >= 100 else f"{h:.0f}h" if h >= 10 else f"{h:.1f}h"


def _when(ms: Any) -> str:
    if _missing(ms):
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%H:%M")


def _interval(x: Any) -> str:
    return "?" if x is None else f"{float(x):g}h"


VENUE_SHORT = {
    "bybit": "BYB",
    "binanceusdm": "BIN",
    "okx": "OKX",
    "bitget": "BGT",
    "gate": "GAT",
    "hyperliquid": "HL",
}
"""Short venue names for narrow terminals; the table prints a legend when it uses them."""


def short_venue(venue: str) -> str:
    """``BYB``; a carry's spot leg (``bybit-spot``) is ``BYB-spot``."""
    base, spot, _ = venue.partition("-spot")
    short = VENUE_SHORT.get(base, base[:4].upper())
    return f"{short}-spot" if spot else short


def venue_legend(venues: Iterable[str]) -> str:
    names = sorted({v.partition("-spot")[0] for v in venues})
    return "venues: " + ", ".join(f"{short_venue(v)}={v}" for v in names)


def _settle(row: Mapping[str, Any], side: str) -> str:
    """The leg's settle coin from its canonical id ("" where the row does not carry it: a
    guess from the pair's symbol would name the wrong coin for one of the legs)."""
    canonical = str(row.get(f"{side}_canonical") or "")
    return canonical.partition(":")[2]


def _leg(row: Mapping[str, Any], side: str, compact: bool = False) -> str:
    """``venue SYMBOL``: the venue alone is ambiguous where it lists USDT and USDC perps, so
    the compact form adds the settle coin when both legs are on one venue or settle apart."""
    venue = str(row[f"{side}_venue"])
    if compact:
        same_venue = venue.partition("-spot")[0] == str(row["short_venue"]) and side == "long"
        ambiguous = same_venue or str(row["long_venue"]) == str(row["short_venue"])
        spot = venue.endswith("-spot")
        if (ambiguous or row.get("settle_mismatch")) and not spot and _settle(row, side):
            return f"{short_venue(venue)}:{_settle(row, side)}"
        return short_venue(venue)
    symbol = row.get(f"{side}_symbol")
    return f"{venue} {symbol}" if symbol else venue


FLAGS: tuple[tuple[str, str, str, str], ...] = (
    # (row key, full text, compact text, meaning for the legend)
    ("interval_mismatch", "interval≠", "int≠", "funding intervals differ"),
    ("settle_mismatch", "USDT/USDC", "stl≠", "one leg settles in USDT, the other in USDC"),
    ("price_mismatch", "price≠", "px≠", "leg prices differ: likely different tokens"),
    ("thin", "thin book", "thin", "book too thin for the notional: not executable"),
    ("top", "top of book", "top", "priced by the top of book only; ≤ marks an upper bound"),
)


def _flag_keys(row: Mapping[str, Any]) -> list[str]:
    keys = [k for k, *_ in FLAGS if k not in ("thin", "top") and row.get(k)]
    unmeasured_top = row.get("book_top_only") is True and row.get("cost_measured") is False
    if unmeasured_top and not row.get("book_thin") and not row.get("book_missing"):
        keys.append("top")
    elif row.get("executable") is False:
        keys.append("thin")
    return keys


def _flags(row: Mapping[str, Any], compact: bool) -> str:
    """Why a row deserves a second look. Compact form: short codes (a legend is printed) and
    no ``carry`` (the spot leg already says ``-spot``)."""
    texts = {k: (c if compact else f) for k, f, c, _ in FLAGS}
    words = [texts[k] for k in _flag_keys(row)]
    if not compact and row.get("pair_type") == "carry":
        words.append("carry")
    return " ".join(words)


def flag_legend(rows: Iterable[Mapping[str, Any]]) -> str:
    """``flags: int≠ funding intervals differ, ...`` for the codes that appear in ``rows``."""
    present = {k for r in rows for k in _flag_keys(r)}
    parts = [f"{c} {m}" for k, _f, c, m in FLAGS if k in present]
    return "flags: " + ", ".join(parts) if parts else ""


def _sign_style(key: str) -> Callable[[Mapping[str, Any]], str]:
    def style(row: Mapping[str, Any]) -> str:
        v = row.get(key)
        if v is None or _missing(v):
            return ""
        return "green" if float(v) > 0 else "red" if float(v) < 0 else ""

    return style


def _conf(row: Mapping[str, Any], _compact: bool) -> str:
    conf = row.get("confidence")
    return "n/a" if conf is None or _missing(conf) else f"{float(conf):.2f}"


def _rate_cell(side: str) -> Callable[[Mapping[str, Any], bool], str]:
    def cell(row: Mapping[str, Any], compact: bool) -> str:
        rate = _rate_bp(row[f"{side}_rate"]) if compact else _rate(row[f"{side}_rate"])
        return f"{rate}/{_interval(row[f'{side}_interval_h'])}"

    return cell


def _apr_cell(key: str) -> Callable[[Mapping[str, Any], bool], str]:
    return lambda row, compact: _pct_compact(row[key]) if compact else _pct(row[key])


def shown_net_apr(row: Mapping[str, Any]) -> tuple[Any, bool]:
    """(the net APR figure to show, whether it is only an upper bound).

    A row whose cost was not measured has no ``net_apr``: its ``net_apr_upper`` is shown,
    marked ``≤``, never as if it were the net return.
    """
    net = row.get("net_apr")
    upper = row.get("net_apr_upper")
    if _missing(net) and not _missing(upper):
        return upper, True
    return net, False


def _net_cell(row: Mapping[str, Any], compact: bool) -> str:
    value, bound = shown_net_apr(row)
    text = _pct_compact(value) if compact else _pct(value)
    return f"≤{text}" if bound and text != "-" else text


def _net_style(row: Mapping[str, Any]) -> str:
    value, _ = shown_net_apr(row)
    return _sign_style("v")({"v": value})


TABLE_COLUMNS: tuple[Col, ...] = (
    Col("rank", "#", lambda row, _c: str(row["_rank"])),
    Col("symbol", "symbol", lambda row, _c: str(row["symbol"]), justify="left"),
    Col("long", "long leg", lambda row, c: _leg(row, "long", c), justify="left"),
    Col("short", "short leg", lambda row, c: _leg(row, "short", c), justify="left"),
    Col("long_rate", "long rate/int", _rate_cell("long"), priority=5),
    Col("short_rate", "short rate/int", _rate_cell("short"), priority=5),
    Col("gross_apr", "gross APR", _apr_cell("gross_apr"), priority=2),
    Col(
        "cost",
        "cost",
        lambda row, c: _pct(row["cost_frac"], 2 if c else 3),
        priority=3,
    ),
    Col("net_apr", "net APR", _net_cell, style=_net_style),
    Col(
        "breakeven",
        "break-even",
        lambda row, c: _hours_compact(row["breakeven_h"]) if c else _hours(row["breakeven_h"]),
        priority=4,
    ),
    Col("conf", "conf", _conf, priority=1),
    Col(
        "next_funding",
        "next funding L/S (UTC)",
        lambda row, _c: (
            f"{_when(row['long_next_funding_ms'])}/{_when(row['short_next_funding_ms'])}"
        ),
        priority=7,
    ),
    Col("flags", "flags", _flags, priority=6, justify="left", style=lambda _r: "yellow"),
)
"""Drop order when narrow: next funding, flags, rates, break-even, cost, gross APR, conf.
Rank, symbol, both legs and net APR are always shown."""

_VERDICT_STYLE = {"approve": "green", "reject": "red", "abstain": "yellow"}


def _verdict(row: Mapping[str, Any], compact: bool) -> str:
    """``approve 0.82`` (compact ``appr .82``); an abstain without confidence is the word."""
    decision = row.get("llm_decision")
    if decision is None:
        return "-"
    word = str(decision)[:4] if compact else str(decision)
    conf = row.get("llm_confidence")
    if conf is None:
        return word
    return f"{word} {float(conf):.2f}".replace(" 0.", " .") if compact else f"{word} {conf:.2f}"


VERDICT_COLUMN = Col(
    "llm",
    "llm verdict",
    _verdict,
    priority=1,
    justify="left",
    style=lambda row: _VERDICT_STYLE.get(str(row.get("llm_decision")), ""),
)
"""Shown when the rows carry verdicts (``scan --llm advisory``); dropped with ``conf``."""


def _has_verdicts(df: pd.DataFrame) -> bool:
    """True when the model was asked (``--llm off`` leaves the column all null)."""
    if "llm_decision" not in df.columns:
        return False
    return bool(df["llm_decision"].map(lambda v: isinstance(v, str)).any())


def _card(row: Mapping[str, Any], _compact: bool) -> str:
    return (
        f"{row['_rank']}. {row['symbol']}  net {_net_cell(row, True)}\n"
        f"   long {_leg(row, 'long', True)} {_rate_cell('long')(row, True)}  "
        f"short {_leg(row, 'short', True)} {_rate_cell('short')(row, True)}\n"
        f"   gross {_pct_compact(row['gross_apr'])}  cost {_pct(row['cost_frac'], 2)}  "
        f"conf {_conf(row, True)}  {_flags(row, True)}"
    ).rstrip()


def opportunity_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{**row, "_rank": i} for i, row in enumerate(records(df), start=1)]


def _legend(rows: Sequence[Mapping[str, Any]]) -> str:
    venues = [str(r["long_venue"]) for r in rows] + [str(r["short_venue"]) for r in rows]
    flags = flag_legend(rows)
    return venue_legend(venues) + (f"\n{flags}" if flags else "")


def fit_opportunities(
    df: pd.DataFrame,
    title: str,
    width: int,
    *,
    wide: bool = False,
    columns: Sequence[str] | None = None,
) -> Fitted:
    """The scan table fitted to ``width`` (see ``scanner.cli.tables``)."""
    rows = opportunity_rows(df)
    table_columns = TABLE_COLUMNS + ((VERDICT_COLUMN,) if _has_verdicts(df) else ())
    cols = select(table_columns, columns)
    return fit(
        title,
        cols,
        rows,
        width,
        wide=wide or bool(columns),
        legend=_legend,
        card=_card,
        hint="see them with --wide or --columns",
    )


def opportunities_table(df: pd.DataFrame, title: str) -> RenderableType:
    """Every column at full width (``--wide`` and piped output)."""
    return fit_opportunities(df, title, WIDE_WIDTH, wide=True).renderable
