"""The optional digest: a periodic summary of the best qualifying pairs, once per interval
across restarts, valid on every platform, and never mistaken for a pair in the policy's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sinks import ChatSinks
from test_channels import POLICY, ROW, settings

from scanner.alerts.channels import build_channels
from scanner.alerts.message import Message, facts, headline
from scanner.alerts.sender import deliver
from scanner.alerts.service import AlertService, digest_message, rules_from
from scanner.clock import FakeClock
from scanner.units import MS_PER_MIN
from storage.alert_store import AlertStore
from storage.db import Database, open_database
from strategies.alert_policy import AlertRules, digest_due, digest_rows

T0 = 1_700_000_000_000
RULES = AlertRules(min_net_apr=0.2, min_confidence=0.5, digest_every_ms=60 * MS_PER_MIN)


def row(i: int, net_apr: float, **kw: Any) -> dict[str, Any]:
    return {**ROW, "symbol": f"C{i}/USDT:USDT", "net_apr": net_apr, **kw}


def test_digest_is_due_first_then_once_per_interval_and_never_when_off() -> None:
    assert digest_due(RULES, None, T0)
    assert not digest_due(RULES, T0, T0 + 59 * MS_PER_MIN)
    assert digest_due(RULES, T0, T0 + 60 * MS_PER_MIN)
    assert not digest_due(AlertRules(digest_every_ms=0), None, T0)


def test_digest_lists_the_best_qualifying_pairs_once_each_up_to_top() -> None:
    rules = AlertRules(min_net_apr=0.2, min_confidence=0.5, digest_top=2)
    rows = [
        row(1, 0.30),
        row(2, 0.90),
        row(2, 0.50),  # the same pair again, worse: listed once, at its best
        row(3, 0.60, confidence=0.1),  # below min_confidence
        row(4, 0.10),  # below min_net_apr
        row(5, 0.40),
    ]
    got = [(r["symbol"], r["net_apr"]) for r in digest_rows(rows, rules)]
    assert got == [("C2/USDT:USDT", 0.90), ("C5/USDT:USDT", 0.40)]


def test_digest_text_names_each_pair_and_says_when_nothing_qualifies() -> None:
    msg = digest_message([row(1, 0.35), row(2, 0.05)], RULES)
    assert headline(msg) == "fundscan digest: the 1 best pair(s) at or above 20% net APR"
    [(label, value)] = facts(msg)
    assert label.startswith("C1/USDT:USDT L okx") and "net 35.0%" in value
    empty = digest_message([row(2, 0.05)], RULES)
    assert headline(empty) == "fundscan digest: no pair at or above 20% net APR"
    assert facts(empty) == []


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    yield database
    database.dispose()


def _service(db: Database, clock: FakeClock, **alerts: Any) -> AlertService:
    base = settings("webhook").model_copy(
        update={"digest_every_min": 60.0, "notify_closed": True, **alerts}
    )
    return AlertService(base, AlertStore(db), clock, None, ["webhook"])


def _digests(db: Database) -> list[int]:
    with db.read() as conn:
        got = conn.exec_driver_sql(
            "SELECT sent_ms FROM alerts_sent WHERE event = 'digest' ORDER BY id"
        )
        return [int(r[0]) for r in got]


def test_one_digest_per_interval_across_a_restart(db: Database) -> None:
    clock = FakeClock(T0)
    _service(db, clock).on_scan([row(1, 0.35)], ["okx", "bybit"])
    clock.advance(30 * 60)
    _service(db, clock).on_scan([row(1, 0.36)], ["okx", "bybit"])  # a restart inside it
    assert _digests(db) == [T0]
    clock.advance(30 * 60)
    _service(db, clock).on_scan([row(1, 0.36)], ["okx", "bybit"])
    assert _digests(db) == [T0, T0 + 60 * MS_PER_MIN]


def test_the_digest_never_enters_the_pairs_memory(db: Database) -> None:
    """With notify_closed on, a digest mistaken for an open pair would be "closed" (or crash
    parsing its key); only the real pair may be closed."""
    clock = FakeClock(T0)
    _service(db, clock).on_scan([row(1, 0.35)], ["okx", "bybit"])
    clock.advance(5 * 60)
    decisions = _service(db, clock).on_scan([], ["okx", "bybit"])
    assert [(d.event, d.reason) for d in decisions] == [("closed", "no longer offered")]


def test_digests_off_by_default(db: Database) -> None:
    clock = FakeClock(T0)
    _service(db, clock, digest_every_min=0.0).on_scan([row(1, 0.35)], ["okx"])
    assert _digests(db) == []
    assert rules_from(settings("webhook")).digest_every_ms == 0


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks().running() as s:
        yield s


@pytest.mark.parametrize("kind", ["slack", "discord", "telegram", "webhook"])
def test_a_full_digest_is_accepted_by_each_platform(sinks: ChatSinks, kind: str) -> None:
    """25 pairs with reserved characters everywhere: Telegram's MarkdownV2 rules, Slack's field
    and Discord's embed limits all hold (the sinks validate as the platforms do)."""
    rules = AlertRules(min_net_apr=0.2, min_confidence=0.5, digest_top=25, digest_every_ms=1)
    rows = [row(i, 0.3 + i / 100, long_symbol=f"X-{i}.(a)_b!") for i in range(30)]
    msg = digest_message(rows, rules)
    [channel] = build_channels(settings(kind), sinks.env.get)
    import asyncio

    import httpx

    async def send() -> str:
        async with httpx.AsyncClient(timeout=POLICY.timeout_s) as client:
            out = await deliver(channel, client, msg, POLICY, FakeClock(T0))
            return out.status

    assert asyncio.run(send()) == "sent", sinks.rejected[kind]
    [body] = sinks.accepted[kind]
    if kind == "webhook":
        assert body["event"] == "digest" and len(body["opportunities"]) == 25
        assert body["opportunities"][0]["symbol"] == "C29/USDT:USDT"


def test_a_digest_survives_the_outbox_round_trip() -> None:
    msg = digest_message([row(1, 0.35)], RULES)
    back = Message.from_payload(msg.payload())
    assert back.event == "digest" and headline(back) == headline(msg)
