"""Seams inside the venue emulator.

The market model (clock, instruments, funding rates, books) and the Bybit private API
(accounts, orders, positions) are built separately; they meet only through these protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Levels = list[tuple[float, float]]
"""(price, size) pairs in the venue's own units, best first."""

SettlementListener = Callable[[str, str, float, float, int], None]
"""Called as listener(venue, venue_symbol, rate_per_interval, mark_price, funding_time_ms)
at every funding settlement the model passes through."""


class Clock(Protocol):
    def now_ms(self) -> int: ...


class MarketView(Protocol):
    """Read-only view of the emulated market that the Bybit private API trades against."""

    clock: Clock

    def instrument(self, venue: str, venue_symbol: str) -> dict[str, Any] | None:
        """The raw instrument row as the venue lists it (Bybit: instruments-info row)."""

    def book(self, venue: str, venue_symbol: str, depth: int = 200) -> tuple[Levels, Levels]:
        """(bids, asks) now."""

    def mark_price(self, venue: str, venue_symbol: str) -> float: ...

    def funding_rate(self, venue: str, venue_symbol: str) -> float:
        """Live rate per interval for the coming settlement."""

    def add_settlement_listener(self, listener: SettlementListener) -> None: ...
