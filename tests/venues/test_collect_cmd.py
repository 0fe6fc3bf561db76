"""``fundscan collect`` end to end against the emulator (running in a background thread)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from emulator import Emulator, FaultSpec
from scanner.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5).run_in_thread() as emulator:
        yield emulator


def test_collect_prints_each_venue_and_a_summary(emu: Emulator):
    args = ["collect", "--emulator", emu.url, "--venues", "bybit,gate,okx", "--books", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    for venue in ("bybit", "gate", "okx"):
        assert f"{venue}: collecting" in out
        assert f"{venue}: ok" in out
    assert "collection" in out and "latency ms" in out
    assert "binanceusdm" not in out


def test_every_venue_failing_exits_1(emu: Emulator):
    emu.faults.set("hyperliquid", "*", FaultSpec(kind="ban"))
    try:
        result = runner.invoke(app, ["collect", "--emulator", emu.url, "--venues", "hyperliquid"])
    finally:
        emu.faults.clear()
    assert result.exit_code == 1, result.output
    assert "failed" in result.output and "403" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venues", "bybit,nosuch"], "nosuch"),
        (["--emulator", "ftp://x"], "--emulator"),
        (["--books", "-1"], "--books"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str):
    result = runner.invoke(app, ["collect", *args])
    assert result.exit_code == 2
    assert message in result.output
