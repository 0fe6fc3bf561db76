"""``fundscan emulator`` and the ccxt factory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.venues.ccxt_factory import URL_KEYS, UnknownVenueError, make_exchange

LAUNCH = "from scanner.cli import main; main()"


def test_emulator_command_prints_its_url_first_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "emulator", "--port", "0", "--seed", "4", "--speed", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        m = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:(\d+))", first)
        assert m, first
        state = httpx.get(f"{m.group(1)}/_control/state", timeout=10).json()
        assert state["seed"] == 4 and state["speed"] == 60.0 and state["stepped"] is False
        assert state["venues"]["bybit"] == 760
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_emulator_command_rejects_a_bad_fault_file(tmp_path: Path) -> None:
    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps({"faults": [{"venue": "okx", "kind": "meteor"}]}))
    result = CliRunner().invoke(app, ["emulator", "--port", "0", "--faults", str(bad)])
    assert result.exit_code == 2
    assert "faults.json" in result.output and "meteor" in result.output


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--speed", "0"], "--speed must be > 0"),
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--bybit-key", "k"], "must be given together"),
    ],
)
def test_emulator_command_argument_errors(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, ["emulator", *args])
    assert result.exit_code == 2
    assert needle in result.output


def test_factory_rejects_unknown_venues() -> None:
    with pytest.raises(UnknownVenueError, match="kraken"):
        make_exchange("kraken")


@pytest.mark.parametrize("venue", sorted(URL_KEYS))
async def test_factory_points_every_listed_url_at_the_base(venue: str) -> None:
    base = f"http://127.0.0.1:9/{venue}"
    ex = make_exchange(venue, base + "/", {"timeout": 1234, "options": {"extra": 1}})
    try:
        urls = ex.urls["api"]

        def check(table: dict[str, object], got: dict[str, object]) -> None:
            for key, suffix in table.items():
                if isinstance(suffix, dict):
                    check(suffix, got[key])  # type: ignore[arg-type]
                else:
                    assert got[key] == base + str(suffix), key

        check(URL_KEYS[venue], urls)
        assert ex.timeout == 1234
        assert ex.options["extra"] == 1 and "types" in ex.options["fetchMarkets"]
    finally:
        await ex.close()


async def test_factory_without_base_url_keeps_the_real_hosts() -> None:
    ex = make_exchange("okx")
    try:
        assert "127.0.0.1" not in json.dumps(ex.urls["api"])
        assert ex.options["fetchMarkets"]["types"] == ["swap"]
    finally:
        await ex.close()
