"""Reconciliation is idempotent and blocks opening on a mismatch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from exec_helpers import rig

from scanner.venues.bybit_trading import OrderRequest
from strategies.execution import LimitBreach


async def test_resolving_an_order_again_never_counts_its_fill_twice(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        opened = await r.executor.open(plan)
        first_id = f"{plan.pair_id}-lo0"
        # as if the answer had been lost: the order's fate is "sent" (unknown) in the database
        r.executor.store.update_order(first_id, updated_ms=r.clock.now_ms(), status="sent")
        sent = len(r.emu.bybit_private.order_log)
        assert await r.executor.reconcile() == []
        assert await r.executor.reconcile() == []
        again = r.executor.view(plan.pair_id)
        assert [leg.quantity for leg in again.legs] == [leg.quantity for leg in opened.legs]
        assert len(r.emu.bybit_private.order_log) == sent  # looked up, never resent
        assert r.executor.store.get_order(first_id).status == "filled"  # type: ignore[union-attr]


async def test_a_position_the_database_does_not_know_blocks_new_pairs(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        await r.executor.open(plan)
        # someone trades the same perp by hand: the venue now holds more than we recorded
        port = r.ports["bybit"]
        await port.trading.place_order(
            OrderRequest("BTCUSDT", "Sell", Decimal("0.005"), "manual-1")
        )
        problems = await r.executor.reconcile()
        assert problems and "BTCUSDT" in problems[0]
        other = await r.executor.plan("ETH", "bybit-spot", "bybit", Decimal(900))
        with pytest.raises(LimitBreach, match="mismatch"):
            await r.executor.open(other)
