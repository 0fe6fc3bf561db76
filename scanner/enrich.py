"""Optional data a scan adds after collection: settled history and Bybit spot books.

Why separate from the collector: neither is needed to rank (a scan without them still ranks,
with confidence marked unknown and no carry rows), so both run under their own time budget
after the quotes and perp books are safely stored, and both keep whatever arrived before the
budget ran out: one slow or broken symbol never costs the others their data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.collector import Collection, VenueStatus
from scanner.collector import reason as reason_of
from scanner.domain import FundingSettlement, Instrument, OrderBook
from scanner.units import MS_PER_H, MS_PER_S
from scanner.venues.base import Venue
from scanner.venues.bybit import BybitVenue
from storage.queries import Queries

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_H = 8.0
"""Only for deciding whether a stored history is stale when a venue did not state an interval."""

T = TypeVar("T")
R = TypeVar("R")


async def gather_until(
    items: Iterable[T],
    fetch: Callable[[T], Awaitable[R]],
    *,
    cap: int,
    timeout_s: float,
    what: str,
    label: Callable[[T], str] = str,
) -> list[R]:
    """``fetch(item)`` for every item, at most ``cap`` at once, until ``timeout_s``.

    Returns every result that arrived in time (in completion order). A failing item is logged
    (as ``label(item)``: an instrument's repr is ~500 characters) and skipped, whatever it
    raised: it must not take the other items' results with it.
    """
    results: list[R] = []
    sem = asyncio.Semaphore(max(1, cap))

    async def one(item: T) -> None:
        async with sem:
            try:
                results.append(await fetch(item))
            except Exception as exc:  # one bad symbol must not cost the rest
                log.warning("%s %s: %s", what, label(item), reason_of(exc))

    tasks = [asyncio.create_task(one(i)) for i in items]
    if not tasks:
        return results
    pending: set[asyncio.Task[None]] = set(tasks)
    try:
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, timeout_s))
    finally:  # also when the scan itself is cancelled (SIGTERM): leave no task behind
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        log.warning("%s: %d of %d unfinished at the deadline", what, len(pending), len(tasks))
    return results


def _symbol(inst: Instrument) -> str:
    return inst.venue_symbol


def stale_history(
    collection: Collection, queries: Queries, *, since_ms: int, now_ms: int
) -> dict[str, list[Instrument]]:
    """Candidate perps per venue whose newest stored settlement is over one interval old."""
    wanted = set(collection.candidates)
    stored = queries.settlements(since_ms=since_ms)
    newest = stored.groupby(["venue", "venue_symbol"])["funding_time_ms"].max().to_dict()
    quoted_h = {(q.venue, q.venue_symbol): q.interval_h for q in collection.quotes}
    per_venue: dict[str, list[Instrument]] = {}
    for name, result in collection.results.items():
        if result.status is VenueStatus.FAILED:
            continue
        for inst in result.instruments:
            if inst.canonical not in wanted or not inst.is_perpetual:
                continue
            interval_h = (
                inst.funding_interval_h
                or quoted_h.get((name, inst.venue_symbol))
                or DEFAULT_INTERVAL_H
            )
            last = newest.get((name, inst.venue_symbol))
            if last is None or now_ms - last > interval_h * MS_PER_H:
                per_venue.setdefault(name, []).append(inst)
    return per_venue


async def top_up_history(
    venues: Mapping[str, Venue],
    collection: Collection,
    queries: Queries,
    *,
    lookback_h: float,
    now_ms: int,
    timeout_s: float,
    caps: Mapping[str, int],
) -> list[FundingSettlement]:
    """Settlements of the candidates' legs that the store lacks over the lookback."""
    since_ms = now_ms - int(lookback_h * MS_PER_H)
    per_venue = stale_history(collection, queries, since_ms=since_ms, now_ms=now_ms)

    async def venue_history(name: str, insts: Sequence[Instrument]) -> list[FundingSettlement]:
        venue = venues[name]

        async def fetch(inst: Instrument) -> list[FundingSettlement]:
            return await venue.fetch_history(inst, since_ms, now_ms)

        parts = await gather_until(
            insts,
            fetch,
            cap=caps.get(name, 4),
            timeout_s=timeout_s,
            what=f"{name} history",
            label=_symbol,
        )
        return [s for part in parts for s in part]

    per = await asyncio.gather(*(venue_history(n, i) for n, i in per_venue.items()))
    return [s for part in per for s in part]


async def carry_spot_books(
    venue: Venue,
    candidates: Sequence[str],
    depth: int,
    cap: int,
    timeout_s: float,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, OrderBook]:
    """Bybit spot books (keyed ``BASE/QUOTE``) for the candidates' bases, for carry pairs.

    ``timeout_s`` covers both steps; ``clock`` says how much of it the instruments call used.
    """
    if not isinstance(venue, BybitVenue):
        return {}
    started_ms = clock.monotonic_ms()
    bases = {c.partition("/")[0] for c in candidates}
    try:
        async with asyncio.timeout(timeout_s):
            spot = await venue.load_spot_instruments()
    except Exception as exc:  # optional data: no carry rows this scan
        log.warning("bybit spot instruments unavailable: %s", reason_of(exc))
        return {}
    wanted = [i for i in spot if i.base in bases and i.active]

    async def fetch(inst: Instrument) -> OrderBook:
        return await venue.fetch_spot_book(inst, depth)

    left = timeout_s - (clock.monotonic_ms() - started_ms) / MS_PER_S
    books = await gather_until(
        wanted, fetch, cap=cap, timeout_s=left, what="bybit spot book", label=_symbol
    )
    return {b.canonical: b for b in books}
