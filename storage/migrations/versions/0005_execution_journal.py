"""execution journal: events per pair, fees and funding per leg, one pair_id per opening

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

EXACT = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "execution_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"],
            name=op.f("fk_execution_events_position_id_positions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_events")),
    )  # fmt: skip
    with op.batch_alter_table("execution_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_execution_events_position_id"), ["position_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_execution_events_ts_ms"), ["ts_ms"], unique=False)
    with op.batch_alter_table("legs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fees_usd", EXACT, nullable=True))
        batch_op.add_column(sa.Column("funding_usd", EXACT, nullable=True))
    # a pair (pair_key) can be opened again after it closed: each opening has its own pair_id
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_positions_pair_key", type_="unique")
        batch_op.add_column(sa.Column("pair_id", sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_positions_pair_id"), ["pair_id"])
        batch_op.create_index(batch_op.f("ix_positions_pair_key"), ["pair_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_pair_key"))
        batch_op.drop_constraint(batch_op.f("uq_positions_pair_id"), type_="unique")
        batch_op.drop_column("pair_id")
        batch_op.create_unique_constraint("uq_positions_pair_key", ["pair_key"])
    with op.batch_alter_table("legs", schema=None) as batch_op:
        batch_op.drop_column("funding_usd")
        batch_op.drop_column("fees_usd")
    with op.batch_alter_table("execution_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_execution_events_ts_ms"))
        batch_op.drop_index(batch_op.f("ix_execution_events_position_id"))
    op.drop_table("execution_events")
