"""The alert policy walks a pair through its life: new, cooldown, APR jump, closed."""

from __future__ import annotations

from typing import Any

from scanner.domain import pair_key
from scanner.units import MS_PER_MIN
from strategies.alert_policy import AlertRules, PastAlert, decide, qualifies

T0 = 1_700_000_000_000
RULES = AlertRules(
    min_net_apr=0.2,
    min_confidence=0.5,
    cooldown_ms=60 * MS_PER_MIN,
    realert_after_apr_change=0.25,
    notify_closed=True,
    max_per_scan=3,
)


def row(symbol: str = "BTC/USDT:USDT", net_apr: float = 0.5, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "symbol": symbol,
        "pair_type": "cross",
        "long_venue": "okx",
        "short_venue": "bybit",
        "net_apr": net_apr,
        "confidence": 0.8,
        "executable": True,
    }
    base.update(kw)
    return base


KEY = pair_key("BTC/USDT:USDT", "okx", "bybit")


def sent(event: str, at_ms: int, apr: float, opp_ms: int | None = None) -> PastAlert:
    opp = at_ms if opp_ms is None else opp_ms
    return PastAlert(event, at_ms, apr, opp, apr)  # type: ignore[arg-type]


def test_thresholds_confidence_unrated_and_executable() -> None:
    assert qualifies(row(net_apr=0.2), RULES)
    assert not qualifies(row(net_apr=0.199), RULES)
    assert not qualifies(row(confidence=0.49), RULES)
    assert not qualifies(row(confidence=None), RULES)
    assert qualifies(row(confidence=None), AlertRules(alert_unrated=True))
    assert not qualifies(row(executable=False), RULES)
    assert not qualifies(row(net_apr=float("nan")), RULES)


def test_a_new_pair_is_alerted_once_then_held_for_the_cooldown() -> None:
    first = decide([row()], {}, RULES, T0)
    assert [(d.key, d.event, d.suppressed) for d in first] == [(KEY, "opportunity", False)]
    past = {KEY: sent("opportunity", T0, 0.5)}
    inside = decide([row(net_apr=0.6)], past, RULES, T0 + 59 * MS_PER_MIN)
    assert [(d.suppressed, d.reason) for d in inside] == [(True, "in cooldown")]
    after = decide([row(net_apr=0.6)], past, RULES, T0 + 60 * MS_PER_MIN)
    assert [(d.suppressed, d.reason) for d in after] == [(False, "cooldown over")]


def test_re_alert_inside_the_cooldown_only_when_apr_moved_enough() -> None:
    past = {KEY: sent("opportunity", T0, 0.5)}
    now = T0 + 10 * MS_PER_MIN
    assert decide([row(net_apr=0.74)], past, RULES, now)[0].suppressed
    up = decide([row(net_apr=0.75)], past, RULES, now)[0]
    assert not up.suppressed and "+25.0 points" in up.reason
    down = decide([row(net_apr=0.25)], {KEY: sent("opportunity", T0, 0.5)}, RULES, now)[0]
    assert not down.suppressed and "-25.0 points" in down.reason


def test_closed_notice_when_an_alerted_pair_drops_or_vanishes() -> None:
    past = {KEY: sent("opportunity", T0, 0.5)}
    now = T0 + MS_PER_MIN
    below = decide([row(net_apr=0.1)], past, RULES, now, venues_ok={"okx", "bybit"})
    assert [(d.event, d.reason) for d in below] == [("closed", "below threshold")]
    gone = decide([], past, RULES, now, venues_ok={"okx", "bybit"})
    assert [(d.event, d.reason) for d in gone] == [("closed", "no longer offered")]
    # okx failed this scan: its absence says nothing about the pair
    assert decide([], past, RULES, now, venues_ok={"bybit"}) == []
    # already closed: no second notice; off by config: none at all
    assert decide([], {KEY: sent("closed", T0, 0.1, T0 - 1)}, RULES, now, {"okx", "bybit"}) == []
    quiet = AlertRules(notify_closed=False)
    assert decide([row(net_apr=0.1)], past, quiet, now, {"okx", "bybit"}) == []


def test_at_most_max_per_scan_messages_best_first_and_one_per_pair() -> None:
    rows = [row(f"C{i}/USDT:USDT", net_apr=0.3 + i / 100) for i in range(5)]
    rows.append(row("C4/USDT:USDT", net_apr=0.31))  # same pair again, worse: ignored
    out = decide(rows, {}, RULES, T0)
    sent_symbols = [d.row["symbol"] for d in out if not d.suppressed]
    assert sent_symbols == ["C4/USDT:USDT", "C3/USDT:USDT", "C2/USDT:USDT"]
    held = [(d.row["symbol"], d.reason) for d in out if d.suppressed]
    assert held == [("C1/USDT:USDT", "over max_per_scan"), ("C0/USDT:USDT", "over max_per_scan")]


def test_carry_and_cross_on_the_same_venue_are_different_pairs() -> None:
    carry = row(pair_type="carry", long_venue="bybit", short_venue="bybit")
    cross = row(long_venue="bybit", short_venue="bybit")
    keys = {d.key for d in decide([carry, cross], {}, RULES, T0)}
    assert len(keys) == 2
