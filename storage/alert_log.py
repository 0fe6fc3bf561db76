"""The alert log: every alert attempt per channel and pair, and the cooldown lookup.

Why a log and not a flag: a restart must not re-send what was sent, and "failed" or
"suppressed" attempts explain a silent channel. Pairs are named by ``scanner.domain.pair_key()``
only, the spelling stored opportunities and positions use, so a cooldown can never miss a pair
because it was spelled another way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, insert, select

from scanner.domain import check_pair_key
from storage import tables as T
from storage.db import Database


def payload_hash(payload: Any) -> str:
    """Stable SHA-256 of a JSON-able payload (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AlertLog:
    """``alerts_sent`` writes and reads; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_alert(
        self,
        channel: str,
        key: str | None,
        sent_ms: int,
        payload: Any,
        status: str,
        detail: str | None = None,
    ) -> int:
        """Log one alert attempt (``status`` e.g. "sent", "failed", "suppressed").

        ``key`` is the pair's ``scanner.domain.pair_key()`` (stored as ``pair_key``; anything
        else is a ValueError), or None for a message about no pair (a channel test).
        """
        row = {
            "channel": channel,
            "pair_key": None if key is None else check_pair_key(key, "record_alert"),
            "sent_ms": sent_ms,
            "payload_hash": payload_hash(payload),
            "status": status,
            "detail": detail,
        }
        with self.db.write() as conn:
            new_id = conn.execute(insert(T.alerts_sent).returning(T.alerts_sent.c.id), row)
            return int(new_id.scalar_one())

    def last_alert_ms(self, channel: str, key: str, status: str = "sent") -> int | None:
        """When pair ``key`` (a ``pair_key()``) was last alerted on ``channel`` with ``status``."""
        t = T.alerts_sent
        stmt = select(func.max(t.c.sent_ms)).where(
            t.c.channel == channel, t.c.pair_key == key, t.c.status == status
        )
        with self.db.read() as conn:
            value = conn.execute(stmt).scalar_one_or_none()
        return None if value is None else int(value)
