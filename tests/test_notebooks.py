"""Every notebook under notebooks/ runs top to bottom, from a clean kernel, on a sample database,
and draws its figures.

The database is a small version of ``make research-data``, built by the same code
(``scanner.cli.research_cmd.build``): the emulator over loopback on a stepped clock (ten days of
backfilled history for two assets on every venue, then a real scan through collector, storage
and engine) plus the real supervik BTC/ETH recordings imported with their time-zone fix. So a
notebook that drifts from the storage, engine, backtest or calibration API fails here, and so
does one that runs but stops drawing.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scanner.cli.research_cmd import SHARED_DATA, build

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIGURES = {
    "01_funding_landscape.ipynb": 5,
    "02_spread_persistence.ipynb": 4,
    "03_backtest.ipynb": 3,
    "funding_research.ipynb": 0,
}
"""Figures each notebook must draw (image outputs), so a silently skipped plot fails."""


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('nb') / 'research.db'}"
    counts = build(
        url,
        days=10,
        scans=1,
        bases=["BTC", "ETH"],
        real=[SHARED_DATA / "multi-venue-funding" / "supervik"],
        say=False,
    )
    assert counts["opportunities"] > 0 and counts["funding_settlements"] > 70_000
    return url


def test_every_notebook_is_listed_with_its_figures() -> None:
    assert {p.name for p in NOTEBOOKS} == set(FIGURES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_draws_its_figures(path: Path, sample_db: str) -> None:
    nb = nbformat.read(path, as_version=4)
    stored = [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{path.name}: commit notebooks without outputs (they may hold data)"
    os.environ["FUNDSCAN_DB_URL"] = sample_db
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        del os.environ["FUNDSCAN_DB_URL"]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= FIGURES[path.name], f"{path.name}: {len(images)} figures drawn"
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "settlements:" in text  # each notebook says which database it read
    assert "Traceback" not in text
    if path.name == "funding_research.ipynb":
        assert "stored opportunities:" in text
    if path.name == "03_backtest.ipynb":  # the real BTC/ETH replay, with fees and at zero fees
        assert "with fees" in text and "fees = 0" in text
