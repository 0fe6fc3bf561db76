"""What one alert says, independent of the platform, and the errors a delivery can end in.

Why one neutral form: each platform module only decides *layout* (blocks, embeds, MarkdownV2)
from the same headline and facts, so the five channels always say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENTS = ("opportunity", "closed", "test", "digest")


@dataclass(frozen=True, slots=True)
class Message:
    """``event`` about ``row`` (one row of ``fundscan scan --json``; a stub for a pair that
    vanished), decided for ``reason``."""

    event: str
    row: Mapping[str, Any]
    reason: str = ""
    key: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The message's data as stored in the outbox (JSON-able)."""
        return {
            "event": self.event,
            "opportunity": dict(self.row),
            "reason": self.reason,
            "key": self.key,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Message:
        return cls(
            str(payload.get("event", "opportunity")),
            dict(payload.get("opportunity") or {}),
            str(payload.get("reason", "")),
            str(payload.get("key", "")),
        )


class DeliveryError(Exception):
    """A send that did not succeed. The message never contains the channel's URL or token."""

    retryable = False


class RetryAfter(DeliveryError):
    """The platform said "too many requests": wait ``after_s`` (its own hint), then retry."""

    retryable = True

    def __init__(self, after_s: float, detail: str) -> None:
        super().__init__(detail)
        self.after_s = after_s


class TemporaryError(DeliveryError):
    """5xx, timeout, connection trouble: retried with backoff a bounded number of times."""

    retryable = True


class PermanentError(DeliveryError):
    """4xx other than 429 (wrong URL, revoked webhook, bad chat id): not retried; the channel
    is marked broken."""


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{float(x) * 100:.{digits}f}%"


def _rate(rate: Any, interval_h: Any) -> str:
    if rate is None:
        return "n/a"
    interval = "?" if interval_h is None else f"{float(interval_h):g}h"
    return f"{float(rate) * 100:+.4f}%/{interval}"


def _when(ms: Any) -> str:
    if ms is None:
        return "n/a"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%H:%M UTC")


def _leg(row: Mapping[str, Any], side: str) -> str:
    venue = row.get(f"{side}_venue", "?")
    symbol = row.get(f"{side}_symbol")
    if side == "long" and row.get("pair_type") == "carry":
        venue = f"{venue} spot"
    return f"{venue} {symbol}" if symbol else str(venue)


def _verdict(row: Mapping[str, Any]) -> str | None:
    """The model's second opinion when it was asked (``llm_decision`` ...), else None."""
    decision = row.get("llm_decision")
    if not decision:
        return None
    conf = row.get("llm_confidence")
    reasons = row.get("llm_reasons") or []
    text = str(decision) + ("" if conf is None else f" ({float(conf):.2f})")
    if reasons:
        text += ": " + "; ".join(str(r) for r in list(reasons)[:2])
    return clip(text, 300)


def headline(msg: Message) -> str:
    """One line that says what happened (the notification preview on a phone)."""
    row = msg.row
    if msg.event == "test":
        return "fundscan test message: this channel is set up correctly"
    if msg.event == "digest":
        n = len(row.get("opportunities") or [])
        bar = _pct(row.get("min_net_apr"), 0)
        if not n:
            return f"fundscan digest: no pair at or above {bar} net APR"
        return f"fundscan digest: the {n} best pair(s) at or above {bar} net APR"
    pair = (
        f"{row.get('symbol', '?')}: long {_leg(row, 'long')} / short {_leg(row, 'short')}"
        if "symbol" in row
        else str(row.get("pair_key", msg.key))
    )
    if msg.event == "closed":
        now = row.get("net_apr")
        tail = f"net APR now {_pct(now)}" if now is not None else "no longer offered"
        return f"closed: {pair} ({tail})"
    return f"{pair}: net APR {_pct(row.get('net_apr'))}"


def facts(msg: Message) -> list[tuple[str, str]]:
    """Label/value pairs under the headline (plain text; platforms escape them)."""
    row = msg.row
    if msg.event == "digest":
        return _digest_facts(row)
    if msg.event == "test" or "symbol" not in row:
        return [("reason", msg.reason)] if msg.reason else []
    conf = row.get("confidence")
    flags = [
        name
        for name, on in (
            ("interval mismatch", row.get("interval_mismatch")),
            ("USDT/USDC", row.get("settle_mismatch")),
            ("carry", row.get("pair_type") == "carry"),
        )
        if on
    ]
    out = [
        ("net APR", _pct(row.get("net_apr"))),
        ("gross APR", _pct(row.get("gross_apr"))),
        ("long rate", _rate(row.get("long_rate"), row.get("long_interval_h"))),
        ("short rate", _rate(row.get("short_rate"), row.get("short_interval_h"))),
        ("round-trip cost", _pct(row.get("cost_frac"), 3)),
        (
            "break-even",
            "n/a" if row.get("breakeven_h") is None else f"{float(row['breakeven_h']):.1f} h",
        ),
        ("confidence", "n/a (no history)" if conf is None else f"{float(conf):.2f}"),
        ("notional", f"{float(row.get('notional_usd') or 0):,.0f} USD per leg"),
        (
            "next funding L/S",
            f"{_when(row.get('long_next_funding_ms'))} / {_when(row.get('short_next_funding_ms'))}",
        ),
    ]
    if flags:
        out.append(("flags", ", ".join(flags)))
    verdict = _verdict(row)
    if verdict is not None:
        out.append(("LLM", verdict))
    if msg.reason:
        out.append(("why now", msg.reason))
    return out


def _digest_facts(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One line per pair: legs as the label, net APR, confidence and break-even as the value."""
    out = []
    for r in body.get("opportunities") or []:
        conf = r.get("confidence")
        be = r.get("breakeven_h")
        value = ", ".join(
            (
                f"net {_pct(r.get('net_apr'))}",
                "conf n/a" if conf is None else f"conf {float(conf):.2f}",
                "break-even n/a" if be is None else f"break-even {float(be):.1f} h",
            )
        )
        out.append((f"{r.get('symbol', '?')} L {_leg(r, 'long')} / S {_leg(r, 'short')}", value))
    return out


def plain_text(msg: Message) -> str:
    """Headline and facts as plain lines (Apprise, previews, Slack's fallback)."""
    lines = [headline(msg)] + [f"{k}: {v}" for k, v in facts(msg)]
    return "\n".join(lines)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
