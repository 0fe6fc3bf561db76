"""Storage ingest and query speed on SQLite and PostgreSQL (a benchmark, not a test).

Prints, per backend:
- rows/s ingesting N funding-quote rows through ``Repository.write_quotes`` (domain objects
  in, idempotent ON CONFLICT DO NOTHING, one transaction per batch), next to
  ``pandas.DataFrame.to_sql`` writing the same rows (from a ready DataFrame) into a plain new
  table and into a table with the same primary key and indexes, and the ratios;
- on PostgreSQL both insert paths (COPY + INSERT SELECT, and executemany);
- re-ingesting the same rows (all conflicts, nothing added);
- seconds to load one symbol's year of hourly history across six venues (52,560 rows)
  through ``Queries.quotes`` and ``Queries.quote_history_for_confidence``; then the same
  after ``--dense-symbols`` other symbols' quotes were stored at the same hours (the table is
  clustered on time, so a real database, with many symbols a snapshot, spreads one symbol's
  rows over many more pages than the first figures, where the year is alone after its first
  hour).

Usage: python benchmarks/bench_storage.py [--rows 1000000] [--batch 100000] [--pg-url URL]
       [--dense-symbols 9]
PostgreSQL runs in a throw-away schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psycopg
from sqlalchemy import Connection, MetaData
from sqlalchemy.engine import make_url

from scanner.domain import FundingQuote
from scanner.units import MS_PER_H as HOUR_MS
from scanner.venues.specs import venue_ids
from storage import tables as T
from storage.db import Database, open_database
from storage.queries import Queries
from storage.repository import Repository

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START_MS = 1_700_000_000_000
YEAR_H = 365 * 24


def make_quotes(n: int, symbols: int = 500) -> list[FundingQuote]:
    """``n`` distinct quotes: ``symbols`` symbols on the six venues, one per minute each."""
    out = []
    venues = venue_ids()
    per_tick = symbols * len(venues)
    for i in range(n):
        sym, venue = divmod(i % per_tick, len(venues))
        out.append(
            FundingQuote(
                venue=venues[venue],
                venue_symbol=f"S{sym}USDT",
                canonical=f"S{sym}/USDT:USDT",
                rate_per_interval=1e-4 + (i % 13) * 1e-6,
                interval_h=(1.0, 4.0, 8.0)[i % 3],
                ts_ms=START_MS + (i // per_tick) * 60_000,
                next_funding_ms=START_MS + 8 * HOUR_MS,
                mark_price=100.0 + i % 17,
                index_price=100.0 + i % 19,
            )
        )
    return out


def year_of_one_symbol(name: str = "YEAR") -> list[FundingQuote]:
    return [
        FundingQuote(
            v,
            f"{name}USDT",
            f"{name}/USDT:USDT",
            1e-4 * (1 + k % 5),
            8.0,
            START_MS + k * HOUR_MS,
            next_funding_ms=START_MS + (k + 1) * HOUR_MS,
        )
        for v in venue_ids()
        for k in range(YEAR_H)
    ]


def as_frame(quotes: list[FundingQuote]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "venue": [q.venue for q in quotes],
            "venue_symbol": [q.venue_symbol for q in quotes],
            "ts_ms": [q.ts_ms for q in quotes],
            "canonical": [q.canonical for q in quotes],
            "rate_per_interval": [q.rate_per_interval for q in quotes],
            "interval_h": [q.interval_h for q in quotes],
            "next_funding_ms": [q.next_funding_ms for q in quotes],
            "mark_price": [q.mark_price for q in quotes],
            "index_price": [q.index_price for q in quotes],
            "multiplier": [q.multiplier for q in quotes],
            "is_settled": [q.is_settled for q in quotes],
        }
    )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    secs, _cpu, result = timed_cpu(fn)
    return secs, result


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall s, CPU s of this process, result): on a shared machine the wall time includes
    waiting for a core; the CPU time is what the work itself cost."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def _rate(n: int, secs: float, cpu: float) -> str:
    return f"{n / secs:12,.0f} rows/s  ({secs:.2f} s; cpu {cpu:.2f} s = {n / cpu:,.0f} rows/s)"


def ingest(repo: Repository, quotes: list[FundingQuote], batch: int, use_copy: bool | None) -> int:
    added = 0
    for i in range(0, len(quotes), batch):
        added += repo.write_quotes(quotes[i : i + batch], use_copy=use_copy)
    return added


def bench_backend(
    name: str, db: Database, quotes: list[FundingQuote], batch: int, dense_symbols: int
) -> None:
    n = len(quotes)
    repo = Repository(db)
    print(f"\n== {name}: {n:,} quote rows, batches of {batch:,}")
    paths: list[tuple[str, bool | None]] = [("write_quotes", None)]
    if db.dialect == "postgresql":
        paths = [("write_quotes (COPY)", True), ("write_quotes (executemany)", False)]
    ours = ours_cpu = 0.0
    for label, use_copy in paths:
        _truncate(db)
        secs, cpu, added = timed_cpu(lambda: ingest(repo, quotes, batch, use_copy))  # noqa: B023
        assert added == n, f"{label} added {added} of {n}"
        ours, ours_cpu = (ours, ours_cpu) if ours else (n / secs, n / cpu)
        print(f"{label:32s} {_rate(n, secs, cpu)}")
    secs, cpu, added = timed_cpu(lambda: ingest(repo, quotes, batch, None))
    assert added == 0
    print(f"{'re-ingest same rows (adds 0)':32s} {_rate(n, secs, cpu)}")

    frame = as_frame(quotes)
    for label, table in (("new plain table", None), ("same keys+indexes", "pandas_keyed")):
        with db.engine.connect() as conn:
            if table is not None:
                _keyed_copy(conn, table)
            secs, cpu, _ = timed_cpu(lambda: _to_sql(frame, conn, batch, table))  # noqa: B023
        pandas_rate = n / secs
        print(f"{'to_sql, ' + label:32s} {_rate(n, secs, cpu)}")
        print(
            f"{'  ratio write_quotes / to_sql':32s} {ours / pandas_rate:12.2f}x"
            f"  (cpu {ours_cpu / (n / cpu):.2f}x)"
        )

    year = year_of_one_symbol()
    repo.write_quotes(year)
    load_year(Queries(db), len(year), "")
    for k in range(dense_symbols):
        ingest(repo, year_of_one_symbol(f"DENSE{k}"), batch, None)
    print(f"after {dense_symbols} other symbols' years at the same hours (a denser table):")
    load_year(Queries(db), len(year), "  ")


def load_year(q: Queries, n: int, label: str) -> None:
    first, best, best_cpu, rows = best_of(3, lambda: q.quotes(canonical="YEAR/USDT:USDT"))
    assert rows == n, rows
    print(
        f"{label + 'load 1 symbol x 6 venues x 1 year':32s} {best:12.3f} s  "
        f"({rows:,} rows via quotes(); best of 3, first call {first:.3f} s; "
        f"best cpu {best_cpu:.3f} s)"
    )
    first, best, best_cpu, rows = best_of(
        3, lambda: q.quote_history_for_confidence(["YEAR/USDT:USDT"], START_MS)
    )
    assert rows == n, rows
    print(
        f"{label + 'same via history_for_confidence':32s} {best:12.3f} s  "
        f"({rows:,} rows; best of 3; best cpu {best_cpu:.3f} s)"
    )


def best_of(k: int, fn: Callable[[], pd.DataFrame]) -> tuple[float, float, float, int]:
    """(first call, best call, best CPU, rows): the first call also pays one-off imports."""
    runs = [timed_cpu(fn) for _ in range(k)]
    secs = [r[0] for r in runs]
    return secs[0], min(secs), min(r[1] for r in runs), len(runs[-1][2])  # type: ignore[arg-type]


def _to_sql(frame: pd.DataFrame, conn: Connection, batch: int, table: str | None) -> None:
    """pandas' own path (executemany through SQLAlchemy), one commit at the end.

    ``table`` None: pandas creates a plain table (no key, no index, no conflict handling).
    Otherwise it appends into ``table``, built with funding_quotes' key and indexes.
    """
    name, mode = (table, "append") if table else ("pandas_plain", "replace")
    frame.to_sql(name, conn, if_exists=mode, index=False, chunksize=batch)
    conn.commit()


def _keyed_copy(conn: Connection, name: str) -> None:
    """An empty table with funding_quotes' columns, primary key, indexes and table options
    (WITHOUT ROWID on SQLite), copied from the model so the comparison follows the schema."""
    meta = MetaData(naming_convention=T.NAMING)
    keyed = T.funding_quotes.to_metadata(meta, name=name)
    # Index and key names are schema-wide (SQLite indexes, PostgreSQL's key index): rename.
    keyed.primary_key.name = f"pk_{name}"
    for ix in keyed.indexes:
        ix.name = str(ix.name).replace("funding_quotes", name)
    assert [c.name for c in keyed.primary_key] == [c.name for c in T.funding_quotes.primary_key]
    assert len(keyed.indexes) == len(T.funding_quotes.indexes)
    meta.drop_all(conn)
    meta.create_all(conn)
    conn.commit()


def _truncate(db: Database) -> None:
    from sqlalchemy import text

    with db.write() as conn:
        conn.execute(text("DELETE FROM funding_quotes"))


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"fundscan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield schema
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--pg-url", default=os.environ.get("FUNDSCAN_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--dense-symbols", type=int, default=9)
    args = ap.parse_args()
    secs, quotes = timed(lambda: make_quotes(args.rows))
    print(f"built {args.rows:,} FundingQuote objects in {secs:.2f} s (not counted below)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_database(f"sqlite:///{Path(tmp) / 'b.db'}") as db,
    ):
        bench_backend(
            "SQLite (WAL, synchronous=NORMAL)", db, quotes, args.batch, args.dense_symbols
        )  # type: ignore[arg-type]
    if not args.skip_pg:
        with pg_schema(args.pg_url) as schema, open_database(args.pg_url, schema=schema) as db:
            bench_backend("PostgreSQL", db, quotes, args.batch, args.dense_symbols)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
