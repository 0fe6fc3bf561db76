"""opportunities say why a score is blank: history_points and confidence_state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:30:00

Rows stored before this revision did not record either: they stay NULL ("not recorded").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history_points", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("confidence_state", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_column("confidence_state")
        batch_op.drop_column("history_points")
