"""Open a database (SQLite by default, PostgreSQL by URL) and bring its schema to head.

Why migrations run on open: a user's first ``fundscan scan`` should just work, and an
upgraded install should never write into an old schema. ``open_database`` therefore creates or
upgrades the schema through Alembic (the same scripts ``fundscan db upgrade`` runs) and
reports what it did in ``Database.migration`` so the CLI can say so.

SQLite is set up for one writer and many readers: WAL journal, foreign keys on, a busy
timeout, and real transactions (pysqlite's implicit transaction handling is switched off so
that DDL and every batch are atomic; write transactions start with BEGIN IMMEDIATE so two
writers queue on the busy timeout instead of failing on a lock upgrade).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CACHE_KIB = 65_536
_WRITE_OPTION = "fundscan_write"


class StorageError(Exception):
    """A database problem the user can act on (bad URL, schema behind, unreachable server)."""


@dataclass(frozen=True, slots=True)
class MigrationOutcome:
    """What opening the database did to its schema."""

    action: Literal["created", "upgraded", "current"]
    from_revision: str | None
    to_revision: str | None
    where: str

    @property
    def changed(self) -> bool:
        return self.action != "current"

    @property
    def message(self) -> str:
        if self.action == "created":
            return f"created database schema at revision {self.to_revision} in {self.where}"
        if self.action == "upgraded":
            return (
                f"upgraded database schema in {self.where} "
                f"from {self.from_revision} to {self.to_revision}"
            )
        return f"database schema in {self.where} is current (revision {self.to_revision})"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` gets the psycopg (v3) driver.

    Raises ``StorageError`` naming the URL (password masked) when it is not usable.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError):
        # not echoed: an unparsable URL may carry a password where a port was expected
        raise StorageError(
            "not a database URL (expected sqlite:///path or postgresql+psycopg://user@host/db)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        shown = parsed.render_as_string(hide_password=True)
        raise StorageError(f"unsupported database {shown!r}: use sqlite:/// or postgresql://")
    return parsed


def _sqlite_path(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Up to 64 MiB of page cache (allocated as used; the default is 2 MiB): a batch of
        # quotes touches the leaf of every symbol in the (canonical, ts_ms) index, and with
        # 2 MiB those pages spill and are written more than once (bench_storage: ~10-15 %).
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _pg_connect_args(schema: str | None) -> dict[str, Any]:
    if schema is None:
        return {}
    if not schema.replace("_", "").isalnum():
        raise StorageError(f"schema name {schema!r} must be letters, digits and underscores")
    return {"options": f"-csearch_path={schema}"}


def create_db_engine(url: str | URL, *, schema: str | None = None, echo: bool = False) -> Engine:
    """An Engine configured for our use of each backend (no schema work).

    ``schema`` (PostgreSQL only) puts every table in that schema via ``search_path``; tests
    use it to isolate themselves inside a shared database.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the folder for SQLite database {path}: {exc.strerror}"
                ) from exc
        pool = NullPool if path is not None else None
        kwargs: dict[str, Any] = {"poolclass": pool} if pool else {}
        engine = create_engine(parsed, echo=echo, **kwargs)
        _install_sqlite_pragmas(engine)
        return engine
    return create_engine(
        parsed, echo=echo, pool_pre_ping=True, connect_args=_pg_connect_args(schema)
    )


def alembic_config(url: URL | None = None) -> Config:
    """Alembic config whose script location is this package's migrations, from any cwd."""
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StorageError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


class Database:
    """An engine plus the two ways code touches it: one write transaction, or a read."""

    def __init__(self, engine: Engine, migration: MigrationOutcome | None = None) -> None:
        self.engine = engine
        self.migration = migration

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed whole when the block ends, rolled back on error.

        A database that refuses the write (read-only file or folder, disk full, locked past
        the busy timeout, server gone) raises ``StorageError`` with one line saying so."""
        with self._operational("write to"), self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._operational("read from"), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _operational(self, verb: str) -> Iterator[None]:
        from sqlalchemy.exc import OperationalError

        try:
            yield
        except OperationalError as exc:
            raise StorageError(f"cannot {verb} database {self.where}: {_first_line(exc)}") from exc

    def revision(self) -> str | None:
        with self.read() as conn:
            return current_revision(conn)

    def upgrade(self) -> MigrationOutcome:
        """Bring the schema to head (idempotent); see ``MigrationOutcome``."""
        outcome = upgrade_schema(self.engine)
        self.migration = outcome
        return outcome

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({self.where!r})"


def upgrade_schema(engine: Engine) -> MigrationOutcome:
    """Run ``alembic upgrade head`` on ``engine`` inside one transaction."""
    where = engine.url.render_as_string(hide_password=True)
    head = head_revision()
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            before = current_revision(conn)
            if before != head:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                try:
                    command.upgrade(cfg, "head")
                except CommandError as exc:  # e.g. a revision written by a newer fundscan
                    raise StorageError(
                        f"database {where} is at revision {before}, which this version of "
                        f"fundscan does not know (newest it knows: {head}); was it written by "
                        f"a newer fundscan? ({_first_line(exc)})"
                    ) from exc
    if before == head:
        return MigrationOutcome("current", before, head, where)
    outcome = MigrationOutcome("created" if before is None else "upgraded", before, head, where)
    log.info(outcome.message)
    return outcome


def open_database(
    url: str | URL, *, create: bool = True, schema: str | None = None, echo: bool = False
) -> Database:
    """Open ``url``; with ``create`` bring the schema to head, else insist it is at head.

    ``Database.migration`` says what happened ("created ... at revision X", "upgraded ...
    from A to B", or current). Raises ``StorageError`` for an unreachable server, a missing
    SQLite file with ``create=False``, or a schema that is not at head with ``create=False``.
    """
    parsed = normalize_url(url)
    if not create and parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None and not path.exists():
            raise StorageError(f"no database at {path}; run `fundscan db upgrade` to create it")
    engine = create_db_engine(parsed, schema=schema, echo=echo)
    db = Database(engine)
    try:
        if create:
            db.upgrade()
        else:
            _require_head(db)
    except StorageError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        if _is_connection_error(exc):
            raise StorageError(f"cannot open database {db.where}: {_first_line(exc)}") from exc
        raise
    return db


def _require_head(db: Database) -> None:
    rev, head = db.revision(), head_revision()
    if rev != head:
        raise StorageError(
            f"database {db.where} is at revision {rev}, this version needs {head}; "
            "run `fundscan db upgrade`"
        )


def _is_connection_error(exc: Exception) -> bool:
    """Server unreachable, file unreadable, or a file that is not a database at all."""
    from sqlalchemy.exc import DatabaseError

    return isinstance(exc, DatabaseError)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
