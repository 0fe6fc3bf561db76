"""Venue-style numbers: a book's levels print exactly as each number printed alone."""

from __future__ import annotations

import math

import pytest

from emulator.wire import fmt, fmt_levels, fmt_prices


@pytest.mark.parametrize(
    ("tick", "lot"), [(0.1, 1.0), (0.0001, 0.001), (5.0, 0.5), (0.0, 0.0), (1e-40, 1e-35)]
)
def test_levels_print_as_fmt_prints_each_number(tick: float, lot: float) -> None:
    levels = [(104_123.45, 0.0123), (0.5, 3.0), (1e-9, 12_345_678.9), (2.675, 0.125)]
    want = [[fmt(p, tick), fmt(s, lot)] for p, s in levels]
    assert fmt_levels(levels, tick, lot) == want


def test_a_level_that_is_not_finite_prints_as_fmt_prints_it() -> None:
    levels = [(1.5, math.inf), (math.nan, 2.0), (3.25, 4.0)]
    want = [[fmt(p, 0.01), fmt(s, 1.0)] for p, s in levels]
    assert fmt_levels(levels, 0.01, 1.0) == want
    assert want[0][1] == "0" and want[1][0] == "0"


@pytest.mark.parametrize(
    "prices",
    [
        [104_123.45, 104_123.55, 2.675],
        [0.0, 1.5],
        [-0.0, 1.5],
        [1.5, -0.0],
        [math.nan, 0.0],
        [2.0, math.nan, -0.0],
        [1.5, math.inf],
        [],
    ],
)
def test_a_kept_price_ladder_prints_as_fmt_prints_each_price(prices: list[float]) -> None:
    """``fmt_prices`` keeps ladders by their values: asked twice, and after a ladder whose
    values compare equal but print differently (``0.0`` / ``-0.0``), it prints each price as
    ``fmt`` does."""
    twin = [0.0 if p == 0 else p for p in prices]
    for values in (twin, prices, prices):
        assert fmt_prices(values, 0.01) == [fmt(p, 0.01) for p in values]
