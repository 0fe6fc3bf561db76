"""``fundscan import funding FILE|DIR``: real funding histories into the database.

Why parse everything before writing: a directory of files is one import; a bad row anywhere
(named ``file:line``, exit 2) must not leave half of it stored. Writes are idempotent (the
settlement key is venue, venue symbol, funding time), so importing the same files twice adds
nothing the second time. Formats and their time-zone corrections: ``scanner.funding_import``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import ConfigOption, console, err_console, fail, settings_or_exit
from scanner.cli.db_cmd import open_db_or_exit
from scanner.funding_import import (
    FORMATS,
    FundingImportError,
    ImportedFile,
    files_under,
    read_file,
)


def parse_all(target: Path, fmt: str) -> list[ImportedFile]:
    """Every file under ``target`` parsed (nothing written); exit 2 naming the first bad row."""
    if fmt not in FORMATS:
        raise fail(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    try:
        return [read_file(path, fmt) for path in files_under(target)]
    except FundingImportError as exc:
        raise fail(str(exc)) from None


def funding(
    target: Annotated[Path, typer.Argument(help="A file, or a directory searched recursively.")],
    config: ConfigOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"One of {', '.join(FORMATS)} (auto: by extension/header)."),
    ] = "auto",
) -> None:
    """Import settled funding (and polled rates) from files; each settlement with its interval.

    Generic CSV: venue,symbol,funding_time_ms,rate,interval_h (UTC epoch ms; the rate per
    interval as a fraction; the interval in hours).
    """
    from storage.db import StorageError
    from storage.repository import Repository

    settings = settings_or_exit(config)
    parsed = parse_all(target, fmt)
    total_new = 0
    with open_db_or_exit(settings) as db:
        repo = Repository(db)
        for item in parsed:
            try:
                new = repo.write_settlements(item.settlements) if item.settlements else 0
                new += repo.write_quotes(item.quotes) if item.quotes else 0
            except StorageError as exc:
                raise fail(f"storage: {item.path}: {exc}") from None
            total_new += new
            note = f" ({'; '.join(item.notes)})" if item.notes else ""
            console.print(
                f"{item.path.name}: {item.fmt}, {item.rows} rows, {new} new{note}",
                highlight=False,
                soft_wrap=True,
            )
    err_console.print(
        f"imported {len(parsed)} file(s): {total_new} new rows into {db.where}", highlight=False
    )


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Bring data from files into the database.", no_args_is_help=True, add_completion=False
    )
    group.command("funding")(funding)
    app.add_typer(group, name="import")
