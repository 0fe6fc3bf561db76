"""Adapters outlive a scan: an IP ban seen in one scheduled scan silences the next one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from emulator import Emulator, FaultSpec
from scanner.collector import VenueStatus
from scanner.pipeline import scan_once
from scanner.session import ScanSession
from scanner.settings import Settings
from storage.db import open_database
from storage.repository import Repository


def _ban_hits(emu: Emulator) -> int:
    (rule,) = [r for r in emu.faults.describe() if r["kind"] == "ban"]
    return int(rule["hits"])


def test_a_ban_persists_across_scans_of_one_session(tmp_path: Path) -> None:
    with Emulator(seed=4).run_in_thread() as emu:
        emu.faults.set("bybit", "*", FaultSpec("ban"))  # every Bybit request: HTTP 403
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 's.db'}")
        try:
            with ScanSession(settings, Repository(db), names=["bybit", "gate"]) as session:
                first = session.scan()
                venues_after_first = dict(session.venues)
                hits_after_first = _ban_hits(emu)
                second = session.scan()
                assert session.venues == venues_after_first  # the same adapter objects
            hits_after_session = _ban_hits(emu)
            # contrast: adapters built per scan forget the ban and hit the venue again
            asyncio.run(scan_once(settings, Repository(db), names=["bybit", "gate"]))
            hits_per_scan_adapters = _ban_hits(emu)
        finally:
            db.dispose()
    for outcome in (first, second):
        bybit = outcome.collection.results["bybit"]
        assert bybit.status is VenueStatus.FAILED and "ban" in (bybit.reason or "").lower()
        assert outcome.collection.results["gate"].status is VenueStatus.OK
    assert hits_after_first >= 1
    assert hits_after_session == hits_after_first  # the second scan sent nothing to Bybit
    assert hits_per_scan_adapters > hits_after_session


def test_closing_the_session_cancels_a_scan_in_flight(tmp_path: Path) -> None:
    """Ctrl-C / SIGTERM during a scan: the scan is cancelled instead of hanging the process."""
    import concurrent.futures
    import threading

    with Emulator(seed=4).run_in_thread() as emu:
        emu.faults.set("gate", "*", FaultSpec("timeout", hang_s=600))
        settings = Settings(env={}).with_base_url(emu.url)
        settings = settings.model_copy(
            update={"collector": settings.collector.model_copy(update={"deadline_s": 600.0})}
        )
        db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
        errors: list[BaseException] = []
        try:
            session = ScanSession(settings, Repository(db), names=["gate"]).__enter__()

            def run() -> None:
                try:
                    session.scan()
                except BaseException as exc:
                    errors.append(exc)

            worker = threading.Thread(target=run)
            worker.start()
            while not any(r["hits"] for r in emu.faults.describe()):
                worker.join(0.05)  # wait until the scan is stuck in the venue
            session.__exit__(None, None, None)
            worker.join(120)  # liveness bound far below the 600 s hang, not a timing claim
        finally:
            db.dispose()
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], concurrent.futures.CancelledError)


def test_a_cancelled_scan_is_closed_with_its_reason(tmp_path: Path) -> None:
    from storage.queries import Queries

    with Emulator(seed=4).run_in_thread() as emu:
        emu.faults.set("gate", "*", FaultSpec("timeout", hang_s=600))
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 'x.db'}")

        async def scan_then_cancel() -> None:
            task = asyncio.create_task(scan_once(settings, Repository(db), names=["gate"]))
            while not any(r["hits"] for r in emu.faults.describe()):
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        try:
            asyncio.run(scan_then_cancel())
            scans = Queries(db).scans()
        finally:
            db.dispose()
    assert len(scans) == 1
    row = scans.iloc[0]
    assert row["finished_ms"] > 0 and str(row["notes"]).startswith("failed: CancelledError")
