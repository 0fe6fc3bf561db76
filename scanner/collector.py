"""Concurrent, deadline-bounded collection of every enabled venue; partial results kept.

Why two phases under one deadline: order books are only worth fetching for the symbols where
venues disagree most, and "most" is only known once every venue's quotes are in. So phase 1
loads instruments and quotes from all venues concurrently; a selector picks candidate
canonical ids from those quotes; phase 2 fetches their books concurrently, each venue capped
at its own ``max_concurrency``. Both phases share one deadline (phase 1 gets ``quotes_share``
of it, phase 2 the rest): a venue that hangs is cut off and reported ``failed`` (reason says
timeout) while every other venue's data, books included, is returned.

Instruments change rarely (listings, delistings), so a session keeps them in an
``InstrumentCache`` and reloads a venue's list only every ``refresh_s``: a steady-state scan is
then one round of bulk quote calls per venue plus one round of candidate books. A failed
reload keeps the previous list (the quotes still map onto it) and is retried next scan.
When a venue's instruments are due (the first collection, a refresh), a venue whose quote
requests do not need the list to be sent (``JointQuotes``) sends them with the instrument
request and maps them once both answered: one round trip instead of two.

Books of the previous collection's candidates go out with the quotes (``BookPrefetch``, a
session's memory): in steady state the candidates barely change between scans, and those
books do not depend on this scan's quotes, so most scans need no second round trip. Once
this scan's candidates are chosen, only the newly selected ones are fetched. A prefetched
book of an id no longer selected (or of a venue whose quotes then failed) is kept apart in
``unselected_books``: stored like every book a venue answered, never ranked. So the ranking
sees exactly the books of this scan's candidates, each fetched during this scan.

The cyclic garbage collector is paused while a collection runs (``scanner.gcpause``): a
steady collection allocates ~25 young generations' worth of objects (JSON bodies of ~1,000
rows, quotes, books), and every second-generation pass promoted whatever was alive at that
moment - mostly bodies being parsed - to the oldest generation, so that every ~4 collections
a full pass walked the whole process (ccxt's markets included): ~170 ms of CPU, against a
steady collection's ~150 ms. Paused, the objects the collection made are all still young
when it ends, and the first young pass after it (a few ms) frees its cycles and keeps what
survives; nothing of the bodies reaches the oldest generation. A session pauses it over the
whole scan and freezes what the instrument loads keep alive (``scanner.gcpause.SessionGc``).

Status per venue:
    ok        instruments and quotes fetched, every requested book fetched
    degraded  quotes fetched, but some books failed / the deadline hit during books /
              the venue returned no quotes at all
    failed    no quotes (error or deadline); ``reason`` says why
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.domain import FundingQuote, Instrument, OrderBook
from scanner.gcpause import gc_paused
from scanner.units import MS_PER_S
from scanner.venues.base import JointQuotes, Venue, VenueError, VenueTimeout

log = logging.getLogger(__name__)


@dataclass
class InstrumentCache:
    """Each venue's instruments, loaded once per session and refreshed every ``refresh_s``.

    ``refresh_s`` 0 reloads on every collection. Times come from the collection's clock.
    """

    refresh_s: float
    _loaded: dict[str, tuple[float, list[Instrument]]] = field(default_factory=dict)
    loads: int = 0
    """How many lists were put so far: it changes when a scan (re)loaded instruments, which
    is when a session refreezes the heap (``scanner.gcpause.SessionGc``)."""

    def due(self, venue: str, now_ms: float) -> bool:
        got = self._loaded.get(venue)
        return got is None or now_ms - got[0] >= self.refresh_s * MS_PER_S

    def get(self, venue: str) -> list[Instrument] | None:
        got = self._loaded.get(venue)
        return None if got is None else list(got[1])

    def put(self, venue: str, now_ms: float, instruments: list[Instrument]) -> None:
        self._loaded[venue] = (now_ms, list(instruments))
        self.loads += 1


@dataclass
class BookPrefetch:
    """The last collection's book candidates, whose books the next collection of the session
    requests alongside its quotes (empty until a collection has chosen some)."""

    candidates: list[str] = field(default_factory=list)


class VenueStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass
class VenueResult:
    """What one venue delivered in one collection (mutable while the collection runs)."""

    venue: str
    status: VenueStatus = VenueStatus.FAILED
    reason: str | None = None
    latency_ms: float = 0.0
    """Time from the collection start to this venue's instruments and quotes."""
    instruments: list[Instrument] = field(default_factory=list)
    quotes: list[FundingQuote] = field(default_factory=list)
    books: dict[str, OrderBook] = field(default_factory=dict)
    """canonical id -> book, of this collection's candidates (what the ranking sees)."""
    unselected_books: dict[str, OrderBook] = field(default_factory=dict)
    """Books fetched in this collection for ids it did not select (requested with the quotes
    from the last candidates, or a venue whose quotes then failed): real and current, so
    stored with the rest, but not ranked."""
    book_errors: dict[str, str] = field(default_factory=dict)
    stage: str = "pending"


