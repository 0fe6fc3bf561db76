"""Options and error handling shared by every command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from scanner.cli.tables import Fitted, natural_width

if TYPE_CHECKING:  # pydantic-settings loads when a command reads the config, not for --help
    from scanner.settings import Settings

# Piped or captured output has no terminal width; tables need more than rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

EXIT_USER_ERROR = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Path to config.yaml (default: ./config.yaml if present, else embedded defaults).",
        envvar="FUNDSCAN_CONFIG",
        show_default=False,
    ),
]


WideOption = Annotated[
    bool, typer.Option("--wide", help="Every column at full width, whatever the terminal width.")
]
ColumnsOption = Annotated[
    str | None,
    typer.Option(help="Only these columns, comma-separated (keys or headers; see --wide)."),
]


def column_list(raw: str | None) -> list[str] | None:
    """``--columns a,b``; None shows the fitted default."""
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise fail("--columns: give at least one column name")
    return names


def print_fitted(fitted: Fitted) -> None:
    """Print a fitted table; a ``--wide`` one gets its natural width even past the terminal."""
    needed = natural_width(fitted.renderable)
    if needed <= console.width:
        console.print(fitted.renderable)
        return
    wide = Console(
        width=needed,
        file=console.file,
        force_terminal=console.is_terminal,
        no_color=console.no_color,
    )
    wide.print(fitted.renderable)


def fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    """Print one error line (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def storage_errors() -> Iterator[None]:
    """A database that refuses a read or write (read-only file or folder, disk full, locked,
    server gone) ends a one-shot command with one line and exit 2, not a traceback."""
    from storage.db import StorageError

    try:
        yield
    except StorageError as exc:
        raise fail(f"storage: {exc}") from None


def settings_or_exit(config: Path | None) -> Settings:
    from scanner.settings import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(f"config: {exc}") from None


def with_emulator(settings: Settings, emulator: str | None) -> Settings:
    """``--emulator URL``: point every venue at ``URL/<venue>`` (exit 2 if it is not a usable
    http(s) URL: scheme, host and a port in 1..65535 are checked here, not by six venues)."""
    if emulator is None:
        return settings
    problem = http_url_problem(emulator)
    if problem:
        raise fail(f"--emulator: {problem}")
    return settings.with_base_url(emulator)


def http_url_problem(url: str) -> str:
    """Why ``url`` is not a usable ``http(s)://host[:port][/path]`` URL, or ""."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", "Port could not be cast ..."
        return f"{url!r} has a bad port ({exc}); expected 1..65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http(s) URL such as http://127.0.0.1:8765, got {url!r}"
    if port == 0:
        return f"{url!r}: port 0 cannot be connected to; expected 1..65535"
    if parts.query or parts.fragment:
        return f"{url!r}: no query or fragment expected"
    return ""


def with_options(settings: Settings, section: str, options: dict[str, tuple[str, Any]]) -> Settings:
    """Command-line overrides ``{key: (--option, value)}`` of one section, validated like the
    file (finite, within the knob's bounds); a bad one exits 2 naming the option."""
    from scanner.settings import ConfigError

    values = {key: value for key, (_, value) in options.items() if value is not None}
    if not values:
        return settings
    try:
        return settings.with_section(section, **values)
    except ConfigError as exc:
        key = exc.key_path.rpartition(".")[2]
        option = options[key][0] if key in options else exc.key_path
        raise fail(f"{option}: {exc.message}") from None


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    """Only the CLI configures handlers; library modules just log.

    ``json``: one JSON object per line (python-json-logger) for log shippers. Either way the
    handler masks alert URLs and tokens (``scanner.alerts.redact``).
    """
    from scanner.alerts.redact import SECRETS

    root = logging.getLogger()
    if root.handlers:  # configured already (an embedding program, pytest): as basicConfig does
        return
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SECRETS)
    root.addHandler(handler)
