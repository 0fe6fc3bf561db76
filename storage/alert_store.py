"""The alert log and outbox (table ``alerts_sent``): every decision and every delivery.

Why an outbox: a decision is written (status ``queued``, one row per channel, with the
message's data) in the same transaction that makes it, before anything is sent. The sender
marks a row ``sent`` or ``failed`` once the platform answered. So a restart, a crash or a
SIGTERM between deciding and sending leaves ``queued`` rows that the next start delivers, and
a row marked ``sent`` is never sent again. The policy reads its memory (cooldowns, open pairs)
from the same rows, so a restart sends no duplicates either.

Statuses: ``queued`` -> ``sent`` | ``failed``; ``suppressed`` rows (channel ``-``) record why
a qualifying pair was not announced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from scanner.domain import check_pair_key
from storage import tables as T
from storage.db import Database

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
SUPPRESSED = "suppressed"
NO_CHANNEL = "-"


def _hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewAlert:
    """One decision to record: ``payload`` is what a channel needs to render the message.
    ``key`` None: about no single pair (a digest)."""

    key: str | None
    event: str
    net_apr: float | None
    payload: Mapping[str, Any]
    reason: str
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message for one channel, waiting for (or past) delivery."""

    id: int
    channel: str
    key: str | None
    event: str
    decided_ms: int
    payload: Mapping[str, Any]
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """A pair's latest decided alert, and its latest opportunity alert (cooldown start)."""

    event: str
    decided_ms: int
    net_apr: float
    last_opportunity_ms: int | None
    last_opportunity_apr: float | None


class AlertStore:
    """Reads and writes of ``alerts_sent``; one transaction per call."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, alerts: Sequence[NewAlert], channels: Sequence[str], decided_ms: int
    ) -> list[OutboxItem]:
        """Store decisions: one ``queued`` row per channel for each message, one
        ``suppressed`` row for each held-back pair. Returns the queued items in order."""
        rows: list[dict[str, Any]] = []
        for a in alerts:
            if a.key is not None:
                check_pair_key(a.key, "alerts_sent.pair_key")
            targets = [NO_CHANNEL] if a.suppressed else list(channels)
            status = SUPPRESSED if a.suppressed else QUEUED
            for channel in targets:
                rows.append(
                    {
                        "channel": channel,
                        "pair_key": a.key,
                        "sent_ms": decided_ms,
                        "payload_hash": _hash(a.payload),
                        "status": status,
                        "detail": a.reason,
                        "event": a.event,
                        "net_apr": a.net_apr,
                        "payload": None if a.suppressed else dict(a.payload),
                        "attempts": 0,
                    }
                )
        items: list[OutboxItem] = []
        with self.db.write() as conn:
            for row in rows:
                stmt = insert(T.alerts_sent).returning(T.alerts_sent.c.id)
                new_id = int(conn.execute(stmt, row).scalar_one())
                if row["status"] == QUEUED:
                    items.append(
                        OutboxItem(
                            new_id,
                            row["channel"],
                            row["pair_key"],
                            row["event"],
                            decided_ms,
                            row["payload"],
                        )
                    )
        return items

    def pending(self, channels: Sequence[str] | None = None) -> list[OutboxItem]:
        """Queued messages not yet delivered (oldest first), e.g. left by a stopped run."""
        t = T.alerts_sent
        stmt = (
            select(
                t.c.id, t.c.channel, t.c.pair_key, t.c.event, t.c.sent_ms, t.c.payload, t.c.attempts
            )
            .where(t.c.status == QUEUED)
            .order_by(t.c.id)
        )
        if channels is not None:
            stmt = stmt.where(t.c.channel.in_(list(channels)))
        with self.db.read() as conn:
            got = conn.execute(stmt).all()
        return [
            OutboxItem(
                int(r.id),
                r.channel,
                r.pair_key,
                r.event or "opportunity",
                int(r.sent_ms),
                r.payload or {},
                int(r.attempts or 0),
            )
            for r in got
        ]

    def mark(
        self, item_id: int, status: str, when_ms: int, attempts: int, detail: str | None = None
    ) -> bool:
        """Close a queued row as ``sent`` or ``failed``; False if it was not queued any more
        (another sender closed it), so the caller can tell a duplicate."""
        t = T.alerts_sent
        values: dict[str, Any] = {"status": status, "attempts": attempts}
        if status == SENT:
            values["delivered_ms"] = when_ms
        if detail is not None:
            values["detail"] = detail[:500]
        with self.db.write() as conn:
            done = conn.execute(
                update(t).where(t.c.id == item_id, t.c.status == QUEUED).values(**values)
            )
        return bool(done.rowcount == 1)

    def history(self, since_ms: int) -> dict[str, KeyHistory]:
        """Per pair key, the latest decided alert since ``since_ms`` (suppressed rows and
        rows written before the outbox existed are ignored)."""
        t = T.alerts_sent
        stmt = (
            select(t.c.pair_key, t.c.event, t.c.sent_ms, t.c.net_apr)
            .distinct()
            .where(
                t.c.sent_ms >= since_ms,
                t.c.status != SUPPRESSED,
                t.c.event.is_not(None),
                t.c.pair_key.is_not(None),
            )
            .order_by(t.c.sent_ms, t.c.pair_key)
        )
        with self.db.read() as conn:
            got = conn.execute(stmt).all()
        out: dict[str, KeyHistory] = {}
        for r in got:
            apr = float(r.net_apr) if r.net_apr is not None else 0.0
            prev = out.get(r.pair_key)
            last_ms = prev.last_opportunity_ms if prev else None
            last_apr = prev.last_opportunity_apr if prev else None
            if r.event == "opportunity":
                last_ms, last_apr = int(r.sent_ms), apr
            out[r.pair_key] = KeyHistory(r.event, int(r.sent_ms), apr, last_ms, last_apr)
        return out

    def last_decided_ms(self, event: str) -> int | None:
        """When a message of ``event`` (e.g. the digest) was last decided, if ever."""
        t = T.alerts_sent
        stmt = select(func.max(t.c.sent_ms)).where(t.c.event == event)
        with self.db.read() as conn:
            got = conn.execute(stmt).scalar_one_or_none()
        return None if got is None else int(got)

    def counts_since(self, since_ms: int) -> dict[str, dict[str, int]]:
        """``{channel: {status: n}}`` of rows decided since ``since_ms`` (status, metrics)."""
        t = T.alerts_sent
        stmt = (
            select(t.c.channel, t.c.status, func.count())
            .where(t.c.sent_ms >= since_ms)
            .group_by(t.c.channel, t.c.status)
        )
        with self.db.read() as conn:
            got = conn.execute(stmt).all()
        out: dict[str, dict[str, int]] = {}
        for channel, status, n in got:
            out.setdefault(channel, {})[status] = int(n)
        return out
