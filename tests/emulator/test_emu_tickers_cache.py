"""Tickers rows kept between requests, and the top of book they print.

The tickers handlers build a row's price and rate fields once per distinct set of values
(``wire.RowCache``) and set the book fields per request; books take their best level from one
generator per block of listings and second (``books.top_jitter``). These tests pin what that
must not change: a body from a warm cache is the body a fresh emulator prints at that moment,
a tickers row's top of book is the first level of the book at the same second, and every
price and size the model holds survives the trip through its own text.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emu_helpers import START_MS, get_json, running

from emulator import books
from emulator.clock import EmuClock
from emulator.model import MarketModel
from emulator.wire import fmt

BODIES = {
    "bybit": "/bybit/v5/market/tickers?category=linear",
    "gate": "/gate/api/v4/futures/usdt/tickers",
    "okx": "/okx/api/v5/market/tickers?instType=SWAP",
    "okx-funding": "/okx/api/v5/public/funding-rate?instId=ANY",
    "gate-contracts": "/gate/api/v4/futures/usdt/contracts",
    "binanceusdm-premium": "/binanceusdm/fapi/v1/premiumIndex",
}
# 5 s steps inside one minute (same prices and rates: cache hits, new book sizes), then across
# the minute and an hour mark (new prices, rates and next funding times: misses)
STEPS_MS = (0, 5_000, 5_000, 60_000, 3_600_000)


def _bodies_along(url_path: str, warm: bool) -> list[Any]:
    """The body at each step of ``STEPS_MS``; ``warm``: one emulator asked at every step (its
    rows kept from the earlier steps); else, for each step, a new emulator moved through the
    same steps and asked only at the last (nothing kept)."""
    if warm:
        with running(seed=4) as emu, httpx.Client(base_url=emu.url, timeout=30) as c:
            out = []
            for step in STEPS_MS:
                c.post(f"/_control/advance?ms={step}").raise_for_status()
                out.append(get_json(c, url_path))
        return out
    out = []
    for last in range(len(STEPS_MS)):
        with running(seed=4) as emu, httpx.Client(base_url=emu.url, timeout=30) as c:
            for step in STEPS_MS[: last + 1]:
                c.post(f"/_control/advance?ms={step}").raise_for_status()
            out.append(get_json(c, url_path))
    return out


@pytest.mark.parametrize("venue", sorted(BODIES))
def test_a_body_from_warm_rows_equals_a_fresh_emulators(venue: str) -> None:
    warm = _bodies_along(BODIES[venue], warm=True)
    fresh = _bodies_along(BODIES[venue], warm=False)
    assert warm == fresh
    # the steps did move what the rows print: prices across the minute, and within it the
    # book sizes (tickers) or the request time (OKX funding, Binance premium index)
    assert warm[2] != warm[3]
    assert (warm[0] != warm[1]) == (venue != "gate-contracts")


def test_a_bybit_tickers_row_shows_the_first_level_of_the_book_that_second() -> None:
    with running(seed=4) as emu, httpx.Client(base_url=emu.url, timeout=30) as c:
        rows = get_json(c, BODIES["bybit"])["result"]["list"]
        checked = 0
        for row in rows[:: max(1, len(rows) // 25)]:
            book = get_json(
                c, f"/bybit/v5/market/orderbook?category=linear&symbol={row['symbol']}&limit=50"
            )["result"]
            assert [row["bid1Price"], row["bid1Size"]] == book["b"][0], row["symbol"]
            assert [row["ask1Price"], row["ask1Size"]] == book["a"][0], row["symbol"]
            checked += 1
    assert checked >= 25


def _model() -> MarketModel:
    return MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=5, history_days=0)


def test_a_depth_one_book_is_the_first_level_of_every_deeper_book() -> None:
    model = _model()
    marks = model.mark_prices(START_MS)
    for i, x in enumerate(model.listings):
        key = (5, i, START_MS // 1000 + i % 3)
        top = books.synth_book(x, float(marks[i]), 1, key)
        for depth in (2, 5, 50):
            bids, asks = books.synth_book(x, float(marks[i]), depth, key)
            assert (top[0][:1], top[1][:1]) == (bids[:1], asks[:1]), (x.venue, x.symbol, depth)


def test_every_book_number_parses_back_from_its_text_to_the_same_float() -> None:
    """What a client reads off the wire is exactly what the model holds: each price is the
    double nearest its tick-decimal text, each size the double nearest its lot-decimal text."""
    model = _model()
    marks = model.mark_prices(START_MS)
    numbers = 0
    for i, x in enumerate(model.listings):
        bids, asks = books.synth_book(x, float(marks[i]), 50, (5, i, START_MS // 1000))
        for p, s in bids + asks:
            assert float(fmt(p, x.tick)) == p, (x.venue, x.symbol, p)
            assert float(fmt(s, x.lot)) == s, (x.venue, x.symbol, s)
            numbers += 2
    assert numbers > 100 * len(model.listings)


@pytest.mark.parametrize(
    ("step", "want"),
    [(0.01, (1.0, 100.0)), (0.05, (5.0, 100.0)), (0.5, (5.0, 10.0)), (10.0, (10.0, 1.0)),
     (1e-8, (1.0, 1e8)), (0.00025, (25.0, 1e5)), (1e-20, None)],
)  # fmt: skip
def test_a_step_is_read_as_its_exact_decimal(step: float, want: tuple[float, float] | None) -> None:
    assert books._decimal_step(step) == want
