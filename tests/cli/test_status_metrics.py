"""``fundscan status`` after a real run, and ``run --metrics-port`` scraped while it runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from storage.db import head_revision


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "schedule: {scan_every_s: 5, pre_settlement_s: 0}\n"
        f"storage: {{url: 'sqlite:///{tmp_path / 'run.db'}'}}\n"
    )
    return cfg


def test_status_reports_scans_venues_schema_and_size(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    faults = {"faults": [{"venue": "gate", "endpoint": "*", "kind": "server_error"}]}
    with Emulator(seed=2, faults=faults).run_in_thread() as emu:
        ran = CliRunner().invoke(
            app, ["run", "-c", str(cfg), "--emulator", emu.url, "--max-scans", "2"]
        )
    assert ran.exit_code == 0, ran.output
    result = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["schema_revision"] == head_revision() and info["database_bytes"] > 0
    assert [s["id"] for s in info["scans"]] == [2, 1]
    last = info["scans"][0]
    assert last["duration_s"] > 0 and last["opportunities_written"] > 0
    assert last["venues"]["gate"]["status"] == "failed" and last["venues"]["gate"]["reason"]
    assert last["venues"]["bybit"]["status"] == "ok"
    assert last["venues"]["bybit"]["latency_ms"] > 0 and last["venues"]["bybit"]["quotes"] > 0
    text = CliRunner().invoke(app, ["status", "-c", str(cfg)])
    assert text.exit_code == 0 and "#2" in text.output and "gate failed" in text.output


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def test_metrics_endpoint_and_json_logs_while_running(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    port = _free_port()
    faults = {"faults": [{"venue": "okx", "endpoint": "*", "kind": "server_error"}]}
    exe = str(Path(sys.executable).parent / "fundscan")
    with Emulator(seed=4, faults=faults).run_in_thread() as emu:
        proc = subprocess.Popen(
            [
                exe,
                "run",
                "-c",
                str(cfg),
                "--emulator",
                emu.url,
                "--metrics-port",
                str(port),
                "--log-format",
                "json",
            ],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            body = ""
            deadline = time.monotonic() + 120
            while (
                time.monotonic() < deadline
                and "fundscan_scan_duration_seconds_count 1.0" not in body
            ):
                time.sleep(0.5)
                try:
                    body = _scrape(port)
                except OSError:
                    continue
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(
        r["level"] == "WARNING" and r["logger"] == "scanner.collector" and "okx" in r["message"]
        for r in logged
    ), stderr  # --log-format json: one object per line
    assert "fundscan_scan_duration_seconds_count 1.0" in body
    assert 'fundscan_venue_errors_total{kind="VenueUnavailable",venue="okx"}' in body.replace(
        'venue="okx",kind="VenueUnavailable"', 'kind="VenueUnavailable",venue="okx"'
    )
    assert 'fundscan_rows_written_total{table="funding_quotes"}' in body
    assert 'fundscan_venue_last_success_timestamp_seconds{venue="bybit"}' in body
    assert 'fundscan_venue_last_success_timestamp_seconds{venue="okx"}' not in body
    assert "fundscan_opportunities_above_threshold" in body
