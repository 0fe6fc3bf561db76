"""Scale-out on PostgreSQL: two ``--role collect`` processes on disjoint venue sets and one
``--role rank`` process share one database; pairs across the sets are ranked and alerted."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from _sinks import ChatSinks
from sqlalchemy.engine import make_url

from emulator import Emulator
from storage.db import open_database
from storage.queries import Queries

PG_URL = os.environ.get("FUNDSCAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SET_A = ("bybit", "okx")
SET_B = ("binanceusdm", "gate", "bitget", "hyperliquid")


@pytest.fixture
def schema() -> Iterator[str]:
    libpq = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_URL}: {exc}", pytrace=False)
    name = f"fundscan_roles_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        admin.close()


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks().running() as s:
        yield s


def _run(cfg: Path, emu: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    exe = str(Path(sys.executable).parent / "fundscan")
    return subprocess.Popen(
        [exe, "run", "-c", str(cfg), "--emulator", emu, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, out
    return out


def test_collectors_on_disjoint_venues_and_one_ranker_alert_cross_set_pairs(
    schema: str, sinks: ChatSinks, tmp_path: Path
) -> None:
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "schedule: {scan_every_s: 5, pre_settlement_s: 0}\n"
        "alerts:\n  enabled: true\n  min_net_apr: -10\n  min_confidence: 0\n"
        "  alert_unrated: true\n  max_per_scan: 20\n  rate_per_s: 50\n"
        "  channels:\n    - {kind: webhook, url_env: T_WEBHOOK_URL, secret_env: T_WEBHOOK_SECRET}\n"
    )
    env = {**os.environ, **sinks.env, "FUNDSCAN__STORAGE__URL": url}
    with Emulator(seed=21).run_in_thread() as emu:
        a = _run(
            cfg, emu.url, env, "--role", "collect", "--venues", ",".join(SET_A), "--max-scans", "2"
        )
        b = _run(
            cfg, emu.url, env, "--role", "collect", "--venues", ",".join(SET_B), "--max-scans", "2"
        )
        out_a, out_b = _finish(a), _finish(b)
        ranked = _finish(_run(cfg, emu.url, env, "--role", "rank", "--max-scans", "1"))
    assert "alerts to" not in out_a + out_b  # collectors never alert
    db = open_database(PG_URL, create=False, schema=schema)
    try:
        q = Queries(db)
        scans, opps = q.scans(), q.opportunity_history()
        quotes = q.quotes()
    finally:
        db.dispose()
    assert len(scans) == 5  # 2 + 2 collect scans, 1 rank scan
    rank_scan = int(scans["id"].max())
    assert set(opps["scan_id"]) == {rank_scan}  # only the ranker writes opportunities
    assert opps["pair_key"].is_unique
    cross = opps[
        (opps["long_venue"].isin(SET_A) & opps["short_venue"].isin(SET_B))
        | (opps["long_venue"].isin(SET_B) & opps["short_venue"].isin(SET_A))
    ]
    assert len(cross) > 0 and cross["executable"].any(), ranked
    assert set(quotes["venue"]) == set(SET_A) | set(SET_B)
    assert not quotes.duplicated(["venue", "venue_symbol", "ts_ms"]).any()
    alerted = [b["opportunity"] for b in sinks.accepted["webhook"]]
    assert alerted and len({r["pair_key"] for r in alerted}) == len(alerted)
    assert any((r["long_venue"] in SET_A) != (r["short_venue"] in SET_A) for r in alerted), (
        "no alert for a pair whose legs two different collectors stored"
    )
