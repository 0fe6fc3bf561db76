"""Domain value objects -> row dicts, one function per table.

Why a module of its own: it is the only place that knows both ``scanner.domain`` field names
and column names, so a renamed column or field is a one-line change here. The book summary
(depth within N bps of mid) is computed here, once, at write time, because every reader of
``book_snapshots`` wants it and a full book is not kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from scanner.domain import (
    OPPORTUNITY_SCHEMA,
    ColumnSpec,
    FundingQuote,
    FundingSettlement,
    Instrument,
    Opportunity,
    OrderBook,
)
from storage.tables import DEPTH_BANDS_BPS

TOP_LEVELS_KEPT = 10
"""Levels per side stored verbatim (venue units) in ``book_snapshots.top_levels``."""


def instrument_row(inst: Instrument, seen_ms: int) -> dict[str, Any]:
    return {
        "venue": inst.venue,
        "venue_symbol": inst.venue_symbol,
        "canonical": inst.canonical,
        "base": inst.base,
        "quote": inst.quote,
        "settle": inst.settle,
        "kind": str(inst.kind),
        "multiplier": Decimal(inst.multiplier),
        "contract_size": Decimal(inst.contract_size),
        "tick": inst.tick,
        "lot": inst.lot,
        "min_qty": inst.min_qty,
        "funding_interval_h": inst.funding_interval_h,
        "funding_cap": inst.funding_cap,
        "funding_floor": inst.funding_floor,
        "expiry_ms": inst.expiry_ms,
        "active": inst.active,
        "first_seen_ms": seen_ms,
        "last_seen_ms": seen_ms,
    }


QUOTE_COLUMNS: tuple[str, ...] = (
    "venue",
    "venue_symbol",
    "ts_ms",
    "canonical",
    "rate_per_interval",
    "interval_h",
    "next_funding_ms",
    "mark_price",
    "index_price",
    "multiplier",
    "is_settled",
)


def quote_values(q: FundingQuote) -> tuple[Any, ...]:
    """One ``funding_quotes`` row in ``QUOTE_COLUMNS`` order (tuples: this is the hot path)."""
    if not q.interval_h or q.interval_h <= 0:
        raise ValueError(
            f"funding quote {q.venue}:{q.venue_symbol} at {q.ts_ms} has interval_h="
            f"{q.interval_h!r}; the interval must be known (never assume 8 h)"
        )
    if not math.isfinite(q.rate_per_interval):
        raise ValueError(
            f"funding quote {q.venue}:{q.venue_symbol} at {q.ts_ms} has rate_per_interval="
            f"{q.rate_per_interval!r}; a stored rate must be a finite number"
        )
    return (
        q.venue,
        q.venue_symbol,
        int(q.ts_ms),
        q.canonical,
        float(q.rate_per_interval),
        float(q.interval_h),
        None if q.next_funding_ms is None else int(q.next_funding_ms),
        q.mark_price,
        q.index_price,
        float(q.multiplier),
        bool(q.is_settled),
    )


SETTLEMENT_COLUMNS: tuple[str, ...] = (
    "venue",
    "venue_symbol",
    "funding_time_ms",
    "canonical",
    "rate_per_interval",
    "interval_h",
)


def settlement_values(s: FundingSettlement) -> tuple[Any, ...]:
    if (s.interval_h is not None and s.interval_h <= 0) or not math.isfinite(s.rate_per_interval):
        raise ValueError(
            f"funding settlement {s.venue}:{s.venue_symbol} at {s.funding_time_ms} has "
            f"rate_per_interval={s.rate_per_interval!r}, interval_h={s.interval_h!r}"
        )
    return (
        s.venue,
        s.venue_symbol,
        int(s.funding_time_ms),
        s.canonical,
        float(s.rate_per_interval),
        None if s.interval_h is None else float(s.interval_h),
    )


def depth_within(
    levels: Sequence[tuple[float, float]], mid: float, bps: float, side: str
) -> tuple[float, float]:
    """(base units, USD) available on one side within ``bps`` of ``mid`` (canonical levels)."""
    limit = mid * (1 - bps / 10_000) if side == "bids" else mid * (1 + bps / 10_000)
    base = usd = 0.0
    for price, qty in levels:
        inside = price >= limit if side == "bids" else price <= limit
        if not inside:
            break
        base += qty
        usd += qty * price
    return base, usd


BOOK_COLUMNS: tuple[str, ...] = (
    "venue",
    "venue_symbol",
    "ts_ms",
    "canonical",
    "best_bid",
    "best_ask",
    "mid",
    "multiplier",
    "contract_size",
    *[
        f"{side}_depth_{bps}bps_{unit}"
        for side in ("bid", "ask")
        for bps in DEPTH_BANDS_BPS
        for unit in ("base", "usd")
    ],
    "top_levels",
)


def book_values(book: OrderBook) -> tuple[Any, ...]:
    row = book_row(book)
    return tuple(row[c] for c in BOOK_COLUMNS)


def book_row(book: OrderBook) -> dict[str, Any]:
    """Summary of a book: best prices, depth within each band of mid, top levels verbatim."""
    mid = book.mid
    row: dict[str, Any] = {
        "venue": book.venue,
        "venue_symbol": book.venue_symbol,
        "ts_ms": int(book.ts_ms),
        "canonical": book.canonical,
        "best_bid": book.best_bid,
        "best_ask": book.best_ask,
        "mid": mid,
        "multiplier": float(book.multiplier),
        "contract_size": float(book.contract_size),
        "top_levels": {
            "bids": [[float(p), float(q)] for p, q in book.bids[:TOP_LEVELS_KEPT]],
            "asks": [[float(p), float(q)] for p, q in book.asks[:TOP_LEVELS_KEPT]],
        },
    }
    for side, prefix in (("bids", "bid"), ("asks", "ask")):
        levels = book.canonical_side(side).tolist()  # Python floats, as before arrays
        canonical_mid = mid / book.multiplier if mid is not None else None
        for bps in DEPTH_BANDS_BPS:
            if canonical_mid is None:
                base = usd = None
            else:
                base, usd = depth_within(levels, canonical_mid, bps, side)
            row[f"{prefix}_depth_{bps}bps_base"] = base
            row[f"{prefix}_depth_{bps}bps_usd"] = usd
    return row


def _finite_or_none(value: Any) -> float | None:
    if _missing(value):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _json_components(components: Mapping[str, Any] | None) -> dict[str, float | None]:
    return {str(k): _finite_or_none(v) for k, v in (components or {}).items()}


def _cell(spec: ColumnSpec, value: Any) -> Any:
    """One schema value as its column stores it: unknown (None/nan/NA) is NULL; +inf (a
    break-even never reached) is kept, double precision holds it."""
    if spec.dtype == "json":
        return _json_components(value)
    if _missing(value):
        return None
    return {"str": str, "float": float, "int": int, "bool": bool}[spec.dtype](value)


def opportunity_row(
    scan_id: int, ts_ms: int, opp: Opportunity | Mapping[str, Any]
) -> dict[str, Any]:
    """Accepts an ``Opportunity`` or a mapping with its field names (an engine frame row).

    Every column comes from ``OPPORTUNITY_SCHEMA``. A mapping must hold the fields
    ``Opportunity`` requires (KeyError names the first missing one); the others are NULL when
    absent. ``pair_key`` is derived from the legs when a mapping lacks it, and refused when it
    disagrees with them (``Opportunity`` checks that).
    """
    if not isinstance(opp, Opportunity):
        known = {c.name for c in OPPORTUNITY_SCHEMA}
        given: dict[str, Any] = {k: None if v is pd.NA else v for k, v in opp.items() if k in known}
        opp = Opportunity(**given)
    row: dict[str, Any] = {"scan_id": scan_id, "ts_ms": int(ts_ms)}
    for spec in OPPORTUNITY_SCHEMA:
        row[spec.name] = _cell(spec, getattr(opp, spec.name))
    return row


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (an engine frame's nullable Int64 column holds NA)."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)
