"""Settled funding history for the whole universe, fetched once and kept: ``fundscan backfill``.

Why resumable from the data itself: every page a venue returns is stored (one transaction)
before the next is asked for, and a run first reads what the database already holds for each
symbol (``Queries.settlement_coverage``) and asks the venue only for the two ends that are
missing: before the first stored settlement and after the last one. An interrupted run (Ctrl-C,
a ban, a crash) therefore continues where it stopped, whichever direction the venue pages in
(Bybit walks back from the end, the ccxt venues forward from the start), and a complete
history costs no request the second time. Writes skip existing keys, so nothing is ever stored
twice. Gaps inside a stored range are left alone: venues have real gaps (delistings, halted
funding), and asking for them on every run would never end.

Rate limits: every request goes through the adapter's own limiter, retries and ban gate (ccxt's
per-venue rate limiter, ``BybitHttp``'s leaky bucket); on top, at most
``venues.<v>.max_concurrency`` symbols of one venue page at once. A ban stops that venue's run
(the rest is left for the next one) instead of hammering it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.domain import FundingSettlement, Instrument
from scanner.settings import UniverseSettings
from scanner.units import MS_PER_H
from scanner.venues.base import HistoryPager, RateLimited, Venue, VenueError
from storage.market_store import MarketStore
from storage.queries import Queries

log = logging.getLogger(__name__)

UNKNOWN_INTERVAL_H = 1.0
"""For an instrument whose interval the venue does not state: the end of its history counts
as missing after one hour (a request that finds nothing new costs one page, a too-long
assumption would miss settlements)."""


@dataclass
class VenueBackfill:
    """Progress and outcome of one venue's backfill."""

    venue: str
    instruments: int = 0
    """Instruments of the universe on this venue (the progress bar's total)."""
    done: int = 0
    complete: int = 0
    """Instruments whose stored history already covered the window: no request sent."""
    pages: int = 0
    fetched: int = 0
    added: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    """Why the whole venue stopped (instrument list unavailable, banned); None if it did not."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed


Progress = Callable[[VenueBackfill], None]


def missing_windows(
    first_ms: int | None, last_ms: int | None, since_ms: int, until_ms: int, interval_h: float
) -> list[tuple[int, int]]:
    """The parts of ``[since_ms, until_ms]`` to ask for, given the stored first/last settlement.

    Nothing stored: the whole window. Otherwise the head before the first stored settlement and
    the tail after the last one, each only if at least one interval long (shorter cannot hold a
    settlement that is not stored yet).
    """
    if first_ms is None or last_ms is None:
        return [(since_ms, until_ms)]
    step = interval_h * MS_PER_H
    out = []
    if first_ms - since_ms >= step:
        out.append((since_ms, first_ms - 1))
    if until_ms - last_ms >= step:
        out.append((last_ms + 1, until_ms))
    return out


def universe_instruments(
    instruments: Sequence[Instrument], universe: UniverseSettings, bases: Collection[str] | None
) -> list[Instrument]:
    """Active linear perpetuals settled in ``universe.settle``, bases per include/exclude and
    ``bases`` (``--symbols``). Volume is not known without quotes, so it does not filter here."""
    include = {b.upper() for b in universe.include}
    exclude = {b.upper() for b in universe.exclude}
    wanted = {b.upper() for b in bases} if bases else None
    out = []
    for inst in instruments:
        base = inst.base.upper()
        if not inst.is_perpetual or not inst.active or inst.settle not in universe.settle:
            continue
        if base in exclude or (include and base not in include):
            continue
        if wanted is not None and base not in wanted:
            continue
        out.append(inst)
    return sorted(out, key=lambda i: i.venue_symbol)


def _stored_interval_h(row: object) -> float:
    """The mean gap of the stored settlements (an instrument list without intervals: Binance,
    OKX), else ``UNKNOWN_INTERVAL_H``."""
    if row is None:
        return UNKNOWN_INTERVAL_H
    n = int(row["rows"])  # type: ignore[index]
    if n < 2:
        return UNKNOWN_INTERVAL_H
    span_h = (int(row["last_ms"]) - int(row["first_ms"])) / MS_PER_H  # type: ignore[index]
    return max(UNKNOWN_INTERVAL_H, span_h / (n - 1))


async def _iter_pages(
    venue: Venue, inst: Instrument, since_ms: int, until_ms: int
) -> AsyncIterator[list[FundingSettlement]]:
    """Pages from a ``HistoryPager``; one page of ``fetch_history`` from any other venue."""
    if isinstance(venue, HistoryPager):
        async for page in venue.history_pages(inst, since_ms, until_ms):
            yield page
    else:
        yield await venue.fetch_history(inst, since_ms, until_ms)


async def backfill_venue(
    name: str,
    venue: Venue,
    market: MarketStore,
    queries: Queries,
    *,
    since_ms: int,
    until_ms: int,
    universe: UniverseSettings,
    bases: Collection[str] | None,
    concurrency: int,
    now_ms: int,
    on_progress: Progress | None = None,
) -> VenueBackfill:
    """Backfill one venue; returns its outcome (it raises only what ``on_progress`` raises)."""
    state = VenueBackfill(name)
    notify = on_progress or (lambda _s: None)
    try:
        listed = await venue.load_instruments()
    except VenueError as exc:
        state.error = f"instruments: {exc}"
        notify(state)
        return state
    insts = universe_instruments(listed, universe, bases)
    market.upsert_instruments(insts, now_ms)
    state.instruments = len(insts)
    notify(state)
    coverage = queries.settlement_coverage(name, since_ms, until_ms).set_index("venue_symbol")
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(inst: Instrument) -> None:
        if state.error is not None:  # banned meanwhile: leave the rest for the next run
            return
        row = coverage.loc[inst.venue_symbol] if inst.venue_symbol in coverage.index else None
        windows = missing_windows(
            None if row is None else int(row["first_ms"]),
            None if row is None else int(row["last_ms"]),
            since_ms,
            until_ms,
            inst.funding_interval_h or _stored_interval_h(row),
        )
        if not windows:
            state.complete += 1
        async with sem:
            try:
                for start, end in windows:
                    async for page in _iter_pages(venue, inst, start, end):
                        _store(page)
            except RateLimited as exc:
                state.failed[inst.venue_symbol] = str(exc)
                if exc.ban or exc.retry_after_s > 60:
                    state.error = f"stopped: {exc}"
            except VenueError as exc:
                state.failed[inst.venue_symbol] = str(exc)
        state.done += 1
        notify(state)

    def _store(page: list[FundingSettlement]) -> None:
        state.pages += 1
        state.fetched += len(page)
        state.added += market.write_settlements(page)
        notify(state)

    async with asyncio.TaskGroup() as group:
        for inst in insts:
            group.create_task(one(inst))
    return state


async def backfill(
    venues: Mapping[str, Venue],
    market: MarketStore,
    queries: Queries,
    *,
    since_ms: int,
    until_ms: int,
    universe: UniverseSettings,
    bases: Collection[str] | None,
    concurrency: Mapping[str, int],
    now_ms: int,
    on_progress: Progress | None = None,
) -> dict[str, VenueBackfill]:
    """Every venue at once (each within its own limits); outcomes by venue."""
    tasks = {}
    async with asyncio.TaskGroup() as group:
        for name, venue in venues.items():
            tasks[name] = group.create_task(
                backfill_venue(
                    name,
                    venue,
                    market,
                    queries,
                    since_ms=since_ms,
                    until_ms=until_ms,
                    universe=universe,
                    bases=bases,
                    concurrency=concurrency.get(name, 4),
                    now_ms=now_ms,
                    on_progress=on_progress,
                )
            )
    return {name: task.result() for name, task in tasks.items()}
