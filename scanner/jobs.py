"""APScheduler wiring for ``fundscan run``: what runs when, and nothing else.

Why APScheduler rather than a sleep loop: interval jobs that never overlap (``max_instances=1``),
coalesce missed runs after a stall instead of bursting, and shut down cleanly on a signal. The
work itself lives in ``scanner.pipeline`` (scans) and ``storage.maintenance`` (retention), so a
scheduled scan is exactly a ``fundscan scan``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.settings import ScheduleSettings
from scanner.units import MS_PER_H, MS_PER_MIN, MS_PER_S

log = logging.getLogger(__name__)

SCAN_JOB = "scan"
PRUNE_JOB = "prune"
PRE_SETTLEMENT_PREFIX = "pre-settlement-"
PRE_SETTLEMENT_HORIZON_MS = 8 * MS_PER_H
"""Extra scans are planned up to the longest funding interval ahead; later ones are planned
by a later scan (each scan re-plans from the settlement times it just saw)."""


def pre_settlement_times(
    next_funding_ms: Iterable[float | None], now_ms: int, lead_s: float
) -> list[int]:
    """When to run the extra scans: ``lead_s`` before each distinct coming settlement.

    Pure (times in, times out) so a test can check the plan without a scheduler. Settlement
    times already too close (the lead has passed) or beyond the horizon are skipped.
    """
    lead_ms = round(lead_s * MS_PER_S)
    out = set()
    for t in next_funding_ms:
        if t is None or t != t:  # None or NaN: the venue did not say
            continue
        settle_ms = round(t / MS_PER_MIN) * MS_PER_MIN  # venues differ by a few ms
        run_ms = settle_ms - lead_ms
        if now_ms < run_ms and settle_ms - now_ms <= PRE_SETTLEMENT_HORIZON_MS:
            out.add(run_ms)
    return sorted(out)


def plan_pre_settlement_scans(
    scheduler: BaseScheduler, scan: Callable[[], None], run_ms: Iterable[int]
) -> int:
    """Add a one-off scan job at each time (idempotent: one job per time). Returns how many
    were new."""
    added = 0
    for ms in run_ms:
        job_id = f"{PRE_SETTLEMENT_PREFIX}{ms}"
        if scheduler.get_job(job_id) is not None:
            continue
        when = datetime.fromtimestamp(ms / MS_PER_S, tz=UTC)
        scheduler.add_job(scan, "date", run_date=when, id=job_id, misfire_grace_time=30)
        added += 1
    return added


def build_scheduler(
    schedule: ScheduleSettings,
    scan: Callable[[], None],
    prune: Callable[[], None],
    *,
    max_scans: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> BlockingScheduler:
    """A scheduler that scans now and every ``scan_every_s``, prunes every ``prune_every_h``.

    ``max_scans`` stops the scheduler after that many scans (finished or failed); a failed scan
    is logged and the next one runs on time. The first runs are due at ``clock``'s now (the
    scheduler itself waits on real time: APScheduler owns its own timing).
    """
    scheduler = BlockingScheduler(timezone=UTC, job_defaults={"coalesce": True})
    now = datetime.fromtimestamp(clock.now_ms() / MS_PER_S, tz=UTC)
    scheduler.add_job(
        scan,
        "interval",
        seconds=schedule.scan_every_s,
        id=SCAN_JOB,
        next_run_time=now,
        max_instances=1,
        misfire_grace_time=schedule.scan_every_s,
    )
    if schedule.prune_every_h > 0:
        scheduler.add_job(
            prune, "interval", hours=schedule.prune_every_h, id=PRUNE_JOB, next_run_time=now
        )
    done = 0
    lock = threading.Lock()

    def on_event(event: JobExecutionEvent) -> None:
        nonlocal done
        if event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)
        if event.job_id != SCAN_JOB or max_scans is None:
            return
        with lock:
            done += 1
            if done >= max_scans:
                scheduler.shutdown(wait=False)

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    return scheduler