@dataclass(frozen=True)
class ProgressEvent:
    """``stage``: start | quotes | books | done. ``result`` is the venue's result so far."""

    venue: str
    stage: str
    result: VenueResult


@dataclass
class Collection:
    started_ms: int
    finished_ms: int
    deadline_s: float
    results: dict[str, VenueResult]
    candidates: list[str]

    @property
    def quotes(self) -> list[FundingQuote]:
        return [q for r in self.results.values() for q in r.quotes]

    @property
    def books(self) -> list[OrderBook]:
        """The candidates' books: the ranking's input."""
        return [b for r in self.results.values() for b in r.books.values()]

    @property
    def fetched_books(self) -> list[OrderBook]:
        """Every book fetched in this collection (``books`` and ``unselected_books``): what
        is stored, so nothing a venue answered is lost."""
        return [
            b
            for r in self.results.values()
            for b in (*r.books.values(), *r.unselected_books.values())
        ]

    @property
    def all_failed(self) -> bool:
        return bool(self.results) and all(
            r.status is VenueStatus.FAILED for r in self.results.values()
        )


Selector = Callable[[Sequence[FundingQuote]], Sequence[str]]
Progress = Callable[[ProgressEvent], None]


def widest_spread_candidates(quotes: Sequence[FundingQuote], limit: int = 10) -> list[str]:
    """Canonical ids quoted on >= 2 venues, widest per-hour rate spread first.

    A deliberately simple stand-in for the engine's ranking: per-hour rates make 1 h and 8 h
    venues comparable, and a wide spread is where a book is worth fetching.
    """
    per_hour: dict[str, list[float]] = defaultdict(list)
    for q in quotes:
        if q.interval_h > 0:
            per_hour[q.canonical].append(q.rate_per_h)
    spreads = [(max(v) - min(v), c) for c, v in per_hour.items() if len(v) >= 2]
    spreads.sort(key=lambda item: (-item[0], item[1]))
    return [c for _, c in spreads[:limit]]


REASON_MAX_CHARS = 240
"""A reason is one readable line: a venue's error may quote a whole response body."""


def reason(exc: BaseException) -> str:
    """One line (at most ``REASON_MAX_CHARS``) saying why a request failed."""
    if isinstance(exc, VenueTimeout | TimeoutError):
        text = f"timeout: {exc}"
    elif isinstance(exc, VenueError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 3] + "..."


def keep_only(result: VenueResult, canonicals: set[str]) -> None:
    """Move the books of ids not in ``canonicals`` to ``unselected_books``; drop their
    errors (a book this collection did not select cannot degrade it)."""
    for canonical in [c for c in result.books if c not in canonicals]:
        result.unselected_books[canonical] = result.books.pop(canonical)
    for canonical in [c for c in result.book_errors if c not in canonicals]:
        del result.book_errors[canonical]


