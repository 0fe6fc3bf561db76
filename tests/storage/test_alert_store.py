"""The alert outbox on both backends: queued -> sent/failed, memory for the policy, counts."""

from __future__ import annotations

from storage.alert_store import AlertStore, NewAlert
from storage.db import Database

KEY_A = "BTC/USDT:USDT|long=okx|short=bybit"
KEY_B = "ETH/USDT:USDT|long=gate|short=bybit"


def alert(key: str, event: str = "opportunity", apr: float = 0.5, **kw: object) -> NewAlert:
    return NewAlert(key, event, apr, {"event": event, "opportunity": {"net_apr": apr}}, "new", **kw)  # type: ignore[arg-type]


def test_decisions_are_queued_per_channel_and_closed_once(db: Database) -> None:
    store = AlertStore(db)
    items = store.record([alert(KEY_A), alert(KEY_B, suppressed=True)], ["slack", "tg"], 1_000)
    assert [(i.channel, i.key) for i in items] == [("slack", KEY_A), ("tg", KEY_A)]
    assert items[0].payload == {"event": "opportunity", "opportunity": {"net_apr": 0.5}}
    assert [i.id for i in store.pending()] == [i.id for i in items]
    assert store.mark(items[0].id, "sent", 2_000, 1)
    assert not store.mark(items[0].id, "sent", 2_500, 1)  # already closed: a duplicate
    assert store.mark(items[1].id, "failed", 2_000, 3, "HTTP 500")
    assert store.pending() == []
    assert store.counts_since(0) == {
        "slack": {"sent": 1},
        "tg": {"failed": 1},
        "-": {"suppressed": 1},
    }
    assert store.counts_since(1_001) == {}


def test_history_gives_the_policy_its_memory(db: Database) -> None:
    store = AlertStore(db)
    store.record([alert(KEY_A, apr=0.5)], ["slack", "tg"], 1_000)
    store.record([alert(KEY_A, apr=0.9)], ["slack", "tg"], 2_000)
    store.record([alert(KEY_A, "closed", apr=0.1), alert(KEY_B, suppressed=True)], ["slack"], 3_000)
    hist = store.history(0)
    assert set(hist) == {KEY_A}  # suppressed decisions are not alerts
    a = hist[KEY_A]
    assert (a.event, a.decided_ms, a.net_apr) == ("closed", 3_000, 0.1)
    assert (a.last_opportunity_ms, a.last_opportunity_apr) == (2_000, 0.9)
    assert store.history(2_500)[KEY_A].last_opportunity_ms is None
