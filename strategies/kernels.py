"""The engine's numeric kernels: numpy arrays in, numpy arrays out, no pandas, no objects.

Why a module of its own: the scanner ranks one moment, the backtester replays thousands of
them, and both must use the same arithmetic. Everything here is elementwise or per row of a
padded (books x levels) array, so a caller can feed one snapshot or a whole history. The money
math is docs/design.md section 4; units are in the names (``*_per_h`` per hour, ``*_frac`` a
fraction of notional, ``*_ms`` epoch milliseconds). The scalar references these kernels must
agree with are in ``strategies.costs`` (``walk_book``, ``max_notional_within``) and the
per-pair loop of ``benchmarks/bench_spread.py``.

Book sides are padded arrays: ``price`` (B, W) nan-padded, ``cum_notional`` and ``cum_qty``
(B, W) +inf-padded (a padded level never counts as consumed) and ``n_levels`` (B,). Asks are
ascending, bids descending; prices and quantities canonical, so price * qty is USD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeVar, cast

import numpy as np
from numba import njit

from scanner.units import HOURS_PER_YEAR, MS_PER_H

Side = Literal["buy", "sell"]
FloatArray = np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])


def _compiled(fn: _F) -> _F:
    """numba's nopython compile, cached on disk; numpy's float errors (inf/nan, no raise)."""
    return cast(_F, njit(cache=True, error_model="numpy")(fn))


# --- rates and returns -------------------------------------------------------------------


def rate_per_h(rate_per_interval: FloatArray, interval_h: FloatArray) -> FloatArray:
    """A rate paid once per ``interval_h`` hours as a rate per hour (never assume 8 h)."""
    return np.asarray(rate_per_interval, dtype=float) / np.asarray(interval_h, dtype=float)


def diff_per_h(long_rate_per_h: FloatArray, short_rate_per_h: FloatArray) -> FloatArray:
    """Funding earned per hour per unit notional, long one leg and short the other.

    A positive rate means longs pay shorts: the short leg receives ``r_b/h_b``, the long leg
    pays ``r_a/h_a``.
    """
    return np.asarray(short_rate_per_h, dtype=float) - np.asarray(long_rate_per_h, dtype=float)


def apr(per_h: FloatArray) -> FloatArray:
    """A per-hour fraction annualised (8760 h), not compounded."""
    return np.asarray(per_h, dtype=float) * HOURS_PER_YEAR


def round_trip_fee_frac(long_taker: FloatArray, short_taker: FloatArray) -> FloatArray:
    """Taker fees for entry and exit of both legs: ``2 (f_a + f_b)``."""
    return 2.0 * (np.asarray(long_taker, dtype=float) + np.asarray(short_taker, dtype=float))


def net_apr(diff: FloatArray, cost_frac: FloatArray, horizon_h: float | FloatArray) -> FloatArray:
    """``(d H - cost) / H * 8760``: the round-trip cost spread over a holding horizon."""
    return (np.asarray(diff) * horizon_h - np.asarray(cost_frac)) / horizon_h * HOURS_PER_YEAR


def breakeven_h(cost_frac: FloatArray, diff: FloatArray) -> FloatArray:
    """Hours of funding at ``diff`` per hour needed to pay the round-trip cost."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(cost_frac, dtype=float) / np.asarray(diff, dtype=float)


def basis_frac(
    short_best_bid: FloatArray, long_best_ask: FloatArray, long_mid: FloatArray,
    short_mid: FloatArray,
) -> FloatArray:  # fmt: skip
    """Entry basis ``(bid_b - ask_a) / mean(mid_a, mid_b)``: positive is an immediate gain."""
    mean_mid = (np.asarray(long_mid) + np.asarray(short_mid)) / 2.0
    return (np.asarray(short_best_bid) - np.asarray(long_best_ask)) / mean_mid


