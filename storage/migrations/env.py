"""Alembic environment for fundscan.

Two ways in: ``storage.db.upgrade_schema`` hands over an open connection (already inside a
transaction) through ``config.attributes["connection"]``; the plain ``alembic`` command builds
its own engine from ``-x url=...`` or ``sqlalchemy.url`` with the same SQLite pragmas and
PostgreSQL driver as the application. On PostgreSQL a transaction-scoped advisory lock makes
two processes that open a new database at once take turns instead of racing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from storage.db import create_db_engine
from storage.tables import metadata

MIGRATION_LOCK_KEY = 0x66756E64  # "fund": any constant shared by all fundscan processes

config = context.config


def _configure_and_run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _configure_and_run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("no database URL: pass -x url=sqlite:///path.db (or postgresql://...)")
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
