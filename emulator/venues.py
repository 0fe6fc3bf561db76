"""The emulator's one table of venues: id -> the HTTP API class and the listings loader.

Why one table: a venue added to the scanner's registry (``scanner/venues/specs``) needs the
emulator to serve it under ``/<id>``; with the API class and the recorded-universe loader
named on one line, that is this line plus the venue's module and its data file. The ids are
the scanner's venue ids, spelled independently here (the emulator imports nothing of ours);
a test checks that every registered venue is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from emulator import universe
from emulator.bybit_public import BybitPublic
from emulator.universe import Listing
from emulator.venues_binance import BinancePublic
from emulator.venues_bitget import BitgetPublic
from emulator.venues_gate import GatePublic
from emulator.venues_hyperliquid import HyperliquidPublic
from emulator.venues_okx import OkxPublic


class VenueApi(Protocol):
    """A venue's public HTTP API over the market model, registered under a path prefix."""

    def register(self, app: web.Application, prefix: str) -> None: ...


@dataclass(frozen=True)
class EmulatedVenue:
    api: Callable[..., VenueApi]
    """``api(model)``; clonable ones also take ``venue=`` (the id whose listings they serve)."""
    listings: Callable[[], list[Listing]]
    clonable: bool = True
    """Whether the API can serve a copy of this venue under another id (``clones=``)."""


VENUES: dict[str, EmulatedVenue] = {
    "bybit": EmulatedVenue(BybitPublic, universe.bybit_listings, clonable=False),
    "binanceusdm": EmulatedVenue(BinancePublic, universe.binance_listings),
    "okx": EmulatedVenue(OkxPublic, universe.okx_listings),
    "gate": EmulatedVenue(GatePublic, universe.gate_listings),
    "bitget": EmulatedVenue(BitgetPublic, universe.bitget_listings),
    "hyperliquid": EmulatedVenue(HyperliquidPublic, universe.hyperliquid_listings),
}
