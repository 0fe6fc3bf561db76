"""Opening databases: URL handling, SQLite set-up, schema creation that says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from _storage_helpers import Backend
from sqlalchemy import text

from storage.db import (
    MigrationOutcome,
    StorageError,
    head_revision,
    normalize_url,
    open_database,
)


def test_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    assert normalize_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize(
    ("url", "words"),
    [("mysql://u:secret@h/db", "unsupported database"), ("::nope::", "not a database URL")],
)
def test_bad_urls_are_named_and_passwords_masked(url: str, words: str) -> None:
    with pytest.raises(StorageError, match=words) as info:
        normalize_url(url)
    assert "secret" not in str(info.value)


def test_first_open_creates_schema_and_says_so_then_is_current(backend: Backend) -> None:
    head = head_revision()
    first = backend.open()
    try:
        assert first.migration is not None
        assert first.migration.action == "created"
        assert first.migration.message.startswith(f"created database schema at revision {head}")
    finally:
        first.dispose()
    again = backend.open()
    try:
        assert again.migration is not None and again.migration.action == "current"
        assert not again.migration.changed
        assert again.revision() == head
    finally:
        again.dispose()


def test_create_false_refuses_a_schema_that_is_not_at_head(backend: Backend) -> None:
    if backend.name == "sqlite":
        with pytest.raises(StorageError, match="no database at .*fundscan db upgrade"):
            backend.open(create=False)
        Path(backend.url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
        Path(backend.url.removeprefix("sqlite:///")).touch()
    with pytest.raises(StorageError, match="revision None.*run `fundscan db upgrade`"):
        backend.open(create=False)
    backend.open().dispose()
    backend.open(create=False).dispose()


def test_upgrade_message_names_both_revisions() -> None:
    outcome = MigrationOutcome("upgraded", "0001", "0002", "sqlite:///x.db")
    assert outcome.message == "upgraded database schema in sqlite:///x.db from 0001 to 0002"
    assert outcome.changed


def test_sqlite_is_set_up_for_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "f.db"
    with open_database(f"sqlite:///{path}") as db, db.read() as conn:
        assert path.exists(), "the data folder and file are created"
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_unreachable_postgres_is_a_clear_storage_error() -> None:
    with pytest.raises(StorageError, match=r"cannot open database postgresql\+psycopg://x@127"):
        open_database("postgresql://x@127.0.0.1:1/nodb?connect_timeout=2")


def test_unusable_sqlite_location_is_a_clear_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StorageError, match="cannot create the folder for SQLite database"):
        open_database(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_write_transaction_is_all_or_nothing(backend: Backend) -> None:
    with backend.open() as db:
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(text("INSERT INTO scans (started_ms) VALUES (1)"))
            raise RuntimeError("boom")
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM scans")).scalar() == 0


def test_a_file_that_is_not_a_database_is_a_clear_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(StorageError, match="cannot open database .*file is not a database"):
        open_database(f"sqlite:///{junk}")
    assert junk.read_text().startswith("hello")  # and it is left untouched


def test_a_revision_from_a_newer_fundscan_is_a_clear_storage_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    open_database(url).dispose()
    db = open_database(url)
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    db.dispose()
    with pytest.raises(StorageError, match="revision 0099, which this version of fundscan"):
        open_database(url)
