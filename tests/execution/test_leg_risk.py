"""Leg risk against the emulator: a hedge refused, timing out or garbled never leaves a naked
leg beyond one lot, is stored as an event, and no order id is ever sent twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exec_helpers import Rig, rig

from emulator import FaultSpec
from strategies.execution import OrderIntent, OrderResult, State

LOT = Decimal("0.001")  # BTCUSDT perp lot (and the emulator's spot basePrecision)


def arm_after_first_order(r: Rig, spec: FaultSpec) -> None:
    """Arm a fault on order create the moment the first leg has been sent (test orchestration:
    the fault itself is the emulator's, on the wire)."""
    spot = r.ports["bybit-spot"]
    original = spot.submit

    async def submit(intent: OrderIntent) -> OrderResult:
        result = await original(intent)
        if intent.client_id.endswith("-lo0"):
            r.emu.faults.set("bybit", "/v5/order/create", spec)
        return result

    spot.submit = submit  # type: ignore[method-assign]


def assert_no_exposure_and_unique_ids(r: Rig) -> None:
    assert abs(r.venue_perp("BTCUSDT")) < LOT
    assert r.venue_coin("BTC") < LOT
    ids = r.order_link_ids()
    assert len(ids) == len(set(ids)), ids


async def test_hedge_rejected_for_insufficient_balance_unwinds_the_spot_leg(tmp_path: Path) -> None:
    async with rig(tmp_path, usdt="1100") as r:  # the spot buy spends what the short needed
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        view = await r.executor.open(plan)
        codes = [o["retCode"] for o in r.emu.bybit_private.order_log]
    assert view.state == State.CLOSED
    assert codes[:2] == [0, 110007]  # spot filled, perp refused: ab not enough
    assert any(e.startswith("hedge_rejected") for e in view.events), view.events
    assert_no_exposure_and_unique_ids(r)
    assert all(leg.quantity < LOT for leg in view.legs)  # the database agrees with the venue


async def test_hedge_that_never_reaches_the_venue_is_looked_up_then_unwound(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        arm_after_first_order(r, FaultSpec("timeout", count=1, hang_s=3))
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        view = await r.executor.open(plan)
    assert view.state == State.CLOSED
    assert any("hedge_rejected" in e for e in view.events), view.events
    assert_no_exposure_and_unique_ids(r)


async def test_hedge_whose_answer_is_garbled_is_found_filled_and_kept(tmp_path: Path) -> None:
    """The venue took the order but the reply was lost: the lookup finds it; nothing resent."""
    async with rig(tmp_path) as r:
        arm_after_first_order(r, FaultSpec("truncated", count=1))
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        view = await r.executor.open(plan)
        ids = r.order_link_ids()
    assert view.state == State.OPEN
    assert ids == [f"{plan.pair_id}-lo0", f"{plan.pair_id}-so0"]
    legs = {leg.role: leg for leg in view.legs}
    assert legs["long"].quantity == r.venue_coin("BTC")
    assert -legs["short"].quantity == r.venue_perp("BTCUSDT")
