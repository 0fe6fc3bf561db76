"""``fundscan emulator`` and the ccxt factory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.specs import UnknownVenueError, venue_ids

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
        # the first line also names the market regime (issue 10: --regime, default normal)
        m = re.fullmatch(
            r"emulator listening on (http://127\.0\.0\.1:(\d+)) \(regime normal\)", first
        )
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
        (["--speed", "0"], "--speed must be a finite number in (0,"),
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--latency-ms", "-1"], "--latency-ms must be a finite number in [0,"),
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


def _leaves(tree: object, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every URL string of a ccxt ``urls['api']`` tree, keyed by its key path."""
    if isinstance(tree, dict):
        out: dict[tuple[str, ...], str] = {}
        for key, value in tree.items():
            out.update(_leaves(value, (*path, str(key))))
        return out
    return {path: str(tree)} if isinstance(tree, str) else {}


@pytest.mark.parametrize("venue", venue_ids())
async def test_factory_points_every_listed_url_at_the_base(venue: str) -> None:
    """Expected URLs come from ccxt's own hosts, not from the spec's table: each overridden
    entry must be the base URL plus the *path* ccxt uses on the real host (``fapiPublic`` ->
    ``/fapi/v1``); a wrong suffix or a key ccxt does not have fails. That the overridden
    entries cover every call the adapter makes is the contract suite's job (it runs them
    against the emulator, where a call to a real host could not succeed)."""
    base = f"http://127.0.0.1:9/{venue}"
    real = make_exchange(venue)
    ex = make_exchange(venue, base + "/", {"timeout": 1234, "options": {"extra": 1}})
    try:
        defaults = _leaves(real.urls["api"])
        got = _leaves(ex.urls["api"])
        overridden = {path for path, url in got.items() if url.startswith(base)}
        assert overridden, "nothing points at the base URL"
        for path in overridden:
            assert path in defaults, f"{path}: not an urls['api'] key of ccxt's {venue}"
            real_path = urlsplit(defaults[path].replace("{hostname}", "example.com")).path
            assert got[path] == base + real_path.rstrip("/"), path
        assert ex.timeout == 1234
        assert ex.options["extra"] == 1 and "types" in ex.options["fetchMarkets"]
    finally:
        await ex.close()
        await real.close()


async def test_factory_without_base_url_keeps_the_real_hosts() -> None:
    ex = make_exchange("okx")
    try:
        assert "127.0.0.1" not in json.dumps(ex.urls["api"])
        assert ex.options["fetchMarkets"]["types"] == ["swap"]
    finally:
        await ex.close()
