"""Leg risk against the emulator: a hedge refused, timing out or garbled never leaves a naked
leg beyond one lot, is stored as an event, and no order id is ever sent twice."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def arm_on_binance_fill(r: Rig, action: Callable[[], None]) -> None:
    """Run ``action`` the moment the Binance first leg has been sent (test orchestration)."""
    port = r.ports["binanceusdm"]
    original = port.submit

    async def submit(intent: OrderIntent) -> OrderResult:
        result = await original(intent)
        if intent.client_id.endswith("-lo0"):
            action()
        return result

    port.submit = submit  # type: ignore[method-assign]


def bybit_orders(r: Rig, link_id: str) -> list[Any]:
    return [o for o in r.account().orders.values() if o.order_link_id == link_id]


async def test_partly_filled_hedge_reduces_the_first_leg_reduce_only(tmp_path: Path) -> None:
    """Bybit's book holds only 0.004 BTC: the hedge fills that much, the venue cancels the rest,
    and the Binance long is cut back to match with a reduce-only order."""
    async with rig(tmp_path) as r:
        r.emu.liquidity.set("bybit", "BTCUSDT", Decimal("0.004"))
        plan = await r.executor.plan("BTC", "binanceusdm", "bybit", Decimal(900))
        planned = plan.first.qty
        view = await r.executor.open(plan)
        [hedge] = bybit_orders(r, f"{plan.pair_id}-so0")
        binance_log = list(r.emu.binance_private.order_log)
        long_after, short_after = r.binance_perp("BTCUSDT"), r.venue_perp("BTCUSDT")
    assert planned > Decimal("0.004"), "the cap must be below the planned size"
    assert (hedge.status, hedge.cum_exec_qty) == ("PartiallyFilledCanceled", Decimal("0.004"))
    assert view.state == State.OPEN
    assert any(e.startswith("hedge_partial") for e in view.events), view.events
    assert (long_after, short_after) == (Decimal("0.004"), Decimal("-0.004"))
    reduce = [o for o in binance_log if o["newClientOrderId"] == f"{plan.pair_id}-lu0"]
    assert len(reduce) == 1 and str(reduce[0]["reduceOnly"]).lower() == "true", binance_log
    legs = {leg.role: leg for leg in view.legs}
    assert legs["long"].quantity == long_after and -legs["short"].quantity == short_after
    ids = r.order_link_ids()
    assert len(ids) == len(set(ids)), ids


async def test_a_first_leg_that_cannot_be_reduced_in_time_is_broken_then_repaired(
    tmp_path: Path,
) -> None:
    """The hedge partly fills and then Binance's book is empty too: the reduce-only orders fill
    nothing, so after ``unwind_timeout_s`` the pair is ``broken`` (stored, never ignored). When
    liquidity returns, the start-up reconciliation hedges the rest."""
    async with rig(tmp_path) as r:
        r.emu.liquidity.set("bybit", "BTCUSDT", Decimal("0.004"))
        arm_on_binance_fill(r, lambda: r.emu.liquidity.set("binanceusdm", "BTCUSDT", Decimal(0)))
        plan = await r.executor.plan("BTC", "binanceusdm", "bybit", Decimal(900))
        started_ms = r.clock.monotonic_ms()
        view = await r.executor.open(plan)
        waited_s = (r.clock.monotonic_ms() - started_ms) / 1000
        naked = r.binance_perp("BTCUSDT") + r.venue_perp("BTCUSDT")
        r.emu.liquidity.clear()
        assert await r.executor.reconcile() == []
        repaired = r.executor.view(plan.pair_id)
        long_after, short_after = r.binance_perp("BTCUSDT"), r.venue_perp("BTCUSDT")
    assert view.state == State.BROKEN
    assert any(e.startswith("unmatched") for e in view.events), view.events
    assert naked > LOT and 10 <= waited_s <= 12, (naked, waited_s)  # unwind_timeout_s = 10
    assert repaired.state == State.OPEN
    assert abs(long_after + short_after) < LOT and long_after > 0
    ids = r.order_link_ids()
    assert len(ids) == len(set(ids)), ids
