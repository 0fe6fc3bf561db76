"""Alembic's migrated schema is exactly the models' schema, on both backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _storage_helpers import Backend
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from storage.db import alembic_config, create_db_engine, head_revision, normalize_url
from storage.repository import Repository
from storage.tables import metadata


def _diff(backend: Backend) -> list[object]:
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_alembic_upgrade_head_on_empty_db_matches_the_models(backend: Backend) -> None:
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "head")
    assert _diff(backend) == []
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) | {"alembic_version"} == tables


def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(backend: Backend) -> None:
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")
    assert _diff(backend) == []


def test_plain_alembic_cli_works_from_any_directory(backend: Backend, tmp_path: Path) -> None:
    """The ini resolves its script location relative to itself, not to the cwd."""
    ini = Path(__file__).resolve().parents[2] / "storage" / "alembic.ini"
    url = normalize_url(backend.url_with_search_path).render_as_string(hide_password=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), "-x", f"url={url}", "upgrade", "head"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with backend.open(create=False) as db:
        assert db.revision() == head_revision()
    assert _diff(backend) == []


_OLD_OPPORTUNITY = (
    "INSERT INTO opportunities (scan_id, ts_ms, symbol, pair_type, long_venue, short_venue, "
    "long_symbol, short_symbol, net_apr, executable, interval_mismatch, settle_mismatch, "
    "confidence_components) VALUES (1, 5, :symbol, :pair_type, :long_venue, :short_venue, "
    ":long_symbol, :short_symbol, 0.5, false, false, false, '{}')"
)
_OLD_INSTRUMENT = (
    "INSERT INTO instruments (venue, venue_symbol, canonical, base, quote, settle, kind, "
    "multiplier, contract_size, active, first_seen_ms, last_seen_ms) VALUES "
    "(:venue, :symbol, :canonical, 'XRP', :settle, :settle, 'perpetual', 1, 1, true, 1, 1)"
)


def _old_rows(conn: Connection) -> None:
    conn.execute(text("INSERT INTO scans (id, started_ms) VALUES (1, 5)"))
    for venue, symbol, canonical, settle in [
        ("bybit", "XRPPERP", "XRP/USDC:USDC", "USDC"),
        ("bybit", "XRPUSDT", "XRP/USDT:USDT", "USDT"),
        ("okx", "XRP-USDT-SWAP", "XRP/USDT:USDT", "USDT"),
    ]:
        conn.execute(
            text(_OLD_INSTRUMENT),
            {"venue": venue, "symbol": symbol, "canonical": canonical, "settle": settle},
        )
    rows = [
        ("XRP/USDT:USDT", "cross", "bybit", "okx", "XRPPERP", "XRP-USDT-SWAP"),
        ("XRP/USDT:USDT", "cross", "bybit", "okx", "XRPUSDT", "XRP-USDT-SWAP"),
        ("XRP/USDT:USDT", "carry", "bybit-spot", "bybit", "XRPUSDT", "XRPUSDT"),
        ("XRP/USDT:USDT", "cross", "gate", "okx", None, None),  # symbols unknown
    ]
    for symbol, pair_type, long_venue, short_venue, long_symbol, short_symbol in rows:
        conn.execute(
            text(_OLD_OPPORTUNITY),
            dict(symbol=symbol, pair_type=pair_type, long_venue=long_venue,
                 short_venue=short_venue, long_symbol=long_symbol, short_symbol=short_symbol),
        )  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO alerts_sent (channel, key, sent_ms, payload_hash, status) "
            "VALUES ('slack', 'XRP:bybit>okx', 7, 'h', 'sent')"
        )
    )


def test_upgrade_from_0001_keeps_old_rows_and_rebuilds_their_pair_keys(backend: Backend) -> None:
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "0001")
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        with engine.begin() as conn:
            _old_rows(conn)
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            opps = conn.execute(
                text(
                    "SELECT pair_key, long_canonical, book_thin, price_mismatch, first_cycle_h "
                    "FROM opportunities ORDER BY id"
                )
            ).all()
            alerts = conn.execute(text("SELECT pair_key, status FROM alerts_sent")).all()
    finally:
        engine.dispose()
    assert [o.pair_key for o in opps] == [
        "XRP/USDT:USDT|long=bybit@XRP/USDC:USDC|short=okx",
        "XRP/USDT:USDT|long=bybit|short=okx",
        "XRP/USDT:USDT|long=bybit-spot|short=bybit",
        "XRP/USDT:USDT|long=gate|short=okx",
    ]
    assert [o.long_canonical for o in opps] == ["XRP/USDC:USDC", "XRP/USDT:USDT", None, None]
    # not recorded before 0002: unknown, never a guessed False
    assert {(o.book_thin, o.price_mismatch, o.first_cycle_h) for o in opps} == {(None, None, None)}
    assert [tuple(a) for a in alerts] == [("XRP:bybit>okx", "sent")]  # kept verbatim
    assert _diff(backend) == []


def test_downgrade_to_0001_restores_the_alert_key_column(backend: Backend) -> None:
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "head")
    with backend.open(create=False) as db:
        Repository(db).record_alert("slack", "BTC/USDT:USDT|long=okx|short=bybit", 1, {}, "sent")
    command.downgrade(cfg, "0001")
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT key FROM alerts_sent")).scalars().all()
            columns = {c["name"] for c in inspect(conn).get_columns("opportunities")}
    finally:
        engine.dispose()
    assert keys == ["BTC/USDT:USDT|long=okx|short=bybit"]
    assert "book_thin" not in columns and "pair_key" not in columns
