"""Gate mode: only a valid, confident approve lets an order out; every failure says no."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply, always, completion, ok
from llm_helpers import open_db, row, settings_for
from sqlalchemy import text

from scanner.clock import FakeClock
from scanner.llm_advisor import gate_check


def _gate(settings, db) -> tuple[bool, object]:
    return asyncio.run(gate_check(settings, db, row(), clock=FakeClock()))


@pytest.mark.parametrize(
    "reply,allowed",
    [
        (ok("approve", 0.8), True),
        (ok("approve", 0.3), False),  # below llm.gate_min_confidence (0.5)
        (ok("reject", 0.95), False),
        (ok("abstain", 0.9), False),
        (Reply(body=completion("approve, definitely")), False),
        (Reply(body=completion(json.dumps({"decision": "approve", "confidence": 9}))), False),
        (Reply(500, {"error": {"message": "boom"}}), False),
        (Reply(429, {"error": {"code": "insufficient_quota"}}), False),
        (Reply(body=completion('{"decision": "approve", "conf', finish_reason="length")), False),
    ],
    ids=["approve", "weak-approve", "reject", "abstain", "prose", "invalid", "500", "quota",
         "cut"],
)  # fmt: skip
def test_gate(tmp_path: Path, reply: Reply, allowed: bool) -> None:
    with FakeOpenAI(always(reply)).running() as srv:
        settings = settings_for(srv.url, tmp_path, mode="gate", max_retries=1)
        passed, verdict = _gate(settings, open_db(settings))
    assert passed is allowed
    if not allowed:
        assert verdict.decision != "approve" or verdict.confidence < 0.5  # type: ignore[attr-defined]


def test_gate_says_no_when_the_server_is_absent(tmp_path: Path) -> None:
    srv = FakeOpenAI(always(ok()))
    srv._server.server_close()
    settings = settings_for(srv.url, tmp_path, mode="gate", max_retries=0)
    passed, verdict = _gate(settings, open_db(settings))
    assert passed is False and verdict.decision == "abstain"  # type: ignore[attr-defined]


def test_gate_says_no_when_its_own_storage_fails(tmp_path: Path) -> None:
    with FakeOpenAI(always(ok("approve", 0.9))).running() as srv:
        settings = settings_for(srv.url, tmp_path, mode="gate")
        db = open_db(settings)
        with db.write() as conn:
            conn.execute(text("DROP TABLE llm_calls"))
        passed, verdict = _gate(settings, db)
    assert passed is False
    assert verdict.decision == "abstain"  # type: ignore[attr-defined]
    # the database's refusal arrives as the storage layer's one-line StorageError
    assert "StorageError" in (verdict.error or "")  # type: ignore[attr-defined]
    assert "no such table: llm_calls" in (verdict.error or "")  # type: ignore[attr-defined]
