"""Run every benchmark and write benchmarks/RESULTS.md (``make bench``).

The machine is shared (other jobs, other engineers): every benchmark measures its ratios in
one run, and the load average before and after is written next to the figures. Each target
is judged on this run's figures only; a figure that misses its target says so.

Sections written by hand below the generated ones (from ``## Soak`` on: the soak's figures,
``tests/reliability/soak.py``) are kept as they are.

Usage: python benchmarks/results.py [--quick] [--out benchmarks/RESULTS.md]
``--quick`` shortens every benchmark (fewer cycles, rows and days) for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(args: list[str]) -> tuple[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=HERE.parent, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout, time.perf_counter() - t0


def _num(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else None


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**not met**")


def scan_section(r: dict[str, Any]) -> list[str]:
    sys.path.insert(0, str(HERE))
    from bench_scan import report

    return ["## Collection (benchmarks/bench_scan.py)", "", report(r), ""]


def targets(scan: dict[str, Any], spread: str, storage: str) -> list[str]:
    rows: list[tuple[str, str, str, bool | None]] = []
    ratio = scan.get("ratio_to_floor")
    rows.append(("steady-state cycle vs floor", "<= 1.5x", f"{ratio:.2f}x", ratio <= 1.5))
    speedup = scan.get("speedup_vs_sequential")
    if speedup is not None:
        rows.append(
            (
                "speed-up vs sequential per-symbol scanner",
                ">= 20x",
                f"{speedup:.0f}x",
                speedup >= 20,
            )
        )
    # like for like: the bulk scanner runs one venue alone in its process, so fundscan's
    # one-shot of that venue alone is compared with it (within the six-venue collection a
    # venue's time also holds the other venues' parsing on the same event loop)
    slow = [
        v
        for v, d in scan["venues"].items()
        if d.get("one_shot_alone_s") is None  # not measured: not met
        or d["one_shot_alone_s"] > d["simple_bulk_scanner_s"]
    ]
    rows.append(
        (
            "every venue (one-shot, alone like the bulk scanner) at least as fast as a simple "
            "bulk scanner",
            "all venues",
            "slower: " + ", ".join(slow) if slow else "all",
            not slow,
        )
    )
    snap = _num(r"total\s+([\d.]+) ms wall", spread)
    snap_cpu = _num(r"total\s+[\d.]+ ms wall\s+([\d.]+) ms cpu", spread)
    if snap is not None:
        rows.append(
            (
                "engine, 6 venues x 600, books new to the engine (best of 5)",
                "<= 50 ms",
                f"{snap:.0f} ms wall, {snap_cpu:.0f} ms CPU",
                snap <= 50,
            )
        )
    replay_s = _num(r"replay: .*\n\s+total\s+([\d.]+) ms wall", spread)
    if replay_s is not None:
        rows.append(
            ("replay, 30 days hourly", "<= 60 s", f"{replay_s / 1000:.1f} s", replay_s <= 60_000)
        )
    ingest = _num(r"write_quotes\s+([\d,]+) rows/s", storage)
    ratios = re.findall(r"ratio write_quotes / to_sql\s+([\d.]+)x", storage)
    load = _num(r"load 1 symbol x 6 venues x 1 year\s+([\d.]+) s", storage)
    if ingest is not None:
        rows.append(("SQLite ingest", ">= 300,000 rows/s", f"{ingest:,.0f} rows/s", ingest >= 3e5))
    if len(ratios) >= 2:
        same_keys = float(ratios[1])
        rows.append(
            ("SQLite ingest vs to_sql, same keys", ">= 3x", f"{same_keys:.2f}x", same_keys >= 3)
        )
    if load is not None:
        rows.append(
            (
                "one symbol, a year hourly, six venues",
                "<= 50 ms",
                f"{load * 1e3:.0f} ms",
                load <= 0.05,
            )
        )
    out = ["| target | wanted | this run | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {_verdict(d)} |" for a, b, c, d in rows]
    return out


KEPT_FROM = "## Soak"
"""The first heading of the hand-written part of RESULTS.md, kept when regenerating."""


def kept_sections(path: Path) -> str:
    """The hand-written tail of an existing RESULTS.md (from ``KEPT_FROM``), or ""."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    at = text.find(KEPT_FROM)
    return text[at:] if at >= 0 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    load0 = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    scan_args = ["benchmarks/bench_scan.py", "--json"]
    spread_args = ["benchmarks/bench_spread.py"]
    storage_args = ["benchmarks/bench_storage.py", "--rows", "200000"]
    if args.quick:
        scan_args += ["--cycles", "2", "--baseline-symbols", "5"]
        spread_args += ["--days", "2", "--no-loop"]
        storage_args = ["benchmarks/bench_storage.py", "--rows", "50000", "--skip-pg"]
    scan_text, scan_s = run(scan_args)
    scan = json.loads(scan_text.strip().splitlines()[-1])
    spread, spread_s = run(spread_args)
    storage, storage_s = run(storage_args)
    fidelity_args = ["benchmarks/emulator_fidelity.py"] + (["--seeds", "1"] if args.quick else [])
    fidelity, fidelity_s = run(fidelity_args)
    load1 = os.getloadavg()[0]
    lines = [
        "# Benchmark results",
        "",
        "<!-- The sections above the Soak section are written by `make bench` "
        "(benchmarks/results.py); the Soak section is kept as it is. -->",
        "",
        f"Written by `make bench` (benchmarks/results.py) on {started} UTC. Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}. Load average (1 min) {load0:.1f} at the start and "
        f"{load1:.1f} at the end: the machine is shared, so wall-clock figures are slower "
        "than on an idle machine; ratios are measured within one run, and the engine also "
        "reports its own CPU time.",
        "",
        "## Targets",
        "",
        *targets(scan, spread, storage),
        "",
        *scan_section(scan),
        "## Engine (benchmarks/bench_spread.py)",
        "",
        "```",
        spread.rstrip(),
        "```",
        "",
        "## Storage (benchmarks/bench_storage.py)",
        "",
        "```",
        storage.rstrip(),
        "```",
        "",
        "## Emulator fidelity (benchmarks/emulator_fidelity.py)",
        "",
        "```",
        fidelity.rstrip(),
        "```",
        "",
        f"Run times: bench_scan {scan_s:.0f} s, bench_spread {spread_s:.0f} s, "
        f"bench_storage {storage_s:.0f} s, emulator_fidelity {fidelity_s:.0f} s.",
        "",
    ]
    kept = kept_sections(Path(args.out))
    Path(args.out).write_text("\n".join(lines) + ("\n" + kept if kept else ""), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
