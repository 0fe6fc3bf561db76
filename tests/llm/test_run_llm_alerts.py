"""``fundscan run`` with ``llm.mode: advisory``: alerts carry the model's verdict, and the model is
asked only about the rows the run shows or alerts, never about the whole universe."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fake_openai import FakeOpenAI, Reply, always, completion, verdict_json
from llm_helpers import API_KEY, row
from typer.testing import CliRunner

from emulator import Emulator
from scanner.alerts.message import Message, plain_text
from scanner.cli import app
from storage.db import open_database
from storage.queries import Queries


@contextmanager
def webhook_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local endpoint that accepts every POST and keeps its JSON body."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's spelling
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


CONFIG = """\
schedule: {{scan_every_s: 5, prune_every_h: 0, pre_settlement_s: 0}}
storage: {{url: "sqlite:///{db}"}}
venues: {{enabled: [bybit, binanceusdm, okx]}}
universe: {{include: [BTC, ETH, SOL, XRP, DOGE, ADA, LINK, AVAX]}}
engine: {{min_net_apr: -100}}   # every pair: the calibrated market seldom clears fees
llm: {{mode: advisory, base_url: "{llm}", model: test-model, timeout_s: 5, max_retries: 1}}
alerts:
  enabled: true
  min_net_apr: -10
  min_confidence: 0
  alert_unrated: true
  max_per_scan: 2
  channels: [{{kind: webhook, url_env: T_WEBHOOK_URL}}]
"""


def test_alerts_show_the_verdict_and_only_shown_or_alerted_rows_are_asked(
    tmp_path: Path,
) -> None:
    reply = Reply(body=completion(verdict_json("approve", 0.8, ("steady spread",))))
    db_file = tmp_path / "run.db"
    with (
        FakeOpenAI(always(reply)).running() as srv,
        webhook_sink() as (hook_url, received),
        Emulator(seed=5).run_in_thread() as emu,
    ):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(CONFIG.format(db=db_file, llm=srv.url), encoding="utf-8")
        env = {"OPENAI_API_KEY": API_KEY, "T_WEBHOOK_URL": hook_url}
        args = ["run", "-c", str(cfg), "--emulator", emu.url, "--max-scans", "1"]
        result = CliRunner().invoke(app, args, env=env)
        asked = len(srv.seen)
    assert result.exit_code == 0, result.output
    assert "llm on the best pair: approve 0.80: steady spread" in result.output, result.output
    opportunities = [m["opportunity"] for m in received if m["event"] == "opportunity"]
    assert len(opportunities) == 2, received
    for opp in opportunities:
        assert opp["llm_decision"] == "approve"
        assert opp["llm_confidence"] == 0.8 and opp["llm_reasons"] == ["steady spread"]
    db = open_database(f"sqlite:///{db_file}", create=False)
    try:
        ranked = Queries(db).count("opportunities")
    finally:
        db.dispose()
    # the best executable row (summary line) and the two alerted rows, fewer if they overlap
    assert 1 <= asked <= 3 < ranked, (asked, ranked)


def test_an_alert_message_says_what_the_model_said() -> None:
    with_verdict = row() | {
        "llm_decision": "reject", "llm_confidence": 0.91,
        "llm_reasons": ["rates revert within hours", "thin book"],
    }  # fmt: skip
    text = plain_text(Message("opportunity", with_verdict, "new", "k"))
    assert "LLM: reject (0.91): rates revert within hours; thin book" in text
    not_asked = row() | {"llm_decision": None, "llm_confidence": None, "llm_reasons": None}
    assert "LLM" not in plain_text(Message("opportunity", not_asked, "new", "k"))
