"""``llm.mode: gate`` through the executor: no order unless the model validly approves.

Every way the model can fail (timeout, 5xx, 429 past the retries, quota, prose, a schema
violation, a spent budget, abstain, reject, a weak approve, no scanned row to judge) ends in no
order: in dry-run (``fundscan execute open`` prints no orders), in paper mode against the
emulator (its order log at ``/_control/log`` gains nothing) and in ``fundscan run`` with
auto-execution. A valid approve is the positive control each time: the same setup does trade.
The model is a local OpenAI-compatible server (real sockets); the venues are the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAI, Reply, always, completion, ok, verdict_json
from llm_helpers import API_KEY, row
from typer.testing import CliRunner

from emulator import Emulator
from emulator.binance_account import BinanceAccountConfig
from emulator.bybit_account import BybitAccount
from scanner.cli import app
from scanner.clock import SYSTEM_CLOCK
from storage.db import open_database
from storage.execution_events import ExecutionEventStore
from storage.scan_store import ScanStore

KEY, SECRET = "gate-test-key", "gate-test-secret-0123456789"
BKEY, BSECRET = "gate-binance-key", "gate-binance-secret-9876543210"
CARRY = "BTC/USDT:USDT|long=bybit-spot|short=bybit"
OPEN = ["execute", "open", "--symbol", "BTC", "--long", "bybit-spot", "--short", "bybit",
        "--notional", "900"]  # fmt: skip


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """Real-time clock: the CLI signs with the wall clock, as it would against Bybit."""
    with Emulator(seed=11, bybit_accounts=[BybitAccount(KEY, SECRET)]).run_in_thread() as e:
        yield e


def store_scanned_row(db_url: str) -> None:
    """The carry pair as the last scan stored it (what a gated manual open is judged on)."""
    carry = row("BTC/USDT:USDT", "bybit-spot", "bybit") | {
        "pair_type": "carry", "long_symbol": "BTCUSDT", "short_symbol": "BTCUSDT",
        "long_rate": 0.0, "long_interval_h": float("nan"), "pair_key": CARRY,
    }  # fmt: skip
    db = open_database(db_url)
    try:
        scans = ScanStore(db)
        scan_id = scans.start_scan(SYSTEM_CLOCK.now_ms())
        scans.write_opportunities(scan_id, [carry])
    finally:
        db.dispose()


def env_for(tmp_path: Path, llm_url: str, **extra: str) -> dict[str, str]:
    return {
        "BYBIT_API_KEY": KEY,
        "BYBIT_API_SECRET": SECRET,
        "OPENAI_API_KEY": API_KEY,
        "FUNDSCAN__STORAGE__URL": f"sqlite:///{tmp_path / 'gate.db'}",
        "FUNDSCAN__EXECUTION__KILL_SWITCH_FILE": str(tmp_path / "KILL"),
        "FUNDSCAN__LLM__MODE": "gate",
        "FUNDSCAN__LLM__BASE_URL": llm_url,
        "FUNDSCAN__LLM__MODEL": "test-model",
        "FUNDSCAN__LLM__TIMEOUT_S": "0.5",
        "FUNDSCAN__LLM__MAX_RETRIES": "1",
        **extra,
    }


def emulator_orders(emu: Emulator) -> list[dict[str, Any]]:
    """The emulator's order log as its control endpoint serves it (every venue)."""
    body = httpx.get(f"{emu.url}/_control/log", timeout=5).json()
    return [o for orders in body["orders"].values() for o in orders]


