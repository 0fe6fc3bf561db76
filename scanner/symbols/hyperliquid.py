"""Hyperliquid: ``POST /info {"type": "meta"}`` ``universe[]`` entries and coin names <-> canonical.

Every perp on the main dex is quoted and settled in USDC and pays funding hourly. Scaled coins
carry a lower-case ``k`` (``kPEPE`` = 1000 PEPE). Builder-deployed dexs (``xyz:TSLA``) are
other instruments entirely and are rejected here rather than confused with main-dex coins.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scanner.domain import Instrument, Kind
from scanner.symbols.common import (
    SymbolError,
    SymbolParts,
    power_of_ten,
    row_reader,
    split_multiplier,
    venue_base,
)

VENUE = "hyperliquid"
SETTLE = "USDC"
FUNDING_INTERVAL_H = 1.0
PERP_MAX_DECIMALS = 6
"""Hyperliquid's MAX_DECIMALS for perps (8 for spot): prices have at most
``6 - szDecimals`` decimal places (docs: for-developers/api/tick-and-lot-size)."""
MAX_SIGNIFICANT_FIGURES = 5


def instrument_from_hyperliquid(asset: Mapping[str, Any], index: int) -> Instrument:
    """One ``universe[]`` entry -> Instrument; ``index`` is its position (the order asset id).

    lot = 10^-szDecimals. Tick: Hyperliquid has no fixed tick -- a price may have at most 5
    significant figures AND at most ``6 - szDecimals`` decimals (integers always allowed).
    ``tick`` stores the finest step the decimals rule allows (10^-(6 - szDecimals)); use
    ``hyperliquid_tick(price, sz_decimals)`` for the step at a given price. There is no size
    minimum (the venue's minimum is $10 notional), so min_qty is None. ``raw`` is the entry
    plus ``"asset": index``, the id orders must carry. ``isDelisted`` true -> inactive.
    """
    r = row_reader(VENUE, asset, "name")
    name = r.text("name")
    if ":" in name:
        raise r.error("name", "builder-deployed dex assets are not supported")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise r.error("index", f"expected a non-negative int, got {index!r}")
    sz_decimals = r.integer("szDecimals")
    if sz_decimals is None or not 0 <= sz_decimals <= PERP_MAX_DECIMALS:
        raise r.error("szDecimals", f"expected 0..{PERP_MAX_DECIMALS}, got {sz_decimals!r}")
    base, multiplier = split_multiplier(name)
    return Instrument(
        venue=VENUE,
        venue_symbol=name,
        base=base,
        quote=SETTLE,
        settle=SETTLE,
        kind=Kind.PERPETUAL,
        multiplier=Decimal(multiplier),
        tick=power_of_ten(PERP_MAX_DECIMALS - sz_decimals),
        lot=power_of_ten(sz_decimals),
        min_qty=None,
        funding_interval_h=FUNDING_INTERVAL_H,
        active=r.get("isDelisted") is not True,
        raw={**asset, "asset": index},
    )


def hyperliquid_tick(price: Decimal, sz_decimals: int) -> Decimal:
    """The price step valid at ``price``: the coarser of the 5-significant-figure step and
    the decimals step, but never coarser than 1 (integer prices are always valid).

    1234.5 -> 0.1; 0.001234 (szDecimals 0) -> 0.000001; 123456 -> 1.
    """
    if price <= 0:
        raise ValueError(f"hyperliquid_tick: price must be positive, got {price}")
    sig_fig_step = power_of_ten(MAX_SIGNIFICANT_FIGURES - 1 - price.adjusted())
    decimals_step = power_of_ten(PERP_MAX_DECIMALS - sz_decimals)
    return min(max(sig_fig_step, decimals_step), Decimal(1))


def parse_hyperliquid_symbol(symbol: str) -> SymbolParts:
    """``kPEPE`` -> PEPE x1000 USDC/USDC; a coin name is the whole symbol."""
    if not symbol or ":" in symbol or not symbol.isalnum():
        raise SymbolError(VENUE, symbol, "name", "not a main-dex Hyperliquid coin name")
    base, multiplier = split_multiplier(symbol)
    return SymbolParts(base, SETTLE, SETTLE, Kind.PERPETUAL, multiplier)


def hyperliquid_symbol(parts: SymbolParts) -> str:
    if parts.kind is not Kind.PERPETUAL or parts.quote != SETTLE or parts.settle != SETTLE:
        raise SymbolError(
            VENUE,
            parts.base,
            "kind/quote/settle",
            f"only USDC perpetuals exist, not {parts.canonical} ({parts.kind})",
        )
    return venue_base(VENUE, parts.base, parts.multiplier)
