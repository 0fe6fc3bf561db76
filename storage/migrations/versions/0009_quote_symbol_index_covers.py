"""funding_quotes' symbol index holds every column: reads by symbol never visit the table

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:00:00

Revision 0008 clusters the table on time, so one symbol's rows lie on as many table pages as
there were snapshots, and a read by symbol looked each one up from the (canonical, ts_ms) index:
~30 ms of SQLite's time for a symbol-year (52,560 rows) even with the pages cached. The index
becomes (canonical, ts_ms, venue, venue_symbol, then every other column): the same order for
the same reads, and a read by symbol is a range of that index alone (SQLite and PostgreSQL's
index-only scans). It is dropped and rebuilt in the migration's transaction on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "funding_quotes"
_OLD_INDEX = "ix_funding_quotes_canonical_ts_ms"
_OLD_COLUMNS = ["canonical", "ts_ms"]
_NEW_INDEX = "ix_funding_quotes_symbol"
# Spelled out: a migration never changes with the models.
_NEW_COLUMNS = [
    "canonical",
    "ts_ms",
    "venue",
    "venue_symbol",
    "rate_per_interval",
    "interval_h",
    "next_funding_ms",
    "is_settled",
    "mark_price",
    "index_price",
    "multiplier",
]


def upgrade() -> None:
    op.drop_index(_OLD_INDEX, table_name=_TABLE)
    op.create_index(_NEW_INDEX, _TABLE, _NEW_COLUMNS)


def downgrade() -> None:
    op.drop_index(_NEW_INDEX, table_name=_TABLE)
    op.create_index(_OLD_INDEX, _TABLE, _OLD_COLUMNS)