def settlements_until(
    first_ms: FloatArray, end_ms: FloatArray, interval_h: FloatArray
) -> FloatArray:
    """How many settlements a leg pays in ``(now, end_ms]`` when its next one is ``first_ms``.

    ``floor((end - first) / interval) + 1``; nan where a time is unknown.
    """
    with np.errstate(invalid="ignore"):
        span = np.asarray(end_ms, dtype=float) - np.asarray(first_ms, dtype=float)
        return np.floor(span / (np.asarray(interval_h, dtype=float) * MS_PER_H)) + 1.0


# --- order books as padded arrays ----------------------------------------------------------


class SideArrays(NamedTuple):
    """One side of B books padded to W levels (see the module docstring)."""

    price: FloatArray
    cum_notional: FloatArray
    cum_qty: FloatArray
    n_levels: np.ndarray


def pad_side(
    book_id: np.ndarray, price: FloatArray, qty: FloatArray, n_books: int, descending: bool
) -> SideArrays:
    """Flat levels (one row per level, ``book_id`` saying whose) -> one padded side.

    Levels with a non-finite or non-positive price or quantity are dropped (as
    ``costs.as_levels`` does); each book's levels are sorted best first (stable, so equal prices
    keep their order). No per-book Python: one lexsort (only if the levels are not already
    best first) and one compiled pass.
    """
    return pad_sides([(book_id, price, qty, descending)], n_books).sides[0]


def pad_sides(
    sides: Sequence[tuple[np.ndarray, FloatArray, FloatArray, bool]], n_books: int
) -> StackedSides:
    """Several sides of the same books (``pad_side``'s arguments each), padded to one width
    and filled straight into stacked arrays with their level coefficients: the solver's
    input (``max_notional_within``) without a copy. ``.sides`` are views, one per side."""
    prepared = [_best_first(*side) for side in sides]
    counts = [np.bincount(b, minlength=n_books).astype(np.int64) for b, _, _ in prepared]
    width = max([int(c.max(initial=0)) for c in counts] + [1])
    shape = (len(sides), n_books, width)
    price, offset, inv_price = (np.full(shape, np.nan) for _ in range(3))
    cum_n, cum_q = np.full(shape, np.inf), np.full(shape, np.inf)
    for j, (b, p, q) in enumerate(prepared):
        _fill_padded(b, p, q, price[j], cum_n[j], cum_q[j], offset[j], inv_price[j])
    views = tuple(SideArrays(price[j], cum_n[j], cum_q[j], counts[j]) for j in range(len(sides)))
    return StackedSides(views, price, cum_n, cum_q, offset, inv_price)


