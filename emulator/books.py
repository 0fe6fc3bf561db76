"""Synthetic order books around the mark price, shaped like the real books of the same tier.

Spread, depth and level spacing come from ``calibration`` (fitted on the real books in
``../shared/data/real-books``, Bybit majors to Gate small caps): the relative spread and the USD
depth within 25 bps of mid are lines in log10 of the asset's open-interest liquidity
(``Listing.liquidity``), so BTC gets a spread of a few hundredths of a bp and millions of USD
near mid while a small cap gets tens of bps and a few thousand USD. Levels are spaced by the
real books' median gap-to-spread ratio (never closer than a tick) and the depth within the
band is spread evenly over the levels inside it, each with a seeded log-normal jitter of mean
one, so books differ between symbols and seconds but not between runs.
"""

from __future__ import annotations

import math
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


def book_shape(listing: Listing) -> tuple[float, float, float]:
    """(relative spread, USD depth within 25 bps of mid per side, relative level gap) of the
    listing's liquidity tier (liquidity clipped to the range the real books cover)."""
    s0, s1, d0, d1, gap_ratio, lo, hi = _constants()
    x = math.log10(min(max(listing.liquidity, lo), hi))
    spread = 10.0 ** (s0 + s1 * x)
    return spread, 10.0 ** (d0 + d1 * x), spread * gap_ratio


def _round_to(x: float, step: float) -> float:
    return round(round(x / step) * step, 12)


def level_size(listing: Listing, price: float, notional_usd: float) -> float:
    """Venue quantity (contracts or base units, rounded to the lot, >= one lot)."""
    if listing.inverse:  # OKX coin-margined: a contract is ctVal USD
        qty = notional_usd / listing.contract_size
    else:
        qty = notional_usd / (price * listing.contract_size)
    lot = listing.lot or 1.0
    return max(lot, _round_to(math.floor(qty / lot) * lot, lot))


VECTOR_DEPTH = 4
"""From this many levels a side on, the levels are computed as numpy arrays (the same
numbers: see ``_levels``); below it the per-level loop is cheaper than the array set-up."""


def synth_book(
    listing: Listing, mark: float, depth: int, key: tuple[int, int, int]
) -> tuple[Levels, Levels]:
    """(bids best-first, asks best-first) with ``depth`` levels a side, prices on the tick."""
    tick = listing.tick or mark * 1e-4
    if listing.sig_figs and mark > 0:
        tick = max(tick, 10.0 ** (math.floor(math.log10(mark)) - listing.sig_figs + 1))
    spread_rel, depth_usd, gap_rel = book_shape(listing)
    half = max(tick / 2, mark * spread_rel / 2)
    gap = max(tick, _round_to(mark * gap_rel, tick))
    best_bid = math.floor((mark - half) / tick) * tick
    best_ask = max(best_bid + tick, math.ceil((mark + half) / tick) * tick)
    in_band = max(1, math.floor((cal.DEPTH_BAND_REL * mark - (mark - best_bid)) / gap) + 1)
    level_usd = depth_usd / in_band
    rng = np.random.default_rng(_entropy(key))
    jitter = np.exp(rng.normal(-(SIZE_JITTER_SD**2) / 2, SIZE_JITTER_SD, (2, depth)))
    if depth >= VECTOR_DEPTH:
        return _levels(listing, best_bid, best_ask, gap, tick, level_usd, jitter)
    bids: Levels = []
    asks: Levels = []
    for j in range(depth):
        bp = _round_to(best_bid - j * gap, tick)
        ap = _round_to(best_ask + j * gap, tick)
        if bp > 0:
            bids.append((bp, level_size(listing, bp, level_usd * jitter[0, j])))
        asks.append((ap, level_size(listing, ap, level_usd * jitter[1, j])))
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
    half to even), and the final ``round(x, 12)`` is Python's own, element by element. A deep
    book cost ~0.4 ms in the loop (a steady bench cycle asks for ~140 of them); a test
    compares both ways on every listing."""
    j = np.arange(jitter.shape[1], dtype=np.float64)
    bid_px = _rounded(best_bid - j * gap, tick)
    ask_px = _rounded(best_ask + j * gap, tick)
    keep = [k for k, p in enumerate(bid_px) if p > 0]
    if len(keep) < len(bid_px):
        bid_px = [bid_px[k] for k in keep]
        bid_jitter = jitter[0, keep]
    else:
        bid_jitter = jitter[0]
    bids = list(zip(bid_px, _sizes(listing, bid_px, level_usd * bid_jitter), strict=True))
    asks = list(zip(ask_px, _sizes(listing, ask_px, level_usd * jitter[1]), strict=True))
    return bids, asks


def _rounded(x: np.ndarray, step: float) -> list[float]:
    """``[_round_to(v, step) for v in x]``."""
    return [round(v, 12) for v in (np.rint(x / step) * step).tolist()]


def _sizes(listing: Listing, prices: list[float], notional_usd: np.ndarray) -> list[float]:
    """``[level_size(listing, p, n) for p, n in zip(prices, notional_usd)]``."""
    if not prices:
        return []
    if listing.inverse:
        qty = notional_usd / listing.contract_size
    else:
        qty = notional_usd / (np.array(prices) * listing.contract_size)
    lot = listing.lot or 1.0
    return [max(lot, v) for v in _rounded(np.floor(qty / lot) * lot, lot)]
