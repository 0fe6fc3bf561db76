"""Same-venue carry (Bybit spot long, Bybit perp short) over loopback HTTP to the emulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exec_helpers import HOUR, rig

from strategies.execution import State


async def test_carry_opens_and_closes_with_database_equal_to_venue(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        plan = await r.executor.plan("BTC", "bybit-spot", "bybit", Decimal(2000))
        view = await r.executor.open(plan)
        assert view.state == State.OPEN
        legs = {leg.role: leg for leg in view.legs}
        # the database's legs are what the venue holds: coins for spot, a short for the perp
        assert legs["long"].quantity == r.venue_coin("BTC")
        assert -legs["short"].quantity == r.venue_perp("BTCUSDT")
        # equal exposure within one perp lot (the spot buy's fee is paid in BTC)
        assert abs(legs["long"].quantity - legs["short"].quantity) < Decimal("0.001")
        assert legs["long"].fees_usd and legs["long"].fees_usd > 0
        assert legs["short"].fees_usd and legs["short"].fees_usd > 0

        await r.advance(8 * HOUR)  # a settlement passes: funding on the perp
        closed = await r.executor.close(plan.pair_id)
        assert closed.state == State.CLOSED
        assert r.venue_perp("BTCUSDT") == 0
        assert r.venue_coin("BTC") < Decimal("0.001")  # dust below one lot
        short = next(leg for leg in closed.legs if leg.role == "short")
        funding = [e for e in r.account().executions if e.exec_type == "Funding"]
        assert funding, "the emulator settled funding on the open short"
        assert short.funding_usd == -sum(e.exec_fee for e in funding)
        assert closed.realised_pnl_usd is not None
        ids = r.order_link_ids()
        assert len(ids) == len(set(ids)) == 4  # open and close, each leg, each sent once
