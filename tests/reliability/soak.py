"""The soak (issue 12): ``fundscan run``'s job against the emulator with 20 % of requests
faulted, every fault kind mixed, on an accelerated clock.

What runs: the job ``fundscan run`` schedules (``scanner.cli.run_cmd._Run.scan``: scan,
summary, metrics, alerts) on a ``ScanSession`` with the alert sender delivering to a local
webhook, cycle after cycle with no wait between them. The accelerated clock: the session, the
ban gates and the alert service run on a ``FakeClock`` and the emulator is stepped, both moved
``STEP_S`` per cycle, so bans lift, funding settles and cooldowns expire as in hours of
operation while the soak takes minutes. The emulator runs in its own process, so the
resident memory measured here is the scanner's alone (the emulator's request log and settled
history grow by design and are reported separately). Used by ``test_soak.py`` (a short run
in ``make test``, the long one behind ``-m soak_long``) and by
``python tests/reliability/soak.py --cycles N`` for the figures in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import text

from emulator.faults import AFTER, BEFORE
from scanner.alerts.runtime import alert_service
from scanner.cli.run_cmd import _Run
from scanner.clock import FakeClock
from scanner.metrics import Metrics
from scanner.session import ScanSession
from scanner.settings import load_settings
from storage.db import open_database
from storage.repository import Repository

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from _sinks import ChatSinks  # noqa: E402

FAULT_SHARE = 0.2
STEP_S = 60
"""Accelerated time per cycle (the emulator and the scanner's clock both move this far)."""
DEADLINE_S = 4.0
"""Each scan's bound (``collector.deadline_s``): with a fifth of requests failing some venue
almost always waits for a timeout, so this sets the pace of the soak."""
KINDS = sorted((BEFORE | AFTER) - {"timeout"}) + ["timeout"]
DUP_KEYS = {
    "funding_quotes": "venue, venue_symbol, ts_ms",
    "funding_settlements": "venue, venue_symbol, funding_time_ms",
    "book_snapshots": "venue, venue_symbol, ts_ms",
    "opportunities": "scan_id, pair_key",
    "alerts_sent": "channel, pair_key, sent_ms, event",
}
BOOKS = {  # venue -> (path, query parameter naming the symbol)
    "bybit": ("/v5/market/orderbook", "symbol"),
    "binanceusdm": ("/fapi/v1/depth", "symbol"),
    "okx": ("/api/v5/market/books", "instId"),
    "gate": ("/api/v4/futures/usdt/order_book", "contract"),
    "bitget": ("/api/v2/mix/market/merge-depth", "symbol"),
}
HISTORY = {
    "bybit": ("/v5/market/funding/history", "symbol"),
    "binanceusdm": ("/fapi/v1/fundingRate", "symbol"),
    "okx": ("/api/v5/public/funding-rate-history", "instId"),
    "gate": ("/api/v4/futures/usdt/funding_rate", "contract"),
    "bitget": ("/api/v2/mix/market/history-fund-rate", "symbol"),
}
"""Hyperliquid asks for everything by POST /info with the coin in the body, which the
emulator's request log does not keep: its books and history are not cross-checked."""


def fault_plan(seed: int) -> dict[str, Any]:
    """20 % of every venue's requests faulted, split evenly over every kind but latency (which
    is not a failure; 10 % of requests get 50 ms on top). The rules draw in order, so each
    later kind's probability is raised to keep the shares equal."""
    rules: list[dict[str, Any]] = [
        {"venue": "*", "endpoint": "*", "kind": "latency", "probability": 0.1, "latency_ms": 50}
    ]
    per_kind = FAULT_SHARE / len(KINDS)
    before = [k for k in KINDS if k in BEFORE]
    after = [k for k in KINDS if k in AFTER]
    for group in (before, after):
        left = 1.0
        for kind in group:
            rule: dict[str, Any] = {"venue": "*", "endpoint": "*", "kind": kind}
            rule["probability"] = min(1.0, per_kind / left)
            if kind == "timeout":
                rule["hang_s"] = 3.0  # past the venues' 1 s timeout below
            if kind == "ban":
                rule["retry_after_s"] = 120
            rules.append(rule)
            left -= per_kind
    return {"seed": seed, "faults": rules}


def _config(tmp: Path, sinks: ChatSinks) -> Path:
    venue_timeouts = "".join(
        f"  {v}: {{timeout_s: 1}}\n"
        for v in ("bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid")
    )
    cfg = tmp / "soak.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{tmp / 'soak.db'}'}}\n"
        "schedule: {scan_every_s: 60, pre_settlement_s: 0}\n"
        f"collector: {{deadline_s: {DEADLINE_S:g}, book_candidates: 6}}\n"
        f"venues:\n{venue_timeouts}"
        "alerts:\n  enabled: true\n  min_net_apr: -10\n  min_confidence: 0\n"
        "  alert_unrated: true\n  cooldown_min: 30\n  realert_after_apr_change: 100\n"
        "  max_per_scan: 3\n  rate_per_s: 50\n  timeout_s: 3\n"
        "  channels:\n"
        "    - {kind: webhook, url_env: T_WEBHOOK_URL, secret_env: T_WEBHOOK_SECRET}\n",
        encoding="utf-8",
    )
    return cfg


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def sqlite_memory_probe() -> Callable[[], float] | None:
    """MB held by SQLite's allocator (page caches, statements): native memory in the RSS that
    the Python heap does not see. Read from the process's libsqlite3, the library ``_sqlite3``
    links (``dlopen`` hands back the loaded instance); None where it cannot be found."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int64
    return lambda: float(fn()) / 2**20


def growth(values: list[float]) -> float:
    """Median of the last third minus that of the second third (the first third is warm-up:
    imports, JIT, caches filling)."""
    n = len(values)
    if n < 3:
        return 0.0
    mid, last = values[n // 3 : 2 * n // 3], values[2 * n // 3 :]
    return sorted(last)[len(last) // 2] - sorted(mid)[len(mid) // 2]


LAUNCH = """
import asyncio, json, sys
from emulator import Emulator

