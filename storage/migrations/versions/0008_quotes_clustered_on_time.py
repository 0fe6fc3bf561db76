"""funding_quotes clustered on time: key (ts_ms, venue, venue_symbol), WITHOUT ROWID on SQLite

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:10:00

The key is the same set of columns (the same rows are duplicates), spelled time first, so a
snapshot's quotes append at the right edge of the key's B-tree and time ranges are key ranges;
the ``ts_ms`` index becomes redundant and is dropped. On SQLite the table is rebuilt WITHOUT
ROWID (the rows live in the key's B-tree: no separate rowid table): every row is copied over in
the migration's transaction. On PostgreSQL the key constraint is replaced in place. Together
they take an insert from four B-trees to two (``benchmarks/bench_storage.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "funding_quotes"
_NEW_KEY = ("ts_ms", "venue", "venue_symbol")
_OLD_KEY = ("venue", "venue_symbol", "ts_ms")


def _columns() -> list[sa.Column[object]]:
    """Spelled out as revision 0001 created them: a migration never changes with the models."""
    return [
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("venue_symbol", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("canonical", sa.String(length=64), nullable=False),
        sa.Column("rate_per_interval", sa.Double(), nullable=False),
        sa.Column("interval_h", sa.Double(), nullable=False),
        sa.Column("next_funding_ms", sa.BigInteger(), nullable=True),
        sa.Column("mark_price", sa.Double(), nullable=True),
        sa.Column("index_price", sa.Double(), nullable=True),
        sa.Column("multiplier", sa.Double(), nullable=False),
        sa.Column("is_settled", sa.Boolean(), nullable=False),
    ]


def _rebuild_sqlite(key: Sequence[str], *, with_rowid: bool) -> None:
    """SQLite cannot change a key or drop ROWID in place: new table, copy, swap names."""
    tmp = f"_{_TABLE}_rebuild"
    columns = _columns()
    names = ", ".join(c.name for c in columns)
    op.create_table(
        tmp,
        *columns,
        sa.PrimaryKeyConstraint(*key, name=f"pk_{_TABLE}"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(f"INSERT INTO {tmp} ({names}) SELECT {names} FROM {_TABLE}")
    op.drop_table(_TABLE)  # its indexes go with it
    op.rename_table(tmp, _TABLE)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_NEW_KEY, with_rowid=False)
        op.create_index(f"ix_{_TABLE}_canonical_ts_ms", _TABLE, ["canonical", "ts_ms"])
        return
    op.drop_index(f"ix_{_TABLE}_ts_ms", table_name=_TABLE)
    op.drop_constraint(f"pk_{_TABLE}", _TABLE, type_="primary")
    op.create_primary_key(f"pk_{_TABLE}", _TABLE, list(_NEW_KEY))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_OLD_KEY, with_rowid=True)
        op.create_index(f"ix_{_TABLE}_canonical_ts_ms", _TABLE, ["canonical", "ts_ms"])
    else:
        op.drop_constraint(f"pk_{_TABLE}", _TABLE, type_="primary")
        op.create_primary_key(f"pk_{_TABLE}", _TABLE, list(_OLD_KEY))
    op.create_index(f"ix_{_TABLE}_ts_ms", _TABLE, ["ts_ms"])
