"""Binance USD-M: ``/fapi/v1/exchangeInfo`` ``symbols[]`` rows and symbol strings <-> canonical.

Naming: ``BTCUSDT`` perp, ``BTCUSDT_210924`` quarterly (``_YYMMDD``), ``1000PEPEUSDT`` /
``1000000BOBUSDT`` / ``1MBABYDOGEUSDT`` scaled, ``ETHBTC`` BTC-quoted and BTC-settled perp.
The exchangeInfo row does not carry the funding interval (``/fapi/v1/fundingInfo`` lists only
adjusted symbols), so ``funding_interval_h`` is None here and the adapter fills it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scanner.domain import Instrument, Kind
from scanner.symbols.common import (
    RowReader,
    SymbolError,
    SymbolParts,
    canonical_asset,
    midnight_ms,
    parse_digits_date,
    row_reader,
    split_multiplier,
    utc_date,
    venue_base,
)

VENUE = "binanceusdm"
PERPETUAL_DELIVERY_MS = 4133404800000
"""2100-12-25: the ``deliveryDate`` Binance gives perpetuals. ccxt reads it as "perpetual"
for rows whose ``contractType`` is empty (``BTCSTUSDT`` in the 2021 list); so do we."""

_DATED_TYPES = frozenset({"CURRENT_QUARTER", "NEXT_QUARTER", "CURRENT_MONTH", "NEXT_MONTH"})
_QUOTES = ("USDT", "USDC", "BUSD", "BTC")
"""Quote suffixes seen in the fixtures (exchangeInfo 2021, premiumIndex 2025), longest-first
order does not matter because none is a suffix of another."""


def instrument_from_binance(row: Mapping[str, Any]) -> Instrument:
    """One exchangeInfo ``symbols[]`` row -> Instrument.

    Kind: a ``contractType`` ending in PERPETUAL (``PERPETUAL``, ``TRADIFI_PERPETUAL``) or
    starting with it (``PERPETUAL_DELIVERING``) is a perpetual; the known quarterly/monthly
    types are dated; any other type is decided by ``deliveryDate`` (the 2100 sentinel means
    perpetual). Settle is ``marginAsset``. Only ``status == TRADING`` is active.
    """
    r = row_reader(VENUE, row, "symbol")
    symbol = r.text("symbol")
    kind = _kind(r)
    base, multiplier = split_multiplier(r.text("baseAsset"))
    quote = canonical_asset(r.text("quoteAsset"))
    settle = canonical_asset(r.optional_text("marginAsset") or quote)
    price_filter, lot_filter = _filter(r, "PRICE_FILTER"), _filter(r, "LOT_SIZE")
    return Instrument(
        venue=VENUE,
        venue_symbol=symbol,
        base=base,
        quote=quote,
        settle=settle,
        kind=kind,
        multiplier=Decimal(multiplier),
        tick=price_filter.positive("tickSize"),
        lot=lot_filter.positive("stepSize"),
        min_qty=lot_filter.decimal("minQty"),
        expiry_ms=r.integer("deliveryDate") if kind is Kind.DATED else None,
        active=r.get("status") == "TRADING",
        raw=row,
    )


def _kind(r: RowReader) -> Kind:
    contract_type = r.optional_text("contractType") or ""
    if contract_type.endswith("PERPETUAL") or contract_type.startswith("PERPETUAL"):
        return Kind.PERPETUAL
    if contract_type in _DATED_TYPES:
        return Kind.DATED
    delivery = r.integer("deliveryDate")
    if delivery == PERPETUAL_DELIVERY_MS:
        return Kind.PERPETUAL
    if delivery is not None and delivery > 0:
        return Kind.DATED
    raise r.error("contractType", f"unknown type {contract_type!r} and no deliveryDate")


def _filter(r: RowReader, filter_type: str) -> RowReader:
    """The ``filters[]`` entry of one type, as a reader whose errors name the filter."""
    filters = r.get("filters")
    if not isinstance(filters, list):
        raise r.error("filters", f"expected a list, got {filters!r}")
    for entry in filters:
        if isinstance(entry, Mapping) and entry.get("filterType") == filter_type:
            return RowReader(VENUE, r.symbol, entry)
    raise r.error(f"filters[{filter_type}]", "filter missing")


_SYMBOL = re.compile(r"^([A-Z0-9]+?)(?:_(\d{6}))?$")


def parse_binance_symbol(symbol: str) -> SymbolParts:
    """``1000PEPEUSDT`` -> PEPE x1000 USDT/USDT; settle is the quote (USD-M margins in it)."""
    match = _SYMBOL.match(symbol)
    if not match:
        raise SymbolError(VENUE, symbol, "symbol", "not a Binance USD-M symbol")
    pair, date_text = match.group(1), match.group(2)
    quote = next((q for q in _QUOTES if pair.endswith(q) and len(pair) > len(q)), None)
    if quote is None:
        raise SymbolError(VENUE, symbol, "symbol", f"no known quote suffix {_QUOTES}")
    base, multiplier = split_multiplier(pair[: -len(quote)])
    expiry_ms = None
    if date_text is not None:
        day = parse_digits_date(date_text)
        if day is None:
            raise SymbolError(VENUE, symbol, "symbol", f"bad date {date_text!r}")
        expiry_ms = midnight_ms(day)
    kind = Kind.PERPETUAL if expiry_ms is None else Kind.DATED
    quote = canonical_asset(quote)
    return SymbolParts(base, quote, quote, kind, multiplier, expiry_ms)


def binance_symbol(parts: SymbolParts) -> str:
    vb = venue_base(VENUE, parts.base, parts.multiplier)
    if parts.settle != parts.quote:
        raise SymbolError(VENUE, vb, "settle", f"USD-M settles in the quote, not {parts.settle}")
    if parts.kind is Kind.DATED:
        if parts.expiry_ms is None:
            raise SymbolError(VENUE, vb, "expiry", "a dated contract needs expiry_ms")
        return f"{vb}{parts.quote}_{utc_date(parts.expiry_ms):%y%m%d}"
    return f"{vb}{parts.quote}"
