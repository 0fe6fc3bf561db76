"""Executor state as frozen records: orders, legs of a hedged pair, and the pair position.

Why here and not in ``scanner.domain``: these are what the executor persists and reconciles
after a restart; they carry database ids. Quantities and prices are ``Decimal`` (built from
strings by the executor, rounded to tick/lot) and come back exactly as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order sent (or about to be sent) to a venue, keyed by its ``order_link_id``."""

    order_link_id: str
    venue: str
    symbol: str
    side: str  # "buy" | "sell"
    order_type: str  # "market" | "limit"
    qty: Decimal
    created_ms: int
    updated_ms: int
    status: str = "new"
    price: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    venue_order_id: str | None = None
    position_id: int | None = None
    leg_id: int | None = None
    reduce_only: bool = False
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LegRecord:
    """One side of a hedged pair: what we want on a venue and what is filled so far."""

    position_id: int
    role: str  # "long" | "short"
    venue: str
    venue_symbol: str
    side: str  # order side that opens this leg: "buy" for long, "sell" for short
    target_qty: Decimal
    updated_ms: int
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    state: str = "pending"
    fees_usd: Decimal | None = None
    funding_usd: Decimal | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A hedged pair (long on one venue, short on another) and its lifecycle state.

    ``pair_key`` is the executor's deterministic id for the pair (it is unique), so
    re-planning the same pair after a crash finds the existing row instead of opening twice.
    """

    pair_key: str
    symbol: str
    long_venue: str
    short_venue: str
    notional_usd: Decimal
    state: str
    opened_ms: int
    updated_ms: int
    closed_ms: int | None = None
    realised_pnl_usd: Decimal | None = None
    notes: str | None = None
    pair_id: str | None = None
    """The executor's id for this opening of the pair (client order ids derive from it); the
    same ``pair_key`` can be opened again after it closed, under a new ``pair_id``."""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """Something the executor decided or suffered (hedge refused, unwind, mismatch ...)."""

    kind: str
    message: str
    ts_ms: int
    position_id: int | None = None
    id: int | None = None
