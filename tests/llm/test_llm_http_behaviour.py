"""Every server behaviour the issue lists, over real sockets to a scripted local server.

Each test runs the real ``Advisor`` (client + verdict logic + a real SQLite store) against
``FakeOpenAI`` and checks what the user gets (the verdict), what was sent (the requests) and
what was kept (the stored call). Sleeps go through a ``FakeClock``, so backoff and
``Retry-After`` are checked by how far the clock moved, without waiting for real.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fake_openai import (
    LLAMA_CPP_REFUSAL,
    FakeOpenAI,
    Reply,
    always,
    completion,
    ok,
    sequence,
    verdict_json,
)
from llm_helpers import API_KEY, open_db, row, settings_for

from scanner.clock import FakeClock
from scanner.llm_advisor import Advisor
from scanner.settings import LlmBudget, Settings
from storage.llm_store import LlmStore
from strategies.llm_verdict import VERDICT_SCHEMA, LlmVerdict, gate_allows


def ask(
    settings: Settings, rows: list[dict] | None = None, clock: FakeClock | None = None
) -> tuple[list[LlmVerdict], LlmStore, Advisor]:
    db = open_db(settings)
    store = LlmStore(db)

    async def go() -> tuple[list[LlmVerdict], Advisor]:
        advisor = Advisor(settings, store, clock=clock or FakeClock())
        try:
            return await advisor.verdicts(rows if rows is not None else [row()]), advisor
        finally:
            await advisor.aclose()

    verdicts, advisor = asyncio.run(go())
    return verdicts, store, advisor


def test_json_schema_accepted(tmp_path: Path) -> None:
    with FakeOpenAI(always(ok("approve", 0.85))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path))
    assert (v.decision, v.confidence, v.valid, v.source) == ("approve", 0.85, True, "model")
    assert gate_allows(v)
    [sent] = srv.seen
    rf = sent.body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == VERDICT_SCHEMA
    assert sent.body["model"] == "test-model" and sent.body["max_tokens"] == 400
    assert sent.body["temperature"] == 0.0
    [call] = store.calls()
    assert (call.status, call.decision, call.response_format) == ("ok", "approve", "json_schema")
    assert (call.prompt_tokens, call.completion_tokens, call.attempts) == (120, 30, 1)
    assert call.latency_ms is not None and call.latency_ms >= 0
    assert call.raw_reply is not None and json.loads(call.raw_reply)["id"] == "chatcmpl-test"


@pytest.mark.parametrize(
    "refusal",
    [
        LLAMA_CPP_REFUSAL,
        Reply(
            400, {"error": {"message": "'response_format.type' must be 'json_object' or 'text'"}}
        ),
    ],
    ids=["500", "400"],
)
def test_json_schema_refused_then_json_object_accepted_and_remembered(
    tmp_path: Path, refusal: Reply
) -> None:
    def script(_i: int, seen) -> Reply:
        return refusal if seen.format == "json_schema" else ok("reject", 0.7)

    with FakeOpenAI(script).running() as srv:
        settings = settings_for(srv.url, tmp_path)
        [v], store, _ = ask(settings)
        assert (v.decision, v.valid) == ("reject", True)
        assert srv.formats == ["json_schema", "json_object"]
        assert srv.seen[1].body["response_format"]["schema"] == VERDICT_SCHEMA
        assert store.remembered_format(srv.url, "test-model") == "json_object"
        [call] = store.calls()
        assert call.response_format == "json_object" and call.attempts == 1
        # The next run (a new process would read the same store) asks with json_object at once.
        ask(settings, [row("BTC/USDT:USDT")])
        assert srv.formats == ["json_schema", "json_object", "json_object"]


def test_only_plain_text_with_tolerant_extraction(tmp_path: Path) -> None:
    prose = "Sure! Here is my verdict:\n```json\n" + verdict_json("approve", 0.6) + "\n```\nBye."

    def script(_i: int, seen) -> Reply:
        if seen.format != "plain":
            return Reply(400, {"error": {"message": "response_format is not supported"}})
        return Reply(body=completion(prose))

    with FakeOpenAI(script).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path))
    assert srv.formats == ["json_schema", "json_object", "plain"]
    assert "response_format" not in srv.seen[2].body
    assert "JSON schema" in srv.seen[2].body["messages"][0]["content"]
    assert (v.decision, v.confidence, v.valid) == ("approve", 0.6, True)
    assert store.remembered_format(srv.url, "test-model") == "plain"


def test_garbage_text_is_an_abstain_and_the_raw_reply_is_kept(tmp_path: Path) -> None:
    garbage = "I think this trade is nice, maybe, I cannot say {not json"
    with FakeOpenAI(always(Reply(body=completion(garbage)))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path))
    assert (v.decision, v.valid, v.confidence) == ("abstain", False, None)
    assert "no JSON object" in (v.error or "")
    assert not gate_allows(v)
    [call] = store.calls()
    assert call.status == "invalid" and call.error == v.error
    assert garbage in (call.raw_reply or "")
    assert len(srv.seen) == 1, "a confused reply is not retried"


@pytest.mark.parametrize(
    "obj,problem",
    [
        ({"decision": "buy", "confidence": 0.9, "reasons": ["x"], "risks": []}, "decision"),
        ({"decision": "approve", "confidence": 1.7, "reasons": ["x"], "risks": []}, "confidence"),
        ({"decision": "approve", "confidence": "0.9", "reasons": ["x"], "risks": []}, "confidence"),
        ({"decision": "approve", "confidence": 0.9, "reasons": [], "risks": []}, "reasons"),
        ({"decision": "approve", "confidence": 0.9, "reasons": ["x"]}, "risks"),
        ([{"decision": "approve"}], "no JSON object"),
    ],
    ids=["decision", "confidence>1", "confidence-str", "no-reasons", "no-risks", "array"],
)
def test_valid_json_with_invalid_values_is_an_abstain(tmp_path: Path, obj, problem: str) -> None:
    with FakeOpenAI(always(Reply(body=completion(json.dumps(obj))))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path))
    assert (v.decision, v.valid) == ("abstain", False)
    assert problem in (v.error or "")
    assert store.calls()[0].status == "invalid"


def test_a_reply_cut_off_by_max_tokens_is_an_abstain(tmp_path: Path) -> None:
    cut = '{"decision": "approve", "confidence": 0.9, "reasons": ["funding has been pos'
    reply = Reply(body=completion(cut, finish_reason="length", completion_tokens=32))
    with FakeOpenAI(always(reply)).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path, max_tokens=32))
    assert srv.seen[0].body["max_tokens"] == 32
    assert (v.decision, v.valid) == ("abstain", False)
    assert "max_tokens" in (v.error or "")
    assert store.calls()[0].completion_tokens == 32


def test_a_complete_object_is_still_refused_when_the_reply_was_cut(tmp_path: Path) -> None:
    """finish_reason=length means the model did not finish: even parseable text is not trusted."""
    reply = Reply(body=completion(verdict_json("approve", 0.9), finish_reason="length"))
    with FakeOpenAI(always(reply)).running() as srv:
        [v], _, _ = ask(settings_for(srv.url, tmp_path))
    assert v.decision == "abstain" and not gate_allows(v)


def test_timeout_is_retried_then_abstains(tmp_path: Path) -> None:
    with FakeOpenAI(always(Reply(body=completion(verdict_json()), delay_s=30))).running() as srv:
        settings = settings_for(srv.url, tmp_path, timeout_s=0.3, max_retries=1)
        [v], store, _ = ask(settings)
    assert (v.decision, v.valid) == ("abstain", False)
    assert "timed out after 0.3 s" in (v.error or "")
    assert len(srv.seen) == 2
    [call] = store.calls()
    assert (call.status, call.attempts) == ("error", 2)


def test_timeout_then_success(tmp_path: Path) -> None:
    slow = Reply(body=completion(verdict_json()), delay_s=30)
    with FakeOpenAI(sequence(slow, ok("approve", 0.75))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path, timeout_s=0.3))
    assert (v.decision, v.valid, v.confidence) == ("approve", True, 0.75)
    assert store.calls()[0].attempts == 2


def test_429_then_success_honours_retry_after(tmp_path: Path) -> None:
    limited = Reply(429, {"error": {"message": "Rate limit reached", "type": "requests"}},
                    headers={"Retry-After": "7"})  # fmt: skip
    clock = FakeClock()
    with FakeOpenAI(sequence(limited, ok("approve", 0.9))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path), clock=clock)
    assert (v.decision, v.valid) == ("approve", True)
    assert len(srv.seen) == 2
    assert clock.monotonic_ms() >= 7_000, "waited at least what Retry-After asked"
    assert clock.monotonic_ms() < 9_000, "and not the whole backoff schedule on top"
    assert store.calls()[0].attempts == 2


def test_429_whose_retry_after_outlasts_the_budget_is_not_waited_for(tmp_path: Path) -> None:
    limited = Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "600"})
    clock = FakeClock()
    with FakeOpenAI(always(limited)).running() as srv:
        [v], _, _ = ask(settings_for(srv.url, tmp_path, scan_budget_s=20), clock=clock)
    assert len(srv.seen) == 1
    assert v.decision == "abstain" and "rate limited" in (v.error or "")
    assert clock.monotonic_ms() == 0, "never slept past the scan's LLM budget"


def test_500_then_success_with_backoff(tmp_path: Path) -> None:
    boom = Reply(500, {"error": {"message": "CUDA out of memory"}})
    clock = FakeClock()
    with FakeOpenAI(sequence(boom, boom, ok("reject", 0.66))).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path), clock=clock)
    assert (v.decision, v.valid) == ("reject", True)
    assert len(srv.seen) == 3 and srv.formats == ["json_schema"] * 3
    assert clock.monotonic_ms() >= 500 + 1_000, "exponential backoff between the attempts"
    assert store.calls()[0].attempts == 3


def test_500_every_time_gives_up_after_max_retries(tmp_path: Path) -> None:
    boom = Reply(503, {"error": {"message": "overloaded"}})
    with FakeOpenAI(always(boom)).running() as srv:
        [v], _, _ = ask(settings_for(srv.url, tmp_path, max_retries=2))
    assert len(srv.seen) == 3
    assert v.decision == "abstain" and "HTTP 503" in (v.error or "")


def test_quota_error_is_not_retried(tmp_path: Path) -> None:
    quota = Reply(429, {"error": {"message": "You exceeded your current quota",
                                  "type": "insufficient_quota", "code": "insufficient_quota"}},
                  headers={"Retry-After": "1"})  # fmt: skip
    with FakeOpenAI(always(quota)).running() as srv:
        [v], store, _ = ask(settings_for(srv.url, tmp_path))
    assert len(srv.seen) == 1
    assert v.decision == "abstain" and "insufficient_quota" in (v.error or "")
    assert store.calls()[0].status == "error"


@pytest.mark.parametrize("status", [401, 403, 404, 400])
def test_other_4xx_is_not_retried(tmp_path: Path, status: int) -> None:
    with FakeOpenAI(always(Reply(status, {"error": {"message": "nope"}}))).running() as srv:
        [v], _, _ = ask(settings_for(srv.url, tmp_path))
    assert len(srv.seen) == 1
    assert v.decision == "abstain" and f"HTTP {status}" in (v.error or "")


def test_per_run_call_budget_exhausted(tmp_path: Path) -> None:
    rows = [row(s) for s in ("A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT")]
    budget = LlmBudget(calls_per_run=2)
    with FakeOpenAI(always(ok())).running() as srv:
        verdicts, store, advisor = ask(settings_for(srv.url, tmp_path, budget=budget), rows)
    assert len(srv.seen) == 2
    assert [v.source for v in verdicts] == ["model", "model", "budget"]
    assert verdicts[2].decision == "abstain" and "per-run call budget" in (verdicts[2].error or "")
    assert not gate_allows(verdicts[2])
    assert advisor.stats.refused_by_budget == 1 and len(store.calls()) == 2


def test_per_day_budget_counts_earlier_runs(tmp_path: Path) -> None:
    budget = LlmBudget(calls_per_day=2)
    with FakeOpenAI(always(ok())).running() as srv:
        settings = settings_for(srv.url, tmp_path, budget=budget)
        clock = FakeClock(start_ms=1_700_000_000_000)
        ask(settings, [row("A/USDT:USDT")], clock)
        ask(settings, [row("B/USDT:USDT")], clock)
        [third], _, _ = ask(settings, [row("C/USDT:USDT")], clock)
        assert third.source == "budget" and "per-day call budget" in (third.error or "")
        clock.advance(24 * 3600)  # the next UTC day starts a new count
        [fourth], _, _ = ask(settings, [row("C/USDT:USDT")], clock)
    assert fourth.source == "model"
    assert len(srv.seen) == 3


def test_per_run_token_budget_exhausted(tmp_path: Path) -> None:
    """A call is made only if its upper-bound cost (prompt estimate + max_tokens) still fits."""
    budget = LlmBudget(tokens_per_run=2_500)
    rows = [row(s) for s in ("A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT")]
    reply = Reply(body=completion(verdict_json(), prompt_tokens=700, completion_tokens=100))
    with FakeOpenAI(always(reply)).running() as srv:
        verdicts, _, advisor = ask(settings_for(srv.url, tmp_path, budget=budget), rows)
    assert 1 <= len(srv.seen) < 3
    assert verdicts[-1].source == "budget" and "token budget" in (verdicts[-1].error or "")
    assert advisor.run.tokens == 800 * len(srv.seen) <= 2_500


def test_verdicts_are_cached_per_pair_and_time_bucket(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_700_000_000_000 - 1_700_000_000_000 % 3_600_000)
    with FakeOpenAI(always(ok("approve", 0.8))).running() as srv:
        settings = settings_for(srv.url, tmp_path, cache_minutes=60)
        ask(settings, [row()], clock)
        clock.advance(59 * 60)
        [again], _, adv = ask(settings, [row()], clock)
        assert (again.source, again.decision, again.valid) == ("cache", "approve", True)
        assert adv.stats.cached == 1 and len(srv.seen) == 1
        [other], _, _ = ask(settings, [row(short="bitget")], clock)  # another pair
        assert other.source == "model" and len(srv.seen) == 2
        clock.advance(60)  # the next bucket
        [fresh], _, _ = ask(settings, [row()], clock)
    assert fresh.source == "model" and len(srv.seen) == 3


def test_failures_are_not_cached(tmp_path: Path) -> None:
    with FakeOpenAI(sequence(Reply(body=completion("garbage")), ok())).running() as srv:
        settings = settings_for(srv.url, tmp_path)
        [first], _, _ = ask(settings)
        [second], _, _ = ask(settings)
    assert (first.decision, second.decision) == ("abstain", "approve")
    assert len(srv.seen) == 2


def test_an_absent_server_yields_abstentions_never_approvals(tmp_path: Path) -> None:
    srv = FakeOpenAI(always(ok()))  # bound, never started: the port refuses connections
    url = srv.url
    srv._server.server_close()
    rows = [row(s) for s in ("A/USDT:USDT", "B/USDT:USDT")]
    verdicts, store, _ = ask(settings_for(url, tmp_path, max_retries=1), rows)
    assert [v.decision for v in verdicts] == ["abstain", "abstain"]
    assert not any(gate_allows(v) for v in verdicts)
    assert all("connection failed" in (v.error or "") for v in verdicts)
    assert {c.status for c in store.calls()} == {"error"}


def test_a_slow_model_never_holds_the_batch_past_its_budget(tmp_path: Path) -> None:
    """The server would answer only after an hour, far past pytest's 120 s timeout: a batch that
    waited for it would fail the test by timing out, so no wall-clock assertion is needed."""
    rows = [row(s) for s in ("A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT")]
    slow = Reply(body=completion(verdict_json()), delay_s=3600)
    with FakeOpenAI(always(slow)).running() as srv:
        settings = settings_for(srv.url, tmp_path, timeout_s=60, scan_budget_s=0.5)
        verdicts, _, advisor = ask(settings, rows)
    assert [v.source for v in verdicts] == ["deadline"] * 3
    assert all("llm.scan_budget_s=0.5" in (v.error or "") for v in verdicts)
    assert advisor.stats.out_of_time == 3


def test_the_key_goes_in_the_header_only(tmp_path: Path) -> None:
    with FakeOpenAI(always(Reply(401, {"error": {"message": "bad key"}}))).running() as srv:
        [v], store, advisor = ask(settings_for(srv.url, tmp_path))
    [sent] = srv.seen
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in json.dumps(sent.body)
    assert API_KEY not in repr(advisor.client) and API_KEY not in (v.error or "")
    assert API_KEY not in repr(store.calls())


def test_no_key_set_sends_no_authorization(tmp_path: Path) -> None:
    with FakeOpenAI(always(ok())).running() as srv:
        [v], _, _ = ask(settings_for(srv.url, tmp_path, key=None))
    assert "authorization" not in srv.seen[0].headers
    assert v.valid


def test_the_prompt_carries_the_facts_and_no_settings(tmp_path: Path) -> None:
    with FakeOpenAI(always(ok())).running() as srv:
        settings = settings_for(srv.url, tmp_path)
        ask(settings)
    user = srv.seen[0].body["messages"][1]["content"]
    facts = json.loads(user.split("\n", 1)[1])
    assert facts["long_leg"]["venue"] == "bybit" and facts["short_leg"]["venue"] == "okx"
    assert facts["long_leg"]["rate_per_interval"] == -0.0004
    assert facts["long_leg"]["interval_h"] == 4.0 and facts["short_leg"]["interval_h"] == 8.0
    assert facts["net_apr"] == 0.863 and facts["gross_apr"] == 1.2045
    assert facts["costs_frac_of_notional"]["round_trip"] == 0.0028
    assert facts["breakeven_h"] == 20.4 and facts["entry_basis_frac"] == 0.0003
    assert facts["confidence_components"]["persistence"] == 0.8
    assert facts["depth"]["max_notional_usd"] == 85_000.0
    assert facts["pair"] == "PEPE/USDT:USDT|long=bybit|short=okx"
    body = json.dumps(srv.seen[0].body)
    assert settings.storage.url not in body and "sqlite" not in body and API_KEY not in body