class _Run:
    """State of one collection; keeps partial results when tasks are cancelled."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        progress: Progress | None,
        clock: Clock,
        cache: InstrumentCache | None = None,
    ) -> None:
        self.venues = venues
        self.progress = progress
        self.clock = clock
        self.cache = cache
        self.results = {name: VenueResult(name) for name in venues}
        self.t0_ms = clock.monotonic_ms()
        self.prefetched: dict[str, asyncio.Task[None]] = {}
        """Venue -> its books of the previous candidates, started alongside its quotes."""
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._perps: dict[str, dict[str, Instrument]] = {}

    def emit(self, name: str, stage: str) -> None:
        result = self.results[name]
        result.stage = stage
        if stage == "quotes":
            result.latency_ms = self.clock.monotonic_ms() - self.t0_ms
        if self.progress is not None:
            try:
                self.progress(ProgressEvent(name, stage, result))
            except Exception:  # a broken progress display must not break collection
                log.exception("progress callback failed")

    def gate(self, name: str, cap: int) -> asyncio.Semaphore:
        """One cap on a venue's book requests in flight, prefetched and selected alike."""
        if name not in self._gates:
            self._gates[name] = asyncio.Semaphore(cap)
        return self._gates[name]

    async def quotes(
        self,
        name: str,
        load_instruments: bool,
        prefetch: Sequence[str] = (),
        depth: int = 0,
        cap: int = 4,
    ) -> None:
        """Instruments (cached or loaded) and quotes; with ``prefetch``, the books of those
        canonical ids are requested right after the quote calls (their own task).

        Instruments that are due (first collection, refresh, or no cache) go out in one
        round with the quote requests where the venue can (``JointQuotes``)."""
        venue, result = self.venues[name], self.results[name]
        books = (prefetch, depth, cap) if prefetch and depth > 0 else None
        self.emit(name, "start")
        try:
            if isinstance(venue, JointQuotes) and self._instruments_due(name, load_instruments):
                result.quotes = await self._joint(name, venue, result, books)
            else:
                if self.cache is not None:
                    await self._cached_instruments(name, venue, result)
                elif load_instruments:
                    result.instruments = await venue.load_instruments()
                if books is not None:
                    # the quote calls' task first, so a venue's throttle queues them first
                    quotes = asyncio.ensure_future(venue.fetch_quotes())
                    self.prefetch(name, *books)
                    result.quotes = await quotes
                else:
                    result.quotes = await venue.fetch_quotes()
        except Exception as exc:
            result.status, result.reason = VenueStatus.FAILED, reason(exc)
            log.warning("collect %s failed: %s", name, result.reason)
        else:
            result.status = VenueStatus.OK if result.quotes else VenueStatus.DEGRADED
            result.reason = None if result.quotes else "venue returned no funding quotes"
        self.emit(name, "quotes")

    def prefetch(self, name: str, wanted: Sequence[str], depth: int, cap: int) -> None:
        """Start the books of the last candidates ``wanted`` (on the instruments set now)."""
        targets = self.targets(name, wanted)
        self.prefetched[name] = asyncio.create_task(self.fetch_books(name, targets, depth, cap))

    def _instruments_due(self, name: str, load_instruments: bool) -> bool:
        if self.cache is None:
            return load_instruments
        return self.cache.get(name) is None or self.cache.due(name, self.clock.monotonic_ms())

    async def _joint(
        self,
        name: str,
        venue: JointQuotes,
        result: VenueResult,
        books: tuple[Sequence[str], int, int] | None,
    ) -> list[FundingQuote]:
        """Instruments and quotes in one round (``JointQuotes``), with the failure modes of
        loading them one after the other: a failed reload keeps the cached list (the venue
        maps the quotes onto it) and is retried next scan; with no list, the venue fails
        with the instruments' error. The last candidates' books go out with the round,
        aimed by the cached list (instruments change rarely), or after it with none."""
        now_ms = self.clock.monotonic_ms()
        kept = self.cache.get(name) if self.cache is not None else None
        if books is not None and kept is not None:
            result.instruments = kept
            self.prefetch(name, *books)
        got = await venue.load_instruments_and_quotes()
        if isinstance(got.instruments, Exception):
            if kept is None:
                raise got.instruments
            log.warning(
                "%s: instruments not refreshed, previous list kept: %s", name, got.instruments
            )
            result.instruments = kept
        else:
            result.instruments = got.instruments
            if self.cache is not None:
                self.cache.put(name, now_ms, got.instruments)
        self._perps.pop(name, None)  # the books chosen later are aimed by this list
        if isinstance(got.quotes, Exception):
            raise got.quotes
        if books is not None and name not in self.prefetched:
            self.prefetch(name, *books)
        return got.quotes

    async def _cached_instruments(self, name: str, venue: Venue, result: VenueResult) -> None:
        """From the cache; reloaded when due. A failed reload keeps the old list if any."""
        assert self.cache is not None
        now_ms = self.clock.monotonic_ms()
        kept = self.cache.get(name)
        if kept is not None and not self.cache.due(name, now_ms):
            result.instruments = kept
            return
        try:
            result.instruments = await venue.load_instruments()
        except Exception as exc:
            if kept is None:
                raise
            log.warning("%s: instruments not refreshed, previous list kept: %s", name, exc)
            result.instruments = kept
            return
        self.cache.put(name, now_ms, result.instruments)

    def targets(self, name: str, wanted: Sequence[str]) -> list[Instrument]:
        """The venue's perpetuals among the canonical ids ``wanted``, in that order.

        The index is built once per venue and collection (the instrument list is set before
        any book is asked for), not once per call: the prefetch and this scan's selection each
        look up ~40 ids among ~1,400 instruments."""
        by_canonical = self._perps.get(name)
        if by_canonical is None:
            instruments = self.results[name].instruments
            by_canonical = {i.canonical: i for i in instruments if i.is_perpetual}
            self._perps[name] = by_canonical
        return [by_canonical[c] for c in wanted if c in by_canonical]

    async def fetch_books(
        self, name: str, targets: Sequence[Instrument], depth: int, cap: int
    ) -> None:
        """Books of ``targets`` into the venue's result (failures into ``book_errors``)."""
        venue, result = self.venues[name], self.results[name]
        gate = self.gate(name, cap)

        async def one(inst: Instrument) -> None:
            async with gate:
                try:
                    result.books[inst.canonical] = await venue.fetch_book(inst, depth)
                except Exception as exc:
                    result.book_errors[inst.canonical] = reason(exc)

        await asyncio.gather(*(one(i) for i in targets))

    async def books(
        self, name: str, wanted: Sequence[str], depth: int, cap: int, prefetched: Sequence[str]
    ) -> None:
        """This collection's books: the ones prefetched (``prefetched``: the ids requested
        with the quotes) that are still selected, and the newly selected ones, requested now
        while the prefetched ones may still be in flight. A prefetched id no longer in
        ``wanted`` is dropped, book or error."""
        result = self.results[name]
        early = set(prefetched) if name in self.prefetched else set()
        waits: list[Awaitable[None]] = [
            self.fetch_books(
                name, self.targets(name, [c for c in wanted if c not in early]), depth, cap
            )
        ]
        if name in self.prefetched:
            waits.append(self.prefetched[name])
        await asyncio.gather(*waits)
        keep_only(result, set(wanted))
        if result.book_errors and result.status is VenueStatus.OK:
            n = len(self.targets(name, wanted))
            result.status = VenueStatus.DEGRADED
            result.reason = f"{len(result.book_errors)} of {n} books failed"
        self.emit(name, "books")

    async def cancel_prefetch(self) -> None:
        """Stop prefetched books still in flight (their venue failed, or the collection ends)."""
        running = [t for t in self.prefetched.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*self.prefetched.values(), return_exceptions=True)

    def mark_unfinished(self, names: Sequence[str], phase: str, deadline_s: float) -> None:
        for name in names:
            result = self.results[name]
            msg = f"timeout: collection deadline of {deadline_s:g}s exceeded during {phase}"
            if phase == "quotes":
                result.status, result.reason = VenueStatus.FAILED, msg
            elif result.status is VenueStatus.OK:
                result.status, result.reason = VenueStatus.DEGRADED, msg
            self.emit(name, phase)