async def main(seed, faults):
    emu = Emulator(seed=seed, stepped=True, faults=faults)
    await emu.start(0)
    sys.stdout.write(emu.url + "\\n")
    sys.stdout.flush()
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), json.loads(sys.argv[2])))
"""
"""The emulator's own process: stepped clock, the soak's fault plan, served until killed."""


@dataclass
class EmulatorProcess:
    """The emulator served from a child process, driven over its ``/_control`` endpoints."""

    proc: subprocess.Popen[str]
    url: str

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.url}/_control/state", timeout=30).json()
        return state

    def request_log(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = httpx.get(f"{self.url}/_control/log", timeout=120).json()[
            "requests"
        ]
        return log


@contextlib.contextmanager
def emulator_process(seed: int) -> Iterator[EmulatorProcess]:
    """Start the emulator in a child process; killed on the way out, whatever happened."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(seed), json.dumps(fault_plan(seed))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # bounded: the child prints or exits
        if not url.startswith("http"):
            raise RuntimeError(f"emulator process did not start (exit code {proc.poll()})")
        yield EmulatorProcess(proc, url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class SoakResult:
    cycles: int
    wall_s: float
    scans_failed: dict[str, int]
    requests: int
    faulted: Counter[str]
    duplicates: dict[str, int]
    missing_books: list[tuple[str, str]]
    missing_history: list[tuple[str, str]]
    checked_books: int
    checked_history: int
    alerts_sent: int
    alerts_accepted: int
    duplicate_alerts: int
    rss_mb: list[float] = field(default_factory=list)
    """The scanner process's resident memory after each cycle (the emulator is not in it)."""
    emulator_rss_mb: list[float] = field(default_factory=list)
    """The emulator process's, after each cycle: grows by design (request log, history)."""
    sqlite_mb: list[float] = field(default_factory=list)
    """SQLite's allocator in the scanner process after each cycle (bounded by the page caches)."""
    python_blocks: list[float] = field(default_factory=list)
    """``sys.getallocatedblocks()`` after each cycle: the Python objects alive."""

    @property
    def rss_growth_mb(self) -> float:
        return growth(self.rss_mb)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "wall_s": round(self.wall_s, 1),
            "scans_failed": self.scans_failed,
            "requests": self.requests,
            "faulted": dict(self.faulted),
            "fault_share": round(sum(self.faulted.values()) / max(1, self.requests), 3),
            "duplicates": self.duplicates,
            "books_checked": self.checked_books,
            "books_missing": len(self.missing_books),
            "history_checked": self.checked_history,
            "history_missing": len(self.missing_history),
            "alerts_sent": self.alerts_sent,
            "alerts_accepted": self.alerts_accepted,
            "duplicate_alerts": self.duplicate_alerts,
            "rss_first_mb": round(self.rss_mb[0], 1) if self.rss_mb else None,
            "rss_last_mb": round(self.rss_mb[-1], 1) if self.rss_mb else None,
            "rss_growth_mb": round(self.rss_growth_mb, 1),
            "emulator_rss_first_mb": _first(self.emulator_rss_mb),
            "emulator_rss_last_mb": _first(self.emulator_rss_mb[::-1]),
            "sqlite_first_mb": _first(self.sqlite_mb),
            "sqlite_last_mb": _first(self.sqlite_mb[::-1]),
            "sqlite_growth_mb": round(growth(self.sqlite_mb), 1),
            "python_blocks_first": _first(self.python_blocks),
            "python_blocks_last": _first(self.python_blocks[::-1]),
            "python_blocks_growth": round(growth(self.python_blocks)),
            "rss_by_report": self.by_report,
        }

    @property
    def by_report(self) -> list[dict[str, Any]]:
        """Cycle 1's and every 50th cycle's figures, for the record in RESULTS.md."""
        picks = [i for i in range(len(self.rss_mb)) if i == 0 or (i + 1) % 50 == 0]
        return [
            {
                "cycle": i + 1,
                "rss_mb": round(self.rss_mb[i], 1),
                "sqlite_mb": round(self.sqlite_mb[i], 1) if self.sqlite_mb else None,
                "python_blocks": int(self.python_blocks[i]) if self.python_blocks else None,
            }
            for i in picks
        ]


