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
    rng = np.random.default_rng([key[0], 5, key[1], key[2]])
    jitter = np.exp(rng.normal(-(SIZE_JITTER_SD**2) / 2, SIZE_JITTER_SD, (2, depth)))
    bids: Levels = []
    asks: Levels = []
    for j in range(depth):
        bp = _round_to(best_bid - j * gap, tick)
        ap = _round_to(best_ask + j * gap, tick)
        if bp > 0:
            bids.append((bp, level_size(listing, bp, level_usd * jitter[0, j])))
        asks.append((ap, level_size(listing, ap, level_usd * jitter[1, j])))
    return bids, asks
