"""Ask the model about the rows a user will see (or be alerted about, or trade), within budget.

Why a separate orchestrator: the client (``scanner.llm``) knows HTTP, the verdict logic
(``strategies.llm_verdict``) knows what an answer is worth, the store knows what was asked
before. This module puts them in order for one batch of rows:

1. cache: a valid verdict for the same pair (``pair_key``) in the same time bucket is reused;
2. budget: per-run counts kept here, per-day counts read from the store; refused -> abstain;
3. the call, at most ``max_concurrency`` at once, each under ``timeout_s`` with retries;
4. every call stored (tokens, latency, raw reply), the negotiated format remembered.

The whole batch has one wall-time budget (``llm.scan_budget_s``): rows still unanswered when it
runs out are abstentions, so a slow model never holds a scan longer than that. Every failure is
an abstain; nothing here can produce an approve the model did not validly give.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.llm import LlmClient, LlmError
from scanner.settings import Settings
from scanner.units import MS_PER_S, h_to_ms
from storage.db import Database
from storage.llm_store import LlmCallRecord, LlmStore
from storage.queries import Queries
from strategies.llm_verdict import (
    VERDICT_COLUMNS,
    VERDICT_SCHEMA,
    BudgetLimits,
    LlmVerdict,
    Usage,
    abstain,
    budget_refusal,
    build_messages,
    cache_key,
    estimate_tokens,
    gate_allows,
    history_stats,
    opportunity_facts,
    parse_reply,
    row_pair_key,
    utc_day_start_ms,
)

log = logging.getLogger(__name__)

LLM_COLUMNS = VERDICT_COLUMNS


@dataclass
class RunStats:
    """What one batch cost and produced (for the progress line and tests)."""

    asked: int = 0
    cached: int = 0
    refused_by_budget: int = 0
    out_of_time: int = 0
    failed: int = 0
    tokens: int = 0
    decisions: dict[str, int] = field(default_factory=dict)

    def count(self, verdict: LlmVerdict) -> None:
        self.decisions[verdict.decision] = self.decisions.get(verdict.decision, 0) + 1

    def summary(self) -> str:
        d = ", ".join(f"{n} {k}" for k, n in sorted(self.decisions.items())) or "none"
        return (
            f"llm: {d}; {self.asked} asked, {self.cached} cached, {self.tokens} tokens"
            + (f", {self.failed} failed" if self.failed else "")
            + (f", {self.refused_by_budget} over budget" if self.refused_by_budget else "")
            + (f", {self.out_of_time} out of time" if self.out_of_time else "")
        )


class Advisor:
    """Verdicts for batches of opportunity rows; keep one per process (usage is per run)."""

    def __init__(
        self,
        settings: Settings,
        store: LlmStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
        client: LlmClient | None = None,
    ) -> None:
        self.cfg = settings.llm
        self.store = store
        self.clock = clock
        remembered = store.remembered_format(self.cfg.base_url, self.cfg.model)
        self.client = client or LlmClient(
            self.cfg,
            settings.secret(self.cfg.api_key_env),
            clock=clock,
            response_format=remembered,
            on_format=self._remember_format,
        )
        b = self.cfg.budget
        self.limits = BudgetLimits(b.calls_per_run, b.tokens_per_run, b.calls_per_day,
                                   b.tokens_per_day)  # fmt: skip
        self.run = Usage()
        self._in_flight = Usage()
        self.stats = RunStats()
        self._deadline_ms: float | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    def _remember_format(self, fmt: str) -> None:
        self.store.remember_format(self.cfg.base_url, self.cfg.model, fmt, self.clock.now_ms())

    def _budget_refusal(self, next_call_tokens: int) -> str | None:
        calls, tokens = self.store.usage_since(utc_day_start_ms(self.clock.now_ms()))
        day = Usage(calls, tokens).plus(self._in_flight.calls, self._in_flight.tokens)
        run = self.run.plus(self._in_flight.calls, self._in_flight.tokens)
        return budget_refusal(self.limits, run, day, next_call_tokens)

    def _record(self, key: str, ck: str, verdict: LlmVerdict, fmt: str, **kw: Any) -> None:
        status = "ok" if verdict.valid else ("invalid" if kw.get("raw_reply") else "error")
        self.store.record_call(
            LlmCallRecord(
                ts_ms=self.clock.now_ms(), pair_key=key, cache_key=ck,
                base_url=self.cfg.base_url, model=self.cfg.model, response_format=fmt,
                status=status, decision=verdict.decision, confidence=verdict.confidence,
                verdict=verdict.as_dict(), error=verdict.error, **kw,
            )
        )  # fmt: skip

    async def _ask(self, row: Mapping[str, Any], history: pd.DataFrame | None) -> LlmVerdict:
        key = row_pair_key(row)
        ck = cache_key(key, self.clock.now_ms(), self.cfg.cache_minutes)
        hit = self.store.cached_verdict(ck, self.cfg.base_url, self.cfg.model)
        if hit is not None:
            self.stats.cached += 1
            v = hit.verdict
            return LlmVerdict(v["decision"], v["confidence"], tuple(v["reasons"]),
                              tuple(v["risks"]), True, None, "cache")  # fmt: skip
        messages = build_messages(opportunity_facts(row, history_stats(row, history)))
        reserve = estimate_tokens(messages) + self.cfg.max_tokens
        refusal = self._budget_refusal(reserve)
        if refusal is not None:
            self.stats.refused_by_budget += 1
            return abstain(refusal, source="budget")
        self._in_flight = self._in_flight.plus(1, reserve)
        try:
            return await self._call(key, ck, messages)
        finally:
            self._in_flight = self._in_flight.plus(-1, -reserve)

    async def _call(self, key: str, ck: str, messages: list[dict[str, str]]) -> LlmVerdict:
        self.stats.asked += 1
        try:
            reply = await self.client.chat(messages, VERDICT_SCHEMA, deadline_ms=self._deadline_ms)
        except LlmError as exc:
            self.run = self.run.plus(1, 0)
            self.stats.failed += 1
            verdict = abstain(str(exc))
            self._record(key, ck, verdict, self.client.response_format, attempts=exc.attempts)
            return verdict
        tokens = (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
        self.run = self.run.plus(1, tokens)
        self.stats.tokens += tokens
        verdict = parse_reply(reply.content, reply.finish_reason)
        self._record(
            key, ck, verdict, reply.response_format, prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens, latency_ms=reply.latency_ms,
            attempts=reply.attempts, raw_reply=reply.raw,
        )  # fmt: skip
        return verdict

    async def verdicts(
        self, rows: Sequence[Mapping[str, Any]], history: pd.DataFrame | None = None
    ) -> list[LlmVerdict]:
        """One verdict per row, in order, within ``llm.scan_budget_s`` of wall time."""
        if not rows:
            return []
        gate = asyncio.Semaphore(self.cfg.max_concurrency)
        self._deadline_ms = self.clock.monotonic_ms() + self.cfg.scan_budget_s * MS_PER_S

        async def one(row: Mapping[str, Any]) -> LlmVerdict:
            async with gate:
                return await self._ask(row, history)

        tasks = [asyncio.create_task(one(r)) for r in rows]
        _done, pending = await asyncio.wait(tasks, timeout=self.cfg.scan_budget_s)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        out = [self._result(t) for t in tasks]
        for v in out:
            self.stats.count(v)
        return out

    def _result(self, task: asyncio.Task[LlmVerdict]) -> LlmVerdict:
        if task.cancelled():
            self.stats.out_of_time += 1
            return abstain(f"no answer within llm.scan_budget_s={self.cfg.scan_budget_s:g} s",
                           source="deadline")  # fmt: skip
        exc = task.exception()
        if exc is not None:
            # A bug or a storage failure must still fail closed, and be visible in the log.
            log.error("llm verdict failed: %s: %s", type(exc).__name__, exc)
            self.stats.failed += 1
            return abstain(f"internal error: {type(exc).__name__}: {exc}")
        return task.result()


def with_verdicts(df: pd.DataFrame, verdicts: Sequence[LlmVerdict] | None) -> pd.DataFrame:
    """``df`` with ``llm_decision``, ``llm_confidence``, ``llm_reasons`` (None when off)."""
    out = df.copy()
    if verdicts is None:
        for c in LLM_COLUMNS:
            out[c] = pd.Series([None] * len(out), index=out.index, dtype=object)
        return out
    if len(verdicts) != len(df):
        raise ValueError(f"{len(verdicts)} verdicts for {len(df)} rows")
    out["llm_decision"] = pd.Series([v.decision for v in verdicts], index=out.index, dtype=object)
    out["llm_confidence"] = pd.Series(
        [v.confidence for v in verdicts], index=out.index, dtype=object
    )
    out["llm_reasons"] = pd.Series([list(v.reasons) for v in verdicts], index=out.index,
                                   dtype=object)  # fmt: skip
    return out


def history_for(queries: Queries, df: pd.DataFrame, now_ms: int, lookback_h: float) -> pd.DataFrame:
    """Stored quotes and settlements of the rows' legs over the confidence lookback."""
    canon = {str(c) for col in ("long_canonical", "short_canonical") if col in df.columns
             for c in df[col].dropna()}  # fmt: skip
    return queries.quote_history_for_confidence(sorted(canon), now_ms - h_to_ms(lookback_h))