def _first(values: list[float]) -> float | None:
    return round(values[0], 1) if values else None


def _symbol(r: dict[str, Any], spec: tuple[str, str]) -> str | None:
    query = parse_qs(r["query"])
    if r["venue"] == "bybit" and query.get("category", ["linear"])[0] != "linear":
        return None  # spot books are stored under the spot pair, checked by the engine tests
    return query[spec[1]][0] if spec[1] in query else None


def _served(
    log: list[dict[str, Any]],
    table: dict[str, tuple[str, str]],
    cut: set[tuple[int, str]],
) -> set[tuple[str, str]]:
    """(venue, symbol) of every fetch whose responses were all served successfully, except
    in a cycle in which the scan reported the venue cut off by its deadline (``cut``: (cycle
    ms, venue)): an answer that arrives after the deadline is dropped by design, and reported.
    A fetch of several pages with one page faulted is dropped whole (known gap: the pages
    that did arrive are not kept), so it is not counted as served."""
    mine = [
        (r, sym)
        for r in log
        if (spec := table.get(r["venue"])) is not None
        and r["path"] == spec[0]
        and (sym := _symbol(r, spec)) is not None
        and (r["ts_ms"], r["venue"]) not in cut
    ]
    failed = {
        (r["ts_ms"], r["venue"], sym)
        for r, sym in mine
        if r["fault"] is not None or r["status"] is None or not 200 <= r["status"] < 300
    }
    return {(r["venue"], sym) for r, sym in mine if (r["ts_ms"], r["venue"], sym) not in failed}


def _cut_off(scans: list[Any]) -> set[tuple[int, str]]:
    """(cycle ms, venue) where the scan says the deadline cut the venue off (its status), or
    enrichment used its whole budget (the budget report in ``notes``). The scanner's
    clock and the stepped emulator move together, so a scan's ``started_ms`` is the emulator
    time stamped on that cycle's requests."""
    out = set()
    for started_ms, status, notes in scans:
        status = json.loads(status) if isinstance(status, str) else status or {}
        for venue, s in status.items():
            if isinstance(s, dict) and "deadline" in str(s.get("reason") or ""):
                out.add((int(started_ms), venue))
        enrich = re.search(r"enrich (\d+\.\d+)/(\d+\.\d+)s", notes or "")
        if enrich and float(enrich[1]) >= float(enrich[2]) - 0.05:  # enrichment ran out
            out.update((int(started_ms), venue) for venue in status)
    return out


