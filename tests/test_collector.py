"""The collector: concurrency, one deadline, partial results, statuses, per-venue caps.

These use small in-memory venues that implement the Venue protocol (no network, no mocks of
ccxt); the same collector runs against the emulator in tests/venues/test_contract.py.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping

import pytest

from scanner.clock import FakeClock
from scanner.collector import (
    BookPrefetch,
    ProgressEvent,
    VenueStatus,
    collect,
    widest_spread_candidates,
)
from scanner.domain import FundingQuote, FundingSettlement, Instrument, Kind, OrderBook
from scanner.venues.base import RateLimited, Venue, VenueUnavailable
from tests.protocol_check import protocol_mismatches


def inst(venue: str, base: str) -> Instrument:
    return Instrument(venue, f"{base}USDT", base, "USDT", "USDT", Kind.PERPETUAL)


class MemoryVenue:
    """A venue whose answers are fixed data; ``hang`` makes every call wait forever."""

    def __init__(
        self,
        name: str,
        rates: Mapping[str, tuple[float, float]],
        *,
        hang: bool = False,
        fail: Exception | None = None,
        bad_books: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.rates = rates  # base -> (rate per interval, interval_h)
        self.hang = hang
        self.fail = fail
        self.bad_books = bad_books
        self.in_flight = 0
        self.max_in_flight = 0
        self.book_calls: list[str] = []
        self.closed = False

    async def _maybe_block(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail is not None:
            raise self.fail

    async def load_instruments(self) -> list[Instrument]:
        await self._maybe_block()
        return [inst(self.name, b) for b in self.rates]

    async def fetch_quotes(self) -> list[FundingQuote]:
        await self._maybe_block()
        return [
            FundingQuote(self.name, f"{b}USDT", f"{b}/USDT:USDT", r, h, ts_ms=1)
            for b, (r, h) in self.rates.items()
        ]

    async def fetch_history(
        self, instrument: Instrument, since_ms: int, until_ms: int
    ) -> list[FundingSettlement]:
        return []

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        self.book_calls.append(instrument.base)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # yield so concurrent calls overlap
            await asyncio.sleep(0)
            if instrument.base in self.bad_books:
                raise VenueUnavailable(self.name, "book endpoint down")
            return OrderBook(
                self.name,
                instrument.venue_symbol,
                instrument.canonical,
                [(1.0, 1.0)],
                [(1.1, 1.0)],
                1,
            )
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        self.closed = True


class SlowOnTheClock(MemoryVenue):
    """Its quotes take ``quotes_s`` seconds of the injected clock (no real waiting)."""

    def __init__(self, name: str, clock: FakeClock, quotes_s: float, **kw) -> None:
        super().__init__(name, {"BTC": (0.0001, 8), "ETH": (0.0009, 8)}, **kw)
        self.clock = clock
        self.quotes_s = quotes_s

    async def fetch_quotes(self) -> list[FundingQuote]:
        self.clock.advance(self.quotes_s)
        return await super().fetch_quotes()


async def test_stamps_and_latencies_come_from_the_injected_clock():
    clock = FakeClock(start_ms=1_800_000_000_000)
    fast = SlowOnTheClock("fast", clock, 0.0)
    slow = SlowOnTheClock("slow", clock, 2.5)
    got = await collect([fast, slow], deadline_s=5, book_depth=0, clock=clock)
    assert got.started_ms == 1_800_000_000_000
    assert got.finished_ms == 1_800_000_002_500
    assert got.results["fast"].latency_ms == 0.0
    assert got.results["slow"].latency_ms == 2500.0


async def test_quotes_that_used_the_deadline_on_the_clock_leave_no_time_for_books():
    clock = FakeClock()
    a = SlowOnTheClock("a", clock, 0.0)
    b = SlowOnTheClock("b", clock, 9.0)  # past the 5 s deadline by the clock, instantly
    got = await collect([a, b], deadline_s=5, book_depth=5, quotes_share=1.0, clock=clock)
    assert set(got.candidates) == {"ETH/USDT:USDT", "BTC/USDT:USDT"}  # books were wanted
    for name in ("a", "b"):
        result = got.results[name]
        assert result.status is VenueStatus.DEGRADED, result
        assert "deadline of 5s exceeded during books" in (result.reason or "")
        assert result.books == {}


def test_memory_venue_satisfies_the_protocol():
    """Signatures, async-ness and annotations, not only names (``isinstance`` checks names)."""
    assert protocol_mismatches(MemoryVenue("x", {}), Venue) == []


def test_candidates_compare_rates_per_hour_not_per_interval():
    quotes = [
        FundingQuote("a", "X", "X/USDT:USDT", 0.0008, 8.0, 1),  # 0.0001 per hour
        FundingQuote("b", "X", "X/USDT:USDT", 0.0001, 1.0, 1),  # 0.0001 per hour: no spread
        FundingQuote("a", "Y", "Y/USDT:USDT", 0.0001, 8.0, 1),
        FundingQuote("b", "Y", "Y/USDT:USDT", 0.0001, 1.0, 1),  # 8x per hour: wide spread
        FundingQuote("a", "Z", "Z/USDT:USDT", 0.01, 8.0, 1),  # one venue only: not a pair
    ]
    assert widest_spread_candidates(quotes, limit=5) == ["Y/USDT:USDT", "X/USDT:USDT"]
    assert widest_spread_candidates(quotes, limit=1) == ["Y/USDT:USDT"]


async def test_collects_all_venues_and_books_for_widest_spreads():
    a = MemoryVenue("a", {"BTC": (0.0001, 8), "ETH": (0.0001, 8), "SOL": (0.0001, 8)})
    b = MemoryVenue("b", {"BTC": (0.0002, 8), "ETH": (0.0009, 8), "DOGE": (0.0, 8)})
    got = await collect([a, b], deadline_s=5, book_depth=10, book_candidates=1)
    assert got.candidates == ["ETH/USDT:USDT"]
    assert {r.status for r in got.results.values()} == {VenueStatus.OK}
    assert len(got.quotes) == 6
    assert a.book_calls == ["ETH"] and b.book_calls == ["ETH"]
    assert set(got.results["a"].books) == {"ETH/USDT:USDT"}
    assert not got.all_failed


async def test_hanging_venue_is_cut_at_the_deadline_and_others_are_kept():
    good = MemoryVenue("good", {"BTC": (0.0001, 8)})
    also = MemoryVenue("also", {"BTC": (0.0003, 1)})
    stuck = MemoryVenue("stuck", {"BTC": (0.0001, 8)}, hang=True)
    got = await collect([good, stuck, also], deadline_s=0.2, book_depth=5)
    assert got.results["stuck"].status is VenueStatus.FAILED
    assert "timeout" in (got.results["stuck"].reason or "")
    assert got.results["good"].status is VenueStatus.OK
    assert got.results["also"].status is VenueStatus.OK
    assert {q.venue for q in got.quotes} == {"good", "also"}
    assert set(got.results["good"].books) == {"BTC/USDT:USDT"}


async def test_errors_become_failed_status_with_reason():
    limited = MemoryVenue("limited", {}, fail=RateLimited("limited", "slow down", retry_after_s=5))
    ok = MemoryVenue("ok", {"BTC": (0.0001, 8)})
    got = await collect({"limited": limited, "ok": ok}, deadline_s=5, book_depth=5)
    r = got.results["limited"]
    assert r.status is VenueStatus.FAILED and "RateLimited" in (r.reason or "")
    assert got.results["ok"].status is VenueStatus.OK


async def test_all_failed_is_reported():
    boom = VenueUnavailable("x", "down")
    got = await collect([MemoryVenue("x", {}, fail=boom)], deadline_s=5, book_depth=5)
    assert got.all_failed


async def test_book_failures_degrade_the_venue_but_keep_its_quotes():
    a = MemoryVenue("a", {"BTC": (0.0001, 8), "ETH": (0.0, 8)}, bad_books=frozenset({"ETH"}))
    b = MemoryVenue("b", {"BTC": (0.0005, 8), "ETH": (0.0005, 8)})
    got = await collect([a, b], deadline_s=5, book_depth=5, book_candidates=2)
    ra = got.results["a"]
    assert ra.status is VenueStatus.DEGRADED and "1 of 2 books failed" in (ra.reason or "")
    assert len(ra.quotes) == 2 and set(ra.books) == {"BTC/USDT:USDT"}
    assert "ETH/USDT:USDT" in ra.book_errors


async def test_books_respect_per_venue_concurrency_caps():
    rates = {f"C{i}": (0.0001 * i, 8) for i in range(12)}
    a = MemoryVenue("a", rates)
    b = MemoryVenue("b", {k: (0.0, 8) for k in rates})
    got = await collect(
        [a, b], deadline_s=5, book_depth=5, book_candidates=12, max_concurrency={"a": 2, "b": 5}
    )
    assert len(got.results["a"].books) == 12
    assert a.max_in_flight == 2 and b.max_in_flight == 5


async def test_explicit_book_symbols_and_selector_function():
    a = MemoryVenue("a", {"BTC": (0.0001, 8), "ETH": (0.0001, 8)})
    got = await collect([a], deadline_s=5, book_depth=5, book_symbols=["ETH/USDT:USDT"])
    assert a.book_calls == ["ETH"] and got.candidates == ["ETH/USDT:USDT"]
    b = MemoryVenue("b", {"BTC": (0.0001, 8)})
    got = await collect([b], deadline_s=5, book_depth=5, book_symbols=lambda qs: [qs[0].canonical])
    assert b.book_calls == ["BTC"]
    c = MemoryVenue("c", {"BTC": (0.0001, 8)})
    await collect([c], deadline_s=5, book_depth=5, book_symbols=[])
    assert c.book_calls == []


async def test_progress_reports_start_and_finish_per_venue():
    events: list[ProgressEvent] = []
    venues = [MemoryVenue("a", {"BTC": (0.0, 8)}), MemoryVenue("b", {"BTC": (0.001, 8)})]
    await collect(venues, deadline_s=5, book_depth=5, progress=events.append)
    for name in ("a", "b"):
        stages = [e.stage for e in events if e.venue == name]
        assert stages[0] == "start" and "quotes" in stages and stages[-1] == "done"
    quotes_event = next(e for e in events if e.venue == "a" and e.stage == "quotes")
    assert quotes_event.result.status is VenueStatus.OK


async def test_a_broken_progress_callback_does_not_break_collection():
    def broken(event: ProgressEvent) -> None:
        raise RuntimeError("display died")

    got = await collect(
        [MemoryVenue("a", {"BTC": (0.0, 8)})], deadline_s=5, book_depth=5, progress=broken
    )
    assert got.results["a"].status is VenueStatus.OK


@pytest.mark.parametrize("deadline", [0.05, 0.2])
async def test_deadline_during_books_degrades_instead_of_failing(deadline):
    class SlowBooks(MemoryVenue):
        async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    a = SlowBooks("a", {"BTC": (0.0, 8)})
    b = MemoryVenue("b", {"BTC": (0.001, 8)})
    got = await collect([a, b], deadline_s=deadline, book_depth=5)
    ra = got.results["a"]
    assert ra.status is VenueStatus.DEGRADED and "timeout" in (ra.reason or "")
    assert len(ra.quotes) == 1
    assert got.results["b"].status is VenueStatus.OK


async def test_emulated_venue_timing_out_fails_while_the_others_complete():
    """Real adapters against the emulator; OKX hangs on every request."""
    from emulator import Emulator, FaultSpec
    from scanner.settings import Settings
    from scanner.venues.registry import build_venues, close_all

    async with Emulator(seed=2, stepped=True) as emu:
        emu.faults.set("okx", "*", FaultSpec(kind="timeout", hang_s=5.0))
        settings = Settings().with_base_url(emu.url)
        venues = build_venues(settings, ["bybit", "okx", "gate"], retries=0)
        try:
            got = await collect(venues, deadline_s=4.0, book_depth=5, book_candidates=2)
        finally:
            await close_all(venues)
        perps = {v: len(emu.market.perpetual_symbols(v)) for v in ("bybit", "gate")}
    okx = got.results["okx"]
    assert okx.status is VenueStatus.FAILED and "timeout" in (okx.reason or "")
    assert okx.quotes == []
    for name, count in perps.items():
        assert got.results[name].status is VenueStatus.OK, got.results[name].reason
        assert len(got.results[name].quotes) == count
    assert got.candidates and all(len(got.results[n].books) > 0 for n in perps)


async def test_cancelling_a_collection_leaves_no_task_behind():
    stuck = MemoryVenue("stuck", {"BTC": (0.0, 8)}, hang=True)
    task = asyncio.create_task(collect([stuck], deadline_s=60, book_depth=5))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


class GcWitness(MemoryVenue):
    """Records whether the cyclic GC was on at each call (quotes and books)."""

    def __init__(self, name: str, **kw) -> None:
        super().__init__(name, {"BTC": (0.0001, 8), "ETH": (0.0009, 8)}, **kw)
        self.gc_on: list[bool] = []

    async def fetch_quotes(self) -> list[FundingQuote]:
        self.gc_on.append(gc.isenabled())
        return await super().fetch_quotes()

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        self.gc_on.append(gc.isenabled())
        return await super().fetch_book(instrument, depth)


async def test_a_collection_runs_with_the_cyclic_gc_paused_and_turns_it_back_on():
    venue = GcWitness("a")
    wanted = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    got = await collect([venue], deadline_s=5, book_depth=5, book_symbols=wanted)
    assert set(got.results["a"].books) == set(wanted)
    assert venue.gc_on and not any(venue.gc_on)  # quotes and every book
    assert gc.isenabled()


async def test_the_gc_is_back_on_after_a_cancelled_collection():
    stuck = MemoryVenue("stuck", {"BTC": (0.0, 8)}, hang=True)
    task = asyncio.create_task(collect([stuck], deadline_s=60, book_depth=5))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not gc.isenabled()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.isenabled()


async def test_a_gc_the_caller_switched_off_stays_off_after_a_collection():
    gc.disable()
    try:
        await collect([GcWitness("a")], deadline_s=5, book_depth=5)
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- books of the last candidates go out with the quotes (BookPrefetch) -----------------------


class Watched(MemoryVenue):
    """Records how many book requests were made while its quotes were in flight."""

    def __init__(self, name: str, **kw) -> None:
        super().__init__(name, {"BTC": (0.0001, 8), "ETH": (0.0009, 8), "SOL": (0.0, 8)}, **kw)
        self.books_during_quotes: list[int] = []
        self.fail_quotes = False
        self.hang_quotes = False

    async def fetch_quotes(self) -> list[FundingQuote]:
        before = len(self.book_calls)
        for _ in range(5):  # a round trip: the loop runs whatever else is ready meanwhile
            await asyncio.sleep(0)
        self.books_during_quotes.append(len(self.book_calls) - before)
        if self.hang_quotes:
            await asyncio.Event().wait()
        if self.fail_quotes:
            raise VenueUnavailable(self.name, "quotes down")
        return await super().fetch_quotes()


def choose(*bases: str):
    return lambda quotes: [f"{b}/USDT:USDT" for b in bases]


async def test_a_steady_collection_requests_the_last_candidates_books_with_its_quotes():
    venue, memory = Watched("a"), BookPrefetch()
    first = await collect(
        [venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC", "ETH"), prefetch=memory
    )
    assert venue.books_during_quotes == [0]  # nothing known yet: books after the quotes
    assert memory.candidates == first.candidates == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    second = await collect(
        [venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC", "ETH"), prefetch=memory
    )
    assert venue.books_during_quotes == [0, 2]
    # fetched again in this collection (never the last one's book), and only once
    assert sorted(venue.book_calls) == ["BTC", "BTC", "ETH", "ETH"]
    assert set(second.results["a"].books) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert second.results["a"].status is VenueStatus.OK


async def test_without_the_memory_books_wait_for_the_quotes():
    venue = Watched("a")
    for _ in range(2):
        await collect([venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC"))
    assert venue.books_during_quotes == [0, 0]


async def test_ids_no_longer_selected_are_stored_apart_and_new_ones_fetched():
    venue, memory = Watched("a", bad_books=frozenset({"BTC"})), BookPrefetch()
    await collect(
        [venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC", "SOL"), prefetch=memory
    )
    got = await collect(
        [venue], deadline_s=5, book_depth=5, book_symbols=choose("ETH"), prefetch=memory
    )
    result = got.results["a"]
    # BTC and SOL prefetched with the quotes, ETH asked for once the quotes chose it
    assert venue.book_calls == ["BTC", "SOL", "BTC", "SOL", "ETH"]
    assert venue.books_during_quotes == [0, 2]
    assert set(result.books) == {"ETH/USDT:USDT"}  # the ranking's input: this choice only
    assert set(result.unselected_books) == {"SOL/USDT:USDT"}  # fetched now: stored
    assert result.book_errors == {}  # the unselected id's failure is not this collection's
    assert result.status is VenueStatus.OK
    assert [b.canonical for b in got.books] == ["ETH/USDT:USDT"]
    assert sorted(b.canonical for b in got.fetched_books) == ["ETH/USDT:USDT", "SOL/USDT:USDT"]
    assert memory.candidates == ["ETH/USDT:USDT"]


async def test_nothing_selected_ranks_no_prefetched_book():
    venue, memory = Watched("a"), BookPrefetch()
    await collect([venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory)
    got = await collect([venue], deadline_s=5, book_depth=5, book_symbols=[], prefetch=memory)
    assert venue.book_calls == ["BTC", "BTC"]
    assert got.results["a"].books == {} and memory.candidates == []
    assert set(got.results["a"].unselected_books) == {"BTC/USDT:USDT"}


async def test_a_venue_whose_quotes_fail_ranks_no_prefetched_book():
    venue, memory = Watched("a"), BookPrefetch()
    other = MemoryVenue("b", {"BTC": (0.001, 8)})
    await collect(
        [venue, other], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory
    )
    venue.fail_quotes = True
    got = await collect(
        [venue, other], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory
    )
    assert venue.books_during_quotes == [0, 1]  # its book was requested with the quotes
    result = got.results["a"]
    assert result.status is VenueStatus.FAILED and result.books == {}
    assert set(result.unselected_books) == {"BTC/USDT:USDT"}
    assert set(got.results["b"].books) == {"BTC/USDT:USDT"}


class HangsOnce(Watched):
    hang_books = False

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        if self.hang_books:
            self.book_calls.append(instrument.base)
            await asyncio.Event().wait()
        return await super().fetch_book(instrument, depth)


async def test_a_failed_venues_hanging_prefetched_book_is_cut_at_the_deadline():
    venue, memory = HangsOnce("a"), BookPrefetch()
    await collect([venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory)
    venue.hang_books = venue.fail_quotes = True
    got = await collect(
        [venue], deadline_s=0.2, book_depth=5, book_symbols=choose("BTC"), prefetch=memory
    )
    result = got.results["a"]
    assert result.status is VenueStatus.FAILED and "quotes down" in (result.reason or "")
    assert result.books == result.unselected_books == {}
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_cancelling_a_collection_stops_its_prefetched_books():
    venue, memory = HangsOnce("a"), BookPrefetch()
    await collect([venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory)
    venue.hang_books = venue.hang_quotes = True
    task = asyncio.create_task(
        collect([venue], deadline_s=60, book_depth=5, book_symbols=choose("BTC"), prefetch=memory)
    )
    for _ in range(10):
        await asyncio.sleep(0)
    assert venue.book_calls == ["BTC", "BTC"]  # the prefetched book is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_a_hanging_prefetched_book_is_cut_at_the_deadline():
    venue, memory = HangsOnce("a"), BookPrefetch()
    await collect([venue], deadline_s=5, book_depth=5, book_symbols=choose("BTC"), prefetch=memory)
    venue.hang_books = True
    got = await collect(
        [venue], deadline_s=0.2, book_depth=5, book_symbols=choose("BTC"), prefetch=memory
    )
    result = got.results["a"]
    assert result.status is VenueStatus.DEGRADED and "during books" in (result.reason or "")
    assert len(result.quotes) == 3 and result.books == {}
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_a_default_scan_sends_each_venues_books_in_one_round():
    """``venues.<v>.max_concurrency`` only bounds sockets: with the default settings (40
    candidates chosen as a scan chooses them, each venue's default cap) every book a venue is
    asked for goes out before the first of them is answered. Bybit lists many assets as both
    USDT and USDC perps, so 40 candidates can mean more than 40 Bybit books; a cap below that
    held the rest back a whole round trip while Bybit's budget (600 requests per 5 s) allowed
    them all."""
    from emulator import Emulator
    from scanner.pipeline import candidate_selector, in_universe
    from scanner.settings import Settings
    from scanner.venues.registry import build_venues, close_all, max_concurrency

    # long enough that the in-process emulator computing each answer on arrival (it shares
    # this event loop) cannot spread one round's arrivals over a whole latency; a book held
    # back by the cap would arrive a latency later
    latency_ms = 1000
    # pinned start: which candidates the scan picks moves with the emulated time
    async with Emulator(seed=1, latency_ms=latency_ms, start_ms=1_795_000_000_000) as emu:
        settings = Settings().with_base_url(emu.url)
        names = list(settings.venues.enabled)
        venues = build_venues(settings, names)
        try:
            got = await collect(
                venues,
                deadline_s=30,
                book_depth=settings.collector.book_depth,
                book_symbols=lambda qs: candidate_selector(settings.collector.book_candidates)(
                    in_universe(list(qs), settings.universe)
                ),
                max_concurrency=max_concurrency(settings, names),
            )
        finally:
            await close_all(venues)
        log = list(emu.request_log)
    book_paths = ("orderbook", "order_book", "depth", "books", "merge-depth", "l2Book")
    most = 0
    for name in ("bybit", "binanceusdm", "okx", "gate"):
        assert got.results[name].status is VenueStatus.OK, got.results[name].reason
        arrivals = [
            r["ts_ms"] for r in log if r["venue"] == name and r["path"].endswith(book_paths)
        ]
        assert len(arrivals) == len(got.results[name].books) > 0
        assert max(arrivals) - min(arrivals) < latency_ms, name
        most = max(most, len(arrivals))
    assert most > 40  # a venue did need more books than the old default cap