async def advise_frame(
    settings: Settings,
    db: Database,
    df: pd.DataFrame,
    *,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, RunStats]:
    """``df`` (the rows that will be shown) with the model's verdict columns added."""
    advisor = Advisor(settings, LlmStore(db), clock=clock)
    try:
        if progress is not None and len(df):
            progress(
                f"llm: asking {settings.llm.model} at {settings.llm.base_url} about "
                f"{len(df)} rows (at most {settings.llm.scan_budget_s:g} s) ..."
            )
        history = history_for(Queries(db), df, clock.now_ms(), settings.engine.lookback_h)
        verdicts = await advisor.verdicts(df.to_dict("records"), history)
    finally:
        await advisor.aclose()
    return with_verdicts(df, verdicts), advisor.stats


async def verdicts_by_pair(
    settings: Settings,
    db: Database,
    rows: Sequence[Mapping[str, Any]],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[dict[str, LlmVerdict], RunStats]:
    """One batch (one run's budget, ``llm.scan_budget_s``) about ``rows``, by ``pair_key``.

    For ``fundscan run``: the rows it shows, alerts or is about to trade, deduplicated. Any
    failure of the batch as a whole makes every row an abstention.
    """
    unique = list({row_pair_key(r): r for r in rows}.values())
    if not unique:
        return {}, RunStats()
    stats = RunStats()
    try:
        advisor = Advisor(settings, LlmStore(db), clock=clock)
        stats = advisor.stats
        try:
            frame = pd.DataFrame([dict(r) for r in unique])
            history = history_for(Queries(db), frame, clock.now_ms(), settings.engine.lookback_h)
            verdicts = await advisor.verdicts(unique, history)
        finally:
            await advisor.aclose()
    except Exception as exc:  # fail closed: the model's trouble never costs the scan
        log.error("llm batch failed: %s: %s", type(exc).__name__, exc)
        verdicts = [abstain(f"llm unavailable: {type(exc).__name__}: {exc}")] * len(unique)
    return {row_pair_key(r): v for r, v in zip(unique, verdicts, strict=True)}, stats


def verdict_columns(verdict: LlmVerdict | None) -> dict[str, Any]:
    """``llm_decision``, ``llm_confidence``, ``llm_reasons`` of one row (None when not asked)."""
    if verdict is None:
        return dict.fromkeys(LLM_COLUMNS)
    return {
        "llm_decision": verdict.decision,
        "llm_confidence": verdict.confidence,
        "llm_reasons": list(verdict.reasons),
    }


async def gate_check(
    settings: Settings, db: Database, row: Mapping[str, Any], *, clock: Clock = SYSTEM_CLOCK
) -> tuple[bool, LlmVerdict]:
    """Gate mode for one opportunity row about to be traded: (may the order go out, verdict).

    True only for a valid ``approve`` with at least ``llm.gate_min_confidence``
    (``strategies.llm_verdict.gate_allows``); every failure, including one in this function's
    own plumbing, is (False, abstain). The executor calls this when ``llm.mode`` is ``gate``.
    """
    try:
        advisor = Advisor(settings, LlmStore(db), clock=clock)
        try:
            history = history_for(Queries(db), pd.DataFrame([dict(row)]), clock.now_ms(),
                                  settings.engine.lookback_h)  # fmt: skip
            [verdict] = await advisor.verdicts([row], history)
        finally:
            await advisor.aclose()
    except Exception as exc:  # fail closed: no verdict, no order
        log.error("llm gate failed: %s: %s", type(exc).__name__, exc)
        verdict = abstain(f"llm gate unavailable: {type(exc).__name__}: {exc}")
    return gate_allows(verdict, settings.llm.gate_min_confidence), verdict
