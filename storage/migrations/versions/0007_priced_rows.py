"""opportunities say whether their cost was measured: net_apr_upper, cost_measured, book_top_only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:30:00

Every row is now priced at least by its top of book; a row whose cost could not be measured for
the whole notional carries its figure in ``net_apr_upper`` (an upper bound) and no ``net_apr``.
Rows stored before this revision hold NULL in the new columns ("not recorded"), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than derived from scanner.domain: a migration never changes with the models.
_ADDED: tuple[tuple[str, Any], ...] = (
    ("net_apr_upper", sa.Double),
    ("cost_measured", sa.Boolean),
    ("book_top_only", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        for name, kind in _ADDED:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        for name, _ in reversed(_ADDED):
            batch_op.drop_column(name)
