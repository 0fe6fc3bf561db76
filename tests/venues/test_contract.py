"""ONE contract suite every venue adapter must pass, run against the venue emulator.

Parametrised over Bybit (our httpx client) and the five ccxt venues (unmodified ccxt pointed
at the emulator). The emulator runs stepped (its clock stands still unless advanced), so the
truth each adapter is compared with is exactly what the emulator's market model says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator import Emulator, FaultSpec
from scanner.settings import Settings
from scanner.venues.base import (
    MalformedResponse,
    RateLimited,
    TemporaryVenueError,
    Venue,
    VenueError,
    VenueTimeout,
    VenueUnavailable,
)
from scanner.venues.bybit import BybitVenue
from scanner.venues.registry import build_venue

ADAPTERS = ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid")
HOUR_MS = 3_600_000


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=1, stepped=True) as emulator:
        yield emulator


def settings_for(emu: Emulator, venue: str, timeout_s: float = 5.0) -> Settings:
    settings = Settings().with_base_url(emu.url)
    vs = settings.venues.get(venue).model_copy(update={"timeout_s": timeout_s})
    return settings.model_copy(update={"venues": settings.venues.model_copy(update={venue: vs})})


@pytest.fixture
async def adapter(emu: Emulator, request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    venue = build_venue(request.param, settings_for(emu, request.param), retries=0)
    yield venue
    await venue.close()


def emu_name(venue: Venue) -> str:
    return venue.name


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
async def test_instruments_cover_the_emulated_perpetuals(adapter: Venue, emu: Emulator):
    instruments = await adapter.load_instruments()
    perps = {i.venue_symbol for i in instruments if i.is_perpetual}
    assert perps == set(emu.market.perpetual_symbols(adapter.name))
    assert all(i.venue == adapter.name and i.canonical for i in instruments)


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
async def test_quotes_for_the_full_universe_match_the_model(adapter: Venue, emu: Emulator):
    quotes = await adapter.fetch_quotes()
    market = emu.market
    assert len(quotes) == len(market.perpetual_symbols(adapter.name))
    for q in quotes:
        sym = q.venue_symbol
        assert q.rate_per_interval == pytest.approx(
            market.funding_rate(adapter.name, sym), abs=1e-8
        ), sym
        assert q.interval_h == market.interval_h(adapter.name, sym), sym
        assert q.next_funding_ms == market.next_funding_ms(adapter.name, sym), sym
        assert not q.is_settled and q.raw


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
async def test_books_are_sorted_and_match_the_model_top(adapter: Venue, emu: Emulator):
    instruments = [i for i in await adapter.load_instruments() if i.is_perpetual]
    inst = sorted(instruments, key=lambda i: i.venue_symbol)[0]
    book = await adapter.fetch_book(inst, 10)
    assert 0 < len(book.bids) <= 10 and 0 < len(book.asks) <= 10
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    bids, asks = emu.market.book(adapter.name, inst.venue_symbol, 10)
    assert book.bids[0][0] == pytest.approx(bids[0][0]) and book.asks[0][0] == pytest.approx(
        asks[0][0]
    )
    assert book.canonical == inst.canonical


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
async def test_history_matches_the_model_settlements(adapter: Venue, emu: Emulator):
    instruments = [i for i in await adapter.load_instruments() if i.is_perpetual]
    inst = sorted(instruments, key=lambda i: i.venue_symbol)[0]
    now = emu.clock.now_ms()
    since = now - 36 * HOUR_MS
    got = await adapter.fetch_history(inst, since, now)
    truth = [(t, r) for t, r in emu.market.history(adapter.name, inst.venue_symbol) if t >= since]
    assert [s.funding_time_ms for s in got] == [t for t, _ in truth]
    for s, (_, rate) in zip(got, truth, strict=True):
        assert s.rate_per_interval == pytest.approx(rate, abs=1e-8)
        assert s.canonical == inst.canonical


FAULTS = {
    "rate_limit": (FaultSpec(kind="rate_limit"), RateLimited),  # Bybit: retCode 10006
    "http_429": (FaultSpec(kind="rate_limit", http_status=429), RateLimited),
    "http_503": (FaultSpec(kind="server_error", http_status=503), VenueUnavailable),
    "timeout": (FaultSpec(kind="timeout", hang_s=0.6), VenueTimeout),
    "reset": (FaultSpec(kind="reset"), VenueUnavailable),
    "malformed": (FaultSpec(kind="malformed"), MalformedResponse),
    "truncated": (FaultSpec(kind="truncated"), MalformedResponse),
    "ban_403": (FaultSpec(kind="ban"), RateLimited),
}


@pytest.mark.parametrize(("spec", "expected"), FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("venue", ADAPTERS)
async def test_faults_map_onto_the_error_tree(
    emu: Emulator, venue: str, spec: FaultSpec, expected: type[VenueError]
):
    """Every endpoint faulted; the first call (instruments, then quotes) surfaces the error."""
    adapter = build_venue(venue, settings_for(emu, venue, timeout_s=0.3), retries=0)
    try:
        emu.faults.set(venue, "*", spec)
        with pytest.raises(expected) as info:
            await adapter.fetch_quotes()
        assert info.value.venue == venue
        if spec.kind == "ban":
            assert isinstance(info.value, RateLimited)
            assert info.value.ban and info.value.retry_after_s >= 600
        if spec.kind in ("rate_limit", "server_error", "timeout"):
            assert isinstance(info.value, TemporaryVenueError)
    finally:
        await adapter.close()


@pytest.mark.parametrize("venue", ADAPTERS)
async def test_a_transient_fault_is_retried_away(emu: Emulator, venue: str):
    adapter = build_venue(venue, settings_for(emu, venue), retries=2)
    try:
        await adapter.load_instruments()
        emu.faults.set(venue, "*", FaultSpec(kind="server_error", http_status=502, count=1))
        quotes = await adapter.fetch_quotes()
        assert len(quotes) == len(emu.market.perpetual_symbols(venue))
    finally:
        await adapter.close()


async def test_bybit_spot_tickers_for_carry(emu: Emulator):
    venue = build_venue("bybit", settings_for(emu, "bybit"), retries=0)
    assert isinstance(venue, BybitVenue)
    try:
        rows = await venue.fetch_spot_tickers()
    finally:
        await venue.close()
    assert rows and all(r["symbol"].endswith(("USDT", "USDC")) for r in rows)
    assert all(float(r["bid1Price"]) <= float(r["ask1Price"]) for r in rows)


@pytest.mark.parametrize("venue", ADAPTERS)
async def test_after_a_ban_nothing_is_sent_until_it_lifts(emu: Emulator, venue: str):
    adapter = build_venue(venue, settings_for(emu, venue), retries=3)
    try:
        emu.faults.set(venue, "*", FaultSpec(kind="ban", count=1))
        with pytest.raises(RateLimited) as first:
            await adapter.fetch_quotes()
        assert first.value.ban
        emu.faults.clear()  # the emulator would answer now; the adapter must not ask
        with pytest.raises(RateLimited, match="not sending") as second:
            await adapter.fetch_quotes()
        assert second.value.ban and second.value.retry_after_s > 590
    finally:
        await adapter.close()
