"""alert outbox: event, net APR, message data and delivery time on alerts_sent

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alerts_sent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('net_apr', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('delivered_ms', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_alerts_sent_pair_key_sent_ms'), ['pair_key', 'sent_ms'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_sent_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts_sent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_sent_status'))
        batch_op.drop_index(batch_op.f('ix_alerts_sent_pair_key_sent_ms'))
        batch_op.drop_column('attempts')
        batch_op.drop_column('delivered_ms')
        batch_op.drop_column('payload')
        batch_op.drop_column('net_apr')
        batch_op.drop_column('event')
