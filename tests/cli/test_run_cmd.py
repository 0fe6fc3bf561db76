"""The scheduled job: scans on its interval, survives a failing scan, stops when asked."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from scanner.jobs import PRUNE_JOB, SCAN_JOB, build_scheduler
from scanner.settings import ScheduleSettings
from scanner.venues.specs import venue_ids
from storage.db import open_database
from storage.queries import Queries


def test_a_failing_scan_does_not_stop_the_schedule() -> None:
    calls: list[str] = []

    def scan() -> None:
        calls.append("scan")
        if len(calls) == 1:
            raise RuntimeError("venue exploded")

    scheduler = build_scheduler(
        ScheduleSettings(scan_every_s=5, prune_every_h=0), scan, lambda: None, max_scans=2
    )
    assert [j.id for j in scheduler.get_jobs()] == [SCAN_JOB]
    scheduler.start()  # blocks until the second scan finished
    assert calls == ["scan", "scan"]


def test_prune_job_is_scheduled_when_enabled() -> None:
    scheduler = build_scheduler(ScheduleSettings(prune_every_h=12), lambda: None, lambda: None)
    assert {j.id for j in scheduler.get_jobs()} == {SCAN_JOB, PRUNE_JOB}


def test_the_first_runs_are_due_at_the_injected_clocks_now() -> None:
    from datetime import UTC, datetime

    from scanner.clock import FakeClock

    clock = FakeClock(start_ms=1_800_000_000_000)  # 2027-01-15 08:00 UTC, not today
    scheduler = build_scheduler(
        ScheduleSettings(prune_every_h=12), lambda: None, lambda: None, clock=clock
    )
    due = {j.id: j.next_run_time for j in scheduler.get_jobs()}
    expected = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert due == {SCAN_JOB: expected, PRUNE_JOB: expected}


def test_run_scans_the_emulator_until_max_scans(tmp_path: Path) -> None:
    db = tmp_path / "run.db"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"schedule:\n  scan_every_s: 5\n  pre_settlement_s: 0\nstorage:\n  url: sqlite:///{db}\n"
    )
    with Emulator(seed=5).run_in_thread() as emu:
        result = CliRunner().invoke(
            app, ["run", "-c", str(cfg), "--emulator", emu.url, "--max-scans", "2"]
        )
    assert result.exit_code == 0, result.output
    n = len(venue_ids())
    assert f"scan #1: {n}/{n} venues ok" in result.output
    assert f"scan #2: {n}/{n} venues ok" in result.output
    database = open_database(f"sqlite:///{db}", create=False)
    try:
        scans = Queries(database).scans()
    finally:
        database.dispose()
    assert len(scans) == 2 and scans["finished_ms"].notna().all()


def test_run_rejects_a_bad_emulator_url() -> None:
    result = CliRunner().invoke(app, ["run", "--emulator", "localhost:1"])
    assert result.exit_code == 2 and "--emulator" in result.output
