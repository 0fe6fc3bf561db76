"""Alembic's migrated schema is exactly the models' schema, on both backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _storage_helpers import Backend
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import alembic_config, create_db_engine, head_revision, normalize_url
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
