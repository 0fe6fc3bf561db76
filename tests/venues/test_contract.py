"""ONE contract suite every venue adapter must pass, run against the venue emulator.

Parametrised over every venue in the registry (``scanner.venues.specs``): Bybit (our httpx
client) and the ccxt venues (unmodified ccxt pointed at the emulator), so a venue added to the
registry cannot miss contract coverage. The emulator runs stepped (its clock stands still
unless advanced), so the truth each adapter is compared with is exactly what the emulator's
market model says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from emulator import Emulator, FaultSpec
from scanner.clock import FakeClock
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
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venue
from scanner.venues.specs import all_specs, ccxt_venue_ids, spec_of, venue_ids

ADAPTERS = venue_ids()
HOUR_MS = 3_600_000


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=1, stepped=True) as emulator:
        yield emulator


def settings_for(emu: Emulator, venue: str, timeout_s: float = 5.0) -> Settings:
    settings = Settings().with_base_url(emu.url)
    vs = settings.venues.get(venue).model_copy(update={"timeout_s": timeout_s})
    return settings.model_copy(update={"venues": settings.venues.with_venue(venue, vs)})


@pytest.fixture
async def adapter(emu: Emulator, request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    venue = build_venue(request.param, settings_for(emu, request.param), retries=0)
    yield venue
    await venue.close()


def emu_name(venue: Venue) -> str:
    return venue.name


@pytest.mark.parametrize("venue", ADAPTERS)
def test_the_emulator_serves_every_registered_venue(emu: Emulator, venue: str):
    """The emulator keeps its own venue table (it imports nothing of ours): every id in the
    registry must be in it, with a universe to serve."""
    served = emu.state()["venues"]
    assert served.get(venue, 0) > 0, f"the emulator does not serve {venue!r}: {sorted(served)}"
    assert emu.venue_url(venue) == f"{emu.url}/{venue}"


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
async def test_every_book_level_is_the_models_price_and_size_in_venue_units(
    adapter: Venue, emu: Emulator
):
    """Level by level, not only the top: a parse that swapped price and size, reversed a side,
    mixed contracts with base units or dropped a level would pass the top-of-book check above
    on some venue, not this one. Levels are the book's read-only (n, 2) float64 arrays."""
    instruments = [i for i in await adapter.load_instruments() if i.is_perpetual]
    for inst in sorted(instruments, key=lambda i: i.venue_symbol)[:3]:
        book = await adapter.fetch_book(inst, 10)
        # the emulator draws a book for the depth it serves: the depth asked, except
        # Hyperliquid's l2Book, which (as the real one) always holds 20 levels a side
        served = 20 if adapter.name == "hyperliquid" else 10
        bids, asks = emu.market.book(adapter.name, inst.venue_symbol, served)
        bids, asks = bids[:10], asks[:10]
        for got, want in ((book.bids, bids), (book.asks, asks)):
            assert isinstance(got, np.ndarray) and got.dtype == np.float64
            assert got.shape == (len(want), 2) and not got.flags.writeable
            np.testing.assert_allclose(got, np.asarray(want, dtype=float)[:, :2], rtol=1e-9)


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


@pytest.mark.parametrize("venue", ccxt_venue_ids())
async def test_every_ccxt_response_body_is_parsed_once(emu: Emulator, venue: str):
    """The response hook checks each body is JSON and hands that parse to ccxt, which would
    otherwise parse the body a second time."""
    adapter = build_venue(venue, settings_for(emu, venue), retries=0)
    assert isinstance(adapter, CcxtVenue)
    exchange = adapter.exchange
    parses: list[int] = []
    parse = exchange.on_json_response

    def counted(text: str) -> object:
        parses.append(len(text))
        return parse(text)

    exchange.on_json_response = counted
    before = len(emu.request_log)
    try:
        await adapter.load_instruments()
        await adapter.fetch_quotes()
    finally:
        await adapter.close()
    sent = [r for r in emu.request_log[before:] if r["venue"] == venue]
    assert sent and len(parses) == len(sent)


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


def _statuses(kind: str) -> list[tuple[str, int]]:
    """(venue, HTTP status) for every status a venue's spec gives this meaning."""
    return [
        (spec.id, meaning.status)
        for spec in all_specs()
        for meaning in spec.statuses.values()
        if meaning.kind == kind
    ]


BANS = _statuses("ip_ban")
NOT_BANS = _statuses("refused") + _statuses("rate_limit")


