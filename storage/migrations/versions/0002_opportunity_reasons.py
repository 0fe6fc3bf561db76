"""opportunities keep every schema column (the reasons a row is not executable, the settlement
alignment, both legs' canonical ids) and their pair_key; alerts_sent.key becomes pair_key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 05:30:00

Rows stored before this revision did not keep the reasons: they stay NULL ("not recorded"),
never a guessed False. Their ``pair_key`` is rebuilt from the stored legs exactly as
``scanner.domain.pair_key`` spells it, taking the long leg's canonical id from ``instruments``
(a Bybit USDC ``XRPPERP`` long against an OKX USDT short is a different pair from Bybit's
``XRPUSDT`` long). Alert keys are kept verbatim under the new name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than derived from scanner.domain: a migration never changes with the models.
_ADDED: tuple[tuple[str, Any], ...] = (
    ("long_canonical", sa.String(length=64)),
    ("short_canonical", sa.String(length=64)),
    ("price_gap_frac", sa.Double),
    ("price_mismatch", sa.Boolean),
    ("book_missing", sa.Boolean),
    ("book_thin", sa.Boolean),
    ("max_notional_within_slippage_usd", sa.Double),
    ("first_cycle_h", sa.Double),
    ("funding_to_next_long", sa.Double),
    ("funding_to_next_short", sa.Double),
    ("collected_first_cycle", sa.Double),
)

_CANONICAL_OF = """
UPDATE opportunities SET {side}_canonical = (
    SELECT i.canonical FROM instruments i
    WHERE i.venue = opportunities.{side}_venue AND i.venue_symbol = opportunities.{side}_symbol
) WHERE pair_type = 'cross' OR '{side}' = 'short'
"""

_PAIR_KEY = """
UPDATE opportunities SET pair_key = symbol || '|long=' || long_venue
    || CASE WHEN pair_type = 'cross' AND long_canonical IS NOT NULL AND long_canonical <> symbol
            THEN '@' || long_canonical ELSE '' END
    || '|short=' || short_venue
"""


def upgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        for name, kind in _ADDED:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
        batch_op.add_column(sa.Column("pair_key", sa.String(length=200), nullable=True))
    op.execute(_CANONICAL_OF.format(side="long"))
    op.execute(_CANONICAL_OF.format(side="short"))
    op.execute(_PAIR_KEY)
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.alter_column("pair_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_opportunities_pair_key_ts_ms"), ["pair_key", "ts_ms"], unique=False
        )

    with op.batch_alter_table("alerts_sent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_sent_channel_key_sent_ms"))
        batch_op.alter_column(
            "key", new_column_name="pair_key", existing_type=sa.String(length=200), nullable=True
        )
    with op.batch_alter_table("alerts_sent", schema=None) as batch_op:  # after the rename
        batch_op.create_index(
            batch_op.f("ix_alerts_sent_channel_pair_key_sent_ms"),
            ["channel", "pair_key", "sent_ms"],
            unique=False,
        )


def downgrade() -> None:
    op.execute("UPDATE alerts_sent SET pair_key = '' WHERE pair_key IS NULL")
    with op.batch_alter_table("alerts_sent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_sent_channel_pair_key_sent_ms"))
        batch_op.alter_column(
            "pair_key", new_column_name="key", existing_type=sa.String(length=200), nullable=False
        )
    with op.batch_alter_table("alerts_sent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_sent_channel_key_sent_ms"),
            ["channel", "key", "sent_ms"],
            unique=False,
        )

    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunities_pair_key_ts_ms"))
        batch_op.drop_column("pair_key")
        for name, _ in reversed(_ADDED):
            batch_op.drop_column(name)
