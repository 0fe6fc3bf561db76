"""Bitget mix (futures): v2 ``/api/v2/mix/market/contracts`` and legacy v1 rows <-> canonical.

v2 naming: ``BTCUSDT`` USDT perp, ``BTCPERP`` USDC perp, ``BTCUSD`` coin-margined (inverse)
perp, ``ETHUSD_231229`` delivery (``_YYMMDD``, from Bitget's ticker docs example).
The only real Bitget capture we have is the decommissioned v1 API (``BTCUSDT_UMCBL``; also
``_DMCBL`` coin-margined, ``_CMCBL`` USDC). v1 rows are mapped too, and their venue symbol is
normalised to the v2 name (what the live API accepts); the v1 id stays in ``raw``.
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
    power_of_ten,
    row_reader,
    split_multiplier,
    utc_date,
    venue_base,
)

VENUE = "bitget"
V1_SUFFIXES = ("_UMCBL", "_DMCBL", "_CMCBL")
_ACTIVE_STATUSES = frozenset({"normal"})


def instrument_from_bitget(row: Mapping[str, Any]) -> Instrument:
    """One v2 (or legacy v1) contracts row -> Instrument.

    ``symbolType`` perpetual/delivery (absent on v1 rows: the v1 lists we map are perpetual).
    Tick = ``priceEndStep`` x 10^-``pricePlace`` (BTCUSDT: 1 x 0.1); lot = ``sizeMultiplier``,
    else 10^-``volumePlace``; min_qty = ``minTradeNum``; ``fundInterval`` is hours (v2 only).
    Settle follows ccxt: the base if it is a margin coin (coin-margined), else the quote.
    Active: v2 ``symbolStatus == normal``; v1 rows have no status and count as active.
    """
    r = row_reader(VENUE, row, "symbol")
    raw_symbol = r.text("symbol")
    kind = _kind(r)
    base, multiplier = split_multiplier(r.text("baseCoin"))
    quote = canonical_asset(r.text("quoteCoin"))
    settle = _settle(r, base, quote)
    status = r.optional_text("symbolStatus")
    return Instrument(
        venue=VENUE,
        venue_symbol=_v2_symbol(raw_symbol),
        base=base,
        quote=quote,
        settle=settle,
        kind=kind,
        multiplier=Decimal(multiplier),
        tick=_tick(r),
        lot=r.positive("sizeMultiplier") or _places(r, "volumePlace"),
        min_qty=r.decimal("minTradeNum"),
        funding_interval_h=r.as_float("fundInterval") if kind is Kind.PERPETUAL else None,
        expiry_ms=r.integer("deliveryTime") if kind is Kind.DATED else None,
        active=status is None or status in _ACTIVE_STATUSES,
        raw=row,
    )


def _kind(r: RowReader) -> Kind:
    symbol_type = r.optional_text("symbolType")
    if symbol_type is None or symbol_type == "perpetual":
        return Kind.PERPETUAL
    if symbol_type == "delivery":
        return Kind.DATED
    raise r.error("symbolType", f"unknown symbol type {symbol_type!r}")


def _settle(r: RowReader, base: str, quote: str) -> str:
    coins = r.get("supportMarginCoins")
    if not isinstance(coins, list) or not coins:
        return quote
    margin = {canonical_asset(str(c)) for c in coins}
    if base in margin or r.get("baseCoin") in coins:
        return base
    return quote if quote in margin else canonical_asset(str(coins[0]))


def _tick(r: RowReader) -> Decimal | None:
    step = r.positive("priceEndStep") or Decimal(1)
    places = _places(r, "pricePlace")
    return None if places is None else step * places


def _places(r: RowReader, field: str) -> Decimal | None:
    places = r.integer(field)
    if places is None:
        return None
    if places < 0:
        raise r.error(field, f"negative decimal places {places}")
    return power_of_ten(places)


def _v2_symbol(symbol: str) -> str:
    for suffix in V1_SUFFIXES:
        if symbol.endswith(suffix):
            return symbol[: -len(suffix)]
    return symbol


_SYMBOL = re.compile(r"^([A-Z0-9]+?)(?:_(\d{6}))?$")


def parse_bitget_symbol(symbol: str) -> SymbolParts:
    """v2 (or v1-suffixed) symbol -> parts: ``…USDT`` USDT, ``…PERP`` USDC, ``…USD`` inverse."""
    match = _SYMBOL.match(_v2_symbol(symbol))
    if not match:
        raise SymbolError(VENUE, symbol, "symbol", "not a Bitget mix symbol")
    pair, date_text = match.group(1), match.group(2)
    for suffix, quote in (("USDT", "USDT"), ("PERP", "USDC"), ("USDC", "USDC"), ("USD", "USD")):
        if pair.endswith(suffix) and len(pair) > len(suffix):
            base, multiplier = split_multiplier(pair[: -len(suffix)])
            settle = base if quote == "USD" else quote
            if date_text is None:
                return SymbolParts(base, quote, settle, Kind.PERPETUAL, multiplier)
            day = parse_digits_date(date_text)
            if day is None:
                raise SymbolError(VENUE, symbol, "symbol", f"bad date {date_text!r}")
            return SymbolParts(base, quote, settle, Kind.DATED, multiplier, midnight_ms(day))
    raise SymbolError(VENUE, symbol, "symbol", "no known quote suffix (USDT/PERP/USDC/USD)")


def bitget_symbol(parts: SymbolParts) -> str:
    """USDC perps are ``<BASE>PERP`` (Bitget's USDC-M naming), others ``<BASE><QUOTE>``."""
    vb = venue_base(VENUE, parts.base, parts.multiplier)
    inverse = parts.quote == "USD"
    if parts.settle != (parts.base if inverse else parts.quote):
        raise SymbolError(VENUE, vb, "settle", f"unsupported settle {parts.settle}")
    name = f"{vb}PERP" if parts.quote == "USDC" and parts.kind is Kind.PERPETUAL else None
    name = name or f"{vb}{parts.quote}"
    if parts.kind is Kind.PERPETUAL:
        return name
    if parts.kind is Kind.DATED and parts.expiry_ms is not None:
        return f"{name}_{utc_date(parts.expiry_ms):%y%m%d}"
    raise SymbolError(VENUE, vb, "kind", f"cannot name a {parts.kind} contract (need expiry)")
