"""Synthetic order books around the mark price, shaped like the real books of the same tier.

Spread, depth and level spacing come from ``calibration`` (fitted on the real books in
``../shared/data/real-books``, Bybit majors to Gate small caps): the relative spread and the USD
depth within 25 bps of mid are lines in log10 of the asset's open-interest liquidity
(``Listing.liquidity``), so BTC gets a spread of a few hundredths of a bp and millions of USD
near mid while a small cap gets tens of bps and a few thousand USD. Levels are spaced by the
real books' median gap-to-spread ratio (never closer than a tick) and the depth within the
band is spread evenly over the levels inside it, each with a seeded log-normal jitter of mean
one, so books differ between symbols and seconds but not between runs.

The best level's jitter of every listing comes from one generator per block of listings and
second (``top_jitter``), the deeper levels' from the book's own generator: a tickers body prints
the best bid and ask of every listing (~1,400 rows a round), and seeding a generator per row was
most of its cost; a depth-1 book now needs none, and the top of book a tickers row shows is the
first level of the book the same second, as on a real venue.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

import numpy as np

from emulator import calibration as cal
from emulator.interfaces import Levels
from emulator.universe import Listing

SIZE_JITTER_SD = 0.8  # log-normal sd of level notional; real level sizes vary by ~10x


@lru_cache(maxsize=1)
def _constants() -> tuple[float, float, float, float, float, float, float]:
    b = cal.book_constants()
    lo, hi = b["liquidity_range"]
    return (*b["spread_log10"], *b["depth_25bps_log10"], b["gap_to_spread"], lo, hi)


_UINT32 = 2**32


def _entropy(key: tuple[int, int, int]) -> list[int] | np.ndarray:
    """The book's seed ``[seed, 5, listing, second]``. numpy's SeedSequence reads a list of
    ints as each int's 32-bit words concatenated, so when every int fits one word a uint32
    array is the same entropy (the same generator), read ~5 us faster (a tickers round seeds
    one book per row, ~1,400 rows)."""
    words = (key[0], 5, key[1], key[2])
    if all(0 <= w < _UINT32 for w in words):
        return np.array(words, dtype=np.uint32)
    return list(words)


TOP_BLOCK = 256
"""Listings per top-of-book generator: one block covers a venue's usual share of a tickers
body, and a book request draws no more than its block."""


@lru_cache(maxsize=256)
def _top_block(seed: int, block: int, second: int) -> list[list[float]]:
    """Best-level jitter ([bid, ask] per listing) of listings ``block * TOP_BLOCK`` on at
    ``second``. Cached: every tickers row and book of the second reads it; 256 entries cover
    more seconds of the whole universe than a handler spans. Python floats: a tickers row
    reads two of them, and numpy scalars cost more to read than they save."""
    rng = np.random.default_rng([seed, 9, block, second])
    jitter = np.exp(rng.normal(-(SIZE_JITTER_SD**2) / 2, SIZE_JITTER_SD, (TOP_BLOCK, 2)))
    rows: list[list[float]] = jitter.tolist()
    return rows


def top_jitter(key: tuple[int, int, int]) -> list[float]:
    """[bid, ask] jitter of the best level of listing ``key[1]`` at second ``key[2]``."""
    seed, i, second = key
    return _top_block(seed, i // TOP_BLOCK, second)[i % TOP_BLOCK]


def _jitter(key: tuple[int, int, int], depth: int) -> np.ndarray:
    """(2, depth) log-normal level jitter, bids then asks: the best level from ``top_jitter``,
    the rest from the book's own generator."""
    jitter = np.empty((2, depth))
    jitter[:, 0] = top_jitter(key)
    if depth > 1:
        rng = np.random.default_rng(_entropy(key))
        mu = -(SIZE_JITTER_SD**2) / 2
        jitter[:, 1:] = np.exp(rng.normal(mu, SIZE_JITTER_SD, (2, depth - 1)))
    return jitter


def book_shape(listing: Listing) -> tuple[float, float, float]:
    """(relative spread, USD depth within 25 bps of mid per side, relative level gap) of the
    listing's liquidity tier (liquidity clipped to the range the real books cover)."""
    s0, s1, d0, d1, gap_ratio, lo, hi = _constants()
    x = math.log10(min(max(listing.liquidity, lo), hi))
    spread = 10.0 ** (s0 + s1 * x)
    return spread, 10.0 ** (d0 + d1 * x), spread * gap_ratio


@lru_cache(maxsize=4096)
def _decimal_step(step: float) -> tuple[float, float] | None:
    """``step`` as the exact decimal ``m / p`` (0.05 -> (5.0, 100.0), 10 -> (10.0, 1.0)), or
    None when that takes more than 15 decimals or a numerator past 2**53."""
    d = Decimal(repr(step)).normalize()
    exp = int(d.as_tuple().exponent)
    places = max(0, -exp)
    if places > 15:
        return None
    m = int(d.scaleb(places))
    if m >= 2**53:
        return None
    return float(m), 10.0**places


