"""Gate: ``/api/v4/futures/{settle}/contracts`` rows and contract names <-> canonical.

Naming: ``BTC_USDT`` perp (settle from the endpoint: ``usdt`` -> USDT, ``btc`` -> BTC, where
``BTC_USD`` is inverse), ``BTC_USDT_20200814`` delivery contract (``YYYYMMDD``, from the
separate ``/delivery/`` API). Like OKX, Gate keeps the name unscaled and puts the scale in
``quanto_multiplier`` (base units per contract); order sizes are whole contracts.
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
    coin_or_quote_parts,
    require_coin_or_quote_settle,
    row_reader,
    split_multiplier,
    utc_date,
    venue_base,
)
from scanner.units import MS_PER_S, S_PER_H

VENUE = "gate"


def instrument_from_gate(row: Mapping[str, Any], settle: str = "USDT") -> Instrument:
    """One contracts row -> Instrument. ``settle`` is the endpoint's settle currency.

    ``funding_interval`` is SECONDS (28800 -> 8 h). ``quanto_multiplier`` -> contract_size;
    ``"0"`` (only on BTC-settled inverse contracts, per ccxt) means 1 USD a contract.
    Lot is one contract unless ``enable_decimal`` allows fractions down to ``order_size_min``.
    ``in_delisting`` true, or a ``status`` other than ``trading``, -> inactive.
    """
    r = row_reader(VENUE, row, "name")
    name = r.text("name")
    parts = name.split("_")
    if len(parts) not in (2, 3) or not all(parts):
        raise r.error("name", "expected BASE_QUOTE or BASE_QUOTE_YYYYMMDD")
    base, multiplier = split_multiplier(parts[0])
    kind = Kind.PERPETUAL if len(parts) == 2 else Kind.DATED
    min_qty = r.decimal("order_size_min")
    return Instrument(
        venue=VENUE,
        venue_symbol=name,
        base=base,
        quote=canonical_asset(parts[1]),
        settle=canonical_asset(settle.upper()),
        kind=kind,
        multiplier=Decimal(multiplier),
        contract_size=_contract_size(r),
        tick=r.positive("order_price_round"),
        lot=min_qty if r.get("enable_decimal") is True and min_qty else Decimal(1),
        min_qty=min_qty,
        funding_interval_h=_interval_h(r) if kind is Kind.PERPETUAL else None,
        expiry_ms=_expiry_ms(r) if kind is Kind.DATED else None,
        active=r.get("in_delisting") is not True and r.get("status") in (None, "trading"),
        raw=row,
    )


def _contract_size(r: RowReader) -> Decimal:
    value = r.decimal("quanto_multiplier")
    if value is None or value < 0:
        raise r.error(
            "quanto_multiplier", f"expected a number >= 0, got {r.get('quanto_multiplier')!r}"
        )
    return value if value > 0 else Decimal(1)


def _interval_h(r: RowReader) -> float | None:
    seconds = r.integer("funding_interval")
    if seconds is None:
        return None
    if seconds <= 0:
        raise r.error("funding_interval", f"expected positive seconds, got {seconds}")
    return seconds / S_PER_H


def _expiry_ms(r: RowReader) -> int:
    seconds = r.integer("expire_time")
    if seconds is None or seconds <= 0:
        raise r.error("expire_time", "delivery contract without an expiry")
    return seconds * MS_PER_S


_NAME = re.compile(r"^([A-Za-z0-9]+)_([A-Z0-9]+)(?:_(\d{8}))?$")


def parse_gate_symbol(symbol: str) -> SymbolParts:
    """``PEPE_USDT`` -> PEPE/USDT:USDT; ``BTC_USD`` is inverse (settle BTC)."""
    match = _NAME.match(symbol)
    if not match:
        raise SymbolError(VENUE, symbol, "name", "not a Gate futures contract name")
    return coin_or_quote_parts(
        VENUE, symbol, "name", match.group(1), match.group(2), match.group(3)
    )


def gate_symbol(parts: SymbolParts) -> str:
    vb = venue_base(VENUE, parts.base, parts.multiplier)
    require_coin_or_quote_settle(VENUE, vb, parts)
    if parts.kind is Kind.PERPETUAL:
        return f"{vb}_{parts.quote}"
    if parts.kind is Kind.DATED and parts.expiry_ms is not None:
        return f"{vb}_{parts.quote}_{utc_date(parts.expiry_ms):%Y%m%d}"
    raise SymbolError(VENUE, vb, "kind", f"cannot name a {parts.kind} contract (need expiry)")
