"""``fundscan db upgrade|prune`` and ``fundscan export``.

Why ``open_db_or_exit`` lives here: every command that touches the database should open it
the same way - create or upgrade the schema on first use and say so on stderr, and turn an
unreachable server or a bad URL into one clear error line (exit 2) instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scanner.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    settings_or_exit,
    storage_errors,
)
from scanner.clock import SYSTEM_CLOCK

if TYPE_CHECKING:  # the storage layer (SQLAlchemy, pandas) loads only when a command runs
    from scanner.settings import Settings
    from storage.db import Database


def open_db_or_exit(settings: Settings, *, announce: bool = True) -> Database:
    """Open the configured database, creating/upgrading its schema and saying so (stderr)."""
    from storage.db import StorageError, open_database

    try:
        db = open_database(settings.storage.url)
    except StorageError as exc:
        raise fail(f"storage: {exc}") from None
    if announce and db.migration is not None and db.migration.changed:
        err_console.print(db.migration.message, highlight=False, soft_wrap=True)
    return db


def _upgrade(config: Path | None) -> None:
    settings = settings_or_exit(config)
    with open_db_or_exit(settings, announce=False) as db:
        if db.migration is not None:
            console.print(db.migration.message, highlight=False, soft_wrap=True)


def _prune(config: Path | None, dry_run: bool) -> None:
    from storage.maintenance import RetentionPolicy, prune

    settings = settings_or_exit(config)
    ret = settings.storage.retention
    policy = RetentionPolicy(ret.quotes_days, ret.books_days, ret.opportunities_days)
    with open_db_or_exit(settings) as db, storage_errors():
        counts = prune(db, policy, SYSTEM_CLOCK.now_ms(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    days = {
        "funding_quotes": ret.quotes_days,
        "book_snapshots": ret.books_days,
        "opportunities": ret.opportunities_days,
    }
    for table, n in counts.items():
        console.print(f"{table}: {verb} {n} rows older than {days[table]} days", highlight=False)
    console.print("funding_settlements and instruments are never pruned", highlight=False)


def _export(config: Path | None, table: str, fmt: str, since: str | None, out: Path | None) -> None:
    from storage.maintenance import EXPORT_FORMATS, ExportError, export_table, parse_since
    from storage.tables import metadata

    try:
        since_ms = parse_since(since) if since is not None else None
        if table not in metadata.tables:
            raise ExportError(
                f"unknown table {table!r}; tables: {', '.join(sorted(metadata.tables))}"
            )
        if fmt not in EXPORT_FORMATS:
            raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(EXPORT_FORMATS)}")
    except ExportError as exc:
        raise fail(f"export: {exc}") from None
    settings = settings_or_exit(config)
    target = out if out is not None else Path(f"{table}.{fmt}")
    with open_db_or_exit(settings) as db, storage_errors():
        try:
            n = export_table(db, table, fmt, target, since_ms=since_ms)
        except OSError as exc:
            raise fail(f"export: cannot write {target}: {exc}") from None
    console.print(f"exported {n} rows of {table} to {target}", highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Create, upgrade and prune the database.", no_args_is_help=True)

    @group.command("upgrade")
    def upgrade(config: ConfigOption = None) -> None:
        """Create the schema or upgrade it to this version's head revision."""
        _upgrade(config)

    @group.command("prune")
    def prune_cmd(
        config: ConfigOption = None,
        dry_run: bool = typer.Option(False, "--dry-run", help="Count, do not delete."),
    ) -> None:
        """Delete quotes, books and opportunities older than storage.retention."""
        _prune(config, dry_run)

    app.add_typer(group, name="db")

    @app.command("export")
    def export(
        table: str = typer.Option(..., "--table", "-t", help="Table to export."),
        fmt: str = typer.Option("parquet", "--format", "-f", help="parquet or csv."),
        since: str | None = typer.Option(
            None, "--since", help="Only rows from this time: epoch ms or ISO date (UTC)."
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Output file (default TABLE.FMT)."
        ),
        config: ConfigOption = None,
    ) -> None:
        """Export one table to Parquet or CSV."""
        _export(config, table, fmt, since, out)
