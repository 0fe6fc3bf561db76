"""From one scan's rows to stored decisions and queued messages.

Order matters for "never twice, never lost": the policy reads its memory from the alert log,
the decisions are written to the outbox in one transaction, and only then handed to the
sender. A crash after the write leaves ``queued`` rows that ``resume`` sends on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner.alerts.message import Message
from scanner.alerts.sender import Sender
from scanner.clock import Clock
from scanner.settings import AlertSettings
from scanner.units import MS_PER_DAY, MS_PER_MIN
from storage.alert_store import AlertStore, NewAlert
from strategies.alert_policy import (
    DIGEST,
    AlertRules,
    Decision,
    PastAlert,
    decide,
    digest_due,
    digest_rows,
)

log = logging.getLogger(__name__)

MEMORY_MS = 7 * MS_PER_DAY
"""How far back the policy remembers open pairs (longer than any sensible cooldown)."""


def rules_from(settings: AlertSettings) -> AlertRules:
    return AlertRules(
        min_net_apr=settings.min_net_apr,
        min_confidence=settings.min_confidence,
        alert_unrated=settings.alert_unrated,
        cooldown_ms=round(settings.cooldown_min * MS_PER_MIN),
        realert_after_apr_change=settings.realert_after_apr_change,
        notify_closed=settings.notify_closed,
        max_per_scan=settings.max_per_scan,
        digest_every_ms=round(settings.digest_every_min * MS_PER_MIN),
        digest_top=settings.digest_top,
    )


def past_alerts(store: AlertStore, now_ms: int, cooldown_ms: int) -> dict[str, PastAlert]:
    since = now_ms - max(MEMORY_MS, cooldown_ms)
    return {
        key: PastAlert(
            "closed" if h.event == "closed" else "opportunity",
            h.decided_ms,
            h.net_apr,
            h.last_opportunity_ms,
            h.last_opportunity_apr,
        )
        for key, h in store.history(since).items()
    }


def digest_message(rows: Sequence[Mapping[str, Any]], rules: AlertRules) -> Message:
    """The digest of one scan's rows: the best qualifying pairs and the thresholds used."""
    picked = [dict(r) for r in digest_rows(rows, rules)]
    body = {
        "opportunities": picked,
        "min_net_apr": rules.min_net_apr,
        "min_confidence": rules.min_confidence,
        "every_min": rules.digest_every_ms / MS_PER_MIN,
    }
    return Message(DIGEST, body, f"every {rules.digest_every_ms / MS_PER_MIN:g} min")


def to_new_alert(d: Decision) -> NewAlert:
    net_apr = d.row.get("net_apr")
    msg = Message(d.event, d.row, d.reason, d.key)
    return NewAlert(
        d.key,
        d.event,
        None if net_apr is None else float(net_apr),
        msg.payload(),
        d.reason,
        d.suppressed,
    )


class AlertService:
    """Decide, record, hand to the sender. ``sender`` None: decide and record only."""

    def __init__(
        self,
        settings: AlertSettings,
        store: AlertStore,
        clock: Clock,
        sender: Sender | None,
        channel_labels: Sequence[str],
    ) -> None:
        self.rules = rules_from(settings)
        self.store = store
        self.clock = clock
        self.sender = sender
        self.labels = list(channel_labels)

    def resume(self) -> int:
        """Hand the outbox's leftovers (queued by an earlier run) to the sender."""
        items = self.store.pending(self.labels)
        if items and self.sender is not None:
            self.sender.submit(items)
        return len(items)

    def on_scan(
        self, rows: Sequence[Mapping[str, Any]], venues_ok: Iterable[str]
    ) -> list[Decision]:
        return self.commit(self.decide(rows, venues_ok), rows)

    def decide(self, rows: Sequence[Mapping[str, Any]], venues_ok: Iterable[str]) -> list[Decision]:
        """What this scan would alert (nothing recorded yet): lets ``fundscan run`` ask the
        model about exactly these rows and add its verdict before ``commit``."""
        now_ms = self.clock.now_ms()
        past = past_alerts(self.store, now_ms, self.rules.cooldown_ms)
        return decide(rows, past, self.rules, now_ms, venues_ok)

    def commit(
        self, decisions: Sequence[Decision], rows: Sequence[Mapping[str, Any]]
    ) -> list[Decision]:
        """Record the decisions (and a digest of ``rows`` when one is due) in the outbox, then
        hand the messages to the sender."""
        now_ms = self.clock.now_ms()
        new = [to_new_alert(d) for d in decisions]
        if digest_due(self.rules, self.store.last_decided_ms(DIGEST), now_ms):
            digest = digest_message(rows, self.rules)
            new.append(NewAlert(None, DIGEST, None, digest.payload(), digest.reason))
        items = self.store.record(new, self.labels, now_ms)
        if items and self.sender is not None:
            self.sender.submit(items)
        return list(decisions)
