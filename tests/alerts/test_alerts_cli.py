"""``fundscan alerts test`` and ``alerts preview`` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sinks import ChatSinks
from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app

CHANNELS = """alerts:
  min_net_apr: -10
  min_confidence: 0
  alert_unrated: true
  max_per_scan: 2
  channels:
    - {kind: slack, url_env: T_SLACK_URL}
    - {kind: discord, url_env: T_DISCORD_URL}
    - {kind: telegram, url_env: T_TELEGRAM_URL, chat_id_env: T_TELEGRAM_CHAT}
    - {kind: webhook, url_env: T_WEBHOOK_URL, secret_env: T_WEBHOOK_SECRET}
    - {kind: apprise, url_env: T_APPRISE_URL}
"""


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks().running() as s:
        yield s


def config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'f.db'}\n{CHANNELS}{extra}")
    return cfg


def test_alerts_test_sends_one_message_per_channel(sinks: ChatSinks, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["alerts", "test", "-c", str(config(tmp_path))], env=sinks.env)
    assert result.exit_code == 0, result.output
    for kind in ("slack", "discord", "telegram", "webhook", "apprise"):
        assert f"{kind} ({kind}): sent" in result.output
        assert len(sinks.accepted[kind]) == 1, kind
    assert sinks.accepted["webhook"][0]["event"] == "test"
    assert "secret" not in result.output.lower()


def test_alerts_test_exits_1_and_names_the_failed_channel(sinks: ChatSinks, tmp_path: Path) -> None:
    sinks.script("telegram", ["404"])
    result = CliRunner().invoke(app, ["alerts", "test", "-c", str(config(tmp_path))], env=sinks.env)
    assert result.exit_code == 1
    assert "telegram (telegram): FAILED after 1 attempt(s): HTTP 404" in result.output
    assert "slack (slack): sent" in result.output
    assert "SECRET-bot-token" not in result.output


def test_alerts_test_with_an_unset_variable_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["alerts", "test", "-c", str(config(tmp_path))], env={})
    assert result.exit_code == 2
    assert "alerts.channels[0].url_env: environment variable T_SLACK_URL is not set" in (
        result.output.replace("\n", "")
    )
    assert "Traceback" not in result.output


def test_preview_shows_per_channel_bodies_of_the_latest_scan_without_sending(
    sinks: ChatSinks, tmp_path: Path
) -> None:
    cfg = config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace("max_per_scan: 2", "max_per_scan: 2\n  digest_every_min: 60")
    )
    runner = CliRunner()
    with Emulator(seed=3).run_in_thread() as emu:
        scanned = runner.invoke(app, ["scan", "-c", str(cfg), "--emulator", emu.url, "--json"])
    assert scanned.exit_code == 0, scanned.output
    result = runner.invoke(app, ["alerts", "preview", "-c", str(cfg), "--json"], env=sinks.env)
    assert result.exit_code == 0, result.output
    bodies = json.loads(result.stdout)
    assert len(bodies) == 2 * 5 + 5  # max_per_scan pairs x five channels, and the digest
    assert {b["kind"] for b in bodies} == {"slack", "discord", "telegram", "webhook", "apprise"}
    [hook] = [b["body"] for b in bodies if b["key"] == "digest" and b["kind"] == "webhook"]
    assert hook["event"] == "digest" and hook["opportunities"], hook
    assert sinks.total_accepted() == 0 and sum(sinks.received.values()) == 0


def test_preview_before_any_scan_says_what_to_do(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    result = CliRunner().invoke(app, ["alerts", "preview", "-c", str(cfg)], env={})
    assert result.exit_code == 2 and "no database at" in result.output
    assert CliRunner().invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    result = CliRunner().invoke(app, ["alerts", "preview", "-c", str(cfg)], env={})
    assert result.exit_code == 2 and "run `fundscan scan` first" in result.output