QUOTA = Reply(
    429,
    {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}},
)
RATE_LIMITED = Reply(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "0"})
FAILURES: dict[str, tuple[Reply, dict[str, str]]] = {
    "timeout": (Reply(body=completion(verdict_json()), delay_s=2), {}),
    "500": (Reply(500, {"error": {"message": "internal error"}}), {}),
    "429-exhausted": (RATE_LIMITED, {}),
    "quota": (QUOTA, {}),
    "prose": (Reply(body=completion("Approve. Looks great to me!")), {}),
    "schema-violation": (
        Reply(
            body=completion(
                json.dumps({"decision": "buy", "confidence": 0.9, "reasons": ["x"], "risks": []})
            )
        ),
        {},
    ),  # fmt: skip
    "cut-off": (Reply(body=completion('{"decision": "approve"', finish_reason="length")), {}),
    "budget": (ok("approve", 0.9), {"FUNDSCAN__LLM__BUDGET__CALLS_PER_RUN": "0"}),
    "abstain": (ok("abstain", 0.9), {}),
    "reject": (ok("reject", 0.9), {}),
    "weak-approve": (ok("approve", 0.2), {}),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_dry_run_prints_no_order_unless_the_model_approves(
    emu: Emulator, tmp_path: Path, case: str
) -> None:
    reply, extra = FAILURES[case]
    with FakeOpenAI(always(reply)).running() as srv:
        env = env_for(tmp_path, srv.url, **extra)
        store_scanned_row(env["FUNDSCAN__STORAGE__URL"])
        result = CliRunner().invoke(app, [*OPEN, "--emulator", emu.url, "--json"], env=env)
        asked = len(srv.seen)
    assert result.exit_code == 1, result.output
    assert "llm gate" in result.stderr and CARRY in result.stderr
    assert result.stdout.strip() == "", "no order printed"
    if case == "budget":
        assert asked == 0, "a spent budget makes no call"
    else:
        assert asked >= 1
    db = open_database(env["FUNDSCAN__STORAGE__URL"], create=False)
    try:
        events = [e for e in ExecutionEventStore(db).recent() if e.kind == "llm_gate"]
    finally:
        db.dispose()
    assert len(events) == 1 and CARRY in events[0].message


def test_dry_run_with_an_approve_prints_the_orders(emu: Emulator, tmp_path: Path) -> None:
    with FakeOpenAI(always(ok("approve", 0.9))).running() as srv:
        env = env_for(tmp_path, srv.url)
        store_scanned_row(env["FUNDSCAN__STORAGE__URL"])
        result = CliRunner().invoke(app, [*OPEN, "--emulator", emu.url, "--json"], env=env)
        prompt = srv.seen[0].body["messages"][1]["content"]
    assert result.exit_code == 0, result.output
    assert "llm gate: approve 0.90" in result.stderr
    body = json.loads(result.stdout)
    assert body["state"] == "dry-run" and len(body["legs"]) == 2
    assert CARRY in prompt, "the model judged the stored row of this very pair"


def test_no_scanned_row_means_no_question_and_no_order(emu: Emulator, tmp_path: Path) -> None:
    with FakeOpenAI(always(ok("approve", 0.9))).running() as srv:
        env = env_for(tmp_path, srv.url)
        result = CliRunner().invoke(app, [*OPEN, "--emulator", emu.url], env=env)
        asked = len(srv.seen)
    assert result.exit_code == 1, result.output
    assert "no scanned opportunity" in result.stderr and asked == 0


@pytest.mark.parametrize("case", ["timeout", "schema-violation", "reject"])
def test_paper_mode_sends_no_order_to_the_emulator(
    emu: Emulator, tmp_path: Path, case: str
) -> None:
    reply, extra = FAILURES[case]
    before = emulator_orders(emu)
    with FakeOpenAI(always(reply)).running() as srv:
        env = env_for(tmp_path, srv.url, **extra)
        store_scanned_row(env["FUNDSCAN__STORAGE__URL"])
        args = [*OPEN, "--mode", "paper", "--emulator", emu.url, "--json"]
        result = CliRunner().invoke(app, args, env=env)
        status = CliRunner().invoke(app, ["execute", "status", "--json"], env=env)
    assert result.exit_code == 1, result.output
    assert "llm gate" in result.stderr
    assert emulator_orders(emu) == before, "no order reached the venue"
    assert json.loads(status.stdout)["pairs"] == []


def test_paper_mode_with_an_approve_opens_the_pair(emu: Emulator, tmp_path: Path) -> None:
    before = len(emulator_orders(emu))
    with FakeOpenAI(always(ok("approve", 0.9))).running() as srv:
        env = env_for(tmp_path, srv.url)
        store_scanned_row(env["FUNDSCAN__STORAGE__URL"])
        args = [*OPEN, "--mode", "paper", "--emulator", emu.url, "--json"]
        opened = CliRunner().invoke(app, args, env=env)
        assert opened.exit_code == 0, opened.output
        pair_id = json.loads(opened.stdout)["pair_id"]
        closed = CliRunner().invoke(
            app, ["execute", "close", pair_id, "--mode", "paper", "--emulator", emu.url], env=env
        )
    assert closed.exit_code == 0, closed.output
    orders = emulator_orders(emu)[before:]
    assert [o["orderLinkId"] for o in orders[:2]] == [f"{pair_id}-lo0", f"{pair_id}-so0"]
    assert json.loads(opened.stdout)["state"] == "open"
    assert len(srv.seen) == 1, "closing never asks the gate"


RUN_CONFIG = """\
schedule: {{scan_every_s: 5, prune_every_h: 0, pre_settlement_s: 0}}
storage: {{url: "sqlite:///{db}"}}
venues: {{enabled: [bybit, binanceusdm]}}
universe: {{include: [BTC, ETH, SOL, XRP, DOGE]}}
engine: {{notional_usd: 900, min_net_apr: -100}}
llm: {{mode: gate, base_url: "{llm}", model: test-model, timeout_s: 0.5, max_retries: 1}}
execution:
  mode: paper
  auto: true
  min_net_apr: -100
  min_confidence: 0
  max_open_pairs: 1
  kill_switch_file: "{kill}"
"""


def run_once(tmp_path: Path, reply: Reply) -> tuple[Any, list[dict[str, Any]], int]:
    """``fundscan run --max-scans 1`` with auto-execution over a fresh emulator."""
    emu = Emulator(
        seed=5, bybit_accounts=[BybitAccount(KEY, SECRET)],
        binance_accounts=[BinanceAccountConfig(BKEY, BSECRET)],
    )  # fmt: skip
    with FakeOpenAI(always(reply)).running() as srv, emu.run_in_thread():
        cfg = tmp_path / "c.yaml"
        cfg.write_text(RUN_CONFIG.format(db=tmp_path / "run.db", llm=srv.url,
                                         kill=tmp_path / "KILL"), encoding="utf-8")  # fmt: skip
        env = {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "BINANCE_API_KEY": BKEY,
               "BINANCE_API_SECRET": BSECRET, "OPENAI_API_KEY": API_KEY}  # fmt: skip
        args = ["run", "-c", str(cfg), "--emulator", emu.url, "--max-scans", "1"]
        result = CliRunner().invoke(app, args, env=env)
        return result, emulator_orders(emu), len(srv.seen)


def test_run_auto_execution_opens_nothing_when_the_model_rejects(tmp_path: Path) -> None:
    result, orders, asked = run_once(tmp_path, ok("reject", 0.9))
    assert result.exit_code == 0, result.output
    assert "execute: not opening" in result.output and "llm gate" in result.output, result.output
    assert orders == []
    assert 1 <= asked <= 2, "only the shown best row and the row to trade are asked about"


def test_run_auto_execution_opens_after_an_approve(tmp_path: Path) -> None:
    result, orders, asked = run_once(tmp_path, ok("approve", 0.9))
    assert result.exit_code == 0, result.output
    assert "execute: opened" in result.output and "llm gate: approve" in result.output
    assert len(orders) >= 2, "both legs went to the venues"
    assert 1 <= asked <= 2
