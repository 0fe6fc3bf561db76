"""A scan is bounded by ``collector.deadline_s`` end to end (hostile-input row 17), and a
venue's failure is said once, in one readable line (row 18).

The budget's arithmetic is checked on a fake clock; the end-to-end check runs ``fundscan
scan`` against the emulator with 20 % of every venue's requests hanging, and asserts on the
phase report the scan's own clock recorded (each waiting phase within its budget), on partial
results with per-venue reasons, and on the wall time with a generous constant only.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulator import Emulator
from scanner.budget import PHASES, ScanBudget
from scanner.clock import FakeClock
from scanner.domain import Instrument, Kind
from scanner.enrich import gather_until

DEADLINE_S = 8.0
SLACK_S = 12.0
"""Wall time allowed past the deadline (ranking, storage, closing clients on a busy CI
machine with two test workers): a generous sanity bound; the phase report is the claim."""
TOLERANCE_S = 2.0
"""A waiting phase may overrun its budget by the time cancelling its requests takes (on a
loaded machine the event loop itself may be that late)."""


def test_the_budget_hands_each_phase_what_is_left_and_reports_it() -> None:
    clock = FakeClock()
    budget = ScanBudget(clock, 30.0)
    with budget.phase("collect") as collect_s:
        assert collect_s == pytest.approx(19.5)  # 65 % of the deadline
        clock.advance(19.5)
    with budget.phase("store"):
        clock.advance(0.5)
    with budget.phase("enrich") as enrich_s:
        assert enrich_s == pytest.approx(30 - 3 - 20)  # up to the rank reserve
        clock.advance(enrich_s)
    with budget.phase("rank") as rank_s:
        assert rank_s == pytest.approx(3.0)
        clock.advance(1.0)
    assert list(budget.phases) == list(PHASES)
    assert budget.report() == (
        "budget 30s: collect 19.50/19.50s, store 0.50/10.50s, enrich 7.00/7.00s, rank 1.00/3.00s"
    )
    assert all(p.over_s == 0 for p in budget.phases.values())


def test_a_slow_collection_leaves_enrichment_nothing_but_ranking_its_reserve() -> None:
    clock = FakeClock()
    budget = ScanBudget(clock, 10.0)
    with budget.phase("collect"):
        clock.advance(9.0)  # overran (a phase that cannot be interrupted)
    with budget.phase("enrich") as enrich_s:
        assert enrich_s == 0.0
    assert budget.budget_of("rank") == pytest.approx(1.0)
    assert budget.phases["collect"].over_s == pytest.approx(9.0 - 6.5)


def _phases(report: str) -> dict[str, tuple[float, float]]:
    return {
        m[1]: (float(m[2]), float(m[3]))
        for m in re.finditer(r"(\w+) (\d+\.\d+)/(\d+\.\d+)s", report)
    }


@pytest.mark.timeout(180)
def test_scan_with_hanging_requests_ends_by_the_deadline_with_partial_results(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"storage:\n  url: sqlite:///{tmp_path / 's.db'}\ncollector:\n  deadline_s: {DEADLINE_S}\n",
        encoding="utf-8",
    )
    faults = [{"venue": "*", "endpoint": "*", "kind": "timeout", "probability": 0.2, "hang_s": 300}]
    from scanner.cli import app

    with Emulator(seed=3, faults=faults).run_in_thread() as emu:
        t0 = time.monotonic()
        result = CliRunner().invoke(app, ["scan", "-c", str(cfg), "--emulator", emu.url])
        elapsed_s = time.monotonic() - t0
        hung = emu.faults.describe()[0]["hits"]
    out = result.output
    assert result.exit_code == 0, out
    assert hung > 0  # requests did hang
    report = next(line for line in out.splitlines() if line.startswith("time budget"))
    phases = _phases(report)
    assert list(phases) == list(PHASES), report
    for name in ("collect", "enrich"):  # the phases that wait on venues
        used_s, budget_s = phases[name]
        assert used_s <= budget_s + TOLERANCE_S, report
    assert phases["collect"][1] + phases["enrich"][1] <= DEADLINE_S, report
    assert elapsed_s <= DEADLINE_S + SLACK_S, (elapsed_s, report)
    stored = re.search(r"stored (\d+) quotes", out)
    assert stored and int(stored[1]) > 0, out  # what arrived is kept
    for venue in re.findall(r"^  (\w+): (?:degraded|failed)", out, flags=re.M):
        reason = re.search(rf"^  {venue}: (?:degraded \(|failed )(.+)$", out, flags=re.M)
        assert reason and reason[1].strip(), (venue, out)


def test_a_failed_venue_is_printed_once(tmp_path: Path) -> None:
    """As a real process: warnings of the logging module reach stderr there, not in pytest."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  url: sqlite:///{tmp_path / 's.db'}\n", encoding="utf-8")
    exe = str(Path(sys.executable).parent / "fundscan")
    proc = subprocess.run(
        [exe, "scan", "-c", str(cfg), "--emulator", "http://127.0.0.1:1", "--venues", "bybit,okx"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out  # every venue failed
    for venue in ("bybit", "okx"):
        lines = [line for line in out.splitlines() if venue in line and "failed" in line]
        assert len(lines) <= 2, out  # its progress line, and its name in the summary
        assert sum("VenueUnavailable" in line for line in lines) == 1, out
    assert "failed: bybit, okx (reasons above)" in out


async def test_enrichment_warnings_name_the_symbol_not_the_instrument(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inst = Instrument(
        venue="okx", venue_symbol="PEPE-USDT-SWAP", base="PEPE", quote="USDT", settle="USDT",
        kind=Kind.PERPETUAL, contract_size=Decimal("1000000"),
    )  # fmt: skip

    async def fetch(_: Instrument) -> int:
        raise ValueError("x" * 2_000)  # a venue quoting a whole body back

    with caplog.at_level(logging.WARNING):
        await gather_until(
            [inst], fetch, cap=1, timeout_s=5, what="okx history", label=lambda i: i.venue_symbol
        )
    (record,) = caplog.records
    line = record.getMessage()
    assert "PEPE-USDT-SWAP" in line and "Instrument(" not in line
    assert len(line) <= 300, len(line)