def run_soak(cycles: int, tmp: Path, seed: int = 7, report_every: int = 0) -> SoakResult:
    """``report_every``: print a progress line (cycle, wall time, RSS, failures) to stderr
    every that many cycles (0: never)."""
    with ChatSinks().running() as sinks, emulator_process(seed) as emu:
        settings = load_settings(_config(tmp, sinks), env=sinks.env).with_base_url(emu.url)
        clock = FakeClock(start_ms=int(emu.state()["now_ms"]))
        db = open_database(settings.storage.url)
        metrics = Metrics()
        rss: list[float] = []
        emu_rss: list[float] = []
        sqlite_mb, blocks = sqlite_memory_probe(), []
        sqlite_used: list[float] = []
        t0 = time.monotonic()
        try:
            with (
                alert_service(settings, db, clock) as service,
                ScanSession(settings, Repository(db), clock=clock) as session,
                httpx.Client(base_url=emu.url, timeout=30) as control,
            ):
                job = _Run(settings, db, session, service, metrics)
                for n in range(1, cycles + 1):
                    job.scan()
                    clock.advance(STEP_S)
                    control.post("/_control/advance", params={"ms": STEP_S * 1000})
                    rss.append(rss_mb())
                    emu_rss.append(rss_mb(emu.proc.pid))
                    blocks.append(float(sys.getallocatedblocks()))
                    if sqlite_mb is not None:
                        sqlite_used.append(sqlite_mb())
                    if report_every and n % report_every == 0:
                        print(
                            f"soak: cycle {n} wall {time.monotonic() - t0:.0f} s "
                            f"rss {rss[-1]:.1f} MB (emulator {emu_rss[-1]:.1f} MB, "
                            f"sqlite {sqlite_used[-1] if sqlite_used else float('nan'):.1f} MB, "
                            f"python blocks {blocks[-1]:.0f}) "
                            f"failed {job.failed}",
                            file=sys.stderr,
                            flush=True,
                        )
                if service is not None and service.sender is not None:
                    service.sender.drain(60)
            wall_s = time.monotonic() - t0
            result = _verify(db, job, metrics, emu.request_log(), sinks, cycles, wall_s, rss)
            result.emulator_rss_mb = emu_rss
            result.sqlite_mb, result.python_blocks = sqlite_used, blocks
            return result
        finally:
            db.dispose()


def _verify(
    db: Any,
    job: _Run,
    metrics: Metrics,
    log: list[dict[str, Any]],
    sinks: ChatSinks,
    cycles: int,
    wall_s: float,
    rss: list[float],
) -> SoakResult:
    failed = {
        s.labels["kind"]: int(s.value)
        for m in metrics.scan_failures.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    with db.read() as conn:
        duplicates = {
            table: len(
                conn.execute(
                    text(f"SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1")
                ).all()
            )
            for table, key in DUP_KEYS.items()
        }
        books = set(conn.execute(text("SELECT DISTINCT venue, venue_symbol FROM book_snapshots")))
        history = set(
            conn.execute(text("SELECT DISTINCT venue, venue_symbol FROM funding_settlements"))
        )
        sent = conn.execute(
            text("SELECT count(*) FROM alerts_sent WHERE status = 'sent'")
        ).scalar_one()
        scans = conn.execute(text("SELECT started_ms, venue_status, notes FROM scans")).all()
    cut = _cut_off(scans)
    served_books, served_history = _served(log, BOOKS, cut), _served(log, HISTORY, cut)
    bodies = [json.dumps(m, sort_keys=True) for m in sinks.accepted["webhook"]]
    return SoakResult(
        cycles=job.scans,
        wall_s=wall_s,
        scans_failed=failed,
        requests=len(log),
        faulted=Counter(r["fault"] for r in log if r["fault"] is not None),
        duplicates=duplicates,
        missing_books=sorted(served_books - {tuple(r) for r in books}),
        missing_history=sorted(served_history - {tuple(r) for r in history}),
        checked_books=len(served_books),
        checked_history=len(served_history),
        alerts_sent=int(sent),
        alerts_accepted=len(bodies),
        duplicate_alerts=len(bodies) - len(set(bodies)),
        rss_mb=rss,
    )


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report-every", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(args.cycles, Path(tmp), args.seed, args.report_every)
    print(json.dumps(result.as_dict(), indent=2))
    print(f"pid {os.getpid()} done", file=sys.stderr)


if __name__ == "__main__":
    main()
