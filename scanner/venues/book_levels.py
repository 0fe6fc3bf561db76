"""A venue's book side straight into the (n, 2) float64 array, where ccxt's parse would give
the same numbers.

Why: ccxt's ``parse_order_book`` turns each level into ``[float, float, count]`` through its
``safe_*`` helpers, then sorts both sides (bids descending, asks ascending); the adapter then
copied those lists into an array. Here a side that every venue sends already sorted is read
with one ``float()`` per number into the array. Same values by construction: ``float()`` is
what ccxt's ``safe_float`` calls on the same item, and a side already in order is what a
stable sort leaves as it is. Anything else - a level ``float()`` refuses, a side out of
order, NaN - gives None, and the caller hands the body to ccxt's own parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scanner.domain import Levels


def sorted_side(
    levels: Any, price: int | str, amount: int | str, descending: bool
) -> Levels | None:
    """``levels[i][price]``, ``levels[i][amount]`` as floats, when the side is a list sorted
    the way ccxt sorts it (prices non-increasing for bids, non-decreasing for asks); else
    None."""
    if type(levels) is not list:
        return None
    n = len(levels)
    try:
        prices = np.fromiter(map(float, [level[price] for level in levels]), np.float64, n)
        amounts = np.fromiter(map(float, [level[amount] for level in levels]), np.float64, n)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        return None
    steps = np.diff(prices)
    in_order = (steps <= 0).all() if descending else (steps >= 0).all()
    if not in_order or np.isnan(prices[:1]).any():
        return None
    out = np.empty((n, 2), dtype=np.float64)
    out[:, 0] = prices
    out[:, 1] = amounts
    return out
