"""``fundscan run``: the scheduled job. Scans every ``schedule.scan_every_s`` and applies the
retention policy every ``schedule.prune_every_h``, until interrupted (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from scanner.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    settings_or_exit,
    setup_logging,
    with_emulator,
)
from scanner.collector import VenueStatus
from scanner.jobs import build_scheduler
from scanner.session import ScanSession
from scanner.settings import Settings
from storage.db import Database, StorageError, open_database
from storage.maintenance import RetentionPolicy, prune
from storage.repository import Repository


def _summary(outcome: Any) -> str:
    results = outcome.collection.results.values()
    ok = sum(r.status is VenueStatus.OK for r in results)
    df = outcome.opportunities
    at = datetime.now(UTC).strftime("%H:%M:%S")
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


def _jobs(settings: Settings, db: Database, session: ScanSession) -> tuple[Any, Any]:
    r = settings.storage.retention
    policy = RetentionPolicy(r.quotes_days, r.books_days, r.opportunities_days)

    def scan() -> None:
        try:
            outcome = session.scan()
        except concurrent.futures.CancelledError:
            err_console.print("fundscan run: scan in progress cancelled", highlight=False)
            return
        console.print(_summary(outcome), highlight=False)

    def prune_job() -> None:
        counts = prune(db, policy, int(time.time() * 1000))
        if any(counts.values()):
            console.print(f"pruned {counts}", highlight=False)

    return scan, prune_job


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
            with ScanSession(settings, Repository(db)) as session:
                scan, prune_job = _jobs(settings, db, session)
                scheduler = build_scheduler(settings.schedule, scan, prune_job, max_scans=max_scans)
                signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
                err_console.print(
                    f"fundscan run: scanning every {settings.schedule.scan_every_s} s into "
                    f"{db.where}; Ctrl-C to stop",
                    highlight=False,
                )
                with contextlib.suppress(KeyboardInterrupt):
                    scheduler.start()
                if scheduler.running:  # Ctrl-C leaves it running
                    scheduler.shutdown(wait=False)
                err_console.print("fundscan run: stopping (a scan in progress is cancelled)")
        finally:
            db.dispose()
        err_console.print("fundscan run: stopped", highlight=False)
