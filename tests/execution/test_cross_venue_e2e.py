"""Cross-venue pair: Binance USD-M (through unmodified ccxt) and Bybit perps, over loopback."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exec_helpers import BKEY, HOUR, rig

from strategies.execution import State


async def test_binance_long_bybit_short_open_hold_close(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        plan = await r.executor.plan("BTC", "binanceusdm", "bybit", Decimal(2000))
        view = await r.executor.open(plan)
        assert view.state == State.OPEN
        legs = {leg.role: leg for leg in view.legs}
        assert legs["long"].quantity == r.binance_perp("BTCUSDT") > 0
        assert -legs["short"].quantity == r.venue_perp("BTCUSDT") < 0
        assert legs["long"].quantity == legs["short"].quantity  # same lot on both venues
        assert legs["long"].fees_usd and legs["long"].fees_usd > 0

        await r.advance(8 * HOUR)
        closed = await r.executor.close(plan.pair_id)
        assert closed.state == State.CLOSED
        assert r.binance_perp("BTCUSDT") == 0 and r.venue_perp("BTCUSDT") == 0
        long_leg = next(leg for leg in closed.legs if leg.role == "long")
        income = [
            Decimal(i["income"])
            for i in r.emu.binance_private.state(BKEY).income
            if i["incomeType"] == "FUNDING_FEE"
        ]
        assert income, "Binance settled funding on the open long"
        assert long_leg.funding_usd == sum(income)
        ids = r.order_link_ids()
        assert len(ids) == len(set(ids)) == 4
