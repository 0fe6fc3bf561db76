"""Instruments are loaded once per session and refreshed on a schedule, not on every scan."""

from __future__ import annotations

from scanner.clock import FakeClock
from scanner.collector import InstrumentCache, VenueStatus, collect
from scanner.domain import FundingQuote, Instrument, Kind
from scanner.venues.base import VenueUnavailable

START_MS = 1_750_000_000_000


class CountingVenue:
    """A venue that counts its instrument loads; ``fail_loads`` makes loading fail."""

    name = "memo"

    def __init__(self) -> None:
        self.loads = 0
        self.quote_calls = 0
        self.fail_loads = False

    async def load_instruments(self) -> list[Instrument]:
        self.loads += 1
        if self.fail_loads:
            raise VenueUnavailable(self.name, "instruments endpoint down")
        return [Instrument(self.name, "BTCUSDT", "BTC", "USDT", "USDT", Kind.PERPETUAL)]

    async def fetch_quotes(self) -> list[FundingQuote]:
        self.quote_calls += 1
        return [FundingQuote(self.name, "BTCUSDT", "BTC/USDT:USDT", 1e-4, 8.0, START_MS)]

    async def fetch_history(self, instrument, since_ms, until_ms):  # type: ignore[no-untyped-def]
        return []

    async def fetch_book(self, instrument, depth):  # type: ignore[no-untyped-def]
        raise AssertionError("no books asked for")

    async def close(self) -> None:
        return None


async def _collect(venue: CountingVenue, cache: InstrumentCache, clock: FakeClock):  # type: ignore[no-untyped-def]
    return await collect(
        [venue], deadline_s=5, book_depth=0, book_symbols=[], clock=clock, instruments=cache
    )


async def test_instruments_are_loaded_once_then_refreshed_when_due() -> None:
    clock = FakeClock(START_MS)
    venue, cache = CountingVenue(), InstrumentCache(refresh_s=3600)
    first = await _collect(venue, cache, clock)
    clock.advance(1800)  # half an hour: not due
    second = await _collect(venue, cache, clock)
    assert venue.loads == 1 and venue.quote_calls == 2
    assert [i.venue_symbol for i in second.results["memo"].instruments] == ["BTCUSDT"]
    assert first.results["memo"].status is second.results["memo"].status is VenueStatus.OK
    clock.advance(1800)  # an hour since the load: due
    await _collect(venue, cache, clock)
    assert venue.loads == 2


async def test_a_failed_refresh_keeps_the_previous_list() -> None:
    clock = FakeClock(START_MS)
    venue, cache = CountingVenue(), InstrumentCache(refresh_s=60)
    await _collect(venue, cache, clock)
    venue.fail_loads = True
    clock.advance(61)
    got = await _collect(venue, cache, clock)
    result = got.results["memo"]
    assert venue.loads == 2  # the refresh was tried
    assert result.status is VenueStatus.OK and len(result.quotes) == 1
    assert [i.venue_symbol for i in result.instruments] == ["BTCUSDT"]
    clock.advance(1)
    await _collect(venue, cache, clock)
    assert venue.loads == 3  # still due: retried on the next collection


async def test_without_a_list_a_failed_load_fails_the_venue() -> None:
    venue, cache = CountingVenue(), InstrumentCache(refresh_s=60)
    venue.fail_loads = True
    got = await _collect(venue, cache, FakeClock(START_MS))
    assert got.results["memo"].status is VenueStatus.FAILED
    assert "instruments endpoint down" in (got.results["memo"].reason or "")


async def test_refresh_zero_reloads_on_every_collection() -> None:
    clock = FakeClock(START_MS)
    venue, cache = CountingVenue(), InstrumentCache(refresh_s=0)
    for _ in range(3):
        await _collect(venue, cache, clock)
    assert venue.loads == 3
