"""Scans left open by a process that died (SIGKILL, power loss, OOM) are closed on start.

Why not simply close every open scan: on PostgreSQL several processes share one database
(``--role collect`` on many machines, a ``scan`` next to a ``run``), and an open scan may be
one that is running right now. So each scan is stamped when it starts with the process that
runs it (``running: host=H pid=P run=T``, in ``scans.notes``; cleared when it finishes). On
start, an open scan is closed with the reason "interrupted" when

* it was started on this host by a process that no longer exists (or by an earlier process
  that had our pid: the run token differs), or
* it started more than ``STALE_AFTER_S`` ago, whoever ran it: a scan is bounded by
  ``collector.deadline_s`` (at most 600 s), so one open for an hour belongs to a dead process
  on another machine.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket

from scanner.clock import Clock
from scanner.units import MS_PER_S
from storage.scan_store import ScanStore

log = logging.getLogger(__name__)

STALE_AFTER_S = 3600.0
RUN_TOKEN = secrets.token_hex(4)
"""This process's identity next to its pid (a pid can be reused after a restart)."""
_MARK = re.compile(r"^running: host=(?P<host>\S+) pid=(?P<pid>\d+) run=(?P<run>\w+)$")


def running_note() -> str:
    """What ``start_scan`` stores in ``notes`` while the scan runs."""
    return f"running: host={socket.gethostname()} pid={os.getpid()} run={RUN_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: assume it is alive
    return True


def _owner_gone(notes: str | None) -> bool:
    """True when the note names a process on this host that is not running any more."""
    m = _MARK.match(notes or "")
    if m is None or m["host"] != socket.gethostname():
        return False
    pid = int(m["pid"])
    if pid == os.getpid():
        return m["run"] != RUN_TOKEN
    return not _pid_alive(pid)


def close_interrupted_scans(store: ScanStore, clock: Clock) -> list[int]:
    """Close (reason "interrupted") the open scans whose process is gone; returns their ids."""
    now_ms = clock.now_ms()
    stale_before_ms = now_ms - STALE_AFTER_S * MS_PER_S
    dead = [
        scan_id
        for scan_id, started_ms, notes in store.open_scans()
        if _owner_gone(notes) or started_ms < stale_before_ms
    ]
    closed = store.close_interrupted(dead, now_ms, "interrupted")
    if closed:
        log.warning("closed %d scan(s) left open by an interrupted process: %s", closed, dead)
    return dead
