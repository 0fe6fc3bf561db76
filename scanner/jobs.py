"""APScheduler wiring for ``fundscan run``: what runs when, and nothing else.

Why APScheduler rather than a sleep loop: interval jobs that never overlap (``max_instances=1``),
coalesce missed runs after a stall instead of bursting, and shut down cleanly on a signal. The
work itself lives in ``scanner.pipeline`` (scans) and ``storage.maintenance`` (retention), so a
scheduled scan is exactly a ``fundscan scan``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.settings import ScheduleSettings
from scanner.units import MS_PER_S

log = logging.getLogger(__name__)

SCAN_JOB = "scan"
PRUNE_JOB = "prune"


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
