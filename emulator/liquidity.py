"""Thin books on demand: cap what one market order can fill on a venue's symbol.

Why: the model's books are deep, so a hedge never partly fills by itself, yet "the second leg
only partly filled" is the case the executor's leg-risk rule exists for. A cap makes the
emulator's order matching see at most ``max_qty`` (the venue's own units) on each side of that
symbol's book: a market (IOC) order for more fills the cap and the venue cancels the rest, in
the venue's real wire format (Bybit ``PartiallyFilledCanceled``, Binance ``EXPIRED`` with a
partial ``executedQty``). A cap of 0 is a book with nothing on it (the order fills nothing).

Only the private order matching sees the cap; public book endpoints still serve the model's
depth (liquidity that vanished between the scan and the order). The emulator keeps one book
per listing, so a cap on a Bybit symbol also caps its spot market. Set it from Python
(``emu.liquidity.set("bybit", "BTCUSDT", Decimal("0.004"))``) or over HTTP:
``POST /_control/liquidity {"venue": "bybit", "symbol": "BTCUSDT", "max_qty": "0.004"}``
(``"max_qty": null`` lifts one cap, ``{"clear": true}`` all).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from emulator.interfaces import Levels, MarketView


class LiquidityError(ValueError):
    """A cap that cannot be applied; the message names the field."""


def capped(levels: Levels, max_qty: Decimal) -> Levels:
    """Levels best first, cut so their sizes add up to at most ``max_qty``."""
    out: Levels = []
    left = max_qty
    for price, size in levels:
        if left <= 0:
            break
        take = min(Decimal(str(size)), left)
        out.append((price, float(take)))
        left -= take
    return out


class ThinBooks:
    """The market as the order matching sees it: the model's, with per-symbol caps."""

    def __init__(self, market: MarketView) -> None:
        self._market = market
        self.caps: dict[tuple[str, str], Decimal] = {}

    def set(self, venue: str, symbol: str, max_qty: Decimal | None) -> None:
        """Cap (or, with None, uncap) what one order can fill on ``venue``'s ``symbol``."""
        if max_qty is None:
            self.caps.pop((venue, symbol), None)
            return
        if not max_qty.is_finite() or max_qty < 0:
            raise LiquidityError(f"max_qty must be a finite quantity >= 0, got {max_qty}")
        if self._market.instrument(venue, symbol) is None:
            raise LiquidityError(f"{venue} lists no symbol {symbol!r}")
        self.caps[(venue, symbol)] = max_qty

    def clear(self) -> None:
        self.caps.clear()

    def describe(self) -> list[dict[str, str]]:
        return [{"venue": v, "symbol": s, "max_qty": str(q)} for (v, s), q in self.caps.items()]

    def apply(self, body: Any) -> None:
        """A ``/_control/liquidity`` body: ``{"clear": true}`` and/or one cap."""
        if not isinstance(body, dict):
            raise LiquidityError("body must be a JSON object")
        unknown = set(body) - {"clear", "venue", "symbol", "max_qty"}
        if unknown:
            raise LiquidityError(f"unknown key(s) {sorted(unknown)}")
        if body.get("clear"):
            self.clear()
        if "symbol" not in body and "venue" not in body:
            return
        venue, symbol = body.get("venue"), body.get("symbol")
        if not isinstance(venue, str) or not isinstance(symbol, str):
            raise LiquidityError("venue and symbol must be strings")
        if "max_qty" not in body:
            raise LiquidityError("max_qty is required (null lifts the cap)")
        raw = body["max_qty"]
        try:
            qty = None if raw is None else Decimal(str(raw))
        except InvalidOperation:
            raise LiquidityError(f"max_qty: not a number: {raw!r}") from None
        self.set(venue, symbol, qty)

    # -- MarketView -------------------------------------------------------------------------

    def book(self, venue: str, venue_symbol: str, depth: int = 200) -> tuple[Levels, Levels]:
        bids, asks = self._market.book(venue, venue_symbol, depth)
        cap = self.caps.get((venue, venue_symbol))
        if cap is None:
            return bids, asks
        return capped(bids, cap), capped(asks, cap)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._market, name)
