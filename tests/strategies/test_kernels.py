"""The public array kernels against their scalar references (strategies.costs) and a bisection.

Expected values come from independent code: ``costs.walk_book``/``slippage_frac`` (scalar
walks over one book) and a plain 200-step bisection written here, never from the kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.domain import OrderBook
from strategies import kernels
from strategies.books import BookTable, BookTableCache
from strategies.costs import as_levels, slippage_frac

SETTINGS = settings(max_examples=80, deadline=None)


@st.composite
def book(draw: st.DrawFn, mid: float = 100.0) -> OrderBook:
    """A non-crossed book of 1..8 levels a side around ``mid``, sizes in USD 10..1e5."""

    def side(sign: float) -> list[tuple[float, float]]:
        n = draw(st.integers(1, 8))
        gaps = draw(st.lists(st.floats(1e-5, 3e-3), min_size=n, max_size=n))
        usd = draw(st.lists(st.floats(10.0, 1e5), min_size=n, max_size=n))
        offsets = np.cumsum(gaps)
        return [(mid * (1 + sign * o), u / mid) for o, u in zip(offsets, usd, strict=True)]

    return OrderBook("bybit", "X", "X/USDT:USDT", side(-1.0), side(+1.0), 0)


def _round_trip(la: OrderBook, sb: OrderBook, notional: float) -> float:
    """The four scalar walks of a pair (entry and exit of both legs)."""
    total = 0.0
    for bk, side, levels in ((la, "buy", "asks"), (sb, "sell", "bids"),
                             (la, "sell", "bids"), (sb, "buy", "asks")):  # fmt: skip
        lv = np.array(getattr(bk, levels))
        assert bk.mid is not None
        total += slippage_frac(lv, bk.mid, notional, side)  # type: ignore[arg-type]
    return total


def _bisect(la: OrderBook, sb: OrderBook, hi: float, limit: float) -> float:
    if _round_trip(la, sb, hi) <= limit:
        return hi
    if _round_trip(la, sb, 0.0) > limit:
        return 0.0
    lo, up = 0.0, hi
    for _ in range(200):
        mid = (lo + up) / 2.0
        lo, up = (mid, up) if _round_trip(la, sb, mid) <= limit else (lo, mid)
    return lo


@SETTINGS
@given(la=book(), sb=book(mid=100.5), limit_bps=st.floats(0.5, 200.0))
def test_max_notional_matches_a_bisection_of_the_scalar_walks(la, sb, limit_bps) -> None:
    table = BookTable.build([la, sb], band_frac=0.001)
    depth = min(float(np.nansum(t.depth[[i]])) for t, i in
                ((table.asks, 0), (table.bids, 0), (table.bids, 1), (table.asks, 1)))  # fmt: skip
    got = table.max_pair_notional(np.array([0]), np.array([1]), np.array([depth]),
                                  limit_bps * 1e-4)[0]  # fmt: skip
    want = _bisect(la, sb, depth, limit_bps * 1e-4)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
    if got > 0:  # 0 means even the touch costs more than the limit
        assert _round_trip(la, sb, got) <= limit_bps * 1e-4 + 1e-12


def test_max_notional_solves_a_hand_computed_two_level_case() -> None:
    # one walk only: asks 100 x 10 (1000 USD) then 110 x 100, mid 99. Limit 5 %: vwap 103.95.
    # Inside level 2, N / (10 + (N - 1000)/110) = 103.95 -> N (1 - 103.95/110) = 103.95*(10 -
    # 1000/110) -> N = 103.95 * 0.9090909... / 0.055 = 1718.1818...
    side = kernels.pad_side(np.zeros(2, np.int64), np.array([100.0, 110.0]),
                            np.array([10.0, 100.0]), 1, descending=False)  # fmt: skip
    walk = kernels.Walk(side, np.array([0]), np.array([99.0]), True)
    got = kernels.max_notional_within([walk], np.array([12_000.0]), 0.05)[0]
    want = 103.95 * (10 - 1000 / 110) / (1 - 103.95 / 110)
    assert got == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(1718.18181818, rel=1e-9)


def test_max_notional_edges_are_zero_hi_and_nan() -> None:
    side = kernels.pad_side(np.zeros(1, np.int64), np.array([101.0]), np.array([10.0]), 1, False)
    walk = kernels.Walk(side, np.array([0, 0, 0]), np.array([100.0, 100.0, 100.0]), True)
    # best ask 1 % above mid: a 0.5 % limit fits nothing, a 2 % limit fits the whole level
    got = kernels.max_notional_within([walk], np.array([1010.0, 1010.0, np.nan]), 0.005)
    assert got[0] == 0.0 and math.isnan(got[2])
    one = kernels.Walk(side, np.array([0]), np.array([100.0]), True)
    assert kernels.max_notional_within([one], np.array([1010.0]), 0.02)[0] == 1010.0


@SETTINGS
@given(st.lists(book(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_pad_side_sorts_and_cleans_like_the_scalar_path(books, rnd) -> None:
    book_id, prices, qtys, want = [], [], [], []
    for i, bk in enumerate(books):
        levels = list(bk.asks) + [(float("nan"), 1.0), (5.0, 0.0)]  # dropped by both paths
        rnd.shuffle(levels)
        book_id += [i] * len(levels)
        prices += [p for p, _ in levels]
        qtys += [q for _, q in levels]
        clean = as_levels(levels)
        want.append(clean[np.argsort(clean[:, 0], kind="stable")])
    side = kernels.pad_side(np.array(book_id), np.array(prices), np.array(qtys), len(books), False)
    for i, lv in enumerate(want):
        n = lv.shape[0]
        assert side.n_levels[i] == n
        np.testing.assert_array_equal(side.price[i, :n], lv[:, 0])
        np.testing.assert_allclose(side.cum_notional[i, :n], np.cumsum(lv[:, 0] * lv[:, 1]))
        assert np.isinf(side.cum_notional[i, n:]).all()


def test_rates_kernels_on_hand_numbers() -> None:
    # 0.0003 per 4 h vs 0.0002 per 8 h: 7.5e-5/h - 2.5e-5/h = 5e-5/h; 0.438 a year
    rph = kernels.rate_per_h(np.array([0.0002, 0.0003]), np.array([8.0, 4.0]))
    d = kernels.diff_per_h(rph[0], rph[1])
    assert d == pytest.approx(5e-5) and kernels.apr(d) == pytest.approx(0.438)
    # cost 0.0026 over 72 h: (0.0036 - 0.0026) / 72 * 8760 = 0.121666...; break-even 52 h
    assert kernels.net_apr(d, 0.0026, 72.0) == pytest.approx(0.12166666666666667)
    assert kernels.breakeven_h(0.0026, d) == pytest.approx(52.0)
    assert kernels.round_trip_fee_frac(0.0005, 0.0006) == pytest.approx(0.0022)
    # next settlements in 1 h (8 h leg) and 0.5 h (1 h leg), cycle ends at 1 h: 1 and 1 payment
    first = np.array([3_600_000.0, 1_800_000.0])
    n = kernels.settlements_until(first, np.array([3_600_000.0] * 2), np.array([8.0, 1.0]))
    assert n.tolist() == [1.0, 1.0]
    assert kernels.basis_frac(99.99, 100.01, 100.0, 100.0) == pytest.approx(-0.0002)


def test_book_table_cache_reuses_only_the_same_book_objects() -> None:
    a = OrderBook("bybit", "X", "X/USDT:USDT", [(99.0, 1.0)], [(101.0, 1.0)], 0)
    b = OrderBook("okx", "X", "X/USDT:USDT", [(99.0, 2.0)], [(101.0, 2.0)], 0)
    twin = OrderBook("okx", "X", "X/USDT:USDT", [(99.0, 3.0)], [(101.0, 3.0)], 0)
    cache = BookTableCache()
    first = cache.build([a, b], 0.001)
    assert cache.build([a, b], 0.001) is first
    other = cache.build([a, twin], 0.001)
    assert other is not first and other.asks.depth[1] == pytest.approx(303.0)
    assert cache.build([a, twin], 0.002) is not other  # another band is another table


@SETTINGS
@given(la=book(), sb=book(mid=100.5), limit_bps=st.floats(0.5, 200.0), cut=st.floats(0.05, 1.0))
def test_solved_pairs_are_remembered_per_table_hi_and_limit(la, sb, limit_bps, cut) -> None:
    """A replay asks the same table again: answers come from the memo, and only for the same
    pair, ``hi`` and limit; anything else is solved (checked against a fresh table)."""
    table = BookTable.build([la, sb], band_frac=0.001)
    rows_l, rows_s = np.array([0, 1]), np.array([1, 0])
    depth = np.array([min(table.asks.depth[0], table.bids.depth[1])] * 2)
    limit = limit_bps * 1e-4

    def fresh(hi: np.ndarray, lim: float) -> np.ndarray:
        return BookTable.build([la, sb], 0.001).max_pair_notional(rows_l, rows_s, hi, lim)

    first = table.max_pair_notional(rows_l, rows_s, depth, limit)
    assert np.array_equal(table.max_pair_notional(rows_l, rows_s, depth, limit), first)
    lower = depth * cut  # same pairs, another hi: solved again, not the remembered answer
    assert np.array_equal(table.max_pair_notional(rows_l, rows_s, lower, limit),
                          fresh(lower, limit))  # fmt: skip
    assert np.array_equal(table.max_pair_notional(rows_l, rows_s, depth, limit / 2),
                          fresh(depth, limit / 2))  # fmt: skip
    assert np.array_equal(table.max_pair_notional(rows_l[:1], rows_s[:1], depth[:1], limit),
                          first[:1])  # fmt: skip
