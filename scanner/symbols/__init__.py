"""Venue symbols <-> canonical instruments, for the six venues in ``scanner.domain.VENUES``.

Why: ``1000PEPEUSDT`` (Bybit, Binance), ``kPEPE`` (Hyperliquid) and ``PEPE-USDT-SWAP`` (OKX,
1,000,000 PEPE a contract) are one asset at different scales. Everything downstream compares
them through ``Instrument.base`` / ``.canonical`` and rescales with ``multiplier`` and
``contract_size``. Pure functions only: the adapters in ``scanner.venues`` fetch the rows
(the same dicts ccxt keeps in ``market['info']``) and hand them here.

Public API:
- ``instrument_from_<venue>(row, ...) -> Instrument`` and ``PARSERS[venue]``;
- ``parse_instruments(venue, payload)``: a whole instrument-list response body;
- ``parse_symbol(venue, symbol) -> SymbolParts``: a bare symbol string (tickers, history);
- ``venue_symbol(venue, base, quote, settle, kind, multiplier, expiry_ms) -> str``: the inverse;
- ``split_multiplier(venue_base) -> (base, multiplier)``; ``perpetuals(instruments)``;
- ``SymbolError`` (a ValueError naming venue, symbol and field).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from scanner.domain import Instrument, Kind
from scanner.symbols.binance import binance_symbol, instrument_from_binance, parse_binance_symbol
from scanner.symbols.bitget import bitget_symbol, instrument_from_bitget, parse_bitget_symbol
from scanner.symbols.bybit import bybit_symbol, instrument_from_bybit, parse_bybit_symbol
from scanner.symbols.common import (
    ASSET_ALIASES,
    VENUE_BASE_SPELLINGS,
    SymbolError,
    SymbolParts,
    canonical_asset,
    split_multiplier,
    to_multiplier,
)
from scanner.symbols.gate import gate_symbol, instrument_from_gate, parse_gate_symbol
from scanner.symbols.hyperliquid import (
    hyperliquid_symbol,
    hyperliquid_tick,
    instrument_from_hyperliquid,
    parse_hyperliquid_symbol,
)
from scanner.symbols.okx import instrument_from_okx, okx_symbol, parse_okx_symbol

__all__ = [
    "ASSET_ALIASES",
    "PARSERS",
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
    "parse_instruments",
    "parse_symbol",
    "perpetuals",
    "split_multiplier",
    "venue_symbol",
]

PARSERS: Mapping[str, Callable[..., Instrument]] = {
    "bybit": instrument_from_bybit,
    "binanceusdm": instrument_from_binance,
    "okx": instrument_from_okx,
    "bitget": instrument_from_bitget,
    "gate": instrument_from_gate,
    "hyperliquid": instrument_from_hyperliquid,
}
"""Row parser per venue id. All take one row, except Hyperliquid's ``(asset, index)``."""

_SYMBOL_PARSERS: Mapping[str, Callable[[str], SymbolParts]] = {
    "bybit": parse_bybit_symbol,
    "binanceusdm": parse_binance_symbol,
    "okx": parse_okx_symbol,
    "bitget": parse_bitget_symbol,
    "gate": parse_gate_symbol,
    "hyperliquid": parse_hyperliquid_symbol,
}

_SYMBOL_WRITERS: Mapping[str, Callable[[SymbolParts], str]] = {
    "bybit": bybit_symbol,
    "binanceusdm": binance_symbol,
    "okx": okx_symbol,
    "bitget": bitget_symbol,
    "gate": gate_symbol,
    "hyperliquid": hyperliquid_symbol,
}


def _known(venue: str, table: Mapping[str, Any]) -> None:
    if venue not in table:
        raise SymbolError(venue, "?", "venue", f"unknown venue; known: {sorted(table)}")


def parse_symbol(venue: str, symbol: str) -> SymbolParts:
    """A derivatives symbol string -> what it says (base, quote, settle, kind, multiplier).

    For payloads that carry only the symbol (tickers, funding history). Where an instrument
    row exists, prefer ``PARSERS``: it reads the venue's own base/settle fields.
    """
    _known(venue, _SYMBOL_PARSERS)
    return _SYMBOL_PARSERS[venue](symbol)


def venue_symbol(
    venue: str,
    base: str,
    quote: str,
    settle: str,
    kind: Kind = Kind.PERPETUAL,
    multiplier: int | Decimal = 1,
    expiry_ms: int | None = None,
) -> str:
    """Canonical description -> the venue's symbol; ``parse_symbol`` undoes it.

    Perpetuals round-trip for every venue. Dated names need ``expiry_ms`` (only its UTC date
    is used; Bybit inverse futures use only its month). Raises SymbolError for contracts a
    venue cannot list (e.g. a Hyperliquid USDT perp, a 1,000,000x Hyperliquid coin).
    """
    _known(venue, _SYMBOL_WRITERS)
    parts = SymbolParts(
        base=base,
        quote=quote,
        settle=settle,
        kind=kind,
        multiplier=to_multiplier(multiplier, venue, base),
        expiry_ms=expiry_ms,
    )
    return _SYMBOL_WRITERS[venue](parts)


def perpetuals(
    instruments: Iterable[Instrument], include_inactive: bool = False
) -> list[Instrument]:
    """Only perpetual contracts (dated futures and spot never enter the funding engine).

    Inactive ones (delisting, pre-launch, settling) are dropped unless asked for: a scan must
    not propose a trade that cannot be opened.
    """
    return [i for i in instruments if i.is_perpetual and (include_inactive or i.active)]


def parse_instruments(venue: str, payload: Any, **options: Any) -> list[Instrument]:
    """A whole instrument-list response body -> Instruments, in payload order.

    bybit: the V5 envelope (``result.category`` picks linear/inverse/spot); binanceusdm:
    exchangeInfo (``symbols``); okx and bitget: the ``data`` envelope; gate: the bare list
    (``settle=`` as for ``instrument_from_gate``); hyperliquid: the ``meta`` object (or the
    ``metaAndAssetCtxs`` pair). A malformed row raises SymbolError naming it.
    """
    _known(venue, PARSERS)
    rows = _rows(venue, payload)
    if venue == "hyperliquid":
        return [instrument_from_hyperliquid(row, i) for i, row in enumerate(rows)]
    if venue == "bybit":
        category = payload.get("result", {}).get("category") or options.get("category")
        return [instrument_from_bybit(row, category or "linear") for row in rows]
    parser = PARSERS[venue]
    return [parser(row, **options) for row in rows]


_ROW_PATHS: Mapping[str, tuple[str, ...]] = {
    "bybit": ("result", "list"),
    "binanceusdm": ("symbols",),
    "okx": ("data",),
    "bitget": ("data",),
    "gate": (),
    "hyperliquid": ("universe",),
}


def _rows(venue: str, payload: Any) -> list[Any]:
    node = payload
    if venue == "hyperliquid" and isinstance(node, list) and node:
        node = node[0]  # metaAndAssetCtxs: [meta, assetCtxs]
    for key in _ROW_PATHS[venue]:
        if not isinstance(node, Mapping) or key not in node:
            raise SymbolError(venue, "?", ".".join(_ROW_PATHS[venue]), "instrument list missing")
        node = node[key]
    if not isinstance(node, list):
        raise SymbolError(venue, "?", ".".join(_ROW_PATHS[venue]) or "<body>", "not a list")
    return node
