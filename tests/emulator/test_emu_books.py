"""Synthetic books: the array path gives exactly the numbers of the per-level loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from emu_helpers import START_MS

from emulator import books
from emulator.clock import EmuClock
from emulator.model import MarketModel, UnknownSymbol


def _loop_book(
    monkeypatch: pytest.MonkeyPatch, *args: object
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    with monkeypatch.context() as m:
        m.setattr(books, "VECTOR_DEPTH", 10**9)  # every depth through the per-level loop
        return books.synth_book(*args)  # type: ignore[arg-type]


DEPTHS = (4, 5, 50, 400)


def test_array_levels_equal_the_loop_on_every_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every listing of every venue (inverse OKX contracts, Hyperliquid's significant figures,
    Gate quanto sizes) at one of ``DEPTHS`` in turn, mark as the model hands it (numpy) and
    as a handler passes it (float), at two seconds and a price a few ticks above zero (bids
    cut at zero)."""
    model = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=5, history_days=0)
    marks = model.mark_prices(START_MS)
    compared = cut = 0
    for i, x in enumerate(model.listings):
        depth = DEPTHS[i % len(DEPTHS)]
        for mark in (marks[i], float(marks[i]), float(x.tick) * 3):
            for second in (START_MS // 1000, START_MS // 1000 + 7):
                key = (5, i, second)
                got = books.synth_book(x, mark, depth, key)
                want = _loop_book(monkeypatch, x, mark, depth, key)
                assert got == want, (x.venue, x.symbol, mark, second)
                levels = [v for side in got for level in side for v in level]
                assert {type(v) for v in levels} == {float}
                compared += 1
                cut += len(got[0]) < depth
    assert compared == len(model.listings) * 6
    assert cut > 0  # the far-below-tick marks did reach the bid cut


def test_a_book_keeps_its_shape() -> None:
    """Best first on both sides, a positive spread, sizes of at least one lot."""
    model = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=5, history_days=0)
    x = model.listing("okx", "BTC-USDT-SWAP")
    bids, asks = model.book("okx", "BTC-USDT-SWAP", 50)
    assert len(bids) == len(asks) == 50
    assert np.all(np.diff([p for p, _ in bids]) < 0) and np.all(np.diff([p for p, _ in asks]) > 0)
    assert bids[0][0] < asks[0][0]
    assert min(s for _, s in bids + asks) >= x.lot


@pytest.mark.parametrize(
    "key",
    [(0, 0, 0), (1, 3000, 1_795_000_000), (2**32 - 1, 7, 2**32 - 1), (3, 5, 2**32), (2**40, 1, 2)],
)
def test_a_books_generator_is_seeded_as_from_the_list_of_its_key(key: tuple[int, int, int]) -> None:
    """``_entropy`` hands numpy a uint32 array where every part fits one word (faster); the
    generator must draw exactly what ``default_rng([seed, 5, listing, second])`` draws."""
    want = np.random.default_rng([key[0], 5, key[1], key[2]]).normal(0.0, 1.0, 64)
    got = np.random.default_rng(books._entropy(key)).normal(0.0, 1.0, 64)
    assert np.array_equal(got, want)


def _mark(how: str, mark: Any, tick: float) -> float:
    return {"numpy": mark, "float": float(mark), "ticks": tick * 3}[how]  # type: ignore[no-any-return]


def test_tops_as_arrays_equal_the_depth_one_books_on_every_listing() -> None:
    """``top_books`` (all rows' sizes as arrays) gives ``synth_book(..., 1, ...)`` of every
    listing: marks as the model hands them and as floats, at two seconds, and a price a few
    ticks above zero."""
    model = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=5, history_days=0)
    marks = model.mark_prices(START_MS)
    for second in (START_MS // 1000, START_MS // 1000 + 7):
        for how in ("numpy", "float", "ticks"):
            items = [
                (x, _mark(how, marks[i], x.tick), (5, i, second))
                for i, x in enumerate(model.listings)
            ]
            got = books.top_books(items)
            want = [books.synth_book(x, mark, 1, key) for x, mark, key in items]
            assert got == want
            levels = [v for book in got for side in book for level in side for v in level]
            assert {type(v) for v in levels} == {float}
    assert books.top_books([]) == []


def test_the_models_top_book_is_its_depth_one_book_at_that_time() -> None:
    """``MarketModel.top_book`` (every listing of the venue at once, kept for the second) is
    ``book(venue, symbol, 1)`` at the same time, across seconds and a minute's price step."""
    model = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=5, history_days=0)
    compared = 0
    for step in (0, 400, 1_000, 61_000):
        model.clock.step(step)
        now = model.clock.now_ms()
        for venue in model.universe:
            for x in model.venue_listings(venue):
                assert model.top_book(venue, x.symbol, now) == model.book(venue, x.symbol, 1)
                compared += 1
    assert compared == 4 * len(model.listings)
    with pytest.raises(UnknownSymbol):
        model.top_book("okx", "NOPE-USDT-SWAP", model.clock.now_ms())
