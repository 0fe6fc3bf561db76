"""Bybit V5: ``/v5/market/instruments-info`` rows and symbol strings <-> canonical.

Naming (from the real 2026 linear list and the 2023 testnet tickers):
``1000PEPEUSDT`` USDT perp, ``1000PEPEPERP`` / ``ETHPERP`` USDC perp (quote and settle USDC),
``BTCUSD`` inverse perp (settle BTC), ``BTCUSDT-25DEC26`` USDT future, ``BTC-26DEC25`` USDC
future, ``BTCUSDH26`` inverse future (CME month letter + year).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from scanner.domain import Instrument, Kind
from scanner.symbols.common import (
    RowReader,
    SymbolError,
    SymbolParts,
    canonical_asset,
    format_ddmmmyy,
    format_month_code,
    midnight_ms,
    parse_ddmmmyy,
    row_reader,
    split_multiplier,
    utc_date,
    venue_base,
)
from scanner.units import MIN_PER_H

VENUE = "bybit"
_PERPETUAL_TYPES = frozenset({"LinearPerpetual", "InversePerpetual"})
_DATED_TYPES = frozenset({"LinearFutures", "InverseFutures"})


def instrument_from_bybit(row: Mapping[str, Any], category: str = "linear") -> Instrument:
    """One instruments-info row -> Instrument.

    ``fundingInterval`` is integer MINUTES (480 -> 8 h, 60 -> 1 h); 0 (futures) -> None.
    ``upperFundingRate``/``lowerFundingRate`` are the per-interval cap/floor.
    ``status`` other than ``Trading`` (PreLaunch, Settling, Delivering, Closed) -> inactive.
    """
    r = row_reader(VENUE, row, "symbol")
    symbol = r.text("symbol")
    if category == "spot":
        return _spot(r, symbol)
    if category not in ("linear", "inverse"):
        raise r.error("category", f"unsupported category {category!r} (linear/inverse/spot)")
    contract_type = r.text("contractType")
    if contract_type in _PERPETUAL_TYPES:
        kind = Kind.PERPETUAL
    elif contract_type in _DATED_TYPES:
        kind = Kind.DATED
    else:
        raise r.error("contractType", f"unknown contract type {contract_type!r}")
    base, multiplier = split_multiplier(r.text("baseCoin"))
    is_perp = kind is Kind.PERPETUAL
    return Instrument(
        venue=VENUE,
        venue_symbol=symbol,
        base=base,
        quote=canonical_asset(r.text("quoteCoin")),
        settle=canonical_asset(r.text("settleCoin")),
        kind=kind,
        multiplier=Decimal(multiplier),
        tick=r.positive("priceFilter.tickSize"),
        lot=r.positive("lotSizeFilter.qtyStep"),
        min_qty=r.decimal("lotSizeFilter.minOrderQty"),
        funding_interval_h=_interval_h(r) if is_perp else None,
        funding_cap=r.as_float("upperFundingRate") if is_perp else None,
        funding_floor=r.as_float("lowerFundingRate") if is_perp else None,
        expiry_ms=None if is_perp else _delivery_ms(r),
        active=r.get("status") == "Trading",
        raw=row,
    )


def _spot(r: RowReader, symbol: str) -> Instrument:
    """Spot rows have ``basePrecision`` (quantity step) instead of ``qtyStep``."""
    base, multiplier = split_multiplier(r.text("baseCoin"))
    quote = canonical_asset(r.text("quoteCoin"))
    return Instrument(
        venue=VENUE,
        venue_symbol=symbol,
        base=base,
        quote=quote,
        settle=quote,
        kind=Kind.SPOT,
        multiplier=Decimal(multiplier),
        tick=r.positive("priceFilter.tickSize"),
        lot=r.positive("lotSizeFilter.basePrecision"),
        min_qty=r.decimal("lotSizeFilter.minOrderQty"),
        active=r.get("status") == "Trading",
        raw=r.row,
    )


def _interval_h(r: RowReader) -> float | None:
    minutes = r.integer("fundingInterval")
    if minutes is None or minutes == 0:
        return None
    if minutes < 0:
        raise r.error("fundingInterval", f"negative interval {minutes}")
    return minutes / MIN_PER_H


def _delivery_ms(r: RowReader) -> int:
    expiry = r.integer("deliveryTime")
    if expiry is None or expiry <= 0:
        raise r.error("deliveryTime", f"dated contract without a delivery time: {expiry!r}")
    return expiry


_LINEAR_DATED = re.compile(r"^([A-Z0-9]+)USDT-(\d{1,2}[A-Z]{3}\d{2})$")
_USDC_DATED = re.compile(r"^([A-Z0-9]+)-(\d{1,2}[A-Z]{3}\d{2})$")
_INVERSE_DATED = re.compile(r"^([A-Z0-9]+)USD([FGHJKMNQUVXZ])(\d{2})$")


def parse_bybit_symbol(symbol: str) -> SymbolParts:
    """A linear/inverse symbol string -> parts (tickers carry no baseCoin, only the symbol).

    Dated names give midnight UTC of their date; ``BTCUSDH26`` names only a month, so its
    ``expiry_ms`` is the 1st of that month (the instrument row has the real delivery time).
    """
    for pattern, quote in ((_LINEAR_DATED, "USDT"), (_USDC_DATED, "USDC")):
        match = pattern.match(symbol)
        if match:
            day = parse_ddmmmyy(match.group(2))
            if day is None:
                raise SymbolError(VENUE, symbol, "symbol", f"bad date {match.group(2)!r}")
            return _parts(match.group(1), quote, quote, Kind.DATED, day)
    match = _INVERSE_DATED.match(symbol)
    if match:
        month = "FGHJKMNQUVXZ".index(match.group(2)) + 1
        day = date(2000 + int(match.group(3)), month, 1)
        return _parts(match.group(1), "USD", None, Kind.DATED, day)
    for suffix, quote, settle in (("USDT", "USDT", "USDT"), ("PERP", "USDC", "USDC")):
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            return _parts(symbol[: -len(suffix)], quote, settle, Kind.PERPETUAL, None)
    if symbol.endswith("USD") and len(symbol) > 3:
        return _parts(symbol[:-3], "USD", None, Kind.PERPETUAL, None)
    raise SymbolError(VENUE, symbol, "symbol", "not a Bybit linear/inverse symbol")


def _parts(
    raw_base: str, quote: str, settle: str | None, kind: Kind, day: date | None
) -> SymbolParts:
    base, multiplier = split_multiplier(raw_base)
    return SymbolParts(
        base=base,
        quote=quote,
        settle=settle or base,  # inverse contracts settle in the base coin
        kind=kind,
        multiplier=multiplier,
        expiry_ms=None if day is None else midnight_ms(day),
    )


def bybit_symbol(parts: SymbolParts) -> str:
    """Parts -> Bybit symbol. USDC perps are ``<BASE>PERP``; dates need ``expiry_ms``."""
    vb = venue_base(VENUE, parts.base, parts.multiplier)
    inverse = parts.settle == parts.base and parts.quote == "USD"
    if parts.kind is Kind.SPOT:
        return f"{vb}{parts.quote}"
    if parts.kind is Kind.PERPETUAL:
        if inverse:
            return f"{vb}USD"
        if parts.quote == parts.settle == "USDC":
            return f"{vb}PERP"
        if parts.quote == parts.settle == "USDT":
            return f"{vb}USDT"
        raise SymbolError(VENUE, vb, "quote/settle", f"no {parts.quote}/{parts.settle} perps")
    if parts.expiry_ms is None:
        raise SymbolError(VENUE, vb, "expiry", "a dated contract needs expiry_ms")
    day = utc_date(parts.expiry_ms)
    if inverse:
        return f"{vb}USD{format_month_code(day)}"
    if parts.quote == parts.settle == "USDC":
        return f"{vb}-{format_ddmmmyy(day)}"
    if parts.quote == parts.settle == "USDT":
        return f"{vb}USDT-{format_ddmmmyy(day)}"
    raise SymbolError(VENUE, vb, "quote/settle", f"no {parts.quote}/{parts.settle} futures")
