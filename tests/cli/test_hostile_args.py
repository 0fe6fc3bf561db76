"""Hostile command-line arguments (issue 11 rows 4, 12, 14, 16): refused before any work.

Each refusal is exit code 2 and one line naming the option; nothing is collected or stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'x.db'}\n")
    return cfg


def _one_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output[-2000:]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--notional", "inf"], "--notional"),
        (["--notional", "nan"], "--notional"),
        (["--min-net-apr", "nan"], "--min-net-apr"),
        (["--min-net-apr", "-inf"], "--min-net-apr"),
    ],
)
def test_rows_4_12_scan_refuses_non_finite_numbers(
    tmp_path: Path, args: list[str], option: str
) -> None:
    cfg = _config(tmp_path)
    # the emulator URL is unreachable: had the arguments been accepted, the scan would run
    # (and fail per venue, exit 1) instead of stopping at the argument
    result = CliRunner().invoke(
        app, ["scan", "-c", str(cfg), "--emulator", "http://127.0.0.1:1", *args]
    )
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert option in line and "finite" in line
    assert not (tmp_path / "x.db").exists()  # nothing was opened or stored


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://127.0.0.1:99999", "bad port"),
        ("http://127.0.0.1:0", "port 0"),
        ("http://:8080", "expected an http(s) URL"),
        ("ftp://127.0.0.1:8080", "expected an http(s) URL"),
        ("http://127.0.0.1:80x", "bad port"),
    ],
)
@pytest.mark.parametrize("command", ["scan", "collect", "run"])
def test_row14_emulator_url_is_parsed_and_its_port_checked(
    tmp_path: Path, command: str, url: str, phrase: str
) -> None:
    result = CliRunner().invoke(app, [command, "-c", str(_config(tmp_path)), "--emulator", url])
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "--emulator" in line and phrase in line


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--speed", "nan"], "--speed"),
        (["--speed", "inf"], "--speed"),
        (["--speed", "0"], "--speed"),
        (["--history-days", "nan"], "--history-days"),
        (["--history-days", "inf"], "--history-days"),
    ],
)
def test_row16_emulator_refuses_non_finite_numbers(args: list[str], option: str) -> None:
    result = CliRunner().invoke(app, ["emulator", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert option in _one_line(result.output)


def _emulator_process(args: list[str]) -> subprocess.CompletedProcess[str]:
    """A real process, bounded: an accepted argument would serve forever (a timeout)."""
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", "emulator"]
        + ["--port", "0", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )


def test_row16_negative_history_days_is_refused() -> None:
    proc = _emulator_process(["--history-days", "-1"])
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--history-days" in _one_line(proc.stderr)


def test_row16_fault_rules_for_unknown_venues_are_refused(tmp_path: Path) -> None:
    faults = tmp_path / "f.yaml"
    faults.write_text("faults:\n  - {venue: krakn, endpoint: '*', kind: timeout}\n")
    proc = _emulator_process(["--faults", str(faults)])
    assert proc.returncode == 2 and proc.stdout == ""
    line = _one_line(proc.stderr)
    assert "--faults" in line and "'krakn' matches no venue" in line


def test_fault_rules_with_globs_and_known_venues_still_start(tmp_path: Path) -> None:
    from emulator import Emulator, FaultConfigError

    Emulator(faults=[{"venue": "b*", "endpoint": "*", "kind": "timeout"}])
    Emulator(faults=[{"venue": "okx", "endpoint": "*", "kind": "timeout"}])
    with pytest.raises(FaultConfigError, match="finite"):
        Emulator(faults=[{"venue": "okx", "kind": "latency", "latency_ms": float("inf")}])
