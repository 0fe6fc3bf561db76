"""OKX: ``/api/v5/public/instruments`` SWAP/FUTURES rows and instIds <-> canonical.

Naming: ``BTC-USDT-SWAP`` linear perp, ``BTC-USD-SWAP`` inverse perp (settles BTC),
``BTC-USD-220624`` future (``YYMMDD``). OKX never scales the name; it puts the scale in the
contract value instead (``SHIB-USDT-SWAP`` has ``ctVal`` 1000000 SHIB), so the multiplier is 1
and ``contract_size`` carries ``ctVal``.
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

VENUE = "okx"


def instrument_from_okx(row: Mapping[str, Any]) -> Instrument:
    """One SWAP or FUTURES instrument row -> Instrument.

    Base and quote come from ``instFamily`` (or the older ``uly``, or the instId itself),
    ``settle`` from ``settleCcy``. ``contract_size = ctVal * ctMult`` (ctMult is "1" on every
    real swap). Its unit is ``ctValCcy``: the base coin for linear contracts (checked, because
    every size conversion depends on it) and USD for inverse ones (``BTC-USD-SWAP`` is 100 USD
    a contract) -- callers must not treat an inverse contract_size as base units.
    Sizes (``lotSz``, ``minSz``) are in contracts. Only ``state == live`` is active.
    """
    r = row_reader(VENUE, row, "instId")
    inst_id = r.text("instId")
    inst_type = r.text("instType")
    if inst_type not in ("SWAP", "FUTURES"):
        raise r.error("instType", f"unsupported instrument type {inst_type!r} (SWAP/FUTURES)")
    family = r.optional_text("instFamily") or r.optional_text("uly") or inst_id
    pieces = family.split("-")
    if len(pieces) < 2 or not pieces[0] or not pieces[1]:
        raise r.error("instFamily", f"cannot read BASE-QUOTE from {family!r}")
    base, multiplier = split_multiplier(pieces[0])
    ct_type = r.optional_text("ctType")
    ct_val_ccy = r.optional_text("ctValCcy")
    if ct_type == "linear" and ct_val_ccy is not None and ct_val_ccy != pieces[0]:
        raise r.error("ctValCcy", f"linear contract valued in {ct_val_ccy}, not {pieces[0]}")
    kind = Kind.PERPETUAL if inst_type == "SWAP" else Kind.DATED
    return Instrument(
        venue=VENUE,
        venue_symbol=inst_id,
        base=base,
        quote=canonical_asset(pieces[1]),
        settle=canonical_asset(r.text("settleCcy")),
        kind=kind,
        multiplier=Decimal(multiplier),
        contract_size=_contract_size(r),
        tick=r.positive("tickSz"),
        lot=r.positive("lotSz"),
        min_qty=r.decimal("minSz"),
        expiry_ms=r.integer("expTime") if kind is Kind.DATED else None,
        active=r.get("state") == "live",
        raw=row,
    )


def _contract_size(r: RowReader) -> Decimal:
    value = r.positive("ctVal")
    if value is None:
        raise r.error("ctVal", "missing contract value")
    return value * (r.positive("ctMult") or Decimal(1))


_INST_ID = re.compile(r"^([A-Za-z0-9]+)-([A-Z0-9]+)-(SWAP|\d{6})$")


def parse_okx_symbol(symbol: str) -> SymbolParts:
    """``BTC-USDT-SWAP`` -> BTC/USDT:USDT; ``-USD-`` contracts are inverse (settle = base)."""
    match = _INST_ID.match(symbol)
    if not match:
        raise SymbolError(VENUE, symbol, "instId", "not an OKX SWAP/FUTURES instId")
    date_raw = None if match.group(3) == "SWAP" else match.group(3)
    return coin_or_quote_parts(VENUE, symbol, "instId", match.group(1), match.group(2), date_raw)


def okx_symbol(parts: SymbolParts) -> str:
    vb = venue_base(VENUE, parts.base, parts.multiplier)
    require_coin_or_quote_settle(VENUE, vb, parts)
    if parts.kind is Kind.PERPETUAL:
        return f"{vb}-{parts.quote}-SWAP"
    if parts.kind is Kind.DATED and parts.expiry_ms is not None:
        return f"{vb}-{parts.quote}-{utc_date(parts.expiry_ms):%y%m%d}"
    raise SymbolError(VENUE, vb, "kind", f"cannot name a {parts.kind} contract (need expiry)")
