"""Retention (pruning old rows) and export of whole tables to Parquet or CSV.

Why settlements and instruments are never pruned: settled funding is the ground truth the
backtester and the confidence score learn from, and it is small (a few rows per symbol per
day); instruments are needed to interpret every other row. Quotes, books and opportunities
are high-volume observations whose value fades, so they age out by policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, BigInteger, Boolean, Double, Integer, Table, delete, func, select

from scanner.units import MS_PER_DAY
from storage import tables as T
from storage.db import Database

log = logging.getLogger(__name__)

EXPORT_CHUNK_ROWS = 50_000
EXPORT_FORMATS: tuple[str, ...] = ("parquet", "csv")
PRUNABLE: tuple[str, ...] = ("funding_quotes", "book_snapshots", "opportunities")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days of history to keep per high-volume table."""

    quotes_days: int
    books_days: int
    opportunities_days: int

    def cutoffs(self, now_ms: int) -> dict[str, int]:
        """Per table: rows with a time before this are pruned."""
        return {
            "funding_quotes": now_ms - self.quotes_days * MS_PER_DAY,
            "book_snapshots": now_ms - self.books_days * MS_PER_DAY,
            "opportunities": now_ms - self.opportunities_days * MS_PER_DAY,
        }


def prune(
    db: Database, policy: RetentionPolicy, now_ms: int, *, dry_run: bool = False
) -> dict[str, int]:
    """Delete rows older than the policy (one transaction); return rows (to be) deleted."""
    counts: dict[str, int] = {}
    with db.write() as conn:
        for name, cutoff in policy.cutoffs(now_ms).items():
            table = T.metadata.tables[name]
            col = table.c[T.TIME_COLUMN[name]]
            if dry_run:
                stmt = select(func.count()).select_from(table).where(col < cutoff)
                counts[name] = int(conn.execute(stmt).scalar_one())
            else:
                counts[name] = int(conn.execute(delete(table).where(col < cutoff)).rowcount)
        if dry_run:
            conn.rollback()
    if not dry_run:
        log.info("pruned %s", counts)
    return counts


class ExportError(ValueError):
    """A user error in an export request (unknown table or format, bad date)."""


MIN_SINCE_MS = 1_000_000_000_000
"""Smaller digit strings are seconds (or typos), not milliseconds of any market data."""
MAX_SINCE_MS = 253_402_300_799_999


def parse_since(text: str) -> int:
    """``--since`` value -> epoch ms: digits are epoch ms; else an ISO date/time (UTC if naive)."""
    stripped = text.strip()
    if stripped.isdigit():
        value = int(stripped)
        if not MIN_SINCE_MS <= value <= MAX_SINCE_MS:
            raise ExportError(
                f"--since {text!r}: epoch milliseconds must lie between {MIN_SINCE_MS} "
                f"(2001-09-09) and {MAX_SINCE_MS} (year 9999); a 10-digit value is probably "
                "seconds: multiply by 1000"
            )
        return value
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"--since {text!r} is neither epoch milliseconds nor an ISO date such as "
            "2026-01-31 or 2026-01-31T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _check(table: str, fmt: str) -> None:
    if table not in T.metadata.tables:
        known = ", ".join(sorted(T.metadata.tables))
        raise ExportError(f"unknown table {table!r}; tables: {known}")
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(EXPORT_FORMATS)}")


def _chunks(db: Database, table: str, since_ms: int | None) -> Iterator[pd.DataFrame]:
    tbl = T.metadata.tables[table]
    stmt = select(tbl)
    time_col = tbl.c[T.TIME_COLUMN[table]]
    if since_ms is not None:
        stmt = stmt.where(time_col >= since_ms)
    stmt = stmt.order_by(time_col, *tbl.primary_key.columns)
    with db.read() as conn:
        result = conn.execution_options(yield_per=EXPORT_CHUNK_ROWS).execute(stmt)
        columns = list(result.keys())
        for part in result.partitions():
            yield _exportable(pd.DataFrame(part, columns=columns), tbl)


def _exportable(df: pd.DataFrame, tbl: Table) -> pd.DataFrame:
    """JSON columns become JSON text, exact decimals their exact text (both formats agree)."""
    for col in tbl.c:
        if isinstance(col.type, JSON):
            df[col.name] = df[col.name].map(lambda v: None if v is None else json.dumps(v))
        elif isinstance(col.type, T.ExactDecimal):
            df[col.name] = df[col.name].map(lambda v: None if v is None else format(v, "f"))
    return df


def export_table(
    db: Database,
    table: str,
    fmt: Literal["parquet", "csv"] | str,
    out: Path,
    since_ms: int | None = None,
) -> int:
    """Write ``table`` (rows with time >= ``since_ms``) to ``out``; return rows written."""
    _check(table, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tbl = T.metadata.tables[table]
    written = 0
    if fmt == "csv":
        for df in _chunks(db, table, since_ms):
            df.to_csv(out, mode="w" if written == 0 else "a", header=written == 0, index=False)
            written += len(df)
        if written == 0:
            pd.DataFrame(columns=[c.name for c in tbl.c]).to_csv(out, index=False)
        return written
    schema = arrow_schema(tbl)
    with pq.ParquetWriter(out, schema) as writer:
        for df in _chunks(db, table, since_ms):
            writer.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False))
            written += len(df)
    return written


def arrow_schema(tbl: Table) -> pa.Schema:
    """Fixed Parquet types per column, so every chunk (and an empty export) agrees."""
    fields = []
    for col in tbl.c:
        if isinstance(col.type, BigInteger | Integer):
            kind = pa.int64()
        elif isinstance(col.type, Double):
            kind = pa.float64()
        elif isinstance(col.type, Boolean):
            kind = pa.bool_()
        else:  # text, JSON text, exact decimal text
            kind = pa.string()
        fields.append(pa.field(col.name, kind, nullable=col.nullable or False))
    return pa.schema(fields)