def test_the_documented_ban_statuses_are_in_the_specs():
    """Written from the venues' docs, not from the specs: Bybit bans with 403, Binance with 418
    (its 403 is a firewall refusal); OKX, Bitget, Gate and Hyperliquid document no 403 ban."""
    assert ("bybit", 403) in BANS and ("binanceusdm", 418) in BANS
    for venue in ("binanceusdm", "okx", "bitget", "gate", "hyperliquid"):
        assert (venue, 403) in NOT_BANS, venue
    assert all((venue, 429) in NOT_BANS for venue in venue_ids())
    binance_ban = spec_of("binanceusdm").statuses[418]
    assert [h.name for h in binance_ban.lift_headers] == ["Retry-After"]


async def _quotes_or_error(adapter: Venue) -> object:
    try:
        return await adapter.fetch_quotes()
    except VenueError as exc:
        return exc


@pytest.mark.parametrize(("venue", "status"), BANS, ids=[f"{v}-{s}" for v, s in BANS])
async def test_after_a_ban_nothing_is_sent_until_it_lifts(emu: Emulator, venue: str, status: int):
    """The venue's own ban status silences it for the spec's default; after that it is asked
    again. While the ban holds the emulator would answer 503: a sent request would show."""
    clock = FakeClock()
    adapter = build_venue(venue, settings_for(emu, venue), retries=3, clock=clock)
    try:
        emu.faults.set(venue, "*", FaultSpec(kind="ban", http_status=status, count=1))
        first = await _quotes_or_error(adapter)
        assert isinstance(first, RateLimited) and first.ban and first.code == status
        ban_s = spec_of(venue).statuses[status].default_wait_s
        assert first.retry_after_s == pytest.approx(ban_s)
        emu.faults.set(venue, "*", FaultSpec(kind="server_error", http_status=503))
        clock.advance(ban_s - 1)  # one second before it lifts: still nothing sent
        held = await _quotes_or_error(adapter)
        assert isinstance(held, RateLimited) and held.ban and "not sending" in str(held)
        assert held.retry_after_s == pytest.approx(1.0)
        clock.advance(2)  # lifted: the next call reaches the venue (and its 503)
        emu.faults.clear()
        emu.faults.set(venue, "*", FaultSpec(kind="server_error", http_status=503, count=1))
        after = await _quotes_or_error(adapter)
        assert isinstance(after, list), after  # the 503 was retried away: it was sent
        assert len(after) == len(emu.market.perpetual_symbols(venue))
    finally:
        await adapter.close()


async def test_a_ban_lasts_as_long_as_the_venues_retry_after_header(emu: Emulator):
    """Binance sends Retry-After with a 418: its seconds, not the default, set the silence."""
    clock = FakeClock()
    adapter = build_venue("binanceusdm", settings_for(emu, "binanceusdm"), retries=0, clock=clock)
    try:
        ban = FaultSpec(kind="ban", http_status=418, count=1, retry_after_s=7200)
        emu.faults.set("binanceusdm", "*", ban)
        first = await _quotes_or_error(adapter)
        assert isinstance(first, RateLimited) and first.ban
        assert first.retry_after_s == pytest.approx(7200)
        clock.advance(3600)  # past the 600 s default, inside the header's two hours
        held = await _quotes_or_error(adapter)
        assert isinstance(held, RateLimited) and held.ban
        clock.advance(3601)
        assert isinstance(await _quotes_or_error(adapter), list)
    finally:
        await adapter.close()


@pytest.mark.parametrize(("venue", "status"), NOT_BANS, ids=[f"{v}-{s}" for v, s in NOT_BANS])
async def test_a_status_that_is_no_ban_does_not_gate(emu: Emulator, venue: str, status: int):
    """A 403 from a venue that does not mean a ban by it (or any 429) fails that call only:
    the very next call is sent, at the same instant, and answered."""
    clock = FakeClock()
    adapter = build_venue(venue, settings_for(emu, venue), retries=0, clock=clock)
    try:
        kind = "ban" if status == 403 else "rate_limit"
        emu.faults.set(venue, "*", FaultSpec(kind=kind, http_status=status, count=1))
        first = await _quotes_or_error(adapter)
        assert isinstance(first, TemporaryVenueError) and first.code == status
        assert not (isinstance(first, RateLimited) and first.ban)
        assert isinstance(await _quotes_or_error(adapter), list)
    finally:
        await adapter.close()