async def _run_until(
    coros: Mapping[str, asyncio.Future[None] | asyncio.Task[None]], timeout_s: float
) -> list[str]:
    """Wait for the tasks until ``timeout_s``; cancel the rest and return their names."""
    if not coros:
        return []
    pending: set[asyncio.Future[None] | asyncio.Task[None]] = set(coros.values())
    try:
        _, pending = await asyncio.wait(list(coros.values()), timeout=max(0.0, timeout_s))
    finally:  # also when collect() itself is cancelled: leave no task running behind
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    return [name for name, task in coros.items() if task in pending]


async def collect(
    venues: Mapping[str, Venue] | Sequence[Venue],
    *,
    deadline_s: float,
    book_depth: int,
    book_symbols: Sequence[str] | Selector | None = None,
    progress: Progress | None = None,
    book_candidates: int = 10,
    max_concurrency: Mapping[str, int] | int = 4,
    load_instruments: bool = True,
    quotes_share: float = 0.7,
    clock: Clock = SYSTEM_CLOCK,
    instruments: InstrumentCache | None = None,
    prefetch: BookPrefetch | None = None,
) -> Collection:
    """Collect quotes (and candidate books) from every venue concurrently under one deadline.

    ``book_symbols``: canonical ids to fetch books for, or a function choosing them from all
    quotes; None uses ``widest_spread_candidates`` with ``book_candidates``; an empty list
    fetches no books. Never raises for venue trouble: each venue's status says what happened.
    ``quotes_share`` of the deadline is reserved for phase 1 so that one hanging venue cannot
    eat the time the other venues' books need. ``clock`` stamps the collection and measures
    latencies and the books' share of the deadline. ``instruments``: a session's cache (the
    instruments are then loaded only when due; ``load_instruments`` is ignored).
    ``prefetch``: a session's memory of the last candidates; their books are requested with
    the quotes, and this collection's candidates are remembered in it for the next one.
    """
    if not 0 < quotes_share <= 1:
        raise ValueError(f"quotes_share must be in (0, 1], got {quotes_share}")
    named = dict(venues) if isinstance(venues, Mapping) else {v.name: v for v in venues}
    run = _Run(named, progress, clock, instruments)
    started_ms = clock.now_ms()
    deadline_ms = clock.monotonic_ms() + deadline_s * MS_PER_S

    def cap(name: str) -> int:
        return (
            max_concurrency.get(name, 4)
            if isinstance(max_concurrency, Mapping)
            else max_concurrency
        )

    # the cyclic GC waits until the collection is done: see the module docstring
    with gc_paused():
        early = list(prefetch.candidates) if prefetch is not None else []
        try:
            quote_tasks = {
                n: asyncio.create_task(run.quotes(n, load_instruments, early, book_depth, cap(n)))
                for n in named
            }
            late = await _run_until(quote_tasks, deadline_s * quotes_share)
            run.mark_unfinished(late, "quotes", deadline_s)

            got = [q for r in run.results.values() for q in r.quotes]
            if book_symbols is None:
                candidates = widest_spread_candidates(got, book_candidates)
            elif callable(book_symbols):
                candidates = list(book_symbols(got))
            else:
                candidates = list(book_symbols)

            live = [n for n, r in run.results.items() if r.status is not VenueStatus.FAILED]
            selecting = live if candidates and book_depth > 0 else []
            book_tasks: dict[str, asyncio.Future[None] | asyncio.Task[None]] = {
                n: asyncio.create_task(run.books(n, candidates, book_depth, cap(n), early))
                for n in selecting
            }
            # prefetched books nobody waits for otherwise (venue failed, nothing selected) are
            # still awaited under the same deadline: what a venue answers is stored
            book_tasks.update({n: t for n, t in run.prefetched.items() if n not in book_tasks})
            late = await _run_until(book_tasks, (deadline_ms - clock.monotonic_ms()) / MS_PER_S)
            run.mark_unfinished([n for n in late if n in selecting], "books", deadline_s)
        finally:  # a failed venue's prefetched books, and any left when collect() is cancelled
            await run.cancel_prefetch()
        for name, result in run.results.items():
            # only this collection's candidates, and no books from a venue without quotes
            keep = set(candidates) if result.status is not VenueStatus.FAILED else set()
            keep_only(result, keep)
            run.emit(name, "done")
        if prefetch is not None:
            prefetch.candidates = list(candidates) if book_depth > 0 else []
        return Collection(
            started_ms=started_ms,
            finished_ms=clock.now_ms(),
            deadline_s=deadline_s,
            results=run.results,
            candidates=candidates,
        )
