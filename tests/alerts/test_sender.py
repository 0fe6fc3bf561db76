"""The sender: a broken channel does not stop the others; stopping leaves the unsent queued;
the next start sends them, each exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sinks import ChatSinks
from test_channels import ROW, settings

from scanner.alerts.channels import build_channels
from scanner.alerts.sender import DeliveryPolicy, Sender
from scanner.alerts.service import AlertService
from scanner.clock import SystemClock
from storage.alert_store import AlertStore
from storage.db import Database, open_database

FAST = DeliveryPolicy(max_attempts=3, backoff_s=0.05, timeout_s=2.0, rate_per_s=50)


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks().running() as s:
        yield s


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    yield database
    database.dispose()


def rows(n: int) -> list[dict[str, object]]:
    return [{**ROW, "symbol": f"C{i}/USDT:USDT", "net_apr": 0.3 + i / 100} for i in range(n)]


def statuses(db: Database, channel: str) -> list[str]:
    with db.read() as conn:
        got = conn.exec_driver_sql(
            "SELECT status FROM alerts_sent WHERE channel = ? ORDER BY id", (channel,)
        )
        return [r[0] for r in got]


def service(db: Database, sinks: ChatSinks, sender: Sender | None, *kinds: str) -> AlertService:
    alerts = settings(*kinds).model_copy(update={"min_confidence": 0.0})
    return AlertService(alerts, AlertStore(db), SystemClock(), sender, kinds)


def test_a_broken_channel_is_reported_once_and_the_others_continue(
    sinks: ChatSinks, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    sinks.script("discord", ["404"])
    channels = build_channels(settings("slack", "discord"), sinks.env.get)
    with Sender(channels, AlertStore(db), SystemClock(), FAST) as sender:
        service(db, sinks, sender, "slack", "discord").on_scan(rows(3), [])
        assert sender.drain(20)
        assert sender.broken.keys() == {"discord"}
    assert len(sinks.accepted["slack"]) == 3 and sinks.received["discord"] == 1
    assert statuses(db, "slack") == ["sent"] * 3
    assert statuses(db, "discord") == ["failed"] * 3
    broken_lines = [r for r in caplog.records if "is broken" in r.getMessage()]
    assert len(broken_lines) == 1 and r"HTTP 404" in broken_lines[0].getMessage()
    assert "discordsecret" not in caplog.text


def test_stop_leaves_unsent_alerts_queued_and_the_next_start_sends_each_once(
    sinks: ChatSinks, db: Database
) -> None:
    slow = DeliveryPolicy(max_attempts=3, timeout_s=2.0, rate_per_s=2)  # one per 0.5 s
    channels = build_channels(settings("slack"), sinks.env.get)
    with Sender(channels, AlertStore(db), SystemClock(), slow) as sender:
        service(db, sinks, sender, "slack").on_scan(rows(5), [])
        deadline = time.monotonic() + 10
        while not sinks.accepted["slack"] and time.monotonic() < deadline:
            time.sleep(0.02)
    first = statuses(db, "slack")
    assert 1 <= first.count("sent") < 5 and first.count("queued") == 5 - first.count("sent")
    assert len(sinks.accepted["slack"]) == first.count("sent")
    with Sender(channels, AlertStore(db), SystemClock(), FAST) as sender:
        assert service(db, sinks, sender, "slack").resume() == first.count("queued")
        assert sender.drain(20)
    assert statuses(db, "slack") == ["sent"] * 5
    symbols = [b["text"].split(":")[0] for b in sinks.accepted["slack"]]
    assert sorted(symbols) == [f"C{i}/USDT" for i in range(5)]


def test_a_restart_decides_nothing_new_for_pairs_already_alerted(
    sinks: ChatSinks, db: Database
) -> None:
    service(db, sinks, None, "slack").on_scan(rows(2), [])
    again = service(db, sinks, None, "slack").on_scan(rows(2), [])
    assert [d.suppressed for d in again] == [True, True]
    assert statuses(db, "slack") == ["queued", "queued"]


def test_logs_never_show_a_channel_url(
    sinks: ChatSinks, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sinks.script("slack", ["500"] * 3)
    channels = build_channels(settings("slack"), sinks.env.get)
    with Sender(channels, AlertStore(db), SystemClock(), FAST) as sender:
        service(db, sinks, sender, "slack").on_scan(rows(1), [])
        assert sender.drain(20)
    assert statuses(db, "slack") == ["failed"]
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp")]
    assert any("gave up after 3 attempts" in m for m in ours)
    assert any("HTTP Request: POST" in m for m in ours)  # httpx's own line, masked
    assert not any("slacksecret" in m for m in ours)
