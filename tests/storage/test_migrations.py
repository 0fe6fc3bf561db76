"""Alembic's migrated schema is exactly the models' schema, on both backends."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from _storage_helpers import Backend
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from scanner.domain import FundingQuote
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


_OLD_QUOTE = (
    "INSERT INTO funding_quotes (venue, venue_symbol, ts_ms, canonical, rate_per_interval, "
    "interval_h, next_funding_ms, mark_price, index_price, multiplier, is_settled) VALUES "
    "(:venue, :symbol, :ts, 'XRP/USDT:USDT', :rate, 8, :next, :mark, NULL, 1, :settled)"
)
_QUOTE_COLUMNS = (
    "venue, venue_symbol, ts_ms, canonical, rate_per_interval, interval_h, next_funding_ms, "
    "mark_price, index_price, multiplier, is_settled"
)


def _quote_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        sql = f"SELECT {_QUOTE_COLUMNS} FROM funding_quotes ORDER BY venue, venue_symbol, ts_ms"
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _quote_key(engine: Engine) -> tuple[list[str], set[str]]:
    """(key columns in key order, index names) of funding_quotes."""
    insp = inspect(engine)
    pk = insp.get_pk_constraint("funding_quotes")["constrained_columns"]
    return pk, {ix["name"] for ix in insp.get_indexes("funding_quotes")}


def test_0008_keeps_every_quote_and_clusters_the_table_on_time(backend: Backend) -> None:
    """Quotes stored before 0008 survive the rebuild (SQLite) or key swap (PostgreSQL) and
    back, with the same values; the same rows stay duplicates (re-sending adds nothing)."""
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "0007")
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        with engine.begin() as conn:
            for k in range(40):
                venue, symbol = [("bybit", "XRPUSDT"), ("okx", "XRP-USDT-SWAP")][k % 2]
                conn.execute(
                    text(_OLD_QUOTE),
                    dict(venue=venue, symbol=symbol, ts=1_700_000_000_000 + k // 2 * 60_000,
                         rate=1e-4 * (k - 20), next=None if k % 3 else 1_700_028_800_000,
                         mark=None if k % 5 == 0 else 0.5 + k / 7, settled=k % 4 == 0),
                )  # fmt: skip
        before = _quote_rows(engine)
        assert len(before) == 40
        assert _quote_key(engine)[0] == ["venue", "venue_symbol", "ts_ms"]
        command.upgrade(cfg, "0008")
        assert _quote_rows(engine) == before
        key, indexes = _quote_key(engine)
        assert key == ["ts_ms", "venue", "venue_symbol"]
        assert indexes == {"ix_funding_quotes_canonical_ts_ms"}
        command.upgrade(cfg, "head")
        assert _quote_rows(engine) == before
        assert _quote_key(engine) == (key, {"ix_funding_quotes_symbol"})  # revision 0009
        if backend.name == "sqlite":
            with engine.connect() as conn:
                ddl = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'funding_quotes'")
                ).scalar_one()
            assert ddl.rstrip().upper().endswith("WITHOUT ROWID")
        with backend.open(create=False) as db:
            again = [
                FundingQuote(v, s, c, r, h, t, n, m, i, x, bool(st))
                for v, s, t, c, r, h, n, m, i, x, st in before
            ]
            assert Repository(db).write_quotes(again) == 0
            assert Repository(db).write_quotes([replace(again[0], ts_ms=1)]) == 1
        after = sorted([(*before[0][:2], 1, *before[0][3:]), *before])
        assert _quote_rows(engine) == after
        command.downgrade(cfg, "0007")
        assert _quote_rows(engine) == after
        key, indexes = _quote_key(engine)
        assert key == ["venue", "venue_symbol", "ts_ms"]
        assert indexes == {"ix_funding_quotes_canonical_ts_ms", "ix_funding_quotes_ts_ms"}
    finally:
        engine.dispose()


def test_0009_index_covers_every_quote_column_and_keeps_every_value(backend: Backend) -> None:
    """0009 swaps the (canonical, ts_ms) index for one holding every column, and back: the
    rows keep every value, re-sending them adds nothing, and on SQLite a read by symbol is
    answered from the index alone (it never visits the table)."""
    cfg = alembic_config(normalize_url(backend.url_with_search_path))
    command.upgrade(cfg, "0008")
    engine = create_db_engine(backend.url, schema=backend.schema)
    try:
        with engine.begin() as conn:
            for k in range(60):
                venue, symbol = [("bybit", "XRPUSDT"), ("okx", "XRP-USDT-SWAP"), ("gate", "X")][
                    k % 3
                ]
                conn.execute(
                    text(_OLD_QUOTE),
                    dict(venue=venue, symbol=symbol, ts=1_700_000_000_000 + k // 3 * 60_000,
                         rate=1.7e-4 * (k - 30) / 3, next=None if k % 4 else 1_700_028_800_000,
                         mark=None if k % 5 == 0 else 0.5 + k / 7, settled=k % 6 == 0),
                )  # fmt: skip
        before = _quote_rows(engine)
        assert len(before) == 60
        assert _quote_key(engine)[1] == {"ix_funding_quotes_canonical_ts_ms"}
        command.upgrade(cfg, "0009")
        assert _quote_rows(engine) == before
        key, indexes = _quote_key(engine)
        assert key == ["ts_ms", "venue", "venue_symbol"]
        assert indexes == {"ix_funding_quotes_symbol"}
        ix = next(i for i in inspect(engine).get_indexes("funding_quotes"))
        assert set(ix["column_names"]) == {c.strip() for c in _QUOTE_COLUMNS.split(",")}
        assert ix["column_names"][:4] == ["canonical", "ts_ms", "venue", "venue_symbol"]
        if backend.name == "sqlite":
            with engine.connect() as conn:
                plan = conn.execute(
                    text(
                        f"EXPLAIN QUERY PLAN SELECT {_QUOTE_COLUMNS} FROM funding_quotes "
                        "WHERE canonical = 'XRP/USDT:USDT' AND ts_ms >= 0"
                    )
                ).all()
            assert "COVERING INDEX ix_funding_quotes_symbol" in " / ".join(r[3] for r in plan)
        with backend.open(create=False) as db:
            again = [
                FundingQuote(v, s, c, r, h, t, n, m, i, x, bool(st))
                for v, s, t, c, r, h, n, m, i, x, st in before
            ]
            assert Repository(db).write_quotes(again) == 0
        assert _quote_rows(engine) == before
        command.downgrade(cfg, "0008")
        assert _quote_rows(engine) == before
        assert _quote_key(engine) == (key, {"ix_funding_quotes_canonical_ts_ms"})
        command.upgrade(cfg, "head")
        assert _quote_rows(engine) == before
        assert _diff(backend) == []
    finally:
        engine.dispose()
