"""Each limit and the kill switch stop an opening before any order reaches the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from exec_helpers import LIMITS, rig

from storage.records import PositionRecord
from strategies.execution import LimitBreach, Limits


async def _refused(tmp_path: Path, notional: str, match: str, **kw: object) -> None:
    async with rig(tmp_path, **kw) as r:  # type: ignore[arg-type]
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(notional))
        with pytest.raises(LimitBreach, match=match):
            await r.executor.open(plan)
        assert r.emu.bybit_private.order_log == []
        assert r.executor.active() == []


async def test_per_trade_notional(tmp_path: Path) -> None:
    await _refused(tmp_path, "5001", "max_notional_usd")


async def test_total_exposure(tmp_path: Path) -> None:
    limits = Limits(Decimal(1000), Decimal(1500), 5, Decimal(500))
    async with rig(tmp_path, limits=limits) as r:
        first = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        assert (await r.executor.open(first)).state == "open"
        second = await r.executor.plan("ETH", "bybit-spot", "bybit", Decimal(900))
        sent = len(r.emu.bybit_private.order_log)
        with pytest.raises(LimitBreach, match="max_total_exposure_usd"):
            await r.executor.open(second)
        assert len(r.emu.bybit_private.order_log) == sent


async def test_max_open_pairs(tmp_path: Path) -> None:
    limits = Limits(Decimal(1000), Decimal(5000), 1, Decimal(500))
    async with rig(tmp_path, limits=limits) as r:
        first = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        assert (await r.executor.open(first)).state == "open"
        second = await r.executor.plan("ETH", "bybit-spot", "bybit", Decimal(900))
        sent = len(r.emu.bybit_private.order_log)
        with pytest.raises(LimitBreach, match="max_open_pairs"):
            await r.executor.open(second)
        assert len(r.emu.bybit_private.order_log) == sent


async def test_daily_realised_loss(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        now = r.clock.now_ms()
        store = r.executor.store
        pid = store.create_position(
            PositionRecord(
                pair_key="BTC/USDT:USDT|long=bybit-spot|short=bybit",
                symbol="BTC/USDT:USDT",
                long_venue="bybit-spot",
                short_venue="bybit",
                notional_usd=Decimal(900),
                state="closed",
                opened_ms=now - 3_600_000,
                updated_ms=now,
                pair_id="fsold",
            )
        )
        store.update_position(pid, updated_ms=now, closed_ms=now - 60_000,
                              realised_pnl_usd=-(LIMITS.max_daily_loss_usd))  # fmt: skip
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        with pytest.raises(LimitBreach, match="max_daily_loss_usd"):
            await r.executor.open(plan)
        assert r.emu.bybit_private.order_log == []


async def test_kill_switch_file_stops_opening_and_flatten_closes_everything(
    tmp_path: Path,
) -> None:
    kill = tmp_path / "KILL"
    async with rig(tmp_path, kill_switch=kill) as r:
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(900))
        assert (await r.executor.open(plan)).state == "open"
        closed = await r.executor.flatten(str(kill))
        assert [v.state for v in closed] == ["closed"]
        assert kill.exists()
        assert r.venue_perp("BTCUSDT") == 0
        again = await r.executor.plan("ETH", "bybit-spot", "bybit", Decimal(900))
        sent = len(r.emu.bybit_private.order_log)
        with pytest.raises(LimitBreach, match="kill switch"):
            await r.executor.open(again)
        assert len(r.emu.bybit_private.order_log) == sent
