"""Idempotent bulk inserts: re-sending rows that are already stored adds nothing.

Why ON CONFLICT DO NOTHING and not "select then insert": collectors re-fetch overlapping
windows (funding history pages, retries after a timeout), and the natural keys of the time
series tables (venue, venue_symbol, time) make a duplicate harmless if the database itself
ignores it - no race between the check and the write.

Every call runs inside the caller's transaction (``Database.write()``), so a batch is whole
or absent even if the process dies halfway. Rows are tuples in ``columns`` order, produced
lazily and sent in chunks straight to the driver's ``executemany`` (the SQL is rendered once
by SQLAlchemy's dialect constructs; per-row SQLAlchemy parameter handling would cost more than
the database work). On PostgreSQL, large chunks go through ``COPY`` into a temporary table
and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``; ``benchmarks/bench_storage.py``
measures both paths.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Connection, Double, Integer, Numeric, Table
from sqlalchemy.dialects import sqlite

from scanner.gcpause import gc_paused
from storage.tables import ExactDecimal

CHUNK_ROWS = 10_000
PG_COPY_MIN_ROWS = 2_000
"""Below this many rows the temp-table set-up costs more than COPY saves."""

Values = Sequence[Any]


def chunked(rows: Iterable[Values], size: int = CHUNK_ROWS) -> Iterator[list[Values]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def insert_ignore(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Values],
    *,
    use_copy: bool | None = None,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) skipping key conflicts; return rows added.

    ``use_copy`` None picks COPY on PostgreSQL once a chunk reaches ``PG_COPY_MIN_ROWS``;
    True/False forces the choice (the benchmark compares both).
    """
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - normalize_url forbids
        raise ValueError(f"unsupported dialect {dialect}")
    with gc_paused():
        return _insert_ignore(conn, table, columns, rows, use_copy=use_copy)


def _insert_ignore(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Values],
    *,
    use_copy: bool | None,
) -> int:
    dialect = conn.dialect.name
    convert = _converter(table, columns, dialect)
    chunks = chunked(rows)
    first = next(chunks, [])
    if not first:
        return 0
    if dialect == "postgresql":
        copy = use_copy if use_copy is not None else len(first) >= PG_COPY_MIN_ROWS
        if copy:
            # One temp table and one INSERT ... SELECT for the whole batch: COPY streams, so
            # chunks only bound the Python-side memory here.
            stream = itertools.chain(first, *chunks)
            return _pg_copy(conn, table, columns, map(convert, stream) if convert else stream)
    sql = _insert_sql(conn, table, columns)
    inserted = 0
    for chunk in itertools.chain([first], chunks):
        values = [convert(r) for r in chunk] if convert else chunk
        inserted += conn.exec_driver_sql(sql, values).rowcount  # type: ignore[arg-type]
    return inserted


def _insert_sql(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    if conn.dialect.name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
        return str(stmt.compile(dialect=conn.dialect, column_keys=list(columns)))
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING'


def _converter(
    table: Table, columns: Sequence[str], dialect: str
) -> Callable[[Values], Values] | None:
    """Per-row conversion for the few column types the driver cannot take as they are."""
    fixes: list[tuple[int, Callable[[Any], Any]]] = []
    for idx, name in enumerate(columns):
        col_type = table.c[name].type
        if isinstance(col_type, JSON):
            fixes.append((idx, lambda v: json.dumps(v, separators=(",", ":"))))
        elif isinstance(col_type, ExactDecimal) and dialect == "sqlite":
            fixes.append((idx, lambda v: format(v, "f")))
    if not fixes:
        return None

    def convert(row: Values) -> Values:
        out = list(row)
        for idx, fn in fixes:
            if out[idx] is not None:
                out[idx] = fn(out[idx])
        return tuple(out)

    return convert


_temp_counter = itertools.count()


def _pg_binary_type(col_type: Any) -> str:
    """The PostgreSQL type name psycopg should encode a column's values as, for binary COPY."""
    if isinstance(col_type, ExactDecimal | Numeric):
        return "numeric"
    for sa_type, pg_name in _PG_BINARY_TYPES:
        if isinstance(col_type, sa_type):
            return pg_name
    return "text"


_PG_BINARY_TYPES: tuple[tuple[type, str], ...] = (
    (Boolean, "bool"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Double, "float8"),
    (JSON, "json"),
)


def _pg_copy(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Values]) -> int:
    """COPY ``rows`` into a temp table, then move them over with ON CONFLICT DO NOTHING."""
    temp = f"fundscan_copy_{next(_temp_counter)}"
    col_sql = ", ".join(f'"{c}"' for c in columns)
    target = f'"{table.name}"'
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE {temp} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP")
        with cur.copy(f"COPY {temp} ({col_sql}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_pg_binary_type(table.c[c].type) for c in columns])
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {target} ({col_sql}) SELECT {col_sql} FROM {temp} ON CONFLICT DO NOTHING"
        )
        added = cur.rowcount
        cur.execute(f"DROP TABLE {temp}")
    return int(added)
