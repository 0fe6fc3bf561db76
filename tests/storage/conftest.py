"""Storage tests run twice: on a SQLite file and on the PostgreSQL server.

PostgreSQL isolation: every test gets its own schema (``fundscan_t_<pid>_<random>``), reached
through ``search_path``, dropped when the test ends; the shared ``test`` database is left as it
was. The server is part of the test environment (CI always has it): if it cannot be reached
the PostgreSQL tests FAIL with the URL and the driver's error, they never skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from _storage_helpers import PG_URL, SCHEMA_PREFIX, Backend, libpq_url

from storage.db import Database


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(libpq_url(PG_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the storage suite but {PG_URL} is unreachable "
            f"(set FUNDSCAN_TEST_PG_URL to point elsewhere): {exc}",
            pytrace=False,
        )
    yield conn
    leftovers = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCHEMA_PREFIX + "%",)
    ).fetchall()
    for (name,) in leftovers:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'data' / 'fundscan.db'}")
        return
    admin: psycopg.Connection = request.getfixturevalue("pg_admin")
    schema = SCHEMA_PREFIX + secrets.token_hex(4)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Backend("postgresql", PG_URL, schema)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def db(backend: Backend) -> Iterator[Database]:
    database = backend.open()
    try:
        yield database
    finally:
        database.dispose()
