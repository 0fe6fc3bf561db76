"""``fundscan db upgrade|prune`` and ``fundscan export`` through the real typer app."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _storage_helpers import Backend, quotes
from typer.testing import CliRunner

from scanner.cli import app
from storage.db import head_revision
from storage.repository import Repository

runner = CliRunner()


def _config(tmp_path: Path, backend: Backend) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"storage:\n  url: {backend.url_with_search_path}\n", encoding="utf-8")
    return cfg


def test_db_upgrade_creates_then_reports_current(backend: Backend, tmp_path: Path) -> None:
    cfg = _config(tmp_path, backend)
    first = runner.invoke(app, ["db", "upgrade", "--config", str(cfg)])
    assert first.exit_code == 0, first.output
    head = head_revision()  # every migration in storage/migrations/versions, the last one
    assert f"created database schema at revision {head}" in first.stdout
    again = runner.invoke(app, ["db", "upgrade", "--config", str(cfg)])
    assert again.exit_code == 0
    assert f"is current (revision {head})" in again.stdout


def test_first_command_on_a_new_database_says_it_created_the_schema(
    backend: Backend, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, backend)
    result = runner.invoke(app, ["db", "prune", "--dry-run", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "created database schema at revision" in result.stderr
    assert "funding_quotes: would delete 0 rows older than 180 days" in result.stdout
    assert "never pruned" in result.stdout


def test_prune_deletes_by_the_configured_policy(backend: Backend, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"storage:\n  url: {backend.url_with_search_path}\n"
        "  retention: {quotes_days: 1, books_days: 1, opportunities_days: 1}\n",
        encoding="utf-8",
    )
    with backend.open() as db:
        Repository(db).write_quotes(quotes(10, start_ms=1_000_000))  # 1970: old
    dry = runner.invoke(app, ["db", "prune", "--dry-run", "-c", str(cfg)])
    assert "funding_quotes: would delete 10 rows older than 1 days" in dry.stdout
    real = runner.invoke(app, ["db", "prune", "-c", str(cfg)])
    assert real.exit_code == 0
    assert "funding_quotes: deleted 10 rows" in real.stdout


def test_export_writes_the_file(backend: Backend, tmp_path: Path) -> None:
    cfg = _config(tmp_path, backend)
    with backend.open() as db:
        Repository(db).write_quotes(quotes(10, start_ms=1_700_000_000_000, symbols=5))
    out = tmp_path / "q.csv"
    result = runner.invoke(
        app,
        [
            "export",
            "-c",
            str(cfg),
            "--table",
            "funding_quotes",
            "--format",
            "csv",
            "--since",
            "2023-11-14T22:14:00Z",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "exported 5 rows of funding_quotes" in result.stdout
    assert len(pd.read_csv(out)) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "nope"], "unknown table 'nope'"),
        (["--table", "scans", "--format", "xlsx"], "unknown format 'xlsx'"),
        (["--table", "scans", "--since", "soon"], "--since 'soon' is neither"),
    ],
)
def test_export_user_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"storage:\n  url: sqlite:///{tmp_path / 'x.db'}\n", encoding="utf-8")
    result = runner.invoke(app, ["export", "-c", str(cfg), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_unreachable_database_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "storage:\n  url: postgresql+psycopg://x@127.0.0.1:1/db?connect_timeout=2\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["db", "upgrade", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "storage: cannot open database" in result.stderr
    assert "Traceback" not in result.output