def _round_to(x: float, step: float) -> float:
    """``x`` to the nearest multiple of ``step``, as the double nearest that decimal.

    ``k * m / p`` is one correctly rounded IEEE division of two exact integers, so printing
    it with the step's decimals and parsing the text gives it back exactly (what a client of
    the wire sees is what the model holds); ``round(k * step, 12)`` did the same at a
    dtoa round trip a number, most of a book's cost."""
    dec = _decimal_step(step)
    k = round(x / step)
    if dec is None:
        return round(k * step, 12)
    return k * dec[0] / dec[1]


def level_size(listing: Listing, price: float, notional_usd: float) -> float:
    """Venue quantity (contracts or base units, rounded to the lot, >= one lot)."""
    if listing.inverse:  # OKX coin-margined: a contract is ctVal USD
        qty = notional_usd / listing.contract_size
    else:
        qty = notional_usd / (price * listing.contract_size)
    lot = listing.lot or 1.0
    return max(lot, _round_to(math.floor(qty / lot) * lot, lot))


_Skeleton = tuple[float, float, float, float, float]
_SKELETONS: dict[tuple[str, str, float], _Skeleton] = {}
_SKELETONS_MAX = 20_000


def _skeleton(listing: Listing, mark: float) -> _Skeleton:
    """(tick, best bid, best ask, level gap, USD per level) of the listing's book at ``mark``.

    Depends on the mark only, which moves once a minute: cached, so the second and later
    tickers rows and books of a listing within the minute skip the arithmetic (a tickers round
    prints ~1,400 rows). Cleared whole when full."""
    cache_key = (listing.venue, listing.symbol, mark)
    got = _SKELETONS.get(cache_key)
    if got is not None:
        return got
    tick = listing.tick or mark * 1e-4
    if listing.sig_figs and mark > 0:
        tick = max(tick, 10.0 ** (math.floor(math.log10(mark)) - listing.sig_figs + 1))
    spread_rel, depth_usd, gap_rel = book_shape(listing)
    half = max(tick / 2, mark * spread_rel / 2)
    gap = max(tick, _round_to(mark * gap_rel, tick))
    best_bid = math.floor((mark - half) / tick) * tick
    best_ask = max(best_bid + tick, math.ceil((mark + half) / tick) * tick)
    in_band = max(1, math.floor((cal.DEPTH_BAND_REL * mark - (mark - best_bid)) / gap) + 1)
    if len(_SKELETONS) >= _SKELETONS_MAX:
        _SKELETONS.clear()
    got = _SKELETONS[cache_key] = (tick, best_bid, best_ask, gap, depth_usd / in_band)
    return got


VECTOR_DEPTH = 4
"""From this many levels a side on, the levels are computed as numpy arrays (the same
numbers: see ``_levels``); below it the per-level loop is cheaper than the array set-up."""


def synth_book(
    listing: Listing, mark: float, depth: int, key: tuple[int, int, int]
) -> tuple[Levels, Levels]:
    """(bids best-first, asks best-first) with ``depth`` levels a side, prices on the tick."""
    tick, best_bid, best_ask, gap, level_usd = _skeleton(listing, mark)
    if depth == 1:  # a tickers row: no generator, no arrays
        bid_jitter, ask_jitter = ([j] for j in top_jitter(key))
    else:
        jitter = _jitter(key, depth)
        if depth >= VECTOR_DEPTH:
            return _levels(listing, best_bid, best_ask, gap, tick, level_usd, jitter)
        bid_jitter, ask_jitter = jitter.tolist()
    bids: Levels = []
    asks: Levels = []
    for j in range(depth):
        bp = _round_to(best_bid - j * gap, tick)
        ap = _round_to(best_ask + j * gap, tick)
        if bp > 0:
            bids.append((bp, level_size(listing, bp, level_usd * bid_jitter[j])))
        asks.append((ap, level_size(listing, ap, level_usd * ask_jitter[j])))
    return bids, asks


def _levels(
    listing: Listing,
    best_bid: float,
    best_ask: float,
    gap: float,
    tick: float,
    level_usd: float,
    jitter: np.ndarray,
) -> tuple[Levels, Levels]:
    """The per-level loop of ``synth_book`` on arrays, with the same numbers: each step is the
    same IEEE operation on the same operands (``np.rint`` is Python's ``round`` to an integer,
    half to even; ``_round_to``'s division is one IEEE division either way). A deep
    book cost ~0.4 ms in the loop (a steady bench cycle asks for ~140 of them); a test
    compares both ways on every listing."""
    bid_px, ask_px, keep = _ladder(best_bid, best_ask, gap, tick, jitter.shape[1])
    bid_jitter = jitter[0] if keep is None else jitter[0, keep]
    bids = list(zip(bid_px, _sizes(listing, bid_px, level_usd * bid_jitter), strict=True))
    asks = list(zip(ask_px, _sizes(listing, ask_px, level_usd * jitter[1]), strict=True))
    return bids, asks


