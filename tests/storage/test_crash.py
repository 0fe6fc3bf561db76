"""A writer killed with SIGKILL mid-batch leaves a database with whole batches only.

The kill moment is random but seeded (reproducible): after the writer has acknowledged its
first batch, the test waits a seeded fraction of a second - batches take a good part of a
second to write, so the kill lands inside a batch's transaction almost every time - then
sends SIGKILL. Afterwards the database must open cleanly, pass SQLite's integrity check,
hold a whole number of batches, and keep every batch the writer acknowledged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _storage_helpers import Backend
from sqlalchemy import text

from storage.queries import Queries

BATCH = 20_000
WRITER = Path(__file__).with_name("crash_writer.py")
REPO = Path(__file__).resolve().parents[2]


def _wait_for_line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"writer did not start: {line!r} {err}")
    return line


@pytest.mark.parametrize("seed", [5, 11])
def test_sigkill_mid_batch_leaves_only_whole_batches(backend: Backend, seed: int) -> None:
    backend.open().dispose()  # schema first, so the writer's time goes into batches
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), backend.url, backend.schema or "-", str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_line(proc, "committed 0")
        time.sleep(random.Random(seed).uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    acknowledged = 1 + out.count("committed ")

    with backend.open(create=False) as db:
        if db.dialect == "sqlite":
            with db.read() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        rows = Queries(db).count("funding_quotes")
    assert rows % BATCH == 0, f"{rows} rows is not a whole number of {BATCH}-row batches"
    # every acknowledged batch survived; at most one more committed just before the kill
    assert acknowledged * BATCH <= rows <= (acknowledged + 1) * BATCH
