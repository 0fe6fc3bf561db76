"""The fail-closed rule and the pure pieces of the LLM second opinion."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.domain import pair_key
from strategies.llm_verdict import (
    VERDICT_SCHEMA,
    BudgetLimits,
    LlmVerdict,
    Usage,
    abstain,
    budget_refusal,
    build_messages,
    cache_key,
    estimate_tokens,
    extract_json_object,
    gate_allows,
    history_stats,
    opportunity_facts,
    parse_reply,
)

GOOD = {"decision": "approve", "confidence": 0.8, "reasons": ["persistent"], "risks": []}


def test_a_valid_reply_is_a_valid_verdict() -> None:
    v = parse_reply(json.dumps(GOOD))
    assert v == LlmVerdict("approve", 0.8, ("persistent",), (), valid=True)


@pytest.mark.parametrize(
    "text",
    [
        "Here you go: " + json.dumps(GOOD) + " - hope it helps",
        "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
        "{not this} then " + json.dumps(GOOD),
    ],
)
def test_json_is_found_inside_prose_and_fences(text: str) -> None:
    assert parse_reply(text).valid
    assert extract_json_object(text) == GOOD


@pytest.mark.parametrize(
    "content,finish,why",
    [
        (None, "stop", "empty reply"),
        ("   ", "stop", "empty reply"),
        ("approve!", "stop", "no JSON object"),
        (json.dumps(GOOD), "length", "max_tokens"),
        (json.dumps({**GOOD, "decision": "APPROVE"}), "stop", "decision"),
        (json.dumps({**GOOD, "confidence": -0.1}), "stop", "confidence"),
        (json.dumps({**GOOD, "confidence": True}), "stop", "confidence"),
        (json.dumps({**GOOD, "confidence": None}), "stop", "confidence"),
        ('{"decision":"approve","confidence":NaN,"reasons":["x"],"risks":[]}', "stop",
         "confidence"),
        (json.dumps({**GOOD, "reasons": "one string"}), "stop", "reasons"),
        (json.dumps({**GOOD, "reasons": ["x"] * 6}), "stop", "reasons"),
        (json.dumps({**GOOD, "reasons": ["x" * 301]}), "stop", "reasons"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "decision"}), "stop", "decision"),
    ],
)  # fmt: skip
def test_anything_else_is_an_abstain_with_the_reason(content, finish, why: str) -> None:
    v = parse_reply(content, finish)
    assert (v.decision, v.valid, v.confidence) == ("abstain", False, None)
    assert why in (v.error or "")
    assert v.reasons == (v.error,)
    assert not gate_allows(v)


def test_extra_keys_are_ignored_not_trusted() -> None:
    v = parse_reply(json.dumps({**GOOD, "execute_now": True}))
    assert v.valid and v.as_dict() == GOOD


@pytest.mark.parametrize(
    "verdict,allowed",
    [
        (LlmVerdict("approve", 0.8, ("x",), (), valid=True), True),
        (LlmVerdict("approve", 0.8, ("x",), (), valid=True, source="cache"), True),
        (LlmVerdict("approve", 0.4, ("x",), (), valid=True), False),  # below min confidence
        (LlmVerdict("approve", 0.8, ("x",), (), valid=False), False),
        (LlmVerdict("reject", 0.99, ("x",), (), valid=True), False),
        (LlmVerdict("abstain", 0.99, ("x",), (), valid=True), False),
        (abstain("timeout"), False),
        (abstain("budget", source="budget"), False),
        (None, False),
    ],
)
def test_gate_allows_only_a_valid_confident_approve(verdict, allowed: bool) -> None:
    assert gate_allows(verdict, min_confidence=0.5) is allowed


@given(st.text(max_size=300), st.sampled_from(["stop", "length", None]))
def test_no_reply_text_can_pass_the_gate_without_a_valid_approve(text: str, finish) -> None:
    v = parse_reply(text, finish)
    if gate_allows(v):
        assert finish != "length"
        assert v.valid and v.decision == "approve"


def test_schema_and_validator_agree_on_the_limits() -> None:
    props = VERDICT_SCHEMA["properties"]
    assert props["decision"]["enum"] == ["approve", "reject", "abstain"]
    assert (props["confidence"]["minimum"], props["confidence"]["maximum"]) == (0, 1)
    at_limit = {**GOOD, "reasons": ["r" * props["reasons"]["items"]["maxLength"]]
                * props["reasons"]["maxItems"]}  # fmt: skip
    assert parse_reply(json.dumps(at_limit)).valid
    assert set(VERDICT_SCHEMA["required"]) == set(GOOD)


def test_cache_key_is_the_pair_key_and_its_bucket() -> None:
    key = pair_key("BTC/USDT:USDT", "bybit", "okx")
    hour = 3_600_000
    t0 = 1_700_000_000_000 // hour * hour
    assert cache_key(key, t0, 60) == cache_key(key, t0 + hour - 1, 60) == f"{key}@{t0}"
    assert cache_key(key, t0 + hour, 60) != cache_key(key, t0, 60)
    carry = pair_key("BTC/USDT:USDT", "bybit", "bybit", "carry")
    assert cache_key(carry, t0, 60) != cache_key(pair_key("BTC/USDT:USDT", "bybit", "bybit"),
                                                 t0, 60)  # fmt: skip


LIMITS = BudgetLimits(calls_per_run=3, tokens_per_run=1000, calls_per_day=10, tokens_per_day=5000)


@pytest.mark.parametrize(
    "run,day,next_tokens,why",
    [
        (Usage(0, 0), Usage(0, 0), 500, None),
        (Usage(2, 400), Usage(5, 400), 600, None),  # exactly at the token limit fits
        (Usage(3, 0), Usage(3, 0), 1, "per-run call"),
        (Usage(0, 0), Usage(10, 0), 1, "per-day call"),
        (Usage(1, 401), Usage(1, 401), 600, "per-run token"),
        (Usage(0, 0), Usage(1, 4600), 500, "per-day token"),
    ],
)
def test_budget_refusal(run: Usage, day: Usage, next_tokens: int, why: str | None) -> None:
    got = budget_refusal(LIMITS, run, day, next_tokens)
    assert got is None if why is None else why in (got or "")


def test_a_zero_budget_refuses_the_first_call() -> None:
    assert budget_refusal(BudgetLimits(0, 10**6, 10**6, 10**6), Usage(), Usage(), 1)


def _row(**kw: object) -> dict:
    base = {
        "symbol": "ETH/USDT:USDT", "pair_type": "cross", "long_venue": "gate",
        "short_venue": "hyperliquid", "long_rate": 0.0001, "long_interval_h": 8.0,
        "short_rate": 0.00005, "short_interval_h": 1.0, "gross_apr": 0.33, "net_apr": float("nan"),
        "long_canonical": "ETH/USDT:USDT", "short_canonical": "ETH/USDC:USDC",
        "executable": False, "confidence_components": {"liquidity": float("nan")},
        "storage_url": "postgresql://u:pw@h/db", "api_key": "sk-x",
    }  # fmt: skip
    return {**base, **kw}


def test_facts_are_whitelisted_and_json_safe() -> None:
    facts = opportunity_facts(_row())
    text = json.dumps(facts, allow_nan=False)  # NaN became null
    assert "pw@h" not in text and "sk-x" not in text
    assert facts["long_leg"]["rate_apr"] == pytest.approx(0.0001 / 8 * 8760, abs=1e-4)
    assert facts["short_leg"]["rate_apr"] == pytest.approx(0.00005 * 8760, abs=1e-4)
    assert facts["net_apr"] is None and facts["depth"]["executable"] is False
    assert facts["confidence_components"] == {"liquidity": None}
    assert facts["pair"] == "ETH/USDT:USDT|long=gate|short=hyperliquid"


@pytest.mark.parametrize("long_venue", ["bybit-spot", "bybit"])  # engine frame / plain venue
def test_a_carry_pair_says_its_long_leg_is_spot(long_venue: str) -> None:
    facts = opportunity_facts(_row(pair_type="carry", long_venue=long_venue, short_venue="bybit"))
    assert facts["long_leg"]["market"] == "spot" and facts["short_leg"]["market"] == "perpetual"
    assert facts["pair"] == "ETH/USDT:USDT|long=bybit-spot|short=bybit"
    assert facts["pair"] == pair_key("ETH/USDT:USDT", "bybit", "bybit", "carry")


def test_history_stats_per_leg() -> None:
    h = pd.DataFrame(
        {
            "canonical": ["ETH/USDT:USDT"] * 3 + ["ETH/USDC:USDC"] * 2 + ["BTC/USDT:USDT"],
            "venue": ["gate"] * 3 + ["hyperliquid"] * 2 + ["gate"],
            "ts_ms": [0, 3_600_000, 7_200_000, 0, 3_600_000, 0],
            "rate_per_h": [1e-5, 2e-5, 3e-5, 4e-5, 6e-5, 9.0],
            "is_settled": [True, False, True, False, False, True],
            "next_funding_ms": [float("nan")] * 6,
        }
    )
    stats = history_stats(_row(), h)
    long, short = stats["long_leg"], stats["short_leg"]
    assert (long["observations"], long["settled"], long["span_h"]) == (3, 2, 2.0)
    assert long["mean_apr"] == pytest.approx(2e-5 * 8760, abs=1e-4)
    assert short["mean_apr"] == pytest.approx(5e-5 * 8760, abs=1e-4)
    assert stats["mean_diff_apr"] == pytest.approx(3e-5 * 8760, abs=1e-4)
    assert stats["observations"] == 5
    assert history_stats(_row(), None) == {"observations": 0}


def test_messages_carry_schema_and_facts() -> None:
    messages = build_messages(opportunity_facts(_row()))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert json.dumps(VERDICT_SCHEMA, separators=(",", ":")) in messages[0]["content"]
    assert '"short_venue"' not in messages[1]["content"]  # facts, not raw columns
    assert "hyperliquid" in messages[1]["content"]
    assert estimate_tokens(messages) > sum(len(m["content"]) for m in messages) // 4
