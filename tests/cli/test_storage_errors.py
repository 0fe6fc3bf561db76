"""A database that refuses writes (hostile-input row 3) and a bounded run that never succeeds
(row 6): one line and exit 2 for one-shot commands; a logged, counted, non-fatal failure per
scan in ``run``, which exits 1 when every scan of a ``--max-scans`` run failed.

Tests may run as root, where ``chmod 444`` stops nothing. The conditions are therefore made
by SQLite itself: a read-only open (``?mode=ro``, what SQLite falls back to for a file it may
not write), a page limit at the current size (SQLite's own "database or disk is full"), and a
second connection holding the write lock past the busy timeout ("database is locked").
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from typer.testing import CliRunner

import storage.db
from emulator import Emulator
from scanner.cli import app
from storage.db import open_database

runner = CliRunner()
UNREACHABLE = "http://127.0.0.1:1"  # connection refused at once: no venue is asked anything


def _created(tmp_path: Path) -> Path:
    path = tmp_path / "fundscan.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f'storage:\n  url: "{url}"\nschedule:\n  scan_every_s: 5\n  pre_settlement_s: 0\n' + extra,
        encoding="utf-8",
    )
    return cfg


@pytest.fixture
def on_connect() -> Iterator[Callable[[Callable[[Any], None]], None]]:
    """Run ``fn(dbapi_connection)`` on every new SQLite connection of every engine."""
    added: list[Callable[..., None]] = []

    def add(fn: Callable[[Any], None]) -> None:
        def listener(dbapi_conn: Any, _record: Any) -> None:
            fn(dbapi_conn)

        event.listen(Engine, "connect", listener)
        added.append(listener)

    yield add
    for listener in added:
        event.remove(Engine, "connect", listener)


def _one_error_line(output: str, *needles: str) -> None:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], output
    assert "Traceback" not in output


def _read_only_url(path: Path) -> str:
    return f"sqlite:///file:{path}?mode=ro&uri=true"


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--emulator", UNREACHABLE, "--venues", "bybit"],
        ["db", "prune"],
    ],
    ids=["scan", "db-prune"],
)
def test_a_read_only_database_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    cfg = _config(tmp_path, _read_only_url(_created(tmp_path)))
    result = runner.invoke(app, [*args, "-c", str(cfg)])
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, "storage:", "attempt to write a readonly database")


def test_a_read_only_database_can_still_be_exported(tmp_path: Path) -> None:
    cfg = _config(tmp_path, _read_only_url(_created(tmp_path)))
    out = tmp_path / "scans.csv"
    result = runner.invoke(
        app, ["export", "-t", "scans", "-f", "csv", "-o", str(out), "-c", str(cfg)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("id,")


def test_a_full_disk_is_one_line_and_exit_2(
    tmp_path: Path, on_connect: Callable[[Callable[[Any], None]], None]
) -> None:
    path = _created(tmp_path)

    def no_growth(conn: Any) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages}")

    on_connect(no_growth)
    cfg = _config(tmp_path, f"sqlite:///{path}")
    result = runner.invoke(app, ["db", "prune", "-c", str(cfg)])
    assert result.exit_code == 0, result.output  # reading and deleting nothing still works
    with Emulator(seed=3).run_in_thread() as emu:  # bybit's quotes need pages to be stored
        result = runner.invoke(
            app, ["scan", "--emulator", emu.url, "--venues", "bybit", "-c", str(cfg)]
        )
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, "storage:", "database or disk is full")


def test_a_locked_database_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _created(tmp_path)
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        cfg = _config(tmp_path, f"sqlite:///{path}")
        result = runner.invoke(app, ["db", "prune", "-c", str(cfg)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, "storage:", "database is locked")


def test_run_counts_storage_failures_and_exits_1_when_every_scan_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _config(tmp_path, _read_only_url(_created(tmp_path)))
    with caplog.at_level(logging.ERROR):
        result = runner.invoke(
            app,
            ["run", "-c", str(cfg), "--emulator", UNREACHABLE, "--venues", "bybit",
             "--max-scans", "2"],
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "2 of 2 scan(s) failed" in result.output
    failures = [r.getMessage() for r in caplog.records if "scan failed" in r.getMessage()]
    assert len(failures) == 2, failures  # the first failure did not stop the run
    assert all("attempt to write a readonly database" in m for m in failures)
    assert not any(r.exc_info for r in caplog.records if "scan failed" in r.getMessage())


def test_run_exits_1_when_every_venue_failed_in_every_scan(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'run.db'}")
    result = runner.invoke(
        app, ["run", "-c", str(cfg), "--emulator", UNREACHABLE, "--max-scans", "1"]
    )
    assert result.exit_code == 1, result.output
    assert "1 of 1 scan(s) failed" in result.output
