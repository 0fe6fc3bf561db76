"""Differential: our Bybit client and ccxt's bybit, both against the emulator, must agree on
rate, interval and next funding time for every linear perpetual."""

from __future__ import annotations

import pytest

from emulator import Emulator
from scanner.settings import Settings
from scanner.venues.bybit import BybitVenue
from scanner.venues.ccxt_factory import make_exchange


async def test_our_bybit_and_ccxt_bybit_agree_on_every_perpetual():
    async with Emulator(seed=3, stepped=True) as emu:
        ours = BybitVenue.from_settings(Settings().with_base_url(emu.url).venues.get("bybit"))
        theirs = make_exchange("bybit", base_url=emu.venue_url("bybit"))
        try:
            quotes = {q.venue_symbol: q for q in await ours.fetch_quotes()}
            await theirs.load_markets()
            rates = await theirs.fetch_funding_rates(params={"subType": "linear"})
        finally:
            await ours.close()
            await theirs.close()
    perps = set(emu.market.perpetual_symbols("bybit"))
    assert set(quotes) == perps
    by_id = {theirs.market(sym)["id"]: fr for sym, fr in rates.items()}
    compared = 0
    for symbol in sorted(perps):
        q, fr = quotes[symbol], by_id[symbol]
        assert q.rate_per_interval == pytest.approx(fr["fundingRate"], rel=1e-12), symbol
        assert fr["interval"] == f"{q.interval_h:g}h", symbol
        assert q.next_funding_ms == fr["fundingTimestamp"], symbol
        compared += 1
    assert compared == len(perps) > 0
