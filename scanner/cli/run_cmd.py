"""``fundscan run``: the scheduled job. Scans every ``schedule.scan_every_s`` and applies the
retention policy every ``schedule.prune_every_h``, until interrupted (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import concurrent.futures
import logging
import signal
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from scanner.alerts.channels import ChannelConfigError
from scanner.alerts.runtime import alert_service
from scanner.alerts.service import AlertService
from scanner.auto_execution import AutoExecutor
from scanner.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    settings_or_exit,
    setup_logging,
    with_emulator,
)
from scanner.cli.render import records
from scanner.clock import SYSTEM_CLOCK
from scanner.collector import VenueStatus
from scanner.jobs import build_scheduler
from scanner.session import ScanSession
from scanner.settings import Settings
from scanner.units import MS_PER_S
from storage.db import Database, StorageError, open_database
from storage.maintenance import RetentionPolicy, prune
from storage.repository import Repository

log = logging.getLogger(__name__)
DRAIN_S = 60.0
"""How long a run that ends normally (``--max-scans``) waits for queued alerts."""


def _summary(outcome: Any) -> str:
    results = outcome.collection.results.values()
    ok = sum(r.status is VenueStatus.OK for r in results)
    df = outcome.opportunities
    at = datetime.fromtimestamp(outcome.now_ms / MS_PER_S, tz=UTC).strftime("%H:%M:%S")
    line = f"{at} scan #{outcome.scan_id}: {ok}/{len(results)} venues ok, {len(df)} opportunities"
    executable = df[df["executable"]]
    if len(executable):
        best = executable.iloc[0]
        line += (
            f"; best {best['symbol']} long {best['long_venue']} / short {best['short_venue']}"
            f" net APR {best['net_apr'] * 100:.1f}%"
        )
    failed = [f"{r.venue} ({r.reason})" for r in results if r.status is VenueStatus.FAILED]
    return line + (f"; failed: {', '.join(failed)}" if failed else "")


def _alert(service: AlertService | None, outcome: Any) -> None:
    """Decide and queue this scan's alerts; the sender delivers them on its own thread."""
    if service is None:
        return
    ok = [n for n, r in outcome.collection.results.items() if r.status is VenueStatus.OK]
    try:
        decisions = service.on_scan(records(outcome.opportunities), ok)
    except StorageError as exc:
        log.error("alerts for scan #%s not decided: %s", outcome.scan_id, exc)
        return
    queued = [d for d in decisions if not d.suppressed]
    if queued:
        names = ", ".join(f"{d.event} {d.key}" for d in queued)
        console.print(f"  alerts queued: {names}", highlight=False)


def _auto(settings: Settings, db: Database, live: bool) -> AutoExecutor | None:
    """Auto-execution when ``execution.auto`` and a trading mode (live: also ``--live``)."""
    e = settings.execution
    if not e.auto:
        return None
    if e.mode == "dry-run":
        err_console.print("execution.auto is on but mode is dry-run: not trading", highlight=False)
        return None
    if e.mode == "live" and not live:
        raise fail("execution.auto in live mode needs fundscan run --live")
    err_console.print(f"fundscan run: auto-execution on ({e.mode})", highlight=False)
    return AutoExecutor(settings, db)


def _jobs(
    settings: Settings,
    db: Database,
    session: ScanSession,
    service: AlertService | None,
    auto: AutoExecutor | None = None,
) -> tuple[Any, Any]:
    r = settings.storage.retention
    policy = RetentionPolicy(r.quotes_days, r.books_days, r.opportunities_days)

    def scan() -> None:
        try:
            outcome = session.scan()
        except concurrent.futures.CancelledError:
            err_console.print("fundscan run: scan in progress cancelled", highlight=False)
            return
        console.print(_summary(outcome), highlight=False)
        _alert(service, outcome)
        if auto is not None:
            try:
                for line in auto.tick(outcome.opportunities):
                    console.print(f"execute: {line}", highlight=False)
            except Exception as exc:  # noqa: BLE001 - one bad tick must not stop the scans
                err_console.print(f"execute: tick failed: {exc}", highlight=False)

    def prune_job() -> None:
        counts = prune(db, policy, SYSTEM_CLOCK.now_ms())
        if any(counts.values()):
            console.print(f"pruned {counts}", highlight=False)

    return scan, prune_job


def _schedule(
    settings: Settings,
    db: Database,
    session: ScanSession,
    service: AlertService | None,
    max_scans: int | None,
    auto: AutoExecutor | None = None,
) -> None:
    scan, prune_job = _jobs(settings, db, session, service, auto)
    scheduler = build_scheduler(settings.schedule, scan, prune_job, max_scans=max_scans)
    signalled: list[int] = []

    def on_sigterm(signum: int, _frame: Any) -> None:
        signalled.append(signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, on_sigterm)
    err_console.print(
        f"fundscan run: scanning every {settings.schedule.scan_every_s} s into "
        f"{db.where}; Ctrl-C to stop",
        highlight=False,
    )
    try:
        scheduler.start()
    except KeyboardInterrupt:
        signalled.append(signal.SIGINT)
    if scheduler.running:  # Ctrl-C leaves it running
        scheduler.shutdown(wait=False)
    if signalled:
        err_console.print(
            "fundscan run: stopping (a scan in progress is cancelled; unsent alerts stay "
            "queued for the next start)"
        )
    elif service is not None and service.sender is not None:
        _drain(service)


def _drain(service: AlertService) -> None:
    """After the last scan, give queued alerts a bounded time to go out."""
    assert service.sender is not None
    if service.sender.pending():
        err_console.print("fundscan run: delivering queued alerts ...", highlight=False)
    if not service.sender.drain(DRAIN_S):
        err_console.print(
            f"fundscan run: alerts still queued after {DRAIN_S:.0f} s are kept for the next start",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: ConfigOption = None,
        emulator: Annotated[
            str | None, typer.Option(help="Emulator URL; every venue is served at URL/<venue>.")
        ] = None,
        max_scans: Annotated[
            int | None, typer.Option(min=1, help="Stop after this many scans (default: never).")
        ] = None,
        live: Annotated[
            bool, typer.Option("--live", help="Allow execution.auto in live mode (real money).")
        ] = False,
    ) -> None:
        """Run the scheduled job: a scan every schedule.scan_every_s, until interrupted."""
        settings = settings_or_exit(config)
        settings = with_emulator(settings, emulator)
        setup_logging()  # a long-running job reports skipped/failed runs as log lines
        try:
            db = open_database(settings.storage.url)
        except StorageError as exc:
            raise fail(f"storage: {exc}") from None
        if db.migration is not None and db.migration.changed:
            err_console.print(db.migration.message, highlight=False)
        try:
            with (
                alert_service(settings, db, SYSTEM_CLOCK) as service,
                ScanSession(settings, Repository(db)) as session,
            ):
                if service is not None:
                    err_console.print(f"fundscan run: alerts to {', '.join(service.labels)}")
                    if left := service.resume():
                        err_console.print(
                            f"fundscan run: sending {left} alert(s) left queued by an earlier run"
                        )
                _schedule(settings, db, session, service, max_scans, _auto(settings, db, live))
        except ChannelConfigError as exc:
            raise fail(f"config: {settings.source}: {exc}") from None
        finally:
            db.dispose()
        err_console.print("fundscan run: stopped", highlight=False)
