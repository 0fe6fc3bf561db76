"""A one-shot (or instrument refresh) sends a venue's instrument request and its quote requests
in one round, and gets the quotes and failures the two rounds got.

Against the emulator (real wire formats, unmodified ccxt). "One round" is checked on the
emulator's request log: every request of the venue's collection arrives before any of them
is answered (each answer waits the emulator's fixed latency). The reference "two rounds" is
the same adapter with its funding calls through ccxt's ``fetch_funding_rates``, which waits
for the markets before it sends anything (``RawFundingSpec`` removed from the quirks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from emulator import Emulator, FaultSpec
from scanner.clock import FakeClock
from scanner.collector import Collection, InstrumentCache, VenueStatus, collect, reason
from scanner.settings import Settings
from scanner.venues.base import JointQuotes, Venue, VenueError
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venue, build_venues, close_all
from scanner.venues.specs import spec_of

CCXT_ONE_ROUND = ["binanceusdm", "okx", "bitget", "gate"]
ONE_ROUND = ["bybit", *CCXT_ONE_ROUND]
INSTRUMENT_PATHS = {
    "bybit": "/v5/market/instruments-info",
    "binanceusdm": "/fapi/v1/exchangeInfo",
    "okx": "/api/v5/public/instruments",
}
"""Venues whose instrument endpoint is not also a quote endpoint (Gate's contracts list is
both: a fault on it cannot tell the two apart) and is asked once (Bitget's markets are three
requests, one per product type)."""


CLOCK = FakeClock()
"""Both paths stamp a quote whose row has no time with the adapter's clock: one frozen clock."""


class _Arrivals(list[dict[str, Any]]):
    """The emulator's request log from now on, also noting for each request how many
    requests logged before it (from now on) had been answered when it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.answered_before: list[int] = []

    def append(self, entry: dict[str, Any]) -> None:
        self.answered_before.append(sum(e["status"] is not None for e in self))
        super().append(entry)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    # each answer waits 200 ms after its request is logged: requests sent together all
    # arrive before the first answer, a request sent after an answer arrives after it
    async with Emulator(seed=3, stepped=True, latency_ms=200) as emulator:
        yield emulator


def settings(emu: Emulator) -> Settings:
    return Settings(env={}).with_base_url(emu.url)


def two_rounds(emu: Emulator, venue: str) -> CcxtVenue:
    """The adapter with ccxt's fetch methods for funding: they wait for the markets."""
    quirks = spec_of(venue).quirks
    assert quirks is not None and quirks.quotes_without_markets
    waits = replace(quirks, raw_funding=(), raw_intervals=None)
    assert not waits.quotes_without_markets
    exchange = make_exchange(venue, emu.venue_url(venue))
    return CcxtVenue(venue, exchange, quirks=waits, retries=0, clock=CLOCK)


def one_round(emu: Emulator, venue: str) -> CcxtVenue:
    exchange = make_exchange(venue, emu.venue_url(venue))
    adapter = CcxtVenue(venue, exchange, retries=0, clock=CLOCK)
    assert adapter.quirks.quotes_without_markets
    return adapter


async def collect_one(venue: Venue, cache: InstrumentCache) -> Collection:
    return await collect({venue.name: venue}, deadline_s=60, book_depth=0, instruments=cache)


def test_binance_okx_bitget_and_gate_send_their_quotes_without_the_markets() -> None:
    joint = [
        v
        for v in ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid")
        if (q := spec_of(v).quirks) is not None and q.quotes_without_markets
    ]
    assert joint == CCXT_ONE_ROUND


@pytest.mark.parametrize("venue", ONE_ROUND)
async def test_a_one_shot_sends_instruments_and_quotes_in_one_round(
    emu: Emulator, venue: str
) -> None:
    emu.request_log = log = _Arrivals()
    venues = build_venues(settings(emu), [venue])
    try:
        got = await collect(venues, deadline_s=60, book_depth=0, instruments=InstrumentCache(60))
    finally:
        await close_all(venues)
    assert got.results[venue].status is VenueStatus.OK and len(got.results[venue].quotes) >= 20
    paths = [r["path"] for r in log]
    # the instrument request and quote calls (Gate's contracts list is both, asked twice)
    assert len(set(paths)) >= 2, paths
    assert log.answered_before == [0] * len(log), list(zip(paths, log.answered_before, strict=True))


@pytest.mark.parametrize("venue", CCXT_ONE_ROUND)
async def test_the_reference_two_rounds_do_show_as_two(emu: Emulator, venue: str) -> None:
    """The check above can fail: the markets-first path answers before quotes are sent."""
    emu.request_log = log = _Arrivals()
    adapter = two_rounds(emu, venue)
    try:
        await collect_one(adapter, InstrumentCache(60))
    finally:
        await adapter.close()
    assert max(log.answered_before) >= 1


