"""``fundscan run`` with alerts, end to end: emulator venues, real local chat sinks.

Expected alerts are derived from what the run stored (the ranked rows of each scan), by the
rule the config spells out: with every executable row qualifying and the cooldown longer than
the test, each scan announces its ``max_per_scan`` best pairs that were not announced before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sinks import ChatSinks
from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from storage.db import open_database
from storage.queries import Queries

KINDS = ("slack", "discord", "telegram", "webhook", "apprise")


def config(
    tmp_path: Path, *, per_scan: int = 2, rate: float = 50, kinds: tuple[str, ...] = KINDS
) -> Path:
    spec = {
        "slack": "{kind: slack, url_env: T_SLACK_URL}",
        "discord": "{kind: discord, url_env: T_DISCORD_URL}",
        "telegram": "{kind: telegram, url_env: T_TELEGRAM_URL, chat_id_env: T_TELEGRAM_CHAT}",
        "webhook": "{kind: webhook, url_env: T_WEBHOOK_URL, secret_env: T_WEBHOOK_SECRET}",
        "apprise": "{kind: apprise, url_env: T_APPRISE_URL}",
    }
    channels = "".join(f"    - {spec[k]}\n" for k in kinds)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"schedule: {{scan_every_s: 5, pre_settlement_s: 0}}\n"
        f"storage: {{url: 'sqlite:///{tmp_path / 'run.db'}'}}\n"
        "alerts:\n  enabled: true\n  min_net_apr: -10\n  min_confidence: 0\n"
        "  alert_unrated: true\n  cooldown_min: 600\n  realert_after_apr_change: 100\n"
        f"  max_per_scan: {per_scan}\n  rate_per_s: {rate}\n  timeout_s: 3\n"
        f"  channels:\n{channels}"
    )
    return cfg


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks().running() as s:
        yield s


def stored(tmp_path: Path) -> tuple[Any, Any]:
    db = open_database(f"sqlite:///{tmp_path / 'run.db'}", create=False)
    try:
        q = Queries(db)
        return q.scans(), q.opportunity_history()
    finally:
        db.dispose()


def expected_keys(tmp_path: Path, per_scan: int) -> list[list[str]]:
    """Per scan, the best ``per_scan`` executable pairs not announced by an earlier scan."""
    scans, opps = stored(tmp_path)
    announced: set[str] = set()
    out = []
    for scan_id in scans["id"]:
        rows = opps[(opps["scan_id"] == scan_id) & opps["executable"]]
        rows = rows.sort_values("net_apr", ascending=False, kind="stable")
        keys = list(rows["pair_key"])
        fresh = [k for k in dict.fromkeys(keys) if k not in announced][:per_scan]
        announced.update(fresh)
        out.append(fresh)
    return out


def webhook_keys(sinks: ChatSinks) -> list[str]:
    return [b["opportunity"]["pair_key"] for b in sinks.accepted["webhook"]]


def run(cfg: Path, emu_url: str, scans: int, env: dict[str, str]) -> Any:
    args = ["run", "-c", str(cfg), "--emulator", emu_url, "--max-scans", str(scans)]
    return CliRunner().invoke(app, args, env=env)


def test_run_alerts_exactly_the_expected_pairs_once_even_across_a_restart(
    sinks: ChatSinks, tmp_path: Path
) -> None:
    cfg = config(tmp_path)
    with Emulator(seed=11).run_in_thread() as emu:
        first = run(cfg, emu.url, 2, sinks.env)
        assert first.exit_code == 0, first.output
        second = run(cfg, emu.url, 1, sinks.env)  # a restart: new process state, same database
        assert second.exit_code == 0, second.output
    expected = expected_keys(tmp_path, per_scan=2)
    assert len(expected) == 3 and all(len(keys) == 2 for keys in expected)
    flat = [k for keys in expected for k in keys]
    assert webhook_keys(sinks) == flat
    assert len(set(flat)) == 6  # no pair twice, across the restart too
    for kind in KINDS:
        assert sinks.rejected[kind] == [], (kind, sinks.rejected[kind])  # valid per platform
        assert len(sinks.accepted[kind]) == 6, kind
    telegram_texts = [b["text"] for b in sinks.accepted["telegram"]]
    assert all("\\." in t for t in telegram_texts)  # APR figures carry escaped dots
    assert "secret" not in (first.output + second.output).lower()


def test_one_venue_failing_for_the_whole_run_the_others_are_collected_and_alerted(
    sinks: ChatSinks, tmp_path: Path
) -> None:
    cfg = config(tmp_path, per_scan=3, kinds=("webhook",))
    faults = {"faults": [{"venue": "okx", "endpoint": "*", "kind": "server_error"}]}
    with Emulator(seed=5, faults=faults).run_in_thread() as emu:
        result = run(cfg, emu.url, 2, sinks.env)
    assert result.exit_code == 0, result.output
    assert result.output.count("5/6 venues ok") == 2 and "failed: okx" in result.output
    keys = webhook_keys(sinks)
    assert len(keys) == 6 and keys == [k for ks in expected_keys(tmp_path, 3) for k in ks]
    assert not any("okx" in k for k in keys)


def _wait_for(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _statuses(tmp_path: Path) -> dict[str, list[str]]:
    db = open_database(f"sqlite:///{tmp_path / 'run.db'}", create=False)
    try:
        with db.read() as conn:
            got = conn.exec_driver_sql("SELECT channel, status FROM alerts_sent ORDER BY id").all()
    finally:
        db.dispose()
    out: dict[str, list[str]] = {}
    for channel, status in got:
        out.setdefault(channel, []).append(status)
    return out


def _second_scan_started(tmp_path: Path) -> bool:
    try:
        scans, _ = stored(tmp_path)
    except Exception:
        return False
    return len(scans) >= 2


def test_sigterm_with_alerts_queued_exits_0_and_the_next_start_sends_the_rest_once(
    sinks: ChatSinks, tmp_path: Path
) -> None:
    slow = config(tmp_path, per_scan=5, rate=0.25, kinds=("slack", "webhook"))
    env = {**os.environ, **sinks.env}
    with Emulator(seed=13).run_in_thread() as emu:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "fundscan"),
                "run",
                "-c",
                str(slow),
                "--emulator",
                emu.url,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert _wait_for(lambda: len(sinks.accepted["webhook"]) >= 1, 120)
            assert _wait_for(lambda: _second_scan_started(tmp_path), 60)
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, output
        before = _statuses(tmp_path)
        for channel in ("slack", "webhook"):
            sent = before[channel].count("sent")
            assert len(sinks.accepted[channel]) == sent
            assert before[channel].count("queued") >= 1  # the slow rate left some unsent
            assert set(before[channel]) <= {"sent", "queued"}
        fast = config(tmp_path, per_scan=5, rate=50, kinds=("slack", "webhook"))
        again = run(fast, emu.url, 1, sinks.env)
        assert again.exit_code == 0, again.output
        assert "left queued by an earlier run" in again.output
    after = _statuses(tmp_path)
    for channel in ("slack", "webhook"):
        assert set(after[channel]) == {"sent"}
        assert len(sinks.accepted[channel]) == len(after[channel])
    keys = webhook_keys(sinks)
    assert len(keys) == len(set(keys))  # nothing sent twice
