"""Reads by symbol take venue names as codes; the frames must be what reading the text gives.

Why: ``Queries.quotes(canonical=...)`` and ``quote_history_for_confidence`` read the distinct
(venue, venue_symbol) first and then small integer codes instead of one string per row
(``Queries._fetch_quotes_coded``). Each test compares against a reference built from the plain
text read of every quote (``Queries.quotes()`` without a symbol, which never codes), so a wrong
code, a misordered name list, a lost NULL or a changed dtype shows as a frame difference.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

from scanner.domain import FundingQuote, FundingSettlement
from scanner.units import MS_PER_H
from storage.db import Database
from storage.queries import CONFIDENCE_DTYPES, MAX_CODED_NAMES, Queries
from storage.repository import Repository

T0 = 1_700_000_000_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
# venue -> venue symbols of BTC (bybit lists it twice: the old and the new contract)
LISTINGS = {"bybit": ["BTCUSDT", "BTCPERP"], "okx": ["BTC-USDT-SWAP"], "gate": ["BTC_USDT"]}


def _mixed_quotes(canonical: str, prefix: str, hours: int) -> list[FundingQuote]:
    """Hourly quotes on every listing with varied values: NULL next funding and prices,
    intervals 1/4/8 h, some stored as settled."""
    out = []
    for k, (venue, symbols) in itertools.product(range(hours), LISTINGS.items()):
        for j, symbol in enumerate(symbols):
            out.append(
                FundingQuote(
                    venue,
                    prefix + symbol,
                    canonical,
                    (k % 7 - 3) * 1.1e-5 + j * 1e-6,
                    (1.0, 4.0, 8.0)[(k + j) % 3],
                    T0 + k * MS_PER_H + j,
                    next_funding_ms=None if k % 5 == 0 else T0 + (k + 1) * MS_PER_H,
                    mark_price=None if k % 4 == 0 else 100.0 + k / 3,
                    index_price=None if k % 6 == 0 else 99.5 + k / 7,
                    multiplier=(1.0, 1000.0)[j],
                    is_settled=k % 8 == 0,
                )
            )
    return out


def _settlements(canonical: str, prefix: str, hours: int) -> list[FundingSettlement]:
    """Every 8 h on each listing; the ones at a quote stored as settled duplicate it."""
    return [
        FundingSettlement(venue, prefix + symbols[0], canonical, T0 + k * MS_PER_H, 2e-5, 8.0)
        for venue, symbols in LISTINGS.items()
        for k in range(0, hours, 8)
    ]


def _store(db: Database, hours: int = 60) -> None:
    repo = Repository(db)
    repo.write_quotes(_mixed_quotes(BTC, "", hours) + _mixed_quotes(ETH, "E", hours))
    repo.write_settlements(_settlements(BTC, "", hours) + _settlements(ETH, "E", hours))


def _reference_history(q: Queries, canonicals: list[str], since_ms: int) -> pd.DataFrame:
    """What quote_history_for_confidence returned before it read codes: text quotes, then
    each symbol's settlements, duplicates dropped, stable sort by (canonical, venue, ts)."""
    quotes = q.quotes()
    quotes = quotes[quotes["canonical"].isin(canonicals) & (quotes["ts_ms"] >= since_ms)]
    quotes = quotes.sort_values(["canonical", "ts_ms", "venue", "venue_symbol"], kind="stable")
    parts = [quotes[list(CONFIDENCE_DTYPES)]]
    for canonical in canonicals:
        st = q.settlements(canonical=canonical, since_ms=since_ms)
        parts.append(
            pd.DataFrame(
                {
                    "canonical": st["canonical"],
                    "venue": st["venue"],
                    "venue_symbol": st["venue_symbol"],
                    "ts_ms": st["funding_time_ms"],
                    "rate_per_h": st["rate_per_h"],
                    "next_funding_ms": st["funding_time_ms"].astype("float64"),
                    "is_settled": True,
                }
            ).astype(CONFIDENCE_DTYPES)
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.drop_duplicates(["canonical", "venue", "venue_symbol", "ts_ms", "is_settled"])
    return out.sort_values(["canonical", "venue", "ts_ms"], kind="stable").reset_index(drop=True)


def test_one_symbols_quotes_match_the_text_read_for_every_filter(db: Database) -> None:
    _store(db)
    q = Queries(db)
    everything = q.quotes()
    cases: list[dict[str, Any]] = [
        {},
        {"venue": "bybit"},
        {"since_ms": T0 + 10 * MS_PER_H},
        {"since_ms": T0 + 10 * MS_PER_H, "until_ms": T0 + 20 * MS_PER_H + 1},
        {"venue": "okx", "until_ms": T0 + 3 * MS_PER_H},
        {"venue": "nowhere"},
    ]
    for canonical, kw in itertools.product((BTC, ETH), cases):
        got = q.quotes(canonical=canonical, **kw)
        want = everything[everything["canonical"] == canonical]
        if "venue" in kw:
            want = want[want["venue"] == kw["venue"]]
        want = want[want["ts_ms"] >= kw.get("since_ms", 0)]
        want = want[want["ts_ms"] < kw.get("until_ms", 2**62)]
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_exact=True)
    assert len(q.quotes(canonical=BTC)) == 60 * 4
    assert q.quotes(canonical=BTC)["mark_price"].isna().sum() == 15 * 4


