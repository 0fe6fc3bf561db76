"""A venue's book side straight into the (n, 2) float64 array, where ccxt's parse would give
the same numbers.

Why: ccxt's ``parse_order_book`` turns each level into ``[float, float, count]`` through its
``safe_*`` helpers, then sorts both sides (bids descending, asks ascending); the adapter then
copied those lists into an array. Here a side that every venue sends already sorted is read
with one ``float()`` per number into the array. Same values by construction: ``float()`` is
what ccxt's ``safe_float`` calls on the same item, and a side already in order is what a
stable sort leaves as it is. Anything else - a level ``float()`` refuses, a side out of
order, a price that is not finite - gives None, and the caller hands the body to ccxt's own
parse.

The order and finiteness checks run on the Python floats (``map`` over ``operator``'s
comparisons, one ``sum``), not on numpy arrays: a side is ~50 levels, where numpy's per-call
overhead (``fromiter``, ``diff``, ``all``, ``isnan``) cost more than the work (~0.1 ms -> ~0.05
ms a book, ~100 books a steady scan).
"""

from __future__ import annotations

import operator
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scanner.domain import Levels


def sorted_side(
    levels: Any, price: int | str, amount: int | str, descending: bool
) -> Levels | None:
    """``levels[i][price]``, ``levels[i][amount]`` as floats, when the side is a list sorted
    the way ccxt sorts it (prices non-increasing for bids, non-decreasing for asks) and every
    price is finite; else None."""
    if type(levels) is not list:
        return None
    try:
        prices = list(map(float, map(operator.itemgetter(price), levels)))
        amounts = list(map(float, map(operator.itemgetter(amount), levels)))
    except (TypeError, ValueError, KeyError, IndexError, OverflowError):
        return None
    if not finite_in_order(prices, descending):
        return None
    out = np.empty((len(prices), 2), dtype=np.float64)
    out[:, 0] = prices
    out[:, 1] = amounts
    return out


def finite_in_order(prices: list[float], descending: bool) -> bool:
    """Every price finite, each no better than the one before it (ties allowed).

    ``sum`` is finite only when every term is (a NaN or an infinity carries through; a sum
    that overflows only sends the side to ccxt's parse); with finite prices the pairwise
    comparison is exactly the sign of the step that ``numpy.diff`` used to test."""
    total = sum(prices)
    if total - total != 0.0:  # NaN or +-inf
        return False
    step_ok = operator.ge if descending else operator.le
    return all(map(step_ok, prices, islice(prices, 1, None)))
