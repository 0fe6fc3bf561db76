"""The read API over real funding histories: per-hour normalisation, pivots, stable dtypes."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from _storage_helpers import SHARED_DATA, quotes

from scanner.domain import FundingQuote, FundingSettlement, Instrument, Kind
from scanner.units import MS_PER_H as HOUR_MS
from storage.db import Database
from storage.queries import Queries
from storage.repository import Repository
from strategies.confidence import HISTORY_COLUMNS

HISTORY = SHARED_DATA / "funding-history"
BTC = "BTC/USDT:USDT"


def _btc_8h() -> list[FundingSettlement]:
    """Real 8-hourly BTC settlements (DD/MM/YY H:MM, CRLF), as 'bybit'."""
    out = []
    with (HISTORY / "btc_perp_8h_funding_2021-06_to_2023-03.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            moment = datetime.strptime(row["Date"], "%d/%m/%y %H:%M").replace(tzinfo=UTC)
            ms = int(moment.timestamp() * 1000)
            out.append(
                FundingSettlement("bybit", "BTCUSDT", BTC, ms, float(row["FundingRate"]), 8.0)
            )
    return out


def _hourly_from_hyperliquid(start_ms: int, hours: int) -> list[FundingSettlement]:
    """Real hourly Hyperliquid rates (the file's first rows, any coin), re-stamped onto
    consecutive hours from ``start_ms`` to stand in for an hourly venue."""
    with (HISTORY / "hyperliquid_funding_snapshots_2026-02.csv").open(newline="") as fh:
        rates = [float(r["funding_rate"]) for r in csv.DictReader(fh)]
    assert len(rates) >= hours
    return [
        FundingSettlement("hyperliquid", "BTC", BTC, start_ms + (k + 1) * HOUR_MS, rates[k], 1.0)
        for k in range(hours)
    ]


def _binance_4h(symbol: str) -> list[FundingSettlement]:
    """Real Binance settlements without an interval (the history endpoint does not say)."""
    out = []
    with (HISTORY / f"binance_usdm_{symbol}_funding.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            moment = datetime.fromisoformat(row["fundingTime"]).replace(tzinfo=UTC)
            out.append(
                FundingSettlement(
                    "binanceusdm",
                    symbol,
                    "RATS/USDT:USDT",
                    int(moment.timestamp() * 1000),
                    float(row["fundingRate"]),
                    None,
                )
            )
    return out


def test_settled_pivot_spreads_each_settlement_over_its_hours(db: Database) -> None:
    repo = Repository(db)
    btc = sorted(_btc_8h(), key=lambda s: s.funding_time_ms)
    since = btc[100].funding_time_ms  # an 8 h boundary
    until = since + 7 * 24 * HOUR_MS
    repo.write_settlements(btc)
    repo.write_settlements(_hourly_from_hyperliquid(since, 72))

    pivot = Queries(db).settled_pivot(BTC, since, until)

    assert list(pivot.columns) == ["bybit", "hyperliquid"]
    assert pivot.index.name == "hour_ms"
    assert np.array_equal(pivot.index, np.arange(since, until, HOUR_MS))
    inside = [s for s in btc if since < s.funding_time_ms <= until]
    # every hour of the window is covered by exactly one 8 h settlement: sum == paid funding
    assert pivot["bybit"].notna().all()
    assert pivot["bybit"].sum() == pytest.approx(sum(s.rate_per_interval for s in inside))
    first = inside[0]
    block = pivot.loc[
        first.funding_time_ms - 8 * HOUR_MS : first.funding_time_ms - HOUR_MS, "bybit"
    ]
    assert len(block) == 8 and set(block) == {first.rate_per_interval / 8}
    # hourly venue: one value per hour for the 72 recorded hours, then nothing
    hl = pivot["hyperliquid"]
    assert hl.iloc[:72].notna().all() and hl.iloc[72:].isna().all()
    hourly = _hourly_from_hyperliquid(since, 72)
    assert hl.iloc[:72].tolist() == [s.rate_per_interval for s in hourly]


def test_missing_intervals_come_from_instruments_or_settlement_gaps(db: Database) -> None:
    repo = Repository(db)
    rats = _binance_4h("1000RATSUSDT")
    repo.write_settlements(rats)
    q = Queries(db)
    by_gap = q.settlements(canonical="RATS/USDT:USDT")
    assert by_gap["interval_h"].iloc[0] != by_gap["interval_h"].iloc[0]  # first: no gap, NaN
    assert (by_gap["interval_h"].iloc[1:] == 4.0).mean() > 0.95  # real 4 h cadence
    inst = Instrument(
        "binanceusdm",
        "1000RATSUSDT",
        "RATS",
        "USDT",
        "USDT",
        Kind.PERPETUAL,
        funding_interval_h=4.0,
    )
    repo.upsert_instruments([inst], seen_ms=1)
    known = q.settlements(canonical="RATS/USDT:USDT")
    assert (known["interval_h"] == 4.0).all()
    assert np.allclose(known["rate_per_h"], known["rate_per_interval"] / 4.0)


def test_gap_inference_looks_before_the_window(db: Database) -> None:
    rats = sorted(_binance_4h("1000RATSUSDT"), key=lambda s: s.funding_time_ms)
    Repository(db).write_settlements(rats)
    window = Queries(db).settlements(since_ms=rats[10].funding_time_ms - 1)
    assert window["funding_time_ms"].iloc[0] == rats[10].funding_time_ms
    assert window["interval_h"].iloc[0] == 4.0, "the gap to the settlement before the window"


def test_quotes_filters_and_latest_live_quote_per_symbol(db: Database) -> None:
    repo = Repository(db)
    repo.write_quotes(quotes(300, symbols=3, venue="bybit", interval_h=8.0, rate=8e-4))
    repo.write_quotes(quotes(300, symbols=3, venue="okx", interval_h=4.0, rate=2e-4))
    last_ts = 1_700_000_000_000 + 99 * 60_000
    settled_later = FundingQuote(
        "okx", "C0USDT", "C0/USDT:USDT", 5e-4, 4.0, last_ts + 1, is_settled=True
    )
    repo.write_quotes([settled_later])
    q = Queries(db)

    c0 = q.quotes(canonical="C0/USDT:USDT", venue="okx", since_ms=last_ts - 60_000)
    assert list(c0["ts_ms"]) == [last_ts - 60_000, last_ts, last_ts + 1]
    assert np.allclose(c0["rate_per_h"].iloc[:2], 2e-4 / 4.0)

    latest = q.latest_quotes()
    assert len(latest) == 6  # 3 symbols x 2 venues
    assert set(latest["ts_ms"]) == {last_ts}, "a settled quote is never the latest live one"
    assert not latest["is_settled"].any()
    assert np.allclose(latest.loc[latest.venue == "bybit", "rate_per_h"], 1e-4)
    assert len(q.latest_quotes(canonical="C1/USDT:USDT")) == 2


def test_one_symbols_quotes_are_the_same_rows_as_all_quotes_filtered(db: Database) -> None:
    """quotes(canonical=...) fills the symbol in and divides rate_per_h itself instead of
    fetching them: the frame must be what the unfiltered read gives for that symbol."""
    repo = Repository(db)
    repo.write_quotes(quotes(120, symbols=3, venue="bybit", interval_h=8.0, rate=8e-4))
    repo.write_quotes(quotes(90, symbols=3, venue="okx", interval_h=4.0, rate=-3e-5))
    repo.write_quotes([FundingQuote("gate", "C1_USDT", "C1/USDT:USDT", 1e-3, 1.0, 5)])
    q = Queries(db)
    everything = q.quotes()
    for symbol in ("C1/USDT:USDT", "C2/USDT:USDT", "NONE/USDT:USDT"):
        one = q.quotes(canonical=symbol)
        expected = everything[everything["canonical"] == symbol].reset_index(drop=True)
        pd.testing.assert_frame_equal(one, expected, check_exact=True)
    assert len(q.quotes(canonical="C1/USDT:USDT")) == 40 + 30 + 1
    per_h = everything.groupby("venue")["rate_per_h"].unique().to_dict()
    assert {v: list(r) for v, r in per_h.items()} == {
        "bybit": [8e-4 / 8.0],
        "okx": [-3e-5 / 4.0],
        "gate": [1e-3],
    }


def test_empty_results_have_the_same_columns_and_dtypes(db: Database) -> None:
    repo = Repository(db)
    q = Queries(db)
    empty = {
        "quotes": q.quotes(),
        "latest": q.latest_quotes(),
        "settlements": q.settlements(),
        "history": q.quote_history_for_confidence([BTC], 0),
        "opps": q.opportunity_history(),
    }
    repo.write_quotes(quotes(10, symbols=1))
    repo.write_settlements(_btc_8h()[:5])
    full = {
        "quotes": q.quotes(),
        "latest": q.latest_quotes(),
        "settlements": q.settlements(),
        "history": q.quote_history_for_confidence([BTC, "C0/USDT:USDT"], 0),
    }
    for name, frame in full.items():
        assert len(frame) > 0, name
        assert frame.dtypes.to_dict() == empty[name].dtypes.to_dict(), name
    assert "confidence_components" in empty["opps"].columns


def test_history_for_confidence_has_what_the_engine_reads(db: Database) -> None:
    repo = Repository(db)
    btc = sorted(_btc_8h(), key=lambda s: s.funding_time_ms)[:30]
    repo.write_settlements(btc)
    live = [
        FundingQuote(
            "bybit",
            "BTCUSDT",
            BTC,
            s.rate_per_interval,
            8.0,
            s.funding_time_ms - 600_000,
            next_funding_ms=s.funding_time_ms,
        )
        for s in btc
    ]
    repo.write_quotes(live)
    hist = Queries(db).quote_history_for_confidence(
        [BTC], since_ms=btc[10].funding_time_ms - HOUR_MS
    )
    assert set(HISTORY_COLUMNS) <= set(hist.columns)
    assert hist["is_settled"].sum() == 20 and (~hist["is_settled"]).sum() == 20
    assert hist["ts_ms"].is_monotonic_increasing
    settled = hist[hist.is_settled]
    assert np.allclose(settled["rate_per_h"], [s.rate_per_interval / 8 for s in btc[10:]])
    assert hist["next_funding_ms"].dtype == np.float64
    assert isinstance(hist, pd.DataFrame)


def test_confidence_scoring_runs_on_the_stored_history(db: Database) -> None:
    """Contract check with strategies.confidence: our frame is its input, unchanged."""
    from strategies.confidence import HISTORY_COMPONENTS, history_components

    repo = Repository(db)
    btc = sorted(_btc_8h(), key=lambda s: s.funding_time_ms)[:40]
    okx = [replace_venue(s, "okx", 0.5) for s in btc]
    repo.write_settlements(btc + okx)
    live = [
        FundingQuote(
            s.venue,
            s.venue_symbol,
            BTC,
            s.rate_per_interval * 1.1,
            8.0,
            s.funding_time_ms - 1_800_000,
            next_funding_ms=s.funding_time_ms,
        )
        for s in btc + okx
    ]
    repo.write_quotes(live)
    hist = Queries(db).quote_history_for_confidence([BTC], since_ms=0)
    pairs = pd.DataFrame(
        {
            "pair_type": ["cross"],
            "long_venue": ["okx"],
            "long_canonical": [BTC],
            "short_venue": ["bybit"],
            "short_canonical": [BTC],
            "diff_per_h": [btc[-1].rate_per_interval / 16],
        }
    )
    comps = history_components(hist, pairs, lookback_h=10 * 24, persistence_points=24)
    values = comps.loc[0, list(HISTORY_COMPONENTS)].astype(float)
    assert values.notna().all(), values.to_dict()
    assert ((values >= 0) & (values <= 1)).all()
    assert comps.loc[0, "state"] == "rated" and comps.loc[0, "history_points"] >= 2


def replace_venue(s: FundingSettlement, venue: str, scale: float) -> FundingSettlement:
    return FundingSettlement(
        venue,
        s.venue_symbol,
        s.canonical,
        s.funding_time_ms,
        s.rate_per_interval * scale,
        s.interval_h,
    )