@lru_cache(maxsize=2048)
def _ladder(
    best_bid: float, best_ask: float, gap: float, tick: float, depth: int
) -> tuple[list[float], list[float], list[int] | None]:
    """(bid prices above zero, ask prices, the bid levels kept or None for all) of a book of
    ``depth`` levels a side. A function of its arguments only, which move with the mark (once
    a minute) while a book is asked for every few seconds: cached (callers do not change the
    lists). Rounding the two ladders was ~a fifth of a deep book's cost."""
    j = np.arange(depth, dtype=np.float64)
    bid_px = _rounded(best_bid - j * gap, tick)
    ask_px = _rounded(best_ask + j * gap, tick)
    keep = [k for k, p in enumerate(bid_px) if p > 0]
    if len(keep) < len(bid_px):
        return [bid_px[k] for k in keep], ask_px, keep
    return bid_px, ask_px, None


def _rounded(x: np.ndarray, step: float, at_least: float | None = None) -> list[float]:
    """``[_round_to(v, step) for v in x]`` (each at least ``at_least`` if given): the same
    IEEE operations, element by element."""
    dec = _decimal_step(step)
    if dec is None:
        out = [round(v, 12) for v in (np.rint(x / step) * step).tolist()]
        return out if at_least is None else [max(at_least, v) for v in out]
    rounded = np.rint(x / step) * dec[0] / dec[1]
    if at_least is not None:
        rounded = np.maximum(rounded, at_least)
    values: list[float] = rounded.tolist()
    return values


def _sizes(listing: Listing, prices: list[float], notional_usd: np.ndarray) -> list[float]:
    """``[level_size(listing, p, n) for p, n in zip(prices, notional_usd)]``."""
    if not prices:
        return []
    if listing.inverse:
        qty = notional_usd / listing.contract_size
    else:
        qty = notional_usd / (np.array(prices) * listing.contract_size)
    lot = listing.lot or 1.0
    return _rounded(np.floor(qty / lot) * lot, lot, at_least=lot)


_Top = tuple[float, float, float]
_TOPS: dict[tuple[str, str, float], _Top] = {}


def _top_prices(listing: Listing, mark: float) -> _Top:
    """(best bid, best ask, USD per level) of the listing's book at ``mark``: the first level's
    prices as ``synth_book``'s loop rounds them. Cached like ``_skeleton`` (they move with the
    mark, once a minute)."""
    cache_key = (listing.venue, listing.symbol, mark)
    got = _TOPS.get(cache_key)
    if got is None:
        tick, best_bid, best_ask, gap, level_usd = _skeleton(listing, mark)
        if len(_TOPS) >= _SKELETONS_MAX:
            _TOPS.clear()
        bid = _round_to(best_bid - 0 * gap, tick)
        got = _TOPS[cache_key] = (bid, _round_to(best_ask + 0 * gap, tick), level_usd)
    return got


def top_books(
    items: list[tuple[Listing, float, tuple[int, int, int]]],
) -> list[tuple[Levels, Levels]]:
    """``[synth_book(x, mark, 1, key) for x, mark, key in items]``: the same levels, the sizes
    of all rows computed as arrays (each step the same IEEE operation as ``level_size``'s).

    A tickers body prints the top of book of every listing of the venue (Bybit ~800 rows), and
    the per-row book was most of the body's cost."""
    if not items:
        return []
    tops = [_top_prices(x, mark) for x, mark, _ in items]
    jitter = np.array([top_jitter(key) for _, _, key in items])
    xs = [x for x, _, _ in items]
    lot = np.array([x.lot or 1.0 for x in xs])
    size = np.array([x.contract_size for x in xs])
    inverse = np.array([x.inverse for x in xs], dtype=bool)
    steps = [_decimal_step(x.lot or 1.0) for x in xs]
    usd = np.array([t[2] for t in tops])
    sides = []
    for side in (0, 1):
        price = np.array([t[side] for t in tops])
        notional = usd * jitter[:, side]
        with np.errstate(all="ignore"):
            qty = np.where(inverse, notional / size, notional / (price * size))
            units = qty / lot
        if not np.isfinite(units).all() or None in steps:  # the scalar path (and its errors)
            return [synth_book(x, mark, 1, key) for x, mark, key in items]
        k = np.rint(np.floor(units) * lot / lot)
        num = np.array([d[0] for d in steps if d is not None])
        den = np.array([d[1] for d in steps if d is not None])
        rounded = k * num / den
        sides.append(np.where(rounded > lot, rounded, lot).tolist())
    out: list[tuple[Levels, Levels]] = []
    for (bid, ask, _), bid_size, ask_size in zip(tops, sides[0], sides[1], strict=True):
        out.append(([(bid, bid_size)] if bid > 0 else [], [(ask, ask_size)]))
    return out
