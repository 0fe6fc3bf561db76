"""Which bases' books a scan fetches: the widest gross funding spreads, from the quotes directly.

Why not through the engine's frame: the selection used to build ``spread.quotes_frame`` (a
pandas frame of every quote, ~1,400 rows) and rank every ordered cross pair on it
(``spread.select_book_candidates``), ~8 ms of the scanner's CPU in every steady cycle, for an
answer that only needs, per base asset, its widest per-hour spread and where that spread's
first pair sits. Same rules as the frame, so the same ids in the same order (a hypothesis
test compares both on random quote sets and on the emulator's universe):

- a quote enters as it enters ``quotes_frame``: live (not ``is_settled``), a linear perpetual
  canonical id (``spread.perp_parts``), a finite rate and an interval > 0; one per venue x
  canonical, the newest ``ts_ms`` (the later quote on equal stamps);
- rows in the frame's order (canonical id, then venue, code-point order); a pair (long i,
  short j) of the same base earns ``rph[j] - rph[i]``; pairs earning > 0 ranked best first by
  a stable sort, so equal earnings keep the order (i, then j);
- bases in the order of their first pair in that ranking: the widest spread first, and on
  equal spreads the base whose first pair at that spread has the lower long row. The first
  ``top_n`` bases are chosen, and every canonical id of theirs is returned, in the frame's
  (sorted) order.

For a fixed long row i the best short is the highest rate (rounding is monotone), so a base's
best earning is ``hi - lo`` and its first pair at that earning is the lowest row i with
``hi - rph[i] == hi - lo`` (equal in floating point, as the frame compares them). Pure: quotes
in, ids out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scanner.domain import FundingQuote
from strategies.spread import perp_parts


def widest_spread_bases(quotes: Sequence[FundingQuote], top_n: int) -> list[str]:
    """Canonical ids of the ``top_n`` bases with the best gross pairs, every listing of each
    (the module docstring says the rules), sorted."""
    if top_n <= 0:
        return []
    base_of: dict[str, str | None] = {}
    newest: dict[tuple[str, str], FundingQuote] = {}
    for q in quotes:
        if q.is_settled:
            continue
        canonical = q.canonical
        if canonical not in base_of:
            parts = perp_parts(canonical)
            base_of[canonical] = None if parts is None else parts[0]
        if base_of[canonical] is None:
            continue
        rate, interval = float(q.rate_per_interval), float(q.interval_h)
        if not (math.isfinite(rate) and interval > 0):
            continue
        key = (canonical, q.venue)
        kept = newest.get(key)
        if kept is None or q.ts_ms >= kept.ts_ms:
            newest[key] = q
    groups: dict[str, list[tuple[int, float]]] = {}
    for row, key in enumerate(sorted(newest)):
        q = newest[key]
        base = base_of[key[0]]
        assert base is not None  # only perpetual ids were kept
        rph = float(q.rate_per_interval) / float(q.interval_h)
        groups.setdefault(base, []).append((row, rph))
    ranked: list[tuple[float, int, str]] = []
    for base, rows in groups.items():
        if len(rows) < 2:
            continue
        rates = [r for _, r in rows]
        hi, lo = max(rates), min(rates)
        spread = hi - lo
        if not spread > 0:
            continue
        first = min(row for row, r in rows if hi - r == spread)
        ranked.append((-spread, first, base))
    ranked.sort()
    chosen = {base for _, _, base in ranked[:top_n]}
    return [c for c in sorted({k[0] for k in newest}) if base_of[c] in chosen]
