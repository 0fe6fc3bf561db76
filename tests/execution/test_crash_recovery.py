"""SIGKILL between the two legs (a real subprocess), then a restart: reconciliation finds the
filled first leg and hedges it; the emulator's order log proves no order was sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from exec_helpers import KEY, SECRET

from emulator import Emulator, FaultSpec
from emulator.bybit_account import BybitAccount

DEADLINE_S = 60


def _fundscan(*args: str) -> list[str]:
    return [sys.executable, "-c", "from scanner.cli import main; main()", *args]


def test_sigkill_between_legs_then_restart_hedges_without_resending(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BYBIT_API_KEY": KEY,
        "BYBIT_API_SECRET": SECRET,
        "FUNDSCAN__STORAGE__URL": f"sqlite:///{tmp_path / 'crash.db'}",
        "FUNDSCAN__EXECUTION__KILL_SWITCH_FILE": str(tmp_path / "KILL"),
    }
    with Emulator(seed=11, bybit_accounts=[BybitAccount(KEY, SECRET)]).run_in_thread() as emu:
        # the look-up that follows every create answers slowly: a window between the legs
        emu.faults.set("bybit", "/v5/order/realtime", FaultSpec("latency", latency_ms=8000))
        pair = ["--symbol", "BTC", "--long", "bybit-spot", "--short", "bybit", "--notional", "900"]
        args = ["execute", "open", *pair, "--mode", "paper", "--emulator", emu.url, "--json"]
        proc = subprocess.Popen(_fundscan(*args), env=env, cwd=tmp_path)
        deadline = time.monotonic() + DEADLINE_S
        log = emu.bybit_private.order_log
        while not log and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(log) == 1, f"expected exactly the first leg sent, got {log}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
        state = emu.bybit_private.state(KEY)
        assert state.coins.get("BTC", 0) > 0 and "BTCUSDT" not in {
            s for s, p in state.positions.items() if p.size
        }  # a naked spot leg, as a crash would leave it

        emu.faults.clear()
        restart = subprocess.run(
            _fundscan("execute", "reconcile", "--mode", "paper", "--emulator", emu.url, "--json"),
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE_S,
        )  # fmt: skip
        ids = [o["orderLinkId"] for o in emu.bybit_private.order_log]
        coin = state.coins.get("BTC", Decimal(0))
        perp = state.positions["BTCUSDT"].size
    assert restart.returncode == 0, restart.stderr
    body = json.loads(restart.stdout)
    (pair,) = body["pairs"]
    assert pair["state"] == "open"
    assert any(e.startswith("recovered_order") for e in pair["events"])
    assert len(ids) == len(set(ids)) == 2  # the first leg once, the hedge once
    legs = {leg["role"]: leg for leg in pair["legs"]}
    assert Decimal(legs["long"]["quantity"]) == coin
    assert -Decimal(legs["short"]["quantity"]) == perp
    assert abs(coin + perp) < Decimal("0.001")  # hedged within one lot
