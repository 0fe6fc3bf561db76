"""Synthetic books: the array path gives exactly the numbers of the per-level loop."""

from __future__ import annotations

import numpy as np
import pytest
from emu_helpers import START_MS

from emulator import books
from emulator.clock import EmuClock
from emulator.model import MarketModel


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
