"""Which opportunities deserve a chat message: thresholds, cooldown, re-alert, closed notices.

Why pure: "once, not fifty times" is the whole value of an alert, and it depends only on the
rows of one scan, what was alerted before and the time. Taking ``now_ms`` and the previous
alerts as arguments (no clock, no database) lets a test walk a pair through its life (new ->
cooldown -> APR jump -> dropped) in a few lines and prove each step.

A pair is ``scanner.domain.pair_key`` (symbol, long leg, short leg): the same identity the
executor and the LLM cache use. Rows are the dicts of ``fundscan scan --json``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scanner.domain import pair_key
from scanner.units import MS_PER_MIN

Event = Literal["opportunity", "closed"]
DIGEST = "digest"
"""The periodic summary's event: about no single pair, so it never enters a pair's memory."""


@dataclass(frozen=True, slots=True)
class AlertRules:
    """``alerts.*`` as the policy needs them (APR values are fractions per year)."""

    min_net_apr: float = 0.2
    min_confidence: float = 0.5
    alert_unrated: bool = False
    cooldown_ms: int = 60 * MS_PER_MIN
    realert_after_apr_change: float = 0.25
    notify_closed: bool = False
    max_per_scan: int = 5
    digest_every_ms: int = 0
    """0: no digest."""
    digest_top: int = 10


@dataclass(frozen=True, slots=True)
class PastAlert:
    """The latest alert decided for one pair (from the alert log)."""

    event: Event
    decided_ms: int
    net_apr: float
    last_opportunity_ms: int | None = None
    """When the pair was last announced as an opportunity (the cooldown's start)."""
    last_opportunity_apr: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """One message to send (``event``) or a qualifying pair held back (``suppressed``)."""

    key: str
    event: Event
    row: Mapping[str, Any]
    reason: str
    suppressed: bool = False


def row_key(row: Mapping[str, Any]) -> str:
    """The row's ``pair_key`` (scan rows carry it), else derived from its legs."""
    if row.get("pair_key"):
        return str(row["pair_key"])
    return pair_key(
        str(row["symbol"]),
        str(row["long_venue"]),
        str(row["short_venue"]),
        str(row.get("pair_type") or "cross"),
        long_canonical=row.get("long_canonical"),
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def qualifies(row: Mapping[str, Any], rules: AlertRules) -> bool:
    """Net APR and confidence at or above the thresholds, on an executable pair.

    A non-executable row (thin book: cost only a lower bound; price gap: two tokens under one
    ticker) is never announced. Unrated rows (no history yet) only with ``alert_unrated``.
    """
    if not row.get("executable", False):
        return False
    net_apr = _number(row.get("net_apr"))
    if net_apr is None or net_apr < rules.min_net_apr:
        return False
    confidence = _number(row.get("confidence"))
    if confidence is None:
        return rules.alert_unrated
    return confidence >= rules.min_confidence


def _opportunity(
    key: str, row: Mapping[str, Any], past: PastAlert | None, rules: AlertRules, now_ms: int
) -> Decision:
    net_apr = float(row["net_apr"])
    if past is None or past.last_opportunity_ms is None:
        return Decision(key, "opportunity", row, "new pair above threshold")
    age_ms = now_ms - past.last_opportunity_ms
    if age_ms >= rules.cooldown_ms:
        return Decision(key, "opportunity", row, "cooldown over")
    if past.event == "closed":
        return Decision(key, "opportunity", row, "above threshold again", suppressed=True)
    moved = net_apr - (past.last_opportunity_apr or 0.0)
    if rules.realert_after_apr_change > 0 and abs(moved) >= rules.realert_after_apr_change:
        return Decision(key, "opportunity", row, f"net APR moved {moved * 100:+.1f} points")
    return Decision(key, "opportunity", row, "in cooldown", suppressed=True)


def _closed(
    rows_by_key: Mapping[str, Mapping[str, Any]],
    qualifying: Collection[str],
    past: Mapping[str, PastAlert],
    venues_ok: Collection[str],
) -> list[Decision]:
    """Open pairs (last event: opportunity) that no longer qualify.

    A pair absent from this scan counts as closed only if both its venues were collected:
    a venue that failed this scan says nothing about the pair.
    """
    out = []
    for key, last in past.items():
        if last.event != "opportunity" or key in qualifying:
            continue
        row = rows_by_key.get(key)
        if row is not None:
            out.append(Decision(key, "closed", row, "below threshold"))
            continue
        long_leg, short_leg = _legs(key)
        if long_leg in venues_ok and short_leg in venues_ok:
            stub = {"pair_key": key, "net_apr": None, "last_net_apr": last.net_apr}
            out.append(Decision(key, "closed", stub, "no longer offered"))
    return out


def _legs(key: str) -> tuple[str, str]:
    """Venues of a pair key's legs (``bybit-spot`` and ``bybit@XRP/USDC:USDC`` are Bybit)."""
    parts = dict(p.split("=", 1) for p in key.split("|")[1:])
    return parts["long"].split("@")[0].removesuffix("-spot"), parts["short"]


def decide(
    rows: Sequence[Mapping[str, Any]],
    past: Mapping[str, PastAlert],
    rules: AlertRules,
    now_ms: int,
    venues_ok: Iterable[str] = (),
) -> list[Decision]:
    """Decisions for one scan's rows (best first), given each pair's latest alert.

    At most ``max_per_scan`` opportunity messages (the best net APR first); every other
    qualifying pair is returned as a suppressed decision with its reason, so the log says why
    nothing was sent. Closed notices only with ``notify_closed``.
    """
    ranked = sorted((r for r in rows if qualifies(r, rules)), key=lambda r: -float(r["net_apr"]))
    decisions: list[Decision] = []
    qualifying: dict[str, Mapping[str, Any]] = {}
    sent = 0
    for row in ranked:
        key = row_key(row)
        if key in qualifying:
            continue
        qualifying[key] = row
        d = _opportunity(key, row, past.get(key), rules, now_ms)
        if not d.suppressed and sent >= rules.max_per_scan:
            d = Decision(key, "opportunity", row, "over max_per_scan", suppressed=True)
        sent += not d.suppressed
        decisions.append(d)
    if rules.notify_closed:
        rows_by_key = {row_key(r): r for r in rows}
        decisions += _closed(rows_by_key, qualifying, past, set(venues_ok))
    return decisions


def digest_due(rules: AlertRules, last_digest_ms: int | None, now_ms: int) -> bool:
    """A digest is due when digests are on and none was decided within ``digest_every_ms``
    (the first one after the first scan). Read from the alert log, so a restart inside the
    interval sends none."""
    if rules.digest_every_ms <= 0:
        return False
    return last_digest_ms is None or now_ms - last_digest_ms >= rules.digest_every_ms


def digest_rows(rows: Sequence[Mapping[str, Any]], rules: AlertRules) -> list[Mapping[str, Any]]:
    """The best ``digest_top`` qualifying pairs (one row per pair), cooldowns ignored: a
    digest summarises the market, it does not announce anything new."""
    ranked = sorted((r for r in rows if qualifies(r, rules)), key=lambda r: -float(r["net_apr"]))
    out: dict[str, Mapping[str, Any]] = {}
    for row in ranked:
        out.setdefault(row_key(row), row)
        if len(out) == rules.digest_top:
            break
    return list(out.values())
