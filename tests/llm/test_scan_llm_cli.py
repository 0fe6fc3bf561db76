"""``fundscan scan --llm``: only the shown rows are asked; scan output survives any server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply, always, completion, ok
from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from storage.db import open_database
from storage.llm_store import LlmStore


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=5).run_in_thread() as emu:
        yield emu


def _config(tmp_path: Path, llm_url: str, mode: str = "off", **extra: object) -> Path:
    cfg = tmp_path / "config.yaml"
    lines = [
        f"storage: {{url: 'sqlite:///{tmp_path / 'scan.db'}'}}",
        "venues: {enabled: [bybit, binanceusdm]}",
        "universe: {include: [BTC, ETH, SOL, PEPE, DOGE, XRP]}",
        # every pair is shown: since the emulator's market is calibrated (issue 10) these
        # majors seldom clear fees between Bybit and Binance, and the LLM column, not the
        # opportunity, is what these tests are about
        "engine: {min_net_apr: -100}",
        "llm:",
        f"  mode: '{mode}'",
        f"  base_url: {llm_url}",
        *(
            f"  {k}: {v}"
            for k, v in {"model": "test-model", "timeout_s": 2, "max_retries": 0, **extra}.items()
        ),
    ]
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _scan(cfg: Path, emu: Emulator, *args: str):
    return CliRunner().invoke(
        app, ["scan", "-c", str(cfg), "--emulator", emu.url, "--top", "3", *args]
    )


def _rows(stdout: str) -> list[dict]:
    return json.loads(stdout[stdout.index("[") :])


def test_advisory_asks_about_the_shown_rows_only(emulator: Emulator, tmp_path: Path) -> None:
    with FakeOpenAI(always(ok("approve", 0.7))).running() as srv:
        cfg = _config(tmp_path, srv.url)
        result = _scan(cfg, emulator, "--llm", "advisory", "--json")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert len(rows) == 3
    assert len(srv.seen) == 3, "one question per shown row, never the whole universe"
    asked = {json.loads(s.body["messages"][1]["content"].split("\n", 1)[1])["pair"]
             for s in srv.seen}  # fmt: skip
    shown = {r["pair_key"] for r in rows}
    assert asked == shown
    assert all(r["llm_decision"] == "approve" and r["llm_confidence"] == 0.7 for r in rows)
    assert all(r["llm_reasons"] == ["ok"] for r in rows)
    assert "llm: 3 approve; 3 asked" in result.stderr
    store = LlmStore(open_database(f"sqlite:///{tmp_path / 'scan.db'}"))
    assert len(store.calls()) == 3


def test_off_leaves_null_columns_and_asks_nothing(emulator: Emulator, tmp_path: Path) -> None:
    with FakeOpenAI(always(ok())).running() as srv:
        cfg = _config(tmp_path, srv.url, mode="advisory")
        result = _scan(cfg, emulator, "--llm", "off", "--json")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert rows and srv.seen == []
    assert all(r["llm_decision"] is None and r["llm_confidence"] is None for r in rows)
    assert all(r["llm_reasons"] is None for r in rows)


def test_config_mode_applies_without_the_flag_and_the_table_shows_verdicts(
    emulator: Emulator, tmp_path: Path
) -> None:
    with FakeOpenAI(always(ok("reject", 0.9))).running() as srv:
        cfg = _config(tmp_path, srv.url, mode="advisory")
        result = _scan(cfg, emulator)
    assert result.exit_code == 0, result.output
    assert "llm verdict" in result.stdout
    assert result.stdout.count("reject 0.90") == 3


@pytest.mark.parametrize(
    "server",
    [
        "absent",
        Reply(body=completion(json.dumps({"decision": "yes", "confidence": 2}))),
    ],
    ids=["absent", "invalid"],
)
def test_any_broken_server_still_prints_the_scan_with_abstentions(
    emulator: Emulator, tmp_path: Path, server: object
) -> None:
    if server == "absent":
        srv = FakeOpenAI(always(ok()))
        srv._server.server_close()
        result = _scan(_config(tmp_path, srv.url), emulator, "--llm", "advisory", "--json")
    else:
        assert isinstance(server, Reply)
        with FakeOpenAI(always(server)).running() as srv:
            result = _scan(_config(tmp_path, srv.url), emulator, "--llm", "advisory", "--json")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert len(rows) == 3
    assert [r["llm_decision"] for r in rows] == ["abstain"] * 3
    assert all(r["llm_confidence"] is None and r["llm_reasons"] for r in rows)


def test_a_slow_server_does_not_stretch_the_scan_beyond_the_budget(
    emulator: Emulator, tmp_path: Path
) -> None:
    slow = Reply(body=completion("{}"), delay_s=30)
    with FakeOpenAI(always(slow)).running() as srv:
        cfg = _config(tmp_path, srv.url, timeout_s=60, scan_budget_s=0.5)
        result = _scan(cfg, emulator, "--llm", "advisory", "--json")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert all("scan_budget_s=0.5" in r["llm_reasons"][0] for r in rows)
    assert "3 out of time" in result.stderr


def test_bad_llm_flag_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scan", "--llm", "gatekeeper"])
    assert result.exit_code == 2
    assert "--llm: expected advisory or off" in result.output


def test_csv_carries_the_reasons_as_json(emulator: Emulator, tmp_path: Path) -> None:
    with FakeOpenAI(always(ok())).running() as srv:
        result = _scan(_config(tmp_path, srv.url), emulator, "--llm", "advisory", "--csv")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split(",")
    assert header[-3:] == ["llm_decision", "llm_confidence", "llm_reasons"]
    assert '"[""ok""]"' in result.stdout