@pytest.mark.parametrize("venue", CCXT_ONE_ROUND)
async def test_one_round_gives_the_quotes_and_instruments_of_two(emu: Emulator, venue: str) -> None:
    """The emulator's clock is stepped, the adapters' frozen: both see the same market."""
    ours, reference = one_round(emu, venue), two_rounds(emu, venue)
    try:
        got = (await collect_one(ours, InstrumentCache(60))).results[venue]
        want = (await collect_one(reference, InstrumentCache(60))).results[venue]
    finally:
        await close_all({"a": ours, "b": reference})
    assert got.status is want.status is VenueStatus.OK
    assert got.instruments == want.instruments and len(got.instruments) >= 20
    assert len(got.quotes) == len(emu.market.perpetual_symbols(venue))
    assert _by_symbol(got.quotes) == _by_symbol(want.quotes)
    assert sum(q.has_top_of_book for q in got.quotes) >= 0.95 * len(got.quotes)


def _by_symbol(quotes: Iterable[Any]) -> Mapping[str, Any]:
    return {q.venue_symbol: q for q in quotes}


async def test_bybit_one_round_gives_the_quotes_and_instruments_of_two(emu: Emulator) -> None:
    """Bybit's direct adapter: instruments-info and tickers together give what loading the
    instruments and then fetching the quotes gives (frozen clock, stepped emulator)."""
    ours = build_venue("bybit", settings(emu), retries=0, clock=CLOCK)
    reference = build_venue("bybit", settings(emu), retries=0, clock=CLOCK)
    assert isinstance(ours, JointQuotes)
    try:
        got = await ours.load_instruments_and_quotes()
        want = (await reference.load_instruments(), await reference.fetch_quotes())
    finally:
        await close_all({"a": ours, "b": reference})
    assert isinstance(got.instruments, list) and isinstance(got.quotes, list)
    assert got.instruments == want[0] and len(got.instruments) >= 20
    assert len(got.quotes) == len(emu.market.perpetual_symbols("bybit"))
    assert _by_symbol(got.quotes) == _by_symbol(want[1])


@pytest.mark.parametrize("venue", sorted(INSTRUMENT_PATHS))
async def test_a_failing_instrument_request_fails_the_one_shot_as_before(
    emu: Emulator, venue: str
) -> None:
    """No list to map the quotes onto: the venue fails with the instruments' own error, the
    reason the collection gave when it loaded them first (the error of ``load_instruments``
    under the same fault)."""
    fault = FaultSpec("server_error", count=1)
    adapter = build_venue(venue, settings(emu), retries=0)
    fresh = build_venue(venue, settings(emu), retries=0)
    cache = InstrumentCache(60)
    try:
        emu.faults.set(venue, INSTRUMENT_PATHS[venue], fault)
        result = (await collect_one(adapter, cache)).results[venue]
        emu.faults.set(venue, INSTRUMENT_PATHS[venue], fault)
        with pytest.raises(VenueError) as loading:
            await fresh.load_instruments()
    finally:
        await close_all({"a": adapter, "b": fresh})
    assert result.status is VenueStatus.FAILED and not result.quotes
    assert cache.get(venue) is None
    assert result.reason == reason(loading.value) and "503" in result.reason


@pytest.mark.parametrize("venue", sorted(INSTRUMENT_PATHS))
async def test_a_failing_refresh_keeps_the_list_and_still_takes_one_round(
    emu: Emulator, venue: str
) -> None:
    """Refresh due every collection (``refresh_s`` 0); the second reload fails: the previous
    list is kept, the quotes (sent in the same round) map onto it, the venue is ok."""
    adapter = build_venue(venue, settings(emu), retries=0)
    cache = InstrumentCache(0)
    try:
        first = (await collect_one(adapter, cache)).results[venue]
        emu.faults.set(venue, INSTRUMENT_PATHS[venue], FaultSpec("server_error", count=1))
        emu.request_log = log = _Arrivals()
        second = (await collect_one(adapter, cache)).results[venue]
    finally:
        await adapter.close()
    assert second.status is VenueStatus.OK
    assert second.instruments == first.instruments == cache.get(venue)
    assert _by_symbol(second.quotes).keys() == _by_symbol(first.quotes).keys()
    assert {r["path"] for r in log} > {INSTRUMENT_PATHS[venue]}
    assert [r["fault"] for r in log if r["path"] == INSTRUMENT_PATHS[venue]] == ["server_error"]
    assert log.answered_before == [0] * len(log)


async def test_quotes_failing_after_the_instruments_loaded_keep_the_new_list(
    emu: Emulator,
) -> None:
    """The funding call fails, the instrument request in the same round succeeds: the venue
    fails with the funding error, and its instruments are cached (not asked again next
    scan), as when they were loaded first."""
    adapter = one_round(emu, "okx")
    cache = InstrumentCache(60)
    emu.faults.set("okx", "/api/v5/public/funding-rate", FaultSpec("server_error", count=1))
    try:
        result = (await collect_one(adapter, cache)).results["okx"]
        mark = len(emu.request_log)
        again = (await collect_one(adapter, cache)).results["okx"]
    finally:
        await adapter.close()
    assert result.status is VenueStatus.FAILED
    assert result.reason is not None and "fetch_funding_rates" in result.reason
    kept = cache.get("okx")
    assert kept is not None and len(kept) >= 20 and result.instruments == kept
    assert again.status is VenueStatus.OK and again.instruments == kept
    assert INSTRUMENT_PATHS["okx"] not in {r["path"] for r in emu.request_log[mark:]}
