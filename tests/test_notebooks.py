"""Every notebook under notebooks/ runs top to bottom against a database a real scan filled.

The database comes from the actual pipeline (emulator over loopback -> collector -> storage ->
engine), so a notebook that drifts from the storage or engine API fails here.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from emulator import Emulator
from scanner.pipeline import scan_once
from scanner.settings import Settings
from storage.db import open_database
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def scanned_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('nb') / 'scan.db'}"
    with Emulator(seed=3).run_in_thread() as emu:
        base = Settings(env={}).with_base_url(emu.url)
        settings = base.model_copy(update={"storage": base.storage.model_copy(update={"url": url})})
        db = open_database(url)
        try:
            outcome = asyncio.run(scan_once(settings, Repository(db)))
        finally:
            db.dispose()
    assert len(outcome.opportunities) > 0
    return url


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ should hold at least one research notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_has_no_stored_outputs(path: Path, scanned_db: str) -> None:
    nb = nbformat.read(path, as_version=4)
    stored = [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{path.name}: commit notebooks without outputs (they may hold data)"
    os.environ["FUNDSCAN_DB_URL"] = scanned_db
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        del os.environ["FUNDSCAN_DB_URL"]
    texts = [
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ]
    joined = "\n".join(texts)
    assert "scans: 1" in joined
    assert "stored opportunities:" in joined
