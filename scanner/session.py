"""Venue adapters that live across scans, on one event loop in a background thread.

Why: a venue's throttle and ban state must outlive a single scan. After an HTTP 403 (IP ban)
the adapters refuse to send for at least ten minutes; ccxt keeps its leaky-bucket throttle
and loaded markets on the exchange object. Adapters rebuilt for every scheduled scan would
forget a ban and hit a banned IP again every interval, extending the ban. Async clients are
bound to the loop that created them, so the adapters, and every scan using them, run on one
loop owned by this session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.collector import BookPrefetch, InstrumentCache
from scanner.gcpause import SessionGc
from scanner.pipeline import ScanOutcome, scan_once
from scanner.roles import collect_once, rank_stored
from scanner.settings import Settings
from scanner.venues.base import Venue
from scanner.venues.registry import build_venues, close_all
from storage.repository import Repository

T = TypeVar("T")
log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 30.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (ccxt requires it), else asyncio's.

    Why: a steady scan sends ~150 requests and reads their answers; asyncio's own loop and
    socket transports, written in Python, were ~17 % of the scanner's CPU a cycle (py-spy,
    2026-11-30), and uvloop runs them in C: client CPU a bench steady cycle ~0.175 -> ~0.162 s
    (A/B, 2 x 10 cycles each way on a loaded host, 19:50). The loop only schedules; every
    timeout, cancellation and thread hand-over used here is asyncio's API on either loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - ccxt depends on uvloop
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _cancel_all() -> None:
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class ScanSession:
    """``with ScanSession(settings, repo) as session: session.scan()`` any number of times."""

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        names: Sequence[str] | None = None,
        *,
        role: str = "all",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``role``: ``all`` (collect and rank), ``collect`` (store only) or ``rank`` (rank
        what collectors stored; no venue adapters) - see ``scanner.roles``."""
        self.settings = settings
        self.clock = clock
        """One clock for every scan of the session (and, through them, the collector)."""
        self.repo = repo
        self.role = role
        self.names = list(names) if names is not None else list(settings.venues.enabled)
        if role == "rank":
            self.names = []
        self.venues: dict[str, Venue] = {}
        self.instruments = InstrumentCache(settings.collector.instruments_refresh_s)
        """Instrument lists live as long as the adapters: loaded once, refreshed when due."""
        self.prefetch = BookPrefetch()
        """The last scan's book candidates: the next scan requests their books with its quotes
        (a round trip fewer while the candidates hold; ``scanner.collector``)."""
        self.gc = SessionGc()
        """The cyclic collector paused over each scan, the instrument loads' objects frozen."""
        self._loop = new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fundscan-venues", daemon=True
        )
        self._lock = threading.Lock()
        self._running: set[concurrent.futures.Future[ScanOutcome]] = set()

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def __enter__(self) -> ScanSession:
        self._thread.start()

        async def build() -> dict[str, Venue]:
            return build_venues(self.settings, self.names, with_keys=True, clock=self.clock)

        try:
            self.venues = self._run(build())
        except BaseException:
            self._stop()
            raise
        return self

    def scan(self) -> ScanOutcome:
        """One scan with the session's adapters (they stay open for the next one).

        Raises ``concurrent.futures.CancelledError`` if the session is closed meanwhile.
        """
        coro = self._in_gc_scan(self._scan_coro())
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        with self._lock:
            self._running.add(future)
        try:
            return future.result()
        finally:
            with self._lock:
                self._running.discard(future)

    async def _in_gc_scan(self, coro: Coroutine[Any, Any, ScanOutcome]) -> ScanOutcome:
        """On the loop: the collector is paused for the whole scan; its young pass (and, after
        an instrument load, the refreeze) runs once the outcome is stored, between scans."""
        with self.gc.scan(lambda: self.instruments.loads):
            return await coro

    def _scan_coro(self) -> Coroutine[Any, Any, ScanOutcome]:
        if self.role == "collect":
            return collect_once(
                self.settings,
                self.repo,
                self.venues,
                self.clock,
                instruments=self.instruments,
                prefetch=self.prefetch,
            )
        if self.role == "rank":

            async def ranked() -> ScanOutcome:
                return rank_stored(self.settings, self.repo, self.clock.now_ms())

            return ranked()
        return scan_once(
            self.settings,
            self.repo,
            venues=self.venues,
            clock=self.clock,
            instruments=self.instruments,
            prefetch=self.prefetch,
        )

    def __exit__(self, *exc: object) -> None:
        """Cancel a scan in flight (Ctrl-C / SIGTERM), then close the adapters and the loop."""
        with self._lock:
            running = list(self._running)
        for future in running:
            future.cancel()
        try:
            self._run(close_all(self.venues), timeout_s=CLOSE_TIMEOUT_S)
        except Exception as exc:  # closing is best effort; the loop stops regardless
            log.warning("closing venue adapters: %s: %s", type(exc).__name__, exc)
        finally:
            self._stop()
            self.gc.release()

    def _stop(self) -> None:
        """Cancel whatever still runs on the loop and wait for it (bounded), then stop it: a
        loop closed with pending tasks prints "Task was destroyed but it is pending!" for
        each of them at exit."""
        if self._thread.is_alive():
            try:
                self._run(_cancel_all(), timeout_s=CLOSE_TIMEOUT_S)
            except Exception as exc:  # best effort; stopping goes on
                log.warning("cancelling venue tasks: %s: %s", type(exc).__name__, exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()
