"""Synthetic order books around the mark price, shaped like the real recorded books.

Spread and level spacing come from ``calibration`` (measured on five real books). Level sizes
are set so that the USD depth within 25 bps of mid matches the real books' median
(``BOOK_DEPTH_25BPS_USD``), spread evenly over the synthetic levels inside that band; it is
scaled per asset by ``Listing.liquidity`` (deep books for BTC, thin for small caps). Each
level's size gets a seeded log-normal jitter so books differ between symbols and seconds but
not between runs.
"""

from __future__ import annotations

import math

import numpy as np

from emulator import calibration as cal
from emulator.interfaces import Levels
from emulator.universe import Listing

SIZE_JITTER_SD = 0.8  # log-normal sd of level notional; real level sizes vary by ~10x


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
    half = max(tick, mark * cal.BOOK_SPREAD_REL / 2)
    gap = max(tick, _round_to(mark * cal.BOOK_LEVEL_GAP_REL, tick))
    in_band = max(1, math.floor((cal.DEPTH_BAND_REL * mark - half) / gap) + 1)
    level_usd = cal.BOOK_DEPTH_25BPS_USD / in_band
    best_bid = math.floor((mark - half) / tick) * tick
    best_ask = max(best_bid + tick, math.ceil((mark + half) / tick) * tick)
    rng = np.random.default_rng([key[0], 5, key[1], key[2]])
    jitter = listing.liquidity * np.exp(rng.normal(0.0, SIZE_JITTER_SD, (2, depth)))
    bids: Levels = []
    asks: Levels = []
    for j in range(depth):
        bp = _round_to(best_bid - j * gap, tick)
        ap = _round_to(best_ask + j * gap, tick)
        if bp > 0:
            bids.append((bp, level_size(listing, bp, level_usd * jitter[0, j])))
        asks.append((ap, level_size(listing, ap, level_usd * jitter[1, j])))
    return bids, asks
