"""When auto-execution opens a pair and when it closes one: pure rules over scan rows.

Entry: the best executable opportunity (by net APR) on venues we can trade, that passes
``min_net_apr`` and ``min_confidence`` (an unknown confidence never passes), whose legs are
one asset (no price mismatch) and which we do not already hold.

Exit, first match wins: held longer than ``max_hold_h``; the differential flipped (gross APR
of the held orientation below 0); it decayed below ``exit_below_apr``; the basis moved against
us by more than ``basis_stop_frac`` of the price since entry. With no fresh row for the pair
nothing is decided on guesswork (except the max-hold clock, which needs no market data).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.units import MS_PER_H


@dataclass(frozen=True)
class AutoRules:
    min_net_apr: float
    min_confidence: float
    exit_below_apr: float
    max_hold_h: float
    basis_stop_frac: float
    venues: frozenset[str]


@dataclass(frozen=True)
class Candidate:
    pair_key: str
    symbol: str
    long_venue: str
    long_symbol: str
    short_venue: str
    short_symbol: str
    net_apr: float
    confidence: float


@dataclass(frozen=True)
class Held:
    pair_key: str
    opened_ms: int
    entry_basis_frac: float | None


def _num(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def pick_entry(
    rows: Iterable[Mapping[str, Any]], rules: AutoRules, held: set[str]
) -> Candidate | None:
    best: Candidate | None = None
    for row in rows:
        net, conf = _num(row, "net_apr"), _num(row, "confidence")
        if not row.get("executable") or row.get("price_mismatch") or row.get("pair_key") in held:
            continue
        if net is None or conf is None or net < rules.min_net_apr or conf < rules.min_confidence:
            continue
        if row.get("long_venue") not in rules.venues or row.get("short_venue") not in rules.venues:
            continue
        if not row.get("long_symbol") or not row.get("short_symbol"):
            continue
        if best is None or net > best.net_apr:
            best = Candidate(
                str(row["pair_key"]), str(row["symbol"]), str(row["long_venue"]),
                str(row["long_symbol"]), str(row["short_venue"]), str(row["short_symbol"]),
                net, conf,
            )  # fmt: skip
    return best


def exit_reason(
    held: Held, row: Mapping[str, Any] | None, rules: AutoRules, now_ms: int
) -> str | None:
    """Why the held pair should close now, or None to keep holding."""
    held_h = (now_ms - held.opened_ms) / MS_PER_H
    if held_h >= rules.max_hold_h:
        return f"max hold: held {held_h:.1f} h >= {rules.max_hold_h:g} h"
    if row is None:
        return None
    gross = _num(row, "gross_apr")
    if gross is not None and gross < 0:
        return f"flip: the differential turned against the pair (gross APR {gross:.2%})"
    if gross is not None and gross < rules.exit_below_apr:
        return f"decay: gross APR {gross:.2%} < exit_below_apr {rules.exit_below_apr:.2%}"
    basis = _num(row, "basis_frac")
    if held.entry_basis_frac is not None and basis is not None:
        adverse = basis - held.entry_basis_frac  # basis PnL = entry basis - exit basis
        if adverse > rules.basis_stop_frac:
            return f"basis stop: basis moved {adverse:.4%} against the pair since entry"
    return None
