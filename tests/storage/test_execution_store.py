"""Executor persistence: orders keyed by order_link_id, exact Decimals, restart reads."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.records import LegRecord, OrderRecord, PositionRecord
from storage.repository import Repository


def _position() -> PositionRecord:
    return PositionRecord(
        pair_key="BTC/USDT:USDT|long=okx|short=bybit",
        symbol="BTC/USDT:USDT",
        long_venue="okx",
        short_venue="bybit",
        notional_usd=Decimal("1000.50"),
        state="opening",
        opened_ms=1_000,
        updated_ms=1_000,
    )


def _leg(role: str, qty: str) -> LegRecord:
    return LegRecord(
        position_id=0,
        role=role,
        venue="bybit" if role == "short" else "okx",
        venue_symbol="BTCUSDT",
        side="sell" if role == "short" else "buy",
        target_qty=Decimal(qty),
        updated_ms=1_000,
    )


def test_orders_round_trip_exactly_and_upsert_by_link_id(db: Database) -> None:
    repo = Repository(db)
    order = OrderRecord(
        order_link_id="fs-abc-1",
        venue="bybit",
        symbol="BTCUSDT",
        side="sell",
        order_type="limit",
        qty=Decimal("0.123456789012345678"),
        price=Decimal("65114.2"),
        created_ms=1,
        updated_ms=1,
    )
    first_id = repo.save_order(order)
    again = repo.save_order(
        OrderRecord(**{**_as_dict(order), "status": "sent", "updated_ms": 2, "created_ms": 99})
    )
    assert again == first_id, "same order_link_id -> same row, never a second order"
    stored = repo.get_order("fs-abc-1")
    assert stored is not None
    assert stored.qty == Decimal("0.123456789012345678")
    assert stored.price == Decimal("65114.2")
    assert (stored.status, stored.updated_ms, stored.created_ms) == ("sent", 2, 1)
    assert stored.filled_qty == Decimal(0)


def test_update_order_and_open_orders_for_reconciliation(db: Database) -> None:
    repo = Repository(db)
    for i, status in enumerate(["new", "filled", "sent"]):
        repo.save_order(
            OrderRecord(
                f"fs-{i}", "bybit", "BTCUSDT", "buy", "market", Decimal("0.01"), 1, 1, status=status
            )
        )
    assert [o.order_link_id for o in repo.open_orders()] == ["fs-0", "fs-2"]
    done = repo.update_order(
        "fs-2", 5, status="filled", filled_qty=Decimal("0.01"), avg_price=Decimal("65000.1")
    )
    assert done.avg_price == Decimal("65000.1") and done.updated_ms == 5
    assert [o.order_link_id for o in repo.open_orders(venue="bybit")] == ["fs-0"]
    with pytest.raises(KeyError, match="fs-missing"):
        repo.update_order("fs-missing", 1, status="filled")
    with pytest.raises(ValueError, match="order_link_id"):
        repo.update_order("fs-0", 1, order_link_id="other")


def test_floats_are_refused_in_exact_columns(db: Database) -> None:
    repo = Repository(db)
    bad = OrderRecord("fs-f", "bybit", "BTCUSDT", "buy", "market", 0.1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="float"):
        repo.save_order(bad)
    assert repo.get_order("fs-f") is None


@pytest.mark.parametrize(
    "qty,what",
    [("1.23E-20", "decimal places"), ("123456789012345678901.5", "integer digits")],
)
def test_decimals_beyond_numeric_38_18_are_refused_on_both_backends(
    db: Database, qty: str, what: str
) -> None:
    """PostgreSQL would round 1.23E-20 to 0 silently; both backends must refuse alike."""
    repo = Repository(db)
    bad = OrderRecord("fs-r", "bybit", "BTCUSDT", "buy", "market", Decimal(qty), 1, 1)
    with pytest.raises(Exception, match=what):
        repo.save_order(bad)
    assert repo.get_order("fs-r") is None
    ok = OrderRecord("fs-ok", "bybit", "BTCUSDT", "buy", "market", Decimal("1E-18"), 1, 1)
    repo.save_order(ok)
    got = repo.get_order("fs-ok")
    assert got is not None and got.qty == Decimal("1E-18")


def test_positions_with_legs_and_orders(db: Database) -> None:
    repo = Repository(db)
    pid = repo.create_position(_position(), [_leg("long", "0.015"), _leg("short", "0.015")])
    legs = repo.legs_for_position(pid)
    assert [(leg.role, leg.position_id, leg.target_qty) for leg in legs] == [
        ("long", pid, Decimal("0.015")),
        ("short", pid, Decimal("0.015")),
    ]
    repo.update_leg(legs[0].id or 0, 3, filled_qty=Decimal("0.015"), state="filled")
    repo.save_order(
        OrderRecord(
            "fs-p1",
            "okx",
            "BTC-USDT-SWAP",
            "buy",
            "market",
            Decimal("0.015"),
            2,
            2,
            position_id=pid,
            leg_id=legs[0].id,
        )
    )
    assert [o.order_link_id for o in repo.orders_for_position(pid)] == ["fs-p1"]
    assert [p.id for p in repo.open_positions()] == [pid]
    closed = repo.update_position(
        pid, 9, state="closed", closed_ms=9, realised_pnl_usd=Decimal("-1.25")
    )
    assert closed.realised_pnl_usd == Decimal("-1.25")
    assert closed.notional_usd == Decimal("1000.50")
    assert repo.open_positions() == []
    assert repo.get_position(_position().pair_key) == closed


def test_pair_id_is_unique_and_a_pair_can_reopen(db: Database) -> None:
    repo = Repository(db)
    repo.create_position(dataclasses.replace(_position(), pair_id="fs0000000001"))
    with pytest.raises(IntegrityError):
        repo.create_position(dataclasses.replace(_position(), pair_id="fs0000000001"))
    again = repo.create_position(dataclasses.replace(_position(), pair_id="fs0000000002"))
    latest = repo.get_position(_position().pair_key)
    assert latest is not None and latest.id == again and latest.pair_id == "fs0000000002"


def _as_dict(order: OrderRecord) -> dict[str, object]:
    return {name: getattr(order, name) for name in OrderRecord.__dataclass_fields__}


def test_a_position_key_must_be_a_pair_key(db: Database) -> None:
    repo = Repository(db)
    free_text = dataclasses.replace(_position(), pair_key="BTC:okx>bybit")
    with pytest.raises(ValueError, match="create_position: 'BTC:okx>bybit' is not a pair key"):
        repo.create_position(free_text)
    assert repo.open_positions() == []
