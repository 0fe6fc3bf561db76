"""llm second opinion: one row per question asked (tokens, latency, raw reply), and the
structured-output format each server accepted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('llm_calls',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.Column('pair_key', sa.String(length=200), nullable=False),
    sa.Column('cache_key', sa.String(length=240), nullable=False),
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('response_format', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('verdict', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Double(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('raw_reply', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_calls'))
    )
    with op.batch_alter_table('llm_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_llm_calls_cache_key_model'), ['cache_key', 'model'], unique=False)
        batch_op.create_index(batch_op.f('ix_llm_calls_ts_ms'), ['ts_ms'], unique=False)

    op.create_table('llm_formats',
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('response_format', sa.String(length=16), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('base_url', 'model', name=op.f('pk_llm_formats'))
    )


def downgrade() -> None:
    op.drop_table('llm_formats')
    with op.batch_alter_table('llm_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_llm_calls_ts_ms'))
        batch_op.drop_index(batch_op.f('ix_llm_calls_cache_key_model'))
    op.drop_table('llm_calls')
