"""The venue registry: one ``VenueSpec`` per venue module in this package.

Every venue table of the program is derived from here at call time: the known venue ids
(settings validation, CLI checks), the ccxt factory (class, options, URL keys), the quirks the
generic ccxt adapter reads, symbol dispatch (row/list parsers, symbol parser and writer), the
default fee table handed to the engine, and what each venue's 403/418/429 means (the ban
gate). Tests parametrise over ``venue_ids()`` so a new venue cannot miss the contract suite.

Adding a venue: drop ``<id>.py`` with a module-level ``SPEC`` into this package (it is found
by ``pkgutil``; the six built-in venues keep their historical order, later ones follow by
name). ``register``/``unregister`` exist for tests that add a throw-away spec at run time.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scanner.domain import Instrument, Kind
from scanner.symbols.common import SymbolError, SymbolParts, to_multiplier
from scanner.venues.specs.model import (
    Capabilities,
    Fees,
    LiftHeader,
    RateBudget,
    StatusMeaning,
    VenueSpec,
)

__all__ = [
    "Capabilities",
    "Fees",
    "LiftHeader",
    "RateBudget",
    "StatusMeaning",
    "UnknownVenueError",
    "VenueSpec",
    "all_specs",
    "ccxt_venue_ids",
    "default_fee_table",
    "parse_instruments",
    "parse_symbol",
    "register",
    "spec_of",
    "unregister",
    "venue_ids",
    "venue_symbol",
]

_BUILT_IN_ORDER = ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid")
"""The order venues had before the registry (default ``venues.enabled``, output order)."""

_NOT_SPECS = frozenset({"model"})


class UnknownVenueError(KeyError, ValueError):
    """A venue id that no spec in the registry has; the message names the known ones.

    A KeyError (a lookup by id failed) and a ValueError (bad user input) at once, so both
    kinds of caller can catch it; ``str()`` is the plain message, not KeyError's repr.
    """

    def __init__(self, venue: object, context: str = "") -> None:
        self.venue = venue
        where = f" {context}" if context else ""
        self.message = f"unknown venue {venue!r}{where}; known venues: {', '.join(venue_ids())}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _discover() -> dict[str, VenueSpec]:
    found: dict[str, VenueSpec] = {}
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_SPECS]
    for name in names:
        spec = getattr(importlib.import_module(f"{__name__}.{name}"), "SPEC", None)
        if not isinstance(spec, VenueSpec):
            raise TypeError(f"{__name__}.{name} has no module-level SPEC = VenueSpec(...)")
        if spec.id in found:
            raise ValueError(f"venue id {spec.id!r} is defined twice")
        found[spec.id] = spec
    first = [v for v in _BUILT_IN_ORDER if v in found]
    rest = sorted(v for v in found if v not in _BUILT_IN_ORDER)
    return {v: found[v] for v in (*first, *rest)}


_SPECS: dict[str, VenueSpec] = _discover()


def venue_ids() -> tuple[str, ...]:
    """Every registered venue id, in registry order."""
    return tuple(_SPECS)


def ccxt_venue_ids() -> tuple[str, ...]:
    """The venues served by the generic ccxt adapter."""
    return tuple(v for v, s in _SPECS.items() if s.adapter == "ccxt")


def all_specs() -> tuple[VenueSpec, ...]:
    return tuple(_SPECS.values())


def spec_of(venue: str) -> VenueSpec:
    """The spec of ``venue``; ``UnknownVenueError`` naming the known venues otherwise."""
    try:
        return _SPECS[venue]
    except (KeyError, TypeError):
        raise UnknownVenueError(venue) from None


def register(spec: VenueSpec) -> None:
    """Add a spec at run time (tests, plugins). Refuses to replace an existing id."""
    if spec.id in _SPECS:
        raise ValueError(f"venue id {spec.id!r} is already registered")
    _SPECS[spec.id] = spec


def unregister(venue: str) -> None:
    """Remove a spec added with ``register``; the built-in venues cannot be removed."""
    if venue in _BUILT_IN_ORDER:
        raise ValueError(f"built-in venue {venue!r} cannot be unregistered")
    _SPECS.pop(venue, None)


def default_fee_table() -> Mapping[str, tuple[float, float]]:
    """``{engine venue id: (taker, maker)}`` fractions: every venue's VIP0 default fees plus
    the extra legs a venue offers (``bybit-spot``). Handed to ``strategies.costs`` at the
    pipeline boundary, so the pure engine never reads the registry itself."""
    table: dict[str, tuple[float, float]] = {}
    for spec in _SPECS.values():
        table[spec.id] = (spec.fees.taker, spec.fees.maker)
        for leg, fees in spec.extra_fees.items():
            table[leg] = (fees.taker, fees.maker)
    return table


# --- symbol dispatch -------------------------------------------------------------------------


def _symbol_spec(venue: str) -> VenueSpec:
    if venue not in _SPECS:
        raise SymbolError(venue, "?", "venue", f"unknown venue; known: {sorted(_SPECS)}")
    return _SPECS[venue]


def parse_symbol(venue: str, symbol: str) -> SymbolParts:
    """A derivatives symbol string -> what it says (base, quote, settle, kind, multiplier).

    For payloads that carry only the symbol (tickers, funding history). Where an instrument
    row exists, prefer the spec's ``parse_row``: it reads the venue's own base/settle fields.
    """
    return _symbol_spec(venue).parse_symbol(symbol)


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
    spec = _symbol_spec(venue)
    parts = SymbolParts(
        base=base,
        quote=quote,
        settle=settle,
        kind=kind,
        multiplier=to_multiplier(multiplier, venue, base),
        expiry_ms=expiry_ms,
    )
    return spec.write_symbol(parts)


def parse_instruments(venue: str, payload: Any, **options: Any) -> list[Instrument]:
    """A whole instrument-list response body -> Instruments, in payload order.

    bybit: the V5 envelope (``result.category`` picks linear/inverse/spot); binanceusdm:
    exchangeInfo (``symbols``); okx and bitget: the ``data`` envelope; gate: the bare list
    (``settle=`` as for ``instrument_from_gate``); hyperliquid: the ``meta`` object (or the
    ``metaAndAssetCtxs`` pair). A malformed row raises SymbolError naming it.
    """
    return _symbol_spec(venue).parse_list(payload, **options)
