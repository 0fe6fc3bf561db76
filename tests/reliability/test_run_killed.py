"""``fundscan run`` killed mid-scan, then restarted (hostile-input rows 10 and 11), as real
processes on SQLite and PostgreSQL.

One OKX endpoint (settled funding history, asked for during enrichment) hangs, so the scan
is reliably in flight when the signal comes. First process: SIGKILL. Second process: on start
it must close the scan the first one left open (reason "interrupted"), then, when it hangs in
enrichment too, SIGTERM must end it quietly (exit 0, no "Task was destroyed but it is
pending!", no traceback). Afterwards no scan is open, SQLite's integrity check passes and no
row is duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from emulator import Emulator
from emulator.faults import FaultSpec
from storage.db import Database, open_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from _storage_helpers import PG_URL, SCHEMA_PREFIX, Backend  # noqa: E402

HISTORY = "/api/v5/public/funding-rate-history"
WAIT_S = 120.0
"""Bound of every wait below (process start-up is slow on a loaded CI machine)."""
KEYS = {
    "funding_quotes": "venue, venue_symbol, ts_ms",
    "funding_settlements": "venue, venue_symbol, funding_time_ms",
    "book_snapshots": "venue, venue_symbol, ts_ms",
    "opportunities": "scan_id, pair_key",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'run.db'}")
        return
    import secrets

    import psycopg
    from _storage_helpers import libpq_url

    schema = SCHEMA_PREFIX + "crash_" + secrets.token_hex(4)
    admin = psycopg.connect(libpq_url(PG_URL), autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Backend("postgresql", PG_URL, schema)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def _start(cfg: Path, emu: Emulator, log: Path) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).parent / "fundscan")
    args = [exe, "run", "-c", str(cfg), "--emulator", emu.url, "--venues", "bybit,okx"]
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def _history_requests(emu: Emulator) -> int:
    return sum(1 for r in list(emu.request_log) if r["venue"] == "okx" and r["path"] == HISTORY)


def _wait_for_history(emu: Emulator, proc: subprocess.Popen[bytes], seen: int, log: Path) -> None:
    """Until the process is hanging in enrichment (a new history request arrived)."""
    deadline = time.monotonic() + WAIT_S
    while _history_requests(emu) <= seen:
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "no history request: " + log.read_text()
        time.sleep(0.05)


def _checks(db: Database) -> None:
    with db.read() as conn:
        open_scans = conn.execute(text("SELECT id FROM scans WHERE finished_ms IS NULL")).all()
        assert open_scans == []
        for table, key in KEYS.items():
            dup = conn.execute(
                text(f"SELECT {key}, count(*) FROM {table} GROUP BY {key} HAVING count(*) > 1")
            ).all()
            assert dup == [], table
        if db.dialect == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


@pytest.mark.timeout(300)
def test_sigkill_then_restart_closes_the_open_scan_and_sigterm_is_quiet(
    backend: Backend, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f'storage:\n  url: "{backend.url_with_search_path}"\n'
        "schedule: {scan_every_s: 5, pre_settlement_s: 0}\n"
        "collector: {deadline_s: 60}\n",
        encoding="utf-8",
    )
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with Emulator(seed=11).run_in_thread() as emu:
        emu.faults.set("okx", HISTORY, FaultSpec("timeout", hang_s=300))
        first = _start(cfg, emu, first_log)
        try:
            _wait_for_history(emu, first, 0, first_log)
            first.send_signal(signal.SIGKILL)
            first.wait(WAIT_S)
        finally:
            if first.poll() is None:
                first.kill()
        with (
            open_database(backend.url, create=False, schema=backend.schema) as db,
            db.read() as conn,
        ):
            killed = conn.execute(text("SELECT id FROM scans")).scalars().all()
        assert len(killed) == 1  # the killed scan is there, open

        seen = _history_requests(emu)
        second = _start(cfg, emu, second_log)
        try:
            _wait_for_history(emu, second, seen, second_log)
            second.send_signal(signal.SIGTERM)
            second.wait(WAIT_S)
        finally:
            if second.poll() is None:
                second.kill()
    out = second_log.read_text(errors="replace")
    assert second.returncode == 0, out
    assert f"closed 1 scan(s) left open by an interrupted process (#{killed[0]})" in out
    assert "Task was destroyed" not in out and "Traceback" not in out, out
    assert "fundscan run: stopped" in out
    db = open_database(backend.url, create=False, schema=backend.schema)
    try:
        _checks(db)
        with db.read() as conn:
            notes = dict(conn.execute(text("SELECT id, notes FROM scans")).all())
    finally:
        db.dispose()
    assert notes[killed[0]] == "interrupted"
    assert len(notes) == 2 and all(n and "running" not in n for n in notes.values()), notes


def test_a_scan_of_a_live_process_is_not_closed(tmp_path: Path) -> None:
    """Another process's running scan (this test process is alive) stays open."""
    from scanner.clock import FakeClock
    from scanner.recovery import close_interrupted_scans, running_note
    from storage.scan_store import ScanStore

    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        store = ScanStore(db)
        clock = FakeClock()
        live = store.start_scan(clock.now_ms(), notes=running_note())
        other_host = store.start_scan(
            clock.now_ms(), notes=f"running: host=elsewhere pid={os.getpid()} run=ab12"
        )
        assert close_interrupted_scans(store, clock) == []
        clock.advance(3601)  # past any scan's possible duration: whoever ran it is gone
        assert close_interrupted_scans(store, clock) == [live, other_host]
    finally:
        db.dispose()
