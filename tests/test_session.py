"""Adapters outlive a scan: an IP ban seen in one scheduled scan silences the next one."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from emulator import Emulator, FaultSpec
from scanner.collector import VenueStatus
from scanner.pipeline import scan_once
from scanner.session import ScanSession
from scanner.settings import Settings
from storage.db import open_database
from storage.repository import Repository

POLL_S = 0.05
POLLS = 1200
"""Waiting for a request to reach the emulator is bounded (60 s), never an endless loop."""


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


def test_a_ban_persists_across_scans_when_bybit_keys_are_set(tmp_path: Path) -> None:
    """With API keys the live fee lookup must go through the session's Bybit adapter, so the
    ban it saw silences the fee call too (it used to build a fresh keyed adapter per scan)."""
    from decimal import Decimal

    from emulator.bybit_account import BybitAccount

    key, secret = "test-key-ban", "test-secret-ban"  # emulator account, not a real secret
    account = BybitAccount(key, secret, taker_fee_rate=Decimal("0.0004"))
    with Emulator(seed=4, bybit_accounts=[account]).run_in_thread() as emu:
        emu.faults.set("bybit", "*", FaultSpec("ban"))
        base = Settings(env={}).with_base_url(emu.url)
        settings = base.with_env({"BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret})
        db = open_database(f"sqlite:///{tmp_path / 'k.db'}")
        hits: list[int] = []
        try:
            with ScanSession(settings, Repository(db), names=["bybit", "gate"]) as session:
                for _ in range(3):
                    outcome = session.scan()
                    hits.append(_ban_hits(emu))
        finally:
            db.dispose()
    bybit = outcome.collection.results["bybit"]
    assert bybit.status is VenueStatus.FAILED and "ban" in (bybit.reason or "").lower()
    assert hits[0] >= 1
    assert hits == [hits[0]] * 3, f"requests reaching the banned venue after each scan: {hits}"


def test_the_session_clock_stamps_every_scan(tmp_path: Path) -> None:
    """ScanSession(clock=...) reaches the pipeline and the collector: stored scan times are
    the injected clock's, not the wall clock's."""
    from scanner.clock import FakeClock
    from storage.queries import Queries

    clock = FakeClock(start_ms=1_800_000_000_000)  # 2027-01-15, far from the wall clock
    with Emulator(seed=4).run_in_thread() as emu:
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 't.db'}")
        try:
            with ScanSession(settings, Repository(db), names=["gate"], clock=clock) as session:
                first = session.scan()
                clock.advance(60)
                second = session.scan()
            scans = Queries(db).scans().sort_values("started_ms")
        finally:
            db.dispose()
    assert first.collection.results["gate"].status is VenueStatus.OK
    assert (first.now_ms, second.now_ms) == (1_800_000_000_000, 1_800_000_060_000)
    assert list(scans["started_ms"]) == [1_800_000_000_000, 1_800_000_060_000]
    assert list(scans["finished_ms"]) == [1_800_000_000_000, 1_800_000_060_000]


def test_the_session_remembers_each_scans_book_candidates_for_the_next(
    tmp_path: Path,
) -> None:
    """The memory ``collect`` prefetches from (tests/test_collector.py shows what it does)
    lives in the session and is handed to every scan: after each scan it holds that scan's
    candidates, and the next scan's books are its own candidates' (prefetched or not)."""
    with Emulator(seed=4).run_in_thread() as emu:
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 't.db'}")
        try:
            with ScanSession(settings, Repository(db), names=["gate", "okx"]) as session:
                first = session.scan()
                assert session.prefetch.candidates == first.collection.candidates != []
                second = session.scan()
        finally:
            db.dispose()
    assert session.prefetch.candidates == second.collection.candidates != []
    for result in second.collection.results.values():
        assert result.books and set(result.books) <= set(second.collection.candidates)


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

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            reached = False
            for _ in range(POLLS):  # wait until the scan is stuck in the venue
                reached = any(r["hits"] for r in emu.faults.describe())
                if reached:
                    break
                worker.join(POLL_S)
            session.__exit__(None, None, None)  # also when it never got there: no stray thread
            worker.join(60)  # liveness bound far below the 600 s hang, not a timing claim
        finally:
            db.dispose()
    assert reached, "the scan never reached the hanging venue"
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
            for _ in range(POLLS):
                if any(r["hits"] for r in emu.faults.describe()):
                    break
                await asyncio.sleep(POLL_S)
            else:
                task.cancel()
                pytest.fail("the scan never reached the hanging venue")
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


def test_the_session_scans_on_uvloop(tmp_path: Path) -> None:
    """``fundscan run``'s scans run on uvloop (installed with ccxt): asyncio's own loop and
    transports cost ~17 % of a steady scan's CPU. A scan on it collects as on asyncio's."""
    import uvloop

    with Emulator(seed=4).run_in_thread() as emu:
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 's.db'}")
        try:
            with ScanSession(settings, Repository(db), names=["gate"]) as session:

                async def loop_type() -> type:
                    return type(asyncio.get_running_loop())

                loop = session._run(loop_type())
                outcome = session.scan()
        finally:
            db.dispose()
    assert issubclass(loop, uvloop.Loop)
    gate = outcome.collection.results["gate"]
    assert gate.status is VenueStatus.OK and gate.quotes


def test_the_session_freezes_the_heap_after_each_instrument_load_and_releases_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scanner.gcpause.SessionGc`` as ``fundscan run`` uses it: the first scan loads the
    instrument lists and the heap is frozen after it, with the collector paused; a scan on
    cached lists does not refreeze; a reload does; closing the session unfreezes."""
    freezes: list[bool] = []
    real_freeze = gc.freeze

    def freeze() -> None:
        freezes.append(gc.isenabled())
        real_freeze()

    monkeypatch.setattr(gc, "freeze", freeze)
    with Emulator(seed=4).run_in_thread() as emu:
        settings = Settings(env={}).with_base_url(emu.url)
        db = open_database(f"sqlite:///{tmp_path / 'g.db'}")
        try:
            with ScanSession(settings, Repository(db), names=["gate", "okx"]) as session:
                session.scan()
                assert freezes == [False] and gc.get_freeze_count() > 0
                session.scan()  # instruments cached (refreshed hourly)
                assert freezes == [False]
                session.instruments.refresh_s = 0  # due: the next scan reloads them
                session.scan()
                assert freezes == [False, False]
        finally:
            db.dispose()
    assert gc.get_freeze_count() == 0 and gc.isenabled()
