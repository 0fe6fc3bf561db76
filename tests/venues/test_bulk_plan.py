"""Collection at the floor: each venue's steady-state scan is one round of bulk calls.

Against the emulator (real wire formats, unmodified ccxt): after the session's first
collection the instrument lists come from the cache, and each venue sends only its bulk
endpoints, never a per-symbol call; every listing carries the top of its book from the bulk
tickers (Hyperliquid has no bulk top of book); ccxt's throttle spends the venue's real budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator import Emulator
from scanner.collector import InstrumentCache, collect
from scanner.settings import Settings
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venues, close_all

STEADY_PATHS = {
    # every request of a steady-state collection (no books asked for), by venue
    "bybit": {"/v5/market/tickers"},
    "binanceusdm": {
        "/fapi/v1/premiumIndex",
        "/fapi/v1/fundingInfo",
        "/fapi/v1/ticker/24hr",
        "/fapi/v1/ticker/bookTicker",
    },
    "okx": {"/api/v5/public/funding-rate", "/api/v5/market/tickers"},
    "bitget": {"/api/v2/mix/market/current-fund-rate", "/api/v2/mix/market/tickers"},
    "gate": {"/api/v4/futures/usdt/contracts", "/api/v4/futures/usdt/tickers"},
    "hyperliquid": {"/info"},
}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=1, stepped=True) as emulator:
        yield emulator


async def test_a_steady_collection_sends_only_bulk_calls_and_prices_every_listing(
    emu: Emulator,
) -> None:
    settings = Settings().with_base_url(emu.url)
    venues = build_venues(settings, list(STEADY_PATHS))
    cache = InstrumentCache(refresh_s=3600)
    try:
        first = await collect(venues, deadline_s=60, book_depth=0, instruments=cache)
        mark = len(emu.request_log)
        second = await collect(venues, deadline_s=60, book_depth=0, instruments=cache)
    finally:
        await close_all(venues)
    sent: dict[str, list[str]] = {}
    for r in emu.request_log[mark:]:
        sent.setdefault(r["venue"], []).append(r["path"])
    for venue, paths in STEADY_PATHS.items():
        assert set(sent[venue]) == paths, venue
        # one call per endpoint (Bitget: one per product type), however many listings
        assert len(sent[venue]) <= 3 * len(paths), (venue, sent[venue])
        result = second.results[venue]
        assert len(result.quotes) >= 20 and result.instruments == first.results[venue].instruments
    for venue in ("bybit", "binanceusdm", "okx", "bitget", "gate"):
        quotes = second.results[venue].quotes
        priced = [q for q in quotes if q.has_top_of_book]
        assert len(priced) >= 0.95 * len(quotes), venue
        assert all(q.bid_price is not None and q.ask_price is not None and
                   q.bid_price <= q.ask_price for q in priced)  # fmt: skip
    assert not any(q.has_top_of_book for q in second.results["hyperliquid"].quotes)


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm", "okx", "bitget", "gate"])
async def test_the_top_of_book_is_the_books_best_level(emu: Emulator, venue: str) -> None:
    """The bulk ticker's best bid/ask are the first level of the venue's own book
    (the emulator's clock is stepped: nothing moves between the two calls)."""
    settings = Settings().with_base_url(emu.url)
    adapter = build_venues(settings, [venue])[venue]
    try:
        instruments = {i.venue_symbol: i for i in await adapter.load_instruments()}
        quotes = [q for q in await adapter.fetch_quotes() if q.has_top_of_book]
        quote = sorted(quotes, key=lambda q: q.venue_symbol)[len(quotes) // 2]
        book = await adapter.fetch_book(instruments[quote.venue_symbol], 5)
    finally:
        await adapter.close()
    assert quote.bid_price == pytest.approx(book.bids[0][0], rel=1e-12)
    assert quote.ask_price == pytest.approx(book.asks[0][0], rel=1e-12)
    # sizes: the emulator draws a book's level sizes for the depth asked (1 for a ticker), so
    # only their presence is compared here; the wire fields are checked by the golden tests
    assert (quote.bid_qty or 0) > 0 and (quote.ask_qty or 0) > 0


@pytest.mark.parametrize(
    ("venue", "budget"),
    [
        ("binanceusdm", 2400),
        ("okx", 2000 / 110),
        ("bitget", 20),
        ("gate", 200),
        ("hyperliquid", 600),
    ],
)
def test_ccxt_spends_the_venues_real_budget_in_a_rolling_window(venue: str, budget: float) -> None:
    """Not ccxt's one-request leaky bucket: Binance's 24 h tickers of every symbol cost 40
    weight, which used to hold the next request back 2 s although 2,400 weight per minute
    allow both at once; a rolling window spends the budget as the venue counts it."""
    exchange = make_exchange(venue)
    config = exchange.throttler.config
    assert config["algorithm"] == "rollingWindow"
    assert config["maxWeight"] == pytest.approx(budget)
    if venue == "binanceusdm":
        # one steady scan: 24hr (40) + bookTicker (5) + premiumIndex (10) + fundingInfo (1)
        # + 60 books of 50 levels (2 each) fit in the minute's window many times over
        assert config["maxWeight"] / 10 >= 40 + 5 + 10 + 1 + 60 * 2


@pytest.mark.parametrize("venue", ["gate", "bitget"])
async def test_a_one_shot_load_asks_for_no_currency_list(emu: Emulator, venue: str) -> None:
    """ccxt's load_markets would first ask for every currency (Gate spot/currencies, Bitget
    spot/public/coins), a round trip the markets wait for; the adapters read nothing from it.
    Instruments and quotes are the same as with the currency list loaded."""
    settings = Settings().with_base_url(emu.url)
    ours = build_venues(settings, [venue])[venue]
    with_currencies = build_venues(settings, [venue])[venue]
    assert isinstance(with_currencies, CcxtVenue)
    with_currencies.exchange.has = {**with_currencies.exchange.has, "fetchCurrencies": True}
    try:
        mark = len(emu.request_log)
        got = (await ours.load_instruments(), await ours.fetch_quotes())
        paths = [r["path"] for r in emu.request_log[mark:]]
        mark = len(emu.request_log)
        want = (await with_currencies.load_instruments(), await with_currencies.fetch_quotes())
        reference = [r["path"] for r in emu.request_log[mark:]]
    finally:
        await close_all({"a": ours, "b": with_currencies})
    currency_paths = {"/api/v4/spot/currencies", "/api/v2/spot/public/coins"}
    assert currency_paths & set(reference)  # ccxt's default does ask for them
    assert not currency_paths & set(paths)
    assert got[0] == want[0] and len(got[0]) >= 20
    assert [
        (q.venue_symbol, q.canonical, q.rate_per_interval, q.volume_24h_usd) for q in got[1]
    ] == [(q.venue_symbol, q.canonical, q.rate_per_interval, q.volume_24h_usd) for q in want[1]]
