"""Persistence of the LLM second opinion: every question asked, and what each server accepts.

Why store every call: tokens and latency are what a user pays and waits for, so per-day
budgets are counted from these rows (they hold across runs and processes); the raw reply is
kept so a surprising verdict can be audited later; and a valid verdict is reused for the rest
of its time bucket instead of asking again. The structured-output format a server accepted is
remembered per (base URL, model), so a server that refuses ``json_schema`` is not asked with it
on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage import tables as T
from storage.db import Database

RAW_REPLY_MAX_CHARS = 20_000
"""A reply body is bounded by ``max_tokens``; this bounds what a misbehaving server can make us
store."""


@dataclass(frozen=True, slots=True)
class LlmCallRecord:
    """One question to the model and what came of it (``status``: ok, invalid or error)."""

    ts_ms: int
    pair_key: str
    cache_key: str
    base_url: str
    model: str
    response_format: str
    status: str
    decision: str
    confidence: float | None
    verdict: dict[str, Any]
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    attempts: int = 1
    raw_reply: str | None = None

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class LlmStore:
    """Calls, cached verdicts, usage counts and negotiated formats; each method one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_call(self, call: LlmCallRecord) -> int:
        data = {name: getattr(call, name) for name in LlmCallRecord.__dataclass_fields__}
        if call.raw_reply is not None:
            data["raw_reply"] = call.raw_reply[:RAW_REPLY_MAX_CHARS]
        with self.db.write() as conn:
            stmt = T.llm_calls.insert().returning(T.llm_calls.c.id)
            return int(conn.execute(stmt, data).scalar_one())

    def cached_verdict(self, cache_key: str, base_url: str, model: str) -> LlmCallRecord | None:
        """The latest *valid* verdict for this cache key from this server and model.

        Failures are never cached: a timeout now should not stop a question in a minute.
        """
        c = T.llm_calls.c
        stmt = (
            select(T.llm_calls)
            .where(c.cache_key == cache_key, c.model == model, c.base_url == base_url)
            .where(c.status == "ok")
            .order_by(c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).one_or_none()
        if row is None:
            return None
        data = row._asdict()
        data.pop("id")
        return LlmCallRecord(**data)

    def usage_since(self, since_ms: int) -> tuple[int, int]:
        """(calls, tokens) recorded at or after ``since_ms``, over every server and model."""
        c = T.llm_calls.c
        tokens = func.coalesce(func.sum(func.coalesce(c.prompt_tokens, 0)), 0) + func.coalesce(
            func.sum(func.coalesce(c.completion_tokens, 0)), 0
        )
        stmt = select(func.count(), tokens).where(c.ts_ms >= since_ms)
        with self.db.read() as conn:
            calls, used = conn.execute(stmt).one()
        return int(calls), int(used)

    def calls(self, limit: int = 100) -> list[LlmCallRecord]:
        """The most recent calls, newest first (for audits and tests)."""
        stmt = select(T.llm_calls).order_by(T.llm_calls.c.id.desc()).limit(limit)
        with self.db.read() as conn:
            rows = [r._asdict() for r in conn.execute(stmt)]
        for r in rows:
            r.pop("id")
        return [LlmCallRecord(**r) for r in rows]

    def remembered_format(self, base_url: str, model: str) -> str | None:
        c = T.llm_formats.c
        stmt = select(c.response_format).where(c.base_url == base_url, c.model == model)
        with self.db.read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def remember_format(self, base_url: str, model: str, response_format: str, now_ms: int) -> None:
        data = {
            "base_url": base_url,
            "model": model,
            "response_format": response_format,
            "updated_ms": now_ms,
        }
        with self.db.write() as conn:
            dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
            ins = dialect.insert(T.llm_formats)
            stmt = ins.on_conflict_do_update(
                index_elements=["base_url", "model"],
                set_={"response_format": ins.excluded.response_format, "updated_ms": now_ms},
            )
            conn.execute(stmt, data)