@pytest.mark.parametrize("since_h", [0, 9, 59])
def test_history_for_confidence_matches_the_text_read(db: Database, since_h: int) -> None:
    _store(db)
    q = Queries(db)
    since = T0 + since_h * MS_PER_H
    for canonicals in ([BTC], [ETH, BTC], [BTC, BTC], [BTC, "NONE/USDT:USDT"]):
        got = q.quote_history_for_confidence(canonicals, since)
        want = _reference_history(q, list(dict.fromkeys(canonicals)), since)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    both = q.quote_history_for_confidence([BTC, ETH], since)
    assert set(both["canonical"]) == {BTC, ETH}
    if since_h <= 9:  # settled rows of both symbols, some duplicated by settled quotes
        assert (both["is_settled"] & both["venue_symbol"].str.startswith("E")).any()


def test_columns_with_many_names_are_read_as_text_and_match(db: Database) -> None:
    """More than MAX_CODED_NAMES symbols in one read: canonical and venue_symbol come as text
    (a CASE that long would cost more than the strings), venue still as codes."""
    n = MAX_CODED_NAMES + 4
    canonicals = [f"S{i}/USDT:USDT" for i in range(n)]
    repo = Repository(db)
    repo.write_quotes(
        [
            FundingQuote(v, f"S{i}{v[:2]}", c, 1e-5 * i, 8.0, T0 + k * 60_000)
            for i, c in enumerate(canonicals)
            for v in ("bybit", "okx")
            for k in range(3)
        ]
    )
    q = Queries(db)
    got = q.quote_history_for_confidence(canonicals, T0)
    pd.testing.assert_frame_equal(got, _reference_history(q, canonicals, T0), check_exact=True)
    assert len(got) == n * 2 * 3


def test_a_name_written_between_the_two_reads_is_read_as_text(db: Database) -> None:
    """PostgreSQL reads at read committed: a quote of a new listing committed after the
    distinct names were read is visible to the row read, with no code. It must come back
    with its name (the text read), never as a missing or wrong one. On SQLite both reads
    are one transaction: the new row is simply not seen yet."""
    _store(db, hours=10)
    q = Queries(db)
    late = FundingQuote("bitget", "BTCUSDT_UMCBL", BTC, 3e-5, 8.0, T0 + 5 * MS_PER_H + 7)
    written: list[int] = []

    def write_after_names(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if "DISTINCT" in sql and "funding_quotes" in sql and not written:
            written.append(Repository(db).write_quotes([late]))

    event.listen(db.engine, "after_cursor_execute", write_after_names)
    try:
        got = q.quotes(canonical=BTC)
    finally:
        event.remove(db.engine, "after_cursor_execute", write_after_names)
    assert written == [1]
    seen = got[got["venue"] == "bitget"]
    if db.dialect == "postgresql":
        assert seen["venue_symbol"].tolist() == ["BTCUSDT_UMCBL"]
        assert seen["ts_ms"].tolist() == [late.ts_ms]
    else:
        assert seen.empty
    assert got["venue_symbol"].notna().all() and got["venue"].notna().all()
    after = q.quotes(canonical=BTC)
    everything = q.quotes()
    want = everything[everything["canonical"] == BTC].reset_index(drop=True)
    pd.testing.assert_frame_equal(after, want, check_exact=True)
    assert np.isin(after["venue"].unique(), [*LISTINGS, "bitget"]).all()
