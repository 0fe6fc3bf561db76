"""Persistence of the executor's orders, legs and hedged-pair positions.

Why it matters: after a crash or restart the executor must know what it had asked venues to
do before it does anything else, then reconcile with the venue. So orders are written
*before* they are sent (status "new", keyed by the deterministic ``order_link_id``), and
saving the same ``order_link_id`` again updates that row instead of creating a second order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scanner.domain import check_pair_key
from storage import tables as T
from storage.db import Database
from storage.records import LegRecord, OrderRecord, PositionRecord

OPEN_ORDER_STATUSES: tuple[str, ...] = ("new", "sent", "open", "partially_filled")
CLOSED_POSITION_STATES: tuple[str, ...] = ("closed", "failed")

_ORDER_IMMUTABLE = ("id", "order_link_id", "created_ms")


def _fields(record: Any) -> dict[str, Any]:
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    data.pop("id", None)
    return data


def _check_changes(
    what: str, table: Any, changes: dict[str, Any], immutable: tuple[str, ...]
) -> None:
    unknown = sorted(set(changes) - {c.name for c in table.c})
    frozen = sorted(set(changes) & set(immutable))
    if unknown or frozen:
        raise ValueError(f"{what}: cannot set {unknown + frozen} (unknown or immutable)")


def _update_one(
    db: Any,
    what: str,
    table: Any,
    where: Any,
    missing: str,
    immutable: tuple[str, ...],
    updated_ms: int,
    changes: dict[str, Any],
) -> Row[Any]:
    """Update one row (``where``) and return it; KeyError ``f"{what}: {missing}"`` if absent."""
    _check_changes(what, table, changes, immutable)
    stmt = update(table).where(where).values(updated_ms=updated_ms, **changes).returning(*table.c)
    with db.write() as conn:
        row = conn.execute(stmt).one_or_none()
    if row is None:
        raise KeyError(f"{what}: {missing}")
    return row


def _order(row: Row[Any]) -> OrderRecord:
    return OrderRecord(**row._asdict())


def _leg(row: Row[Any]) -> LegRecord:
    return LegRecord(**row._asdict())


def _position(row: Row[Any]) -> PositionRecord:
    return PositionRecord(**row._asdict())


class ExecutionStore:
    """Orders, legs and positions; each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- orders -------------------------------------------------------------------------

    def save_order(self, order: OrderRecord) -> int:
        """Insert the order, or update the row with the same ``order_link_id``; return its id."""
        data = _fields(order)
        with self.db.write() as conn:
            ins = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(T.orders)
            refresh = {c: ins.excluded[c] for c in data if c not in _ORDER_IMMUTABLE}
            stmt = ins.on_conflict_do_update(index_elements=["order_link_id"], set_=refresh)
            return int(conn.execute(stmt.returning(T.orders.c.id), data).scalar_one())

    def update_order(self, order_link_id: str, /, updated_ms: int, **changes: Any) -> OrderRecord:
        """Change some fields (status, filled_qty, avg_price, venue_order_id, error)."""
        row = _update_one(
            self.db, "update_order", T.orders, T.orders.c.order_link_id == order_link_id,
            f"no order with order_link_id {order_link_id!r}", _ORDER_IMMUTABLE,
            updated_ms, changes,
        )  # fmt: skip
        return _order(row)

    def get_order(self, order_link_id: str) -> OrderRecord | None:
        stmt = select(T.orders).where(T.orders.c.order_link_id == order_link_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _order(row)

    def open_orders(self, venue: str | None = None) -> list[OrderRecord]:
        """Orders not known to be final - the ones to reconcile with the venue on restart."""
        stmt = select(T.orders).where(T.orders.c.status.in_(OPEN_ORDER_STATUSES))
        if venue is not None:
            stmt = stmt.where(T.orders.c.venue == venue)
        with self.db.read() as conn:
            return [_order(r) for r in conn.execute(stmt.order_by(T.orders.c.id))]

    def orders_for_position(self, position_id: int) -> list[OrderRecord]:
        stmt = select(T.orders).where(T.orders.c.position_id == position_id)
        with self.db.read() as conn:
            return [_order(r) for r in conn.execute(stmt.order_by(T.orders.c.id))]

    # -- positions and legs -------------------------------------------------------------

    def create_position(self, position: PositionRecord, legs: Iterable[LegRecord] = ()) -> int:
        """Insert a pair position (and optionally its legs, whose position_id is ignored).

        ``position.pair_key`` must be a ``scanner.domain.pair_key()``: the same spelling alerts
        and stored opportunities use (ValueError otherwise).
        """
        check_pair_key(position.pair_key, "create_position")
        with self.db.write() as conn:
            stmt = insert(T.positions).returning(T.positions.c.id)
            pid = int(conn.execute(stmt, _fields(position)).scalar_one())
            leg_rows = [{**_fields(leg), "position_id": pid} for leg in legs]
            if leg_rows:
                conn.execute(insert(T.legs), leg_rows)
        return pid

    def update_position(
        self, position_id: int, /, updated_ms: int, **changes: Any
    ) -> PositionRecord:
        """Change state / closed_ms / realised_pnl_usd / notes of a position."""
        row = _update_one(
            self.db, "update_position", T.positions, T.positions.c.id == position_id,
            f"no position with id {position_id}", ("id", "pair_key", "opened_ms"),
            updated_ms, changes,
        )  # fmt: skip
        return _position(row)

    def update_leg(self, leg_id: int, /, updated_ms: int, **changes: Any) -> LegRecord:
        """Change filled_qty / avg_price / state of a leg."""
        row = _update_one(
            self.db, "update_leg", T.legs, T.legs.c.id == leg_id,
            f"no leg with id {leg_id}", ("id", "position_id", "role"), updated_ms, changes,
        )  # fmt: skip
        return _leg(row)

    def get_by_pair_id(self, pair_id: str) -> PositionRecord | None:
        stmt = select(T.positions).where(T.positions.c.pair_id == pair_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _position(row)

    def get_position(self, pair_key: str) -> PositionRecord | None:
        """The latest opening of the pair (a pair can be opened again after it closed)."""
        stmt = select(T.positions).where(T.positions.c.pair_key == pair_key)
        with self.db.read() as conn:
            row = conn.execute(stmt.order_by(T.positions.c.id.desc()).limit(1)).one_or_none()
        return None if row is None else _position(row)

    def open_positions(self) -> list[PositionRecord]:
        """Positions not closed or failed - what a restart must reconcile first."""
        stmt = select(T.positions).where(T.positions.c.state.not_in(CLOSED_POSITION_STATES))
        with self.db.read() as conn:
            return [_position(r) for r in conn.execute(stmt.order_by(T.positions.c.id))]

    def legs_for_position(self, position_id: int) -> list[LegRecord]:
        stmt = select(T.legs).where(T.legs.c.position_id == position_id).order_by(T.legs.c.id)
        with self.db.read() as conn:
            return [_leg(r) for r in conn.execute(stmt)]

    def closed_since(self, since_ms: int) -> list[PositionRecord]:
        """Positions closed at or after ``since_ms`` (the daily realised-loss limit reads them)."""
        stmt = select(T.positions).where(
            T.positions.c.state == "closed", T.positions.c.closed_ms >= since_ms
        )
        with self.db.read() as conn:
            return [_position(r) for r in conn.execute(stmt.order_by(T.positions.c.id))]
