"""``fundscan run``: the scheduled job. Scans every ``schedule.scan_every_s`` and applies the
retention policy every ``schedule.prune_every_h``, until interrupted (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

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
from scanner.clock import SYSTEM_CLOCK
from scanner.collector import VenueStatus
from scanner.units import MS_PER_S

if TYPE_CHECKING:  # alerts, the session (ccxt, httpx, pandas) and storage load when run runs
    from scanner.alerts.service import AlertService
    from scanner.auto_execution import AutoExecutor
    from scanner.metrics import Metrics
    from scanner.session import ScanSession
    from scanner.settings import Settings
    from storage.db import Database
    from strategies.alert_policy import Decision
    from strategies.llm_verdict import LlmVerdict

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


def _decide(service: AlertService | None, outcome: Any) -> list[Decision] | None:
    """What this scan would alert (not recorded yet), or None without alerts."""
    from scanner.cli.render import records
    from storage.db import StorageError

    if service is None:
        return None
    ok = [n for n, r in outcome.collection.results.items() if r.status is VenueStatus.OK]
    try:
        return service.decide(records(outcome.opportunities), ok)
    except StorageError as exc:
        log.error("alerts for scan #%s not decided: %s", outcome.scan_id, exc)
        return None


def _commit(
    service: AlertService | None,
    decisions: list[Decision] | None,
    verdicts: Mapping[str, LlmVerdict] | None,
    outcome: Any,
) -> None:
    """Record and queue the decisions (with the model's verdict when it was asked); the
    sender delivers them on its own thread."""
    from scanner.cli.render import records
    from scanner.llm_advisor import verdict_columns
    from storage.db import StorageError

    if service is None or decisions is None:
        return
    if verdicts is not None:
        decisions = [
            d if d.suppressed or d.event != "opportunity"
            else replace(d, row={**d.row, **verdict_columns(verdicts.get(d.key))})
            for d in decisions
        ]  # fmt: skip
    try:
        service.commit(decisions, records(outcome.opportunities))
    except StorageError as exc:
        log.error("alerts for scan #%s not recorded: %s", outcome.scan_id, exc)
        return
    queued = [d for d in decisions if not d.suppressed]
    if queued:
        names = ", ".join(f"{d.event} {d.key}" for d in queued)
        console.print(f"  alerts queued: {names}", highlight=False)


def _rows_to_ask(
    outcome: Any, decisions: list[Decision] | None, auto: AutoExecutor | None
) -> list[Mapping[str, Any]]:
    """The rows ``run`` shows (the best executable pair in its summary line), alerts, or is
    about to trade; never the whole universe."""
    from scanner.cli.render import records

    rows: list[Mapping[str, Any]] = []
    executable = outcome.opportunities[outcome.opportunities["executable"]]
    if len(executable):
        rows += records(executable.head(1))
    rows += [d.row for d in decisions or [] if not d.suppressed and d.event == "opportunity"]
    if auto is not None:
        entry = auto.next_entry(outcome.opportunities)
        if entry is not None:
            rows.append(entry)
    return rows


def _auto(settings: Settings, db: Database, live: bool) -> AutoExecutor | None:
    """Auto-execution when ``execution.auto`` and a trading mode (live: also ``--live``)."""
    from scanner.auto_execution import AutoExecutor

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


@dataclass
class _Run:
    """What one ``fundscan run`` process holds while its scheduler runs."""

    settings: Settings
    db: Database
    session: ScanSession
    service: AlertService | None
    metrics: Metrics | None
    auto: AutoExecutor | None = None
    scheduler: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    scans: int = 0
    """Scans attempted (a skipped overlapping one is not counted)."""
    failed: int = 0
    """Scans that failed: storage refused, every venue failed, or an unexpected error."""

    @property
    def all_failed(self) -> bool:
        return self.scans > 0 and self.failed == self.scans

    def _failure(self, kind: str, message: str, trace: bool = False) -> None:
        """A failed scan is one log line and a count, never the end of the run (``trace``:
        an unexpected error also gets its traceback, for the bug report)."""
        self.failed += 1
        log.error(
            "scan failed (%d of %d so far): %s", self.failed, self.scans, message, exc_info=trace
        )
        if self.metrics is not None:
            self.metrics.scan_failures.labels(kind).inc()

    def scan(self) -> None:
        if not self.lock.acquire(blocking=False):
            log.info("a scan is already running; this one is skipped")
            return
        try:
            self._scan()
        finally:
            self.lock.release()

    def _scan(self) -> None:
        from storage.db import StorageError

        started = SYSTEM_CLOCK.monotonic_ms()
        self.scans += 1
        try:
            outcome = self.session.scan()
        except concurrent.futures.CancelledError:
            self.scans -= 1  # stopped by the user, not failed
            err_console.print("fundscan run: scan in progress cancelled", highlight=False)
            return
        except StorageError as exc:
            self._failure("storage", f"storage: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - counted and logged; the next scan still runs
            self._failure("other", f"{type(exc).__name__}: {exc}", trace=True)
            return
        console.print(_summary(outcome), highlight=False)
        if outcome.collection.all_failed:
            self._failure("venues", "every venue failed")
        if self.metrics is not None:
            rows = {
                "funding_quotes": outcome.quotes_stored,
                "book_snapshots": outcome.books_stored,
                "funding_settlements": outcome.settlements_stored,
                "opportunities": len(outcome.opportunities),
            }
            duration_s = (SYSTEM_CLOCK.monotonic_ms() - started) / 1000
            self.metrics.observe_scan(
                duration_s,
                outcome.collection,
                rows,
                outcome.opportunities,
                self.settings.alerts.min_net_apr,
            )
        decisions = _decide(self.service, outcome)
        verdicts = self._advise(outcome, decisions)
        _commit(self.service, decisions, verdicts, outcome)
        if self.auto is not None:
            try:
                for line in self.auto.tick(outcome.opportunities, verdicts):
                    console.print(f"execute: {line}", highlight=False)
            except Exception as exc:  # noqa: BLE001 - one bad tick must not stop the scans
                err_console.print(f"execute: tick failed: {exc}", highlight=False)
        self._plan_pre_settlement(outcome)

    def _advise(
        self, outcome: Any, decisions: list[Decision] | None
    ) -> dict[str, LlmVerdict] | None:
        """With ``llm.mode`` advisory or gate: one batch about the rows shown, alerted or about
        to be traded (bounded by ``llm.scan_budget_s``); None when the mode is off."""
        from scanner.cli.render import records
        from scanner.llm_advisor import verdicts_by_pair
        from scanner.llm_gate import describe
        from strategies.llm_verdict import abstain, row_pair_key

        if self.settings.llm.mode == "off" or self.session.role == "collect":
            return None
        rows: list[Mapping[str, Any]] = []
        try:
            rows = _rows_to_ask(outcome, decisions, self.auto)
            verdicts, stats = asyncio.run(verdicts_by_pair(self.settings, self.db, rows))
        except Exception as exc:  # noqa: BLE001 - fail closed: every row abstains
            err_console.print(f"llm: batch failed: {exc}", highlight=False)
            failed = abstain(f"llm unavailable: {type(exc).__name__}: {exc}")
            return {row_pair_key(r): failed for r in rows}
        if not verdicts:
            return verdicts
        console.print(f"  {stats.summary()}", highlight=False)
        best = records(outcome.opportunities[outcome.opportunities["executable"]].head(1))
        if best and str(best[0].get("pair_key")) in verdicts:
            verdict = verdicts[str(best[0]["pair_key"])]
            console.print(f"  llm on the best pair: {describe(verdict)}", highlight=False)
        return verdicts

    def _plan_pre_settlement(self, outcome: Any) -> None:
        from scanner.jobs import plan_pre_settlement_scans, pre_settlement_times

        lead_s = self.settings.schedule.pre_settlement_s
        if lead_s <= 0 or self.scheduler is None or self.session.role == "rank":
            return
        times = pre_settlement_times(
            (q.next_funding_ms for q in outcome.collection.quotes), SYSTEM_CLOCK.now_ms(), lead_s
        )
        plan_pre_settlement_scans(self.scheduler, self.scan, times)

    def prune(self) -> None:
        from storage.db import StorageError
        from storage.maintenance import RetentionPolicy, prune

        r = self.settings.storage.retention
        policy = RetentionPolicy(r.quotes_days, r.books_days, r.opportunities_days)
        try:
            counts = prune(self.db, policy, SYSTEM_CLOCK.now_ms())
        except StorageError as exc:
            log.error("prune failed: storage: %s", exc)
            return
        if any(counts.values()):
            console.print(f"pruned {counts}", highlight=False)


def _schedule(job: _Run, max_scans: int | None) -> None:
    from scanner.jobs import build_scheduler

    settings, service = job.settings, job.service
    scheduler = build_scheduler(settings.schedule, job.scan, job.prune, max_scans=max_scans)
    job.scheduler = scheduler
    signalled: list[int] = []

    def on_sigterm(signum: int, _frame: Any) -> None:
        signalled.append(signum)
        if scheduler.running:
            scheduler.shutdown(wait=False)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    err_console.print(
        f"fundscan run ({job.session.role}): scanning every {settings.schedule.scan_every_s} s "
        f"into {job.db.where}; Ctrl-C to stop",
        highlight=False,
    )
    try:
        scheduler.start()
    except KeyboardInterrupt:
        signalled.append(signal.SIGINT)
    finally:
        # In-process callers (tests, notebooks) must not keep a handler for a finished run.
        signal.signal(signal.SIGTERM, previous)
    if scheduler.running:  # Ctrl-C leaves it running
        scheduler.shutdown(wait=False)
    if signalled:
        err_console.print(
            "fundscan run: stopping (a scan in progress is cancelled; unsent alerts stay "
            "queued for the next start)"
        )
    elif service is not None and service.sender is not None:
        _drain(service)


def _recover(db: Database) -> None:
    """Close the scans a killed process left open (reason "interrupted"); say so."""
    from scanner.recovery import close_interrupted_scans
    from storage.db import StorageError
    from storage.scan_store import ScanStore

    try:
        closed = close_interrupted_scans(ScanStore(db), SYSTEM_CLOCK)
    except StorageError as exc:
        log.error("open scans of interrupted runs not closed: storage: %s", exc)
        return
    if closed:
        ids = ", ".join(f"#{i}" for i in closed)
        err_console.print(
            f"fundscan: closed {len(closed)} scan(s) left open by an interrupted process "
            f"({ids}) as interrupted",
            highlight=False,
        )


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


RoleOption = Annotated[
    str,
    typer.Option(
        help="all: collect, rank and alert (default); collect: store quotes and books of "
        "--venues only; rank: rank what collectors stored (all venues) and alert.",
    ),
]


def _roles(settings: Settings, role: str, venues: str | None) -> list[str] | None:
    from scanner.roles import ROLES

    if role not in ROLES:
        raise fail(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
    if venues is not None and role == "rank":
        raise fail("--venues: a rank process collects nothing; drop --venues")
    if venues is None:
        return None
    names = [v.strip() for v in venues.split(",") if v.strip()]
    bad = [n for n in names if n not in settings.venues.enabled]
    if not names or bad:
        raise fail(
            f"--venues: {', '.join(bad) or '(none given)'} not enabled; "
            f"enabled: {', '.join(settings.venues.enabled)}"
        )
    return names


def _metrics(port: int | None, addr: str) -> tuple[Metrics | None, Any]:
    from scanner.metrics import Metrics

    if port is None:
        return None, None
    metrics = Metrics()
    try:
        server = metrics.serve(port, addr)
    except OSError as exc:
        raise fail(f"--metrics-port {port}: cannot listen on {addr}: {exc.strerror}") from None
    err_console.print(f"fundscan run: metrics at http://{addr}:{port}/metrics", highlight=False)
    return metrics, server


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
        role: RoleOption = "all",
        venues: Annotated[
            str | None, typer.Option(help="Comma-separated venues this process collects.")
        ] = None,
        metrics_port: Annotated[
            int | None,
            typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port."),
        ] = None,
        metrics_addr: Annotated[
            str, typer.Option(help="Address the metrics endpoint listens on.")
        ] = "127.0.0.1",
        log_format: Annotated[
            str, typer.Option(help="Log lines as text or json (one object per line).")
        ] = "text",
    ) -> None:
        """Run the scheduled job: a scan every schedule.scan_every_s, until interrupted."""
        settings = settings_or_exit(config)
        settings = with_emulator(settings, emulator)
        names = _roles(settings, role, venues)
        if log_format not in ("text", "json"):
            raise fail(f"--log-format: expected text or json, got {log_format!r}")
        setup_logging(log_format=log_format)  # a long job reports skipped/failed runs as logs
        from storage.db import StorageError, open_database

        try:
            db = open_database(settings.storage.url)
        except StorageError as exc:
            raise fail(f"storage: {exc}") from None
        if db.migration is not None and db.migration.changed:
            err_console.print(db.migration.message, highlight=False)
        _recover(db)
        metrics, server = _metrics(metrics_port, metrics_addr)
        try:
            job = _serve(settings, db, role, names, metrics, max_scans, live)
        finally:
            if server is not None:
                server.shutdown()
            db.dispose()
        err_console.print("fundscan run: stopped", highlight=False)
        if job is not None and job.failed:
            err_console.print(
                f"fundscan run: {job.failed} of {job.scans} scan(s) failed", highlight=False
            )
        if max_scans is not None and job is not None and job.all_failed:
            raise typer.Exit(1)  # like `scan` when every venue failed


def _serve(
    settings: Settings,
    db: Database,
    role: str,
    names: list[str] | None,
    metrics: Metrics | None,
    max_scans: int | None,
    live: bool = False,
) -> _Run | None:
    """Run the schedule; returns the job (its scan and failure counts)."""
    from scanner.alerts.channels import ChannelConfigError
    from scanner.alerts.runtime import alert_service
    from scanner.session import ScanSession
    from storage.repository import Repository

    alerts = settings if role != "collect" else _without_alerts(settings)
    hook = metrics.alert_result if metrics is not None else None
    try:
        with (
            alert_service(alerts, db, SYSTEM_CLOCK, hook) as service,
            ScanSession(settings, Repository(db), names, role=role) as session,
        ):
            if service is not None:
                err_console.print(f"fundscan run: alerts to {', '.join(service.labels)}")
                if left := service.resume():
                    err_console.print(
                        f"fundscan run: sending {left} alert(s) left queued by an earlier run"
                    )
            auto = _auto(settings, db, live) if role != "collect" else None
            job = _Run(settings, db, session, service, metrics, auto)
            _schedule(job, max_scans)
    except ChannelConfigError as exc:
        raise fail(f"config: {settings.source}: {exc}") from None
    return job


def _without_alerts(settings: Settings) -> Settings:
    """A collect process never alerts (the rank process does, from all venues)."""
    return settings.model_copy(
        update={"alerts": settings.alerts.model_copy(update={"enabled": False})}
    )
