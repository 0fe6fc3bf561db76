"""Every read of funding_quotes the program makes is served by an index or the key, on SQLite.

Why: revision 0008 clusters the table on time and keeps one index, the symbol index (canonical,
ts_ms, ...; since revision 0009 it holds every column). A query that no longer matched either
would silently become a scan of the biggest table, and a read by symbol that needed a column
the index lacked would visit the table once per row, on as many pages as there are snapshots.
The SQL is captured as the read API sends it, then asked for SQLite's plan.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _storage_helpers import quotes
from sqlalchemy import event

from storage.db import Database, open_database
from storage.maintenance import RetentionPolicy, export_table, prune
from storage.queries import Queries
from storage.repository import Repository

BTC = "C1/USDT:USDT"
T0 = 1_700_000_000_000


@contextmanager
def _sqlite() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp, open_database(f"sqlite:///{tmp}/q.db") as db:
        Repository(db).write_quotes(quotes(200, start_ms=T0, symbols=5))
        yield db


def _quote_statements(db: Database, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "funding_quotes" in sql and not sql.lstrip().upper().startswith("EXPLAIN"):
            sent.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return sent


def _plans(db: Database, sent: list[tuple[str, Any]]) -> list[str]:
    with db.read() as conn:
        return [
            " / ".join(str(row[3]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", p))
            for sql, p in sent
        ]


READS: dict[str, Callable[[Database, Path], Any]] = {
    "quotes of a symbol": lambda db, _: Queries(db).quotes(canonical=BTC),
    "quotes of a symbol on a venue since": lambda db, _: Queries(db).quotes(
        canonical=BTC, venue="bybit", since_ms=T0
    ),
    "quotes in a time window (backtest)": lambda db, _: Queries(db).quotes(
        since_ms=T0, until_ms=T0 + 3_600_000
    ),
    "latest quotes since (collect/rank roles)": lambda db, _: Queries(db).latest_quotes(
        since_ms=T0
    ),
    "latest quotes of a symbol": lambda db, _: Queries(db).latest_quotes(canonical=BTC),
    "history for confidence": lambda db, _: Queries(db).quote_history_for_confidence(
        [BTC, "C2/USDT:USDT"], T0
    ),
    "retention dry run": lambda db, _: prune(db, RetentionPolicy(1, 1, 1), T0, dry_run=True),
    "retention": lambda db, _: prune(db, RetentionPolicy(1, 1, 1), T0 + 86_400_000 * 2),
    "export since": lambda db, out: export_table(
        db, "funding_quotes", "csv", out / "q.csv", since_ms=T0
    ),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_quote_reads_use_the_key_or_the_symbol_index(name: str, tmp_path: Path) -> None:
    with _sqlite() as db:
        sent = _quote_statements(db, lambda: READS[name](db, tmp_path))
        assert sent, f"{name}: no statement on funding_quotes was captured"
        for (sql, _), plan in zip(sent, _plans(db, sent), strict=True):
            assert "funding_quotes" in plan, (sql, plan)
            assert "SCAN funding_quotes" not in plan, f"{name} scans the table: {plan}\n{sql}"


SYMBOL_READS = (
    "quotes of a symbol",
    "quotes of a symbol on a venue since",
    "history for confidence",
)


@pytest.mark.parametrize("name", SYMBOL_READS)
def test_reads_by_symbol_are_answered_from_the_symbol_index_alone(
    name: str, tmp_path: Path
) -> None:
    with _sqlite() as db:
        sent = _quote_statements(db, lambda: READS[name](db, tmp_path))
        assert len(sent) >= 2, sent  # the names, then the rows
        for (sql, _), plan in zip(sent, _plans(db, sent), strict=True):
            assert "COVERING INDEX ix_funding_quotes_symbol" in plan, f"{name}: {plan}\n{sql}"
