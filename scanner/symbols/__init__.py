"""Venue symbols <-> canonical instruments: one pure module per venue.

Why: ``1000PEPEUSDT`` (Bybit, Binance), ``kPEPE`` (Hyperliquid) and ``PEPE-USDT-SWAP`` (OKX,
1,000,000 PEPE a contract) are one asset at different scales. Everything downstream compares
them through ``Instrument.base`` / ``.canonical`` and rescales with ``multiplier`` and
``contract_size``. Pure functions only: the adapters in ``scanner.venues`` fetch the rows
(the same dicts ccxt keeps in ``market['info']``) and hand them here.

Public API:
- ``instrument_from_<venue>(row, ...) -> Instrument``, ``parse_<venue>_symbol`` and
  ``<venue>_symbol`` (the inverse) in each venue module;
- ``split_multiplier(venue_base) -> (base, multiplier)``; ``perpetuals(instruments)``;
- ``SymbolError`` (a ValueError naming venue, symbol and field).

Dispatch by venue id (``parse_symbol``, ``venue_symbol``, ``parse_instruments``) lives in the
venue registry, ``scanner.venues.specs``: each venue's spec names its parsers, so no table
here lists the venues.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.domain import Instrument
from scanner.symbols.binance import instrument_from_binance
from scanner.symbols.bitget import instrument_from_bitget
from scanner.symbols.bybit import instrument_from_bybit
from scanner.symbols.common import (
    ASSET_ALIASES,
    VENUE_BASE_SPELLINGS,
    SymbolError,
    SymbolParts,
    canonical_asset,
    split_multiplier,
)
from scanner.symbols.gate import instrument_from_gate
from scanner.symbols.hyperliquid import hyperliquid_tick, instrument_from_hyperliquid
from scanner.symbols.okx import instrument_from_okx

__all__ = [
    "ASSET_ALIASES",
    "VENUE_BASE_SPELLINGS",
    "SymbolError",
    "SymbolParts",
    "canonical_asset",
    "hyperliquid_tick",
    "instrument_from_binance",
    "instrument_from_bitget",
    "instrument_from_bybit",
    "instrument_from_gate",
    "instrument_from_hyperliquid",
    "instrument_from_okx",
    "perpetuals",
    "split_multiplier",
]


def perpetuals(
    instruments: Iterable[Instrument], include_inactive: bool = False
) -> list[Instrument]:
    """Only perpetual contracts (dated futures and spot never enter the funding engine).

    Inactive ones (delisting, pre-launch, settling) are dropped unless asked for: a scan must
    not propose a trade that cannot be opened.
    """
    return [i for i in instruments if i.is_perpetual and (include_inactive or i.active)]
