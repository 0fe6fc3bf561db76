"""Retention never touches settlements or instruments; exports round-trip."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from _storage_helpers import opportunity, quotes

from scanner.domain import FundingSettlement, Instrument, Kind, OrderBook
from scanner.units import MS_PER_DAY as DAY_MS
from storage.db import Database
from storage.maintenance import (
    ExportError,
    RetentionPolicy,
    export_table,
    parse_since,
    prune,
)
from storage.queries import Queries
from storage.repository import Repository

NOW = 1_800_000_000_000


def _fill(db: Database) -> None:
    repo = Repository(db)
    old, new = NOW - 40 * DAY_MS, NOW - 1 * DAY_MS
    repo.write_quotes(quotes(30, start_ms=old, symbols=3))
    repo.write_quotes(quotes(20, start_ms=new, symbols=2))
    for ts in (old, new):
        repo.write_books(
            [OrderBook("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT", [(1.0, 1.0)], [(1.1, 1.0)], ts)]
        )
        scan = repo.start_scan(ts)
        repo.write_opportunities(scan, [opportunity("BTC/USDT:USDT", 0.1)])
    repo.write_settlements(
        [FundingSettlement("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT", old, 1e-4, 8.0)]
    )
    repo.upsert_instruments(
        [
            Instrument(
                "okx",
                "BTC-USDT-SWAP",
                "BTC",
                "USDT",
                "USDT",
                Kind.PERPETUAL,
                contract_size=Decimal("0.01"),
            )
        ],
        seen_ms=old,
    )


def test_prune_dry_run_counts_then_prune_deletes_only_old_observations(db: Database) -> None:
    _fill(db)
    policy = RetentionPolicy(quotes_days=30, books_days=30, opportunities_days=30)
    expected = {"funding_quotes": 30, "book_snapshots": 1, "opportunities": 1}
    q = Queries(db)
    assert prune(db, policy, NOW, dry_run=True) == expected
    assert q.count("funding_quotes") == 50, "dry run deletes nothing"
    assert prune(db, policy, NOW) == expected
    assert prune(db, policy, NOW) == {k: 0 for k in expected}
    remaining = {t: q.count(t) for t in ("funding_quotes", "book_snapshots", "opportunities")}
    assert remaining == {"funding_quotes": 20, "book_snapshots": 1, "opportunities": 1}
    assert q.count("funding_settlements") == 1 and q.count("instruments") == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_with_since(db: Database, tmp_path: Path, fmt: str) -> None:
    _fill(db)
    out = tmp_path / "x" / f"quotes.{fmt}"
    since = NOW - 2 * DAY_MS
    assert export_table(db, "funding_quotes", fmt, out, since_ms=since) == 20
    back = pd.read_csv(out) if fmt == "csv" else pq.read_table(out).to_pandas()
    stored = Queries(db).quotes(since_ms=since)
    assert sorted(back["ts_ms"]) == sorted(stored["ts_ms"])
    assert back["rate_per_interval"].tolist() == stored["rate_per_interval"].tolist()


def test_export_keeps_exact_decimals_and_json_as_text(db: Database, tmp_path: Path) -> None:
    _fill(db)
    out = tmp_path / "instruments.parquet"
    assert export_table(db, "instruments", "parquet", out) == 1
    back = pq.read_table(out).to_pandas()
    assert back.loc[0, "contract_size"] == "0.01"
    assert export_table(db, "opportunities", "csv", tmp_path / "o.csv") == 2
    assert '"persistence": 0.9' in pd.read_csv(tmp_path / "o.csv").loc[0, "confidence_components"]


def test_empty_export_still_writes_the_columns(db: Database, tmp_path: Path) -> None:
    assert export_table(db, "orders", "parquet", tmp_path / "o.parquet") == 0
    assert "order_link_id" in pq.read_table(tmp_path / "o.parquet").column_names
    assert export_table(db, "orders", "csv", tmp_path / "o.csv") == 0
    assert "order_link_id" in pd.read_csv(tmp_path / "o.csv").columns


def test_export_rejects_unknown_table_and_format(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown table 'quotes'; tables: alerts_sent"):
        export_table(db, "quotes", "csv", tmp_path / "q.csv")
    with pytest.raises(ExportError, match="unknown format 'xlsx'"):
        export_table(db, "scans", "xlsx", tmp_path / "q.xlsx")


def test_parse_since_accepts_ms_and_iso_dates() -> None:
    assert parse_since("1700000000000") == 1_700_000_000_000
    assert parse_since("2026-01-31") == 1_769_817_600_000
    assert parse_since("2026-01-31T08:00:00Z") == 1_769_817_600_000 + 8 * 3_600_000
    assert parse_since("2026-01-31T10:00:00+02:00") == 1_769_817_600_000 + 8 * 3_600_000
    with pytest.raises(ExportError, match="neither epoch milliseconds nor an ISO date"):
        parse_since("last week")


@pytest.mark.parametrize("text", ["1700000000", "0", "99999999999999999999999"])
def test_parse_since_rejects_seconds_and_impossible_epochs(text: str) -> None:
    with pytest.raises(ExportError, match="epoch milliseconds must lie between"):
        parse_since(text)
