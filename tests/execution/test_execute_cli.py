"""``fundscan execute`` end to end: the CLI, the emulator over loopback HTTP, a real database."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from exec_helpers import KEY, SECRET
from typer.testing import CliRunner

from emulator import Emulator
from emulator.bybit_account import BybitAccount
from scanner.cli import app

ENV = {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **ENV,
        "FUNDSCAN__STORAGE__URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "FUNDSCAN__EXECUTION__KILL_SWITCH_FILE": str(tmp_path / "KILL"),
    }


def _emulator() -> Emulator:
    """Real-time clock: the CLI signs with the wall clock, as it would against Bybit."""
    return Emulator(seed=11, bybit_accounts=[BybitAccount(KEY, SECRET)])


def test_dry_run_prints_the_orders_and_calls_no_private_endpoint(tmp_path: Path) -> None:
    with _emulator().run_in_thread() as emu:
        args = ["execute", "open", "--symbol", "BTC", "--long", "bybit-spot", "--short", "bybit",
                "--notional", "1000", "--emulator", emu.url, "--json"]  # fmt: skip
        result = CliRunner().invoke(app, args, env=_env(tmp_path))
        requests = list(emu.request_log)
        orders = list(emu.bybit_private.order_log)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["state"] == "dry-run"
    assert [(leg["venue"], leg["side"]) for leg in body["legs"]] == [
        ("bybit-spot", "buy"), ("bybit", "sell"),
    ]  # fmt: skip
    assert all(Decimal(leg["quantity"]) > 0 for leg in body["legs"])
    assert requests, "dry-run read the public market data"
    assert [r for r in requests if r["signed"]] == []
    assert orders == []


def test_paper_open_status_close_with_json(tmp_path: Path) -> None:
    env = _env(tmp_path)
    runner = CliRunner()
    with _emulator().run_in_thread() as emu:
        base = ["--mode", "paper", "--emulator", emu.url, "--json"]
        args = ["execute", "open", "--symbol", "ETH", "--long", "bybit-spot", "--short", "bybit"]
        opened = runner.invoke(app, [*args, "--notional", "900", *base], env=env)
        assert opened.exit_code == 0, opened.output
        pair = json.loads(opened.stdout)
        status = runner.invoke(app, ["execute", "status", "--json"], env=env)
        coin = emu.bybit_private.state(KEY).coins.get("ETH")
        perp = emu.bybit_private.state(KEY).positions["ETHUSDT"].size
        closed = runner.invoke(app, ["execute", "close", pair["pair_id"], *base], env=env)
        after = emu.bybit_private.state(KEY).positions["ETHUSDT"].size
    assert pair["state"] == "open"
    legs = {leg["role"]: leg for leg in pair["legs"]}
    assert Decimal(legs["long"]["quantity"]) == coin
    assert -Decimal(legs["short"]["quantity"]) == perp
    assert all(leg["order_ids"] and leg["average_price"] for leg in pair["legs"])
    assert [p["pair_id"] for p in json.loads(status.stdout)["pairs"]] == [pair["pair_id"]]
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.stdout)["state"] == "closed" and after == 0


def test_bad_arguments_are_one_line_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        ["--notional", "abc"],
        ["--notional", "-5"],
        ["--notional", "100", "--long", "kraken"],
        ["--notional", "100", "--mode", "live"],
    ]
    for extra in cases:
        args = ["execute", "open", "--symbol", "BTC", "--long", "bybit-spot", "--short", "bybit"]
        result = runner.invoke(app, _merge(args, extra), env=_env(tmp_path))
        assert result.exit_code == 2, (extra, result.output)
        assert "Traceback" not in result.output
        assert "error:" in result.output


def _merge(args: list[str], extra: list[str]) -> list[str]:
    out = list(args)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out