def _best_first(
    book_id: np.ndarray, price: FloatArray, qty: FloatArray, descending: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid levels only, grouped by book and best first within each (stable)."""
    book_id = np.asarray(book_id, dtype=np.int64)
    price = np.asarray(price, dtype=float)
    qty = np.asarray(qty, dtype=float)
    keep = np.isfinite(price) & np.isfinite(qty) & (price > 0) & (qty > 0)
    if not keep.all():
        book_id, price, qty = book_id[keep], price[keep], qty[keep]
    if not _sorted_per_book(book_id, price, descending):  # venues send books best first
        order = np.lexsort((-price if descending else price, book_id))
        book_id, price, qty = book_id[order], price[order], qty[order]
    return book_id, price, qty


@_compiled
def _fill_padded(book_id, price, qty, padded_price, cum_n, cum_q, offset, inv_price):  # type: ignore[no-untyped-def]  # noqa: E501
    """One pass over levels grouped by book, best first: each book's row of prices, running
    sums of notional (price * qty) and quantity in level order (as ``numpy.cumsum``), and the
    level coefficients of ``_level_coefficients`` (the same operations, so the same bits)."""
    current = -1
    k = 0
    run_n = 0.0
    run_q = 0.0
    for i in range(book_id.size):
        b = book_id[i]
        if b != current:
            current, k, run_n, run_q = b, 0, 0.0, 0.0
        inv = 1.0 / price[i]
        inv_price[b, k] = inv
        offset[b, k] = run_q - run_n * inv
        run_n += price[i] * qty[i]
        run_q += qty[i]
        padded_price[b, k] = price[i]
        cum_n[b, k] = run_n
        cum_q[b, k] = run_q
        k += 1


def _sorted_per_book(book_id: np.ndarray, price: FloatArray, descending: bool) -> bool:
    """True if levels are grouped by ascending book and best first within each book."""
    if book_id.size < 2:
        return True
    step = np.diff(book_id)
    if (step < 0).any():
        return False
    worse = np.diff(price) > 0 if descending else np.diff(price) < 0
    return not (worse & (step == 0)).any()


def side_depth(side: SideArrays) -> tuple[FloatArray, FloatArray]:
    """(total USD notional, total quantity) per book; 0 for an empty side."""
    rows = np.arange(side.n_levels.size)
    last = np.maximum(side.n_levels - 1, 0)
    has = side.n_levels > 0
    if side.cum_notional.size == 0:
        return np.zeros(0), np.zeros(0)
    depth = np.where(has, side.cum_notional[rows, last], 0.0)
    total_qty = np.where(has, side.cum_qty[rows, last], 0.0)
    return depth, total_qty


def walk(
    side: SideArrays, rows: np.ndarray, notional_usd: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(vwap, filled notional) of taking ``notional_usd[i]`` from book ``rows[i]``.

    Same conventions as ``costs.walk_book``: a too-thin book is taken whole (the VWAP of every
    visible level, filled < wanted), notional 0 gives the best price, an empty side gives nan.
    """
    rows = np.asarray(rows, dtype=np.int64)
    want = np.broadcast_to(np.asarray(notional_usd, dtype=float), rows.shape)
    cum_n = side.cum_notional[rows]
    n_lv = side.n_levels[rows]
    k = (cum_n < want[:, None]).sum(axis=1)
    full = k >= n_lv
    kk = np.minimum(k, np.maximum(n_lv - 1, 0))
    idx = np.arange(rows.size)
    has_prev = kk > 0
    prev = np.maximum(kk - 1, 0)
    prev_n = np.where(has_prev, cum_n[idx, prev], 0.0)
    prev_q = np.where(has_prev, side.cum_qty[rows, prev], 0.0)
    depth = cum_n[idx, np.maximum(n_lv - 1, 0)]
    total_q = side.cum_qty[rows, np.maximum(n_lv - 1, 0)]
    p_k = side.price[rows, kk]
    with np.errstate(divide="ignore", invalid="ignore"):
        partial_vwap = want / (prev_q + (want - prev_n) / p_k)
        full_vwap = depth / total_q
    vwap = np.where(full, full_vwap, partial_vwap)
    vwap = np.where((want <= 0) & (n_lv > 0), side.price[rows, 0], vwap)
    vwap = np.where(n_lv == 0, np.nan, vwap)
    filled = np.where(full, np.where(n_lv > 0, depth, 0.0), np.maximum(want, 0.0))
    return vwap, filled


def side_slippage(vwap: float | FloatArray, mid: float | FloatArray, side: Side) -> FloatArray:
    """Cost of a fill at ``vwap`` relative to ``mid``: positive means worse than mid."""
    if side == "buy":
        return np.asarray(vwap, dtype=float) / mid - 1.0
    return 1.0 - np.asarray(vwap, dtype=float) / mid


def band_notional(side: SideArrays, limit_price: FloatArray, buy: bool) -> FloatArray:
    """Per book, USD notional resting at or better than ``limit_price`` (asks <=, bids >=)."""
    cum = np.where(np.isfinite(side.cum_notional), side.cum_notional, np.nan)
    level = np.diff(cum, axis=1, prepend=0.0)
    limit = np.asarray(limit_price, dtype=float)[:, None]
    with np.errstate(invalid="ignore"):
        inside = side.price <= limit if buy else side.price >= limit
    return np.where(inside & ~np.isnan(level), level, 0.0).sum(axis=1)


class Walk(NamedTuple):
    """One of the walks whose slippages add up: a side, which book per pair, its mid, the way."""

    side: SideArrays
    rows: np.ndarray
    mid: FloatArray
    buy: bool


def total_slippage(walks: Sequence[Walk], notional_usd: FloatArray) -> FloatArray:
    """Sum of the walks' slippage fractions for ``notional_usd`` (per pair)."""
    total = np.zeros(np.shape(walks[0].rows))
    for w in walks:
        vwap, _ = walk(w.side, w.rows, notional_usd)
        total = total + side_slippage(vwap, w.mid, "buy" if w.buy else "sell")
    return total


class StackedSides(NamedTuple):
    """Several sides as (S, B, W) arrays, with the level coefficients the solver reads.

    ``offset`` and ``inv_price`` (``_level_coefficients``) price a level in one division;
    built once per set of sides (``stack_sides``) and reusable for any pairs of their books.
    """

    sides: tuple[SideArrays, ...]
    price: np.ndarray
    cum_n: np.ndarray
    cum_q: np.ndarray
    offset: np.ndarray
    inv_price: np.ndarray


def stack_sides(sides: Sequence[SideArrays]) -> StackedSides:
    """``sides`` padded to a common (books, levels) shape and stacked."""
    width = max(s.price.shape[1] for s in sides)
    n_books = max(s.price.shape[0] for s in sides)

    def stack(name: str, fill: float) -> np.ndarray:
        out = np.full((len(sides), n_books, width), fill)
        for j, s in enumerate(sides):
            arr = getattr(s, name)
            out[j, : arr.shape[0], : arr.shape[1]] = arr
        return out

    price = stack("price", np.nan)
    cum_n, cum_q = stack("cum_notional", np.inf), stack("cum_qty", np.inf)
    offset, inv_price = _level_coefficients(price, cum_n, cum_q)
    return StackedSides(tuple(sides), price, cum_n, cum_q, offset, inv_price)


def max_notional_within(
    walks: Sequence[Walk], hi: FloatArray, limit_frac: float, stacked: StackedSides | None = None
) -> FloatArray:
    """Largest notional in [0, hi] whose summed slippage stays within ``limit_frac``, per pair.

    Solved from the cumulative depth, not searched. Inside level k of a walk the quantity
    bought for notional N is ``Q(N) = a + N/p_k`` with ``a = Q_{k-1} - C_{k-1}/p_k``, so the
    walk's slippage ``±(N/Q(N)/mid - 1)`` is increasing and concave in N, with derivative
    ``±a / (mid Q^2)``. Per pair, the walks' level ends (breakpoints) are visited in order
    (a merge, each evaluated in O(1) from the cumulative arrays) until the first one whose total
    exceeds the limit; inside that segment the total is concave, so Newton steps from the left
    never overshoot the root and converge quadratically (stop when a step is below 1e-13 of N).
    nan where ``hi`` is nan; 0 when even a tiny order exceeds the limit (the spreads alone
    do); ``hi`` when all of it fits. Compiled with numba: the merge is a per-pair loop.
    ``stacked``: the walks' sides already stacked (``stack_sides``; a caller solving many
    batches over the same books builds it once); by default built here.
    """
    hi = np.asarray(hi, dtype=float)
    if stacked is None:
        unique: list[SideArrays] = []
        for w in walks:
            if not any(s is w.side for s in unique):
                unique.append(w.side)
        stacked = stack_sides(unique)
    side_of = np.empty(len(walks), dtype=np.int64)
    for i, w in enumerate(walks):
        found = next((j for j, s in enumerate(stacked.sides) if s is w.side), None)
        if found is None:
            raise ValueError("a walk's side is not among the stacked sides")
        side_of[i] = found
    rows = np.stack([np.asarray(w.rows, dtype=np.int64) for w in walks])
    mids = np.stack([np.broadcast_to(np.asarray(w.mid, dtype=float), hi.shape) for w in walks])
    buy = np.array([w.buy for w in walks], dtype=np.bool_)
    st = stacked
    return _max_notional_loop(
        st.price, st.cum_n, st.cum_q, side_of, buy, rows, mids, hi, float(limit_frac), st.offset,
        st.inv_price,
    )  # fmt: skip


def _level_coefficients(
    price: np.ndarray, cum_n: np.ndarray, cum_q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per level k: ``a_k = Q_{k-1} - C_{k-1}/p_k`` and ``1/p_k``, so that the quantity bought
    for notional N inside level k is ``a_k + N/p_k`` with one multiplication (padding: nan)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_price = 1.0 / price
        prev_n = np.concatenate([np.zeros(price.shape[:-1] + (1,)), cum_n[..., :-1]], axis=-1)
        prev_q = np.concatenate([np.zeros(price.shape[:-1] + (1,)), cum_q[..., :-1]], axis=-1)
        offset = np.where(np.isfinite(prev_n), prev_q - prev_n * inv_price, np.nan)
    return offset, inv_price


@_compiled
def _total(book, level, x):  # type: ignore[no-untyped-def]
    """(total slippage, its slope in N, the next level end) of one pair at notional ``x``.

    ``book`` is (price, cum_n, cum_q, side_of, buy, rows, mids, p): the stacked sides, which
    side and way each walk takes, each walk's book row and mid, and the pair's index ``p``.

    Per walk at level k: ``a = Q_{k-1} - C_{k-1}/p_k``, ``Q = a + x/p_k``, vwap ``x/Q`` (the
    level price while nothing is bought), d vwap/dN ``a/Q^2``; a sell walk's slippage is the
    negative of a buy walk's.
    """
    price, cum_n, cum_q, side_of, buy, rows, mids, p = book
    f = 0.0
    slope = 0.0
    nxt = np.inf
    for w in range(rows.shape[0]):
        j = side_of[w]
        r = rows[w, p]
        k = level[w]
        prev_n = cum_n[j, r, k - 1] if k > 0 else 0.0
        prev_q = cum_q[j, r, k - 1] if k > 0 else 0.0
        p_k = price[j, r, k]
        a = prev_q - prev_n / p_k
        q = a + x / p_k
        vwap = x / q if q > 0 else p_k
        d_vwap = a / (q * q) if q > 0 else 0.0
        mid = mids[w, p]
        if buy[w]:
            f += vwap / mid - 1.0
            slope += d_vwap / mid
        else:
            f += 1.0 - vwap / mid
            slope -= d_vwap / mid
        nxt = min(nxt, cum_n[j, r, k])
    return f, slope, nxt


@_compiled
def _max_notional_loop(price, cum_n, cum_q, side_of, buy, rows, mids, hi, limit, offset, inv_price):  # type: ignore[no-untyped-def]  # noqa: E501
    """The per-pair merge and Newton solve of ``max_notional_within``."""
    n_walks, n_pairs = rows.shape
    out = np.full(n_pairs, np.nan)
    level = np.zeros(n_walks, dtype=np.int64)
    moved = np.zeros(n_walks, dtype=np.bool_)
    walk_state = np.empty((4, n_walks))  # per walk: level end, a_k, 1/p_k, +-1/mid
    for p in range(n_pairs):
        if np.isnan(hi[p]):
            continue
        level[:] = 0
        book = (price, cum_n, cum_q, side_of, buy, rows, mids, p)
        f, slope, _ = _total(book, level, 0.0)
        if not f <= limit:
            out[p] = 0.0  # the spreads alone exceed the limit
            continue
        coef = (cum_n, offset, inv_price, side_of, buy, rows, mids, p)
        x, end = _last_segment(coef, level, moved, walk_state, hi[p], limit)
        if x >= hi[p]:
            out[p] = hi[p]
            continue
        f, slope, _ = _total(book, level, x)  # exact, at the segment's levels
        out[p] = _newton(coef, level, walk_state, limit, x, f, slope, end)
    return out


@_compiled
def _last_segment(coef, level, moved, walk_state, top, limit):  # type: ignore[no-untyped-def]
    """Visit the pair's breakpoints (level ends of any walk) in order up to ``top``.

    Returns (x, end): the last breakpoint whose total is within the limit and the next one,
    ``level`` left at the levels of the segment [x, end) that holds the root; or x = ``top``
    when all of it fits. Each breakpoint is priced with one division per walk (the
    coefficients of ``_level_coefficients``); the caller prices the start of the segment
    exactly (``_total``), so this only decides which segment holds the root. Each walk's
    current level end and coefficients are kept in small local arrays, read from the books'
    arrays only when the walk moves to its next level (``walk_state``: that workspace).
    """
    cum_n, offset, inv_price, side_of, buy, rows, mids, p = coef
    n_walks = level.size
    ends, offs, invs, scale = walk_state  # scale: +1/mid for a buy walk, -1/mid for a sell
    constant = 0.0  # the -1 of each buy walk, the +1 of each sell walk
    for w in range(n_walks):
        j, r = side_of[w], rows[w, p]
        ends[w] = cum_n[j, r, 0]
        offs[w] = offset[j, r, 0]
        invs[w] = inv_price[j, r, 0]
        scale[w] = 1.0 / mids[w, p] if buy[w] else -1.0 / mids[w, p]
        constant += -1.0 if buy[w] else 1.0
    x = 0.0
    while True:
        end = top
        for w in range(n_walks):
            end = min(end, ends[w])
        if end >= top:
            break
        f_end = constant
        for w in range(n_walks):  # walks whose level ends here move on (end < top <= each
            moved[w] = ends[w] <= end  # walk's depth: a next level exists)
            if moved[w]:
                level[w] += 1
                j, r, k = side_of[w], rows[w, p], level[w]
                ends[w] = cum_n[j, r, k]
                offs[w] = offset[j, r, k]
                invs[w] = inv_price[j, r, k]
            f_end += scale[w] * (end / (offs[w] + end * invs[w]))
        if f_end > limit:
            for w in range(n_walks):
                if moved[w]:
                    level[w] -= 1  # the root is inside [x, end): that segment's levels
            return x, end
        x = end
    f_top = constant
    for w in range(n_walks):
        f_top += scale[w] * (top / (offs[w] + top * invs[w]))
    if f_top <= limit:
        return top, top
    return x, top


@_compiled
def _newton(coef, level, walk_state, limit, x, f, slope, end):  # type: ignore[no-untyped-def]
    """Newton from the left inside one concave segment [x, end]: never overshoots the root.

    The walks' levels are fixed inside the segment, so each step prices the total from the
    level coefficients with one division per walk: ``Q = a_k + N/p_k``, vwap ``N/Q``, its
    slope ``a_k/Q^2``.
    """
    cum_n, offset, inv_price, side_of, buy, rows, mids, p = coef
    _, offs, invs, scale = walk_state
    constant = 0.0
    for w in range(level.size):
        j, r, k = side_of[w], rows[w, p], level[w]
        offs[w] = offset[j, r, k]
        invs[w] = inv_price[j, r, k]
        scale[w] = 1.0 / mids[w, p] if buy[w] else -1.0 / mids[w, p]
        constant += -1.0 if buy[w] else 1.0
    for _ in range(100):
        if not (slope > 0 and f < limit):
            break
        step = (limit - f) / slope
        x = min(x + step, end)
        f = constant
        slope = 0.0
        for w in range(level.size):
            inv_q = 1.0 / (offs[w] + x * invs[w])
            f += scale[w] * (x * inv_q)
            slope += scale[w] * (offs[w] * inv_q * inv_q)
        if step <= 1e-13 * x:
            break
    return x
