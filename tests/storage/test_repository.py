"""Writes through the Repository: idempotent, atomic per call, exact where money is involved."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest
from _storage_helpers import SHARED_DATA, Backend, opportunity, quotes
from sqlalchemy import text

from scanner.domain import FundingSettlement, Instrument, Kind, Opportunity, OrderBook
from storage.db import Database
from storage.queries import Queries
from storage.repository import Repository

BYBIT = SHARED_DATA / "exchange-fixtures" / "bybit"
BINANCE = SHARED_DATA / "exchange-fixtures" / "binance"


def _count(db: Database, table: str) -> int:
    return Queries(db).count(table)


def _bybit_instruments(symbols: set[str]) -> list[Instrument]:
    """Real Bybit instrument rows (tick/lot/min qty as the exchange's strings)."""
    payload = json.loads((BYBIT / "v5_market_instruments-info_linear.json").read_text())
    out = []
    for item in payload["result"]["list"]:
        if item["symbol"] not in symbols:
            continue
        out.append(
            Instrument(
                venue="bybit",
                venue_symbol=item["symbol"],
                base=item["baseCoin"].removeprefix("1000"),
                quote=item["quoteCoin"],
                settle=item["settleCoin"],
                kind=Kind.PERPETUAL,
                multiplier=Decimal(1000) if item["baseCoin"].startswith("1000") else Decimal(1),
                tick=Decimal(item["priceFilter"]["tickSize"]),
                lot=Decimal(item["lotSizeFilter"]["qtyStep"]),
                min_qty=Decimal(item["lotSizeFilter"]["minOrderQty"]),
                funding_interval_h=item["fundingInterval"] / 60,
                funding_cap=float(item["upperFundingRate"]),
                funding_floor=float(item["lowerFundingRate"]),
            )
        )
    assert len(out) == len(symbols), "fixture lacks a symbol the test expects"
    return out


def test_same_quote_batch_twice_adds_nothing(db: Database) -> None:
    repo = Repository(db)
    batch = quotes(25_000)  # more than one chunk
    assert repo.write_quotes(batch) == 25_000
    assert repo.write_quotes(batch) == 0
    assert _count(db, "funding_quotes") == 25_000


def test_overlapping_batch_adds_only_the_new_rows(db: Database) -> None:
    repo = Repository(db)
    first = quotes(1_000)
    overlapping = quotes(1_500)  # the first 1000 are identical
    repo.write_quotes(first)
    assert repo.write_quotes(overlapping) == 500
    assert _count(db, "funding_quotes") == 1_500


@pytest.mark.parametrize("use_copy", [True, False])
def test_copy_and_executemany_paths_are_idempotent(db: Database, use_copy: bool) -> None:
    repo = Repository(db)
    batch = quotes(3_000)
    assert repo.write_quotes(batch[:2_000], use_copy=use_copy) == 2_000
    assert repo.write_quotes(batch, use_copy=use_copy) == 1_000
    assert repo.write_quotes(batch, use_copy=use_copy) == 0


def test_a_batch_that_fails_midway_leaves_nothing(db: Database) -> None:
    """The bad row comes after two chunks were already sent; the transaction drops them."""
    repo = Repository(db)
    batch = quotes(25_000)
    batch[-1] = replace(batch[-1], interval_h=0.0)
    with pytest.raises(ValueError, match="interval must be known"):
        repo.write_quotes(batch)
    assert _count(db, "funding_quotes") == 0


def test_settlements_from_real_histories_are_idempotent(db: Database) -> None:
    bybit = json.loads((BYBIT / "v5_market_funding_history_BTCUSDT.json").read_text())
    binance = json.loads((BINANCE / "fapi_v1_fundingRate_BTCUSDT.json").read_text())
    rows = [
        FundingSettlement(
            "bybit",
            "BTCUSDT",
            "BTC/USDT:USDT",
            int(r["fundingRateTimestamp"]),
            float(r["fundingRate"]),
            8.0,
        )
        for r in bybit["result"]["list"]
    ] + [
        FundingSettlement(
            "binanceusdm",
            "BTCUSDT",
            "BTC/USDT:USDT",
            int(r["fundingTime"]),
            float(r["fundingRate"]),
            None,
        )
        for r in binance
    ]
    repo = Repository(db)
    assert repo.write_settlements(rows) == len(rows)
    assert repo.write_settlements(rows) == 0
    stored = Queries(db).settlements(canonical="BTC/USDT:USDT", venue="bybit")
    expected = sorted(float(r["fundingRate"]) for r in bybit["result"]["list"])
    assert sorted(stored["rate_per_interval"]) == expected


def test_instrument_upsert_keeps_first_seen_and_refreshes_the_rest(db: Database) -> None:
    repo = Repository(db)
    real = _bybit_instruments({"BTCUSDT", "1000PEPEUSDT", "0GUSDT"})
    repo.upsert_instruments(real, seen_ms=1_000)
    changed = [
        replace(i, funding_interval_h=1.0) if i.venue_symbol == "0GUSDT" else i for i in real
    ]
    repo.upsert_instruments(changed, seen_ms=2_000)
    table = Queries(db).instruments().set_index("venue_symbol")
    assert len(table) == 3
    assert set(table["first_seen_ms"]) == {1_000}
    assert set(table["last_seen_ms"]) == {2_000}
    assert table.loc["0GUSDT", "funding_interval_h"] == 1.0
    assert table.loc["BTCUSDT", "funding_interval_h"] == 8.0
    for inst in real:  # exact decimals come back exactly, as Decimal
        row = table.loc[inst.venue_symbol]
        assert (row["tick"], row["lot"], row["min_qty"]) == (inst.tick, inst.lot, inst.min_qty)
        assert isinstance(row["tick"], Decimal)
    assert table.loc["1000PEPEUSDT", "canonical"] == "PEPE/USDT:USDT"
    assert table.loc["1000PEPEUSDT", "multiplier"] == Decimal(1000)


def test_book_summary_from_a_real_bybit_snapshot(db: Database) -> None:
    frame = json.loads(
        (BYBIT / "ws_v5_public_linear_orderbook200_snapshot_BTCUSDT.json").read_text()
    )
    data = frame["data"]
    bids = [(float(p), float(q)) for p, q in data["b"]]
    asks = [(float(p), float(q)) for p, q in data["a"]]
    book = OrderBook("bybit", "BTCUSDT", "BTC/USDT:USDT", bids, asks, frame["ts"])
    repo = Repository(db)
    assert repo.write_books([book]) == 1
    assert repo.write_books([book]) == 0
    with db.read() as conn:
        row = conn.execute(text("SELECT * FROM book_snapshots")).mappings().one()
    mid = (Decimal(data["b"][0][0]) + Decimal(data["a"][0][0])) / 2
    for bps in (5, 10, 25):
        lo = mid * (1 - Decimal(bps) / 10_000)
        hi = mid * (1 + Decimal(bps) / 10_000)
        bid_base = sum(Decimal(q) for p, q in data["b"] if Decimal(p) >= lo)
        ask_usd = sum(Decimal(p) * Decimal(q) for p, q in data["a"] if Decimal(p) <= hi)
        assert row[f"bid_depth_{bps}bps_base"] == pytest.approx(float(bid_base), rel=1e-9)
        assert row[f"ask_depth_{bps}bps_usd"] == pytest.approx(float(ask_usd), rel=1e-9)
    assert row["best_bid"] == float(data["b"][0][0])
    top = (
        row["top_levels"] if isinstance(row["top_levels"], dict) else json.loads(row["top_levels"])
    )
    assert top["asks"][0] == [float(p) for p in data["a"][0]]
    assert len(top["bids"]) == 10


def test_book_depth_is_in_canonical_units_for_multiplied_contracts(db: Database) -> None:
    """kPEPE-style: venue price is per 1000 PEPE, OKX-style contract_size scales the qty."""
    book = OrderBook(
        "hyperliquid",
        "kPEPE",
        "PEPE/USDC:USDC",
        bids=[(0.0100, 50.0)],
        asks=[(0.0101, 20.0)],
        ts_ms=1,
        multiplier=1000.0,
        contract_size=2.0,
    )
    Repository(db).write_books([book])
    with db.read() as conn:
        row = conn.execute(text("SELECT * FROM book_snapshots")).mappings().one()
    # mid 0.01005 per 1000 PEPE; each bid is 50 contracts x 2 x 1000 = 100000 PEPE at 1e-5 USD
    assert row["bid_depth_5bps_base"] == 0.0  # best bid is ~50 bps below mid
    assert row["bid_depth_25bps_base"] == 0.0
    wide = OrderBook(
        "hyperliquid",
        "kPEPE",
        "PEPE/USDC:USDC",
        [(0.01, 50.0)],
        [(0.010001, 20.0)],
        2,
        multiplier=1000.0,
        contract_size=2.0,
    )
    Repository(db).write_books([wide])
    with db.read() as conn:
        row = conn.execute(text("SELECT * FROM book_snapshots WHERE ts_ms = 2")).mappings().one()
    assert row["bid_depth_5bps_base"] == pytest.approx(100_000.0)
    assert row["bid_depth_5bps_usd"] == pytest.approx(1.0)
    assert row["ask_depth_5bps_base"] == pytest.approx(40_000.0)


def test_scan_with_opportunities_from_objects_and_a_dataframe(db: Database) -> None:
    repo = Repository(db)
    scan = repo.start_scan(started_ms=5_000)
    opps = [opportunity("BTC/USDT:USDT", 0.3), opportunity("ETH/USDT:USDT", float("nan"))]
    assert repo.write_opportunities(scan, opps) == 2
    repo.finish_scan(scan, 6_000, {"bybit": "ok", "okx": "timeout"})
    scan2 = repo.start_scan(started_ms=7_000)
    as_frame = pd.DataFrame([vars_of(o) for o in opps[:1]])
    assert repo.write_opportunities(scan2, as_frame) == 1

    q = Queries(db)
    hist = q.opportunity_history()
    assert list(hist["scan_id"]) == [scan, scan, scan2]
    assert list(hist["ts_ms"]) == [5_000, 5_000, 7_000]
    assert hist["net_apr"].isna().tolist() == [False, True, False]
    assert hist.loc[0, "confidence_components"] == {"persistence": 0.9, "prediction": None}
    assert pd.isna(hist.loc[0, "short_next_funding_ms"])
    assert q.opportunity_history(symbol="ETH/USDT:USDT", since_ms=0)["symbol"].tolist() == [
        "ETH/USDT:USDT"
    ]
    scans = q.scans()
    assert scans.loc[0, "venue_status"] == {"bybit": "ok", "okx": "timeout"}
    assert pd.isna(scans.loc[1, "finished_ms"])


def vars_of(opp: Opportunity) -> dict[str, object]:
    return {name: getattr(opp, name) for name in Opportunity.__dataclass_fields__}


def test_unknown_scan_ids_are_errors(db: Database) -> None:
    repo = Repository(db)
    with pytest.raises(KeyError, match="no scan with id 99"):
        repo.finish_scan(99, 1, {})
    with pytest.raises(KeyError, match="no scan with id 99"):
        repo.write_opportunities(99, [opportunity("X/USDT:USDT", 0.1)])


def test_deleting_a_scan_cascades_to_its_opportunities(db: Database) -> None:
    repo = Repository(db)
    scan = repo.start_scan(1)
    repo.write_opportunities(scan, [opportunity("BTC/USDT:USDT", 0.1)])
    with db.write() as conn:
        conn.execute(text("DELETE FROM scans"))
    assert _count(db, "opportunities") == 0


def test_alert_log_and_cooldown_lookup(db: Database) -> None:
    repo = Repository(db)
    key = "BTC/USDT:USDT|long=okx|short=bybit"
    assert repo.last_alert_ms("slack", key) is None
    repo.record_alert("slack", key, 1_000, {"apr": 0.3, "a": 1}, "sent")
    repo.record_alert("slack", key, 2_000, {"a": 1, "apr": 0.3}, "failed", "HTTP 500")
    assert repo.last_alert_ms("slack", key) == 1_000
    assert repo.last_alert_ms("slack", key, status="failed") == 2_000
    assert repo.last_alert_ms("discord", key) is None
    with db.read() as conn:
        hashes = conn.execute(text("SELECT payload_hash FROM alerts_sent")).scalars().all()
    assert len(set(hashes)) == 1, "the hash ignores key order"


def test_engine_shaped_frame_with_nullable_ints_and_extra_columns(db: Database) -> None:
    """The engine's frame carries Int64 (pd.NA) next-funding times and columns Opportunity
    does not have; venue symbols are kept, the rest ignored."""
    repo = Repository(db)
    scan = repo.start_scan(10)
    frame = pd.DataFrame([vars_of(opportunity("BTC/USDT:USDT", 0.2, long_next_funding_ms=None))])
    frame = frame.astype({"long_next_funding_ms": "Int64", "short_next_funding_ms": "Int64"})
    frame["long_symbol"], frame["short_symbol"] = "BTC-USDT-SWAP", "BTCUSDT"
    frame["book_thin"] = False
    frame["breakeven_h"] = float("inf")
    assert repo.write_opportunities(scan, frame) == 1
    hist = Queries(db).opportunity_history()
    assert pd.isna(hist.loc[0, "long_next_funding_ms"])
    assert (hist.loc[0, "long_symbol"], hist.loc[0, "short_symbol"]) == ("BTC-USDT-SWAP", "BTCUSDT")
    assert hist.loc[0, "breakeven_h"] == float("inf")


def test_non_finite_rates_are_refused_with_the_row_named(db: Database) -> None:
    repo = Repository(db)
    bad = replace(quotes(1)[0], rate_per_interval=float("nan"))
    with pytest.raises(ValueError, match="bybit:C0USDT at .* rate_per_interval=nan"):
        repo.write_quotes([bad])
    with pytest.raises(ValueError, match="rate_per_interval=inf"):
        repo.write_settlements([FundingSettlement("okx", "X", "X/USDT:USDT", 1, float("inf"))])


def test_instrument_listed_twice_in_one_batch_keeps_the_last(db: Database) -> None:
    inst = _bybit_instruments({"BTCUSDT"})[0]
    Repository(db).upsert_instruments([inst, replace(inst, funding_interval_h=2.0)], seen_ms=5)
    table = Queries(db).instruments()
    assert table["funding_interval_h"].tolist() == [2.0]


def test_concurrent_writers_all_land(backend: Backend) -> None:
    """Separate connections writing at once queue on the lock (SQLite: BEGIN IMMEDIATE +
    busy timeout) instead of failing with "database is locked"."""
    backend.open().dispose()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with backend.open() as db:
                repo = Repository(db)
                for b in range(5):
                    start = 1_700_000_000_000 + (k * 5 + b) * 10_000_000
                    assert repo.write_quotes(quotes(2_000, start_ms=start)) == 2_000
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with backend.open() as db:
        assert _count(db, "funding_quotes") == 4 * 5 * 2_000


def test_the_alert_log_accepts_only_pair_keys_or_none(db: Database) -> None:
    """alerts_sent.pair_key, positions.pair_key and opportunities.pair_key are one spelling."""
    repo = Repository(db)
    with pytest.raises(ValueError, match="record_alert: 'BTC:okx>bybit' is not a pair key"):
        repo.record_alert("slack", "BTC:okx>bybit", 1_000, {}, "sent")
    repo.record_alert("slack", None, 1_000, {"event": "test"}, "sent")  # a channel test
    with db.read() as conn:
        assert conn.execute(text("SELECT pair_key FROM alerts_sent")).scalars().all() == [None]
