"""LLM calls on both backends: cache lookups, usage counts for day budgets, remembered formats."""

from __future__ import annotations

from storage.db import Database
from storage.llm_store import RAW_REPLY_MAX_CHARS, LlmCallRecord, LlmStore

URL = "http://127.0.0.1:8080/v1"


def _call(ts_ms: int, status: str = "ok", **kw: object) -> LlmCallRecord:
    data: dict = {
        "ts_ms": ts_ms, "pair_key": "BTC/USDT:USDT|long=bybit|short=okx",
        "cache_key": "BTC/USDT:USDT|long=bybit|short=okx@0", "base_url": URL, "model": "m",
        "response_format": "json_object", "status": status,
        "decision": "approve" if status == "ok" else "abstain",
        "confidence": 0.8 if status == "ok" else None,
        "verdict": {"decision": "approve", "confidence": 0.8, "reasons": ["r"], "risks": []},
        "prompt_tokens": 100, "completion_tokens": 20, "latency_ms": 12.5, "raw_reply": "{}",
    }  # fmt: skip
    data.update(kw)
    return LlmCallRecord(**data)


def test_round_trip_and_cache_lookup_only_returns_valid_verdicts(db: Database) -> None:
    store = LlmStore(db)
    store.record_call(_call(1_000, status="error", error="timed out", raw_reply=None))
    assert store.cached_verdict("BTC/USDT:USDT|long=bybit|short=okx@0", URL, "m") is None
    store.record_call(_call(2_000, decision="reject", confidence=0.3))
    store.record_call(_call(3_000, status="invalid", error="bad"))
    hit = store.cached_verdict("BTC/USDT:USDT|long=bybit|short=okx@0", URL, "m")
    assert hit is not None and (hit.ts_ms, hit.decision, hit.confidence) == (2_000, "reject", 0.3)
    assert hit.verdict["reasons"] == ["r"] and hit.latency_ms == 12.5
    assert store.cached_verdict("BTC/USDT:USDT|long=bybit|short=okx@0", URL, "other") is None
    assert store.cached_verdict("BTC/USDT:USDT|long=bybit|short=okx@0", URL + "x", "m") is None
    assert [c.status for c in store.calls()] == ["invalid", "ok", "error"]


def test_usage_since_counts_calls_and_tokens(db: Database) -> None:
    store = LlmStore(db)
    assert store.usage_since(0) == (0, 0)
    store.record_call(_call(1_000))
    store.record_call(_call(5_000, prompt_tokens=None, completion_tokens=None, status="error"))
    store.record_call(_call(9_000, prompt_tokens=7, completion_tokens=3))
    assert store.usage_since(0) == (3, 130)
    assert store.usage_since(5_000) == (2, 10)
    assert store.usage_since(9_001) == (0, 0)


def test_raw_reply_is_bounded(db: Database) -> None:
    store = LlmStore(db)
    store.record_call(_call(1, raw_reply="x" * (RAW_REPLY_MAX_CHARS + 500)))
    assert len(store.calls()[0].raw_reply or "") == RAW_REPLY_MAX_CHARS


def test_the_negotiated_format_is_remembered_per_server_and_model(db: Database) -> None:
    store = LlmStore(db)
    assert store.remembered_format(URL, "m") is None
    store.remember_format(URL, "m", "json_object", 1)
    store.remember_format(URL, "m", "plain", 2)
    store.remember_format(URL, "other", "json_schema", 3)
    assert store.remembered_format(URL, "m") == "plain"
    assert store.remembered_format(URL, "other") == "json_schema"
