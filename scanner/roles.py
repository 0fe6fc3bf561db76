"""Scale-out: ``fundscan run --role collect`` and ``--role rank`` over one shared database.

Why split roles: collecting is network-bound and venue-specific (a process near each venue,
or per rate-limit budget), ranking needs every venue at once. Collectors write quotes and
books (idempotent writes: disjoint or overlapping venue sets never duplicate a row); the
ranker reads the latest stored quotes and books of all venues, so it finds pairs whose legs
were collected by different processes, and it alone writes opportunities and alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from scanner.clock import Clock
from scanner.collector import (
    BookPrefetch,
    Collection,
    InstrumentCache,
    ProgressEvent,
    VenueResult,
    VenueStatus,
)
from scanner.domain import OPPORTUNITY_COLUMNS
from scanner.pipeline import (
    ScanOutcome,
    _gather,
    candidate_selector,
    fee_schedule,
    in_universe,
    rank,
    venue_status,
)
from scanner.recovery import running_note
from scanner.settings import Settings
from scanner.units import MS_PER_H, MS_PER_S
from scanner.venues.base import Venue
from storage.queries import Queries
from storage.repository import Repository
from storage.snapshot_store import SnapshotStore

ROLES = ("all", "collect", "rank")


def freshness_ms(settings: Settings) -> int:
    """How old a stored quote or book may be to be ranked: two collection intervals, at
    least the engine's staleness horizon (older quotes score zero freshness anyway)."""
    return int(max(settings.engine.stale_after_s, 2 * settings.schedule.scan_every_s) * MS_PER_S)


async def collect_once(
    settings: Settings,
    repo: Repository,
    venues: Mapping[str, Venue],
    clock: Clock,
    progress: Callable[[ProgressEvent], None] | None = None,
    instruments: InstrumentCache | None = None,
    prefetch: BookPrefetch | None = None,
) -> ScanOutcome:
    """Collect this process's venues and store them; no ranking, no alerts."""
    now_ms = clock.now_ms()
    peers = [
        q
        for q in SnapshotStore(repo.db).latest_quotes(now_ms - freshness_ms(settings))
        if q.venue not in venues
    ]
    scan_id = repo.start_scan(now_ms, notes=running_note())
    try:
        got = await _gather(
            settings,
            repo,
            venues,
            progress,
            clock,
            peers=peers,
            instrument_cache=instruments,
            prefetch=prefetch,
        )
    except BaseException as exc:
        repo.finish_scan(scan_id, now_ms, {}, notes=f"failed: {type(exc).__name__}: {exc}"[:500])
        raise
    c = got.collection
    repo.finish_scan(scan_id, c.finished_ms, venue_status(c), notes="role collect")
    empty = pd.DataFrame(columns=list(OPPORTUNITY_COLUMNS))
    return ScanOutcome(
        scan_id,
        c,
        empty,
        got.quotes_stored,
        got.books_stored,
        got.settlements_stored,
        c.finished_ms,
    )


def rank_stored(settings: Settings, repo: Repository, now_ms: int) -> ScanOutcome:
    """Rank the latest stored quotes and books of every venue (what collectors wrote)."""
    scan_id = repo.start_scan(now_ms, notes=running_note())
    try:
        snap = SnapshotStore(repo.db).snapshot(now_ms - freshness_ms(settings))
        results = {
            v: VenueResult(
                v,
                status=VenueStatus.OK,
                quotes=[q for q in snap.quotes if q.venue == v],
                books={b.canonical: b for b in snap.books if b.venue == v},
                stage="stored",
            )
            for v in snap.venues
        }
        candidates = candidate_selector(settings.collector.book_candidates)(
            in_universe(snap.quotes, settings.universe)
        )
        collection = Collection(now_ms, now_ms, 0.0, results, candidates)
        since_ms = now_ms - int(settings.engine.lookback_h * MS_PER_H)
        history = Queries(repo.db).quote_history_for_confidence(candidates, since_ms)
        ranked = rank(
            settings, snap.quotes, snap.books, {}, history, now_ms, None, fee_schedule(settings)
        )
        repo.write_opportunities(scan_id, ranked)
    except BaseException as exc:
        repo.finish_scan(scan_id, now_ms, {}, notes=f"failed: {type(exc).__name__}: {exc}"[:500])
        raise
    repo.finish_scan(scan_id, now_ms, venue_status(collection), notes="role rank")
    return ScanOutcome(scan_id, collection, ranked, 0, 0, 0, now_ms)
