"""``fundscan scan --json`` against the emulator: every key it had before the opportunity
schema, plus the reasons, and the stored row says the same as the printed one."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from emulator import Emulator
from scanner.cli import app
from storage.db import open_database
from storage.queries import Queries

TODAY_JSON_KEYS = {
    "symbol", "pair_type", "long_venue", "short_venue", "long_symbol", "short_symbol",
    "long_canonical", "short_canonical", "long_rate", "long_interval_h", "short_rate",
    "short_interval_h", "diff_per_h", "gross_apr", "fee_frac", "slippage_frac", "cost_frac",
    "basis_frac", "net_apr", "breakeven_h", "confidence", "confidence_components",
    "long_next_funding_ms", "short_next_funding_ms", "interval_mismatch", "settle_mismatch",
    "price_gap_frac", "price_mismatch", "executable", "notional_usd", "max_notional_usd",
}  # fmt: skip
"""Copied from ``fundscan demo --json`` output at commit 2336ac4 (before the schema)."""

STORED_REASONS = (
    "price_mismatch", "book_missing", "book_thin", "max_notional_within_slippage_usd",
    "first_cycle_h", "funding_to_next_long", "funding_to_next_short", "collected_first_cycle",
)  # fmt: skip


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=11).run_in_thread() as emu:
        yield emu


def test_scan_json_keeps_every_key_and_prints_what_was_stored(
    emulator: Emulator, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'scan.db'}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  url: {db_url}\n")
    result = CliRunner().invoke(
        app,
        ["scan", "-c", str(cfg), "--emulator", emulator.url, "--json", "--top", "10000",
         "--venues", "bybit,okx,gate"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("[") :])
    assert len(rows) > 10
    for row in rows:
        assert set(row) >= TODAY_JSON_KEYS | set(STORED_REASONS) | {"pair_key"}
    assert len({r["pair_key"] for r in rows}) == len(rows)
    db = open_database(db_url)
    try:
        stored = Queries(db).opportunity_history().set_index("pair_key")
    finally:
        db.dispose()
    assert len(stored) == len(rows)
    for row in rows:
        kept = stored.loc[row["pair_key"]]
        for name in STORED_REASONS:
            printed, saved = row[name], kept[name]
            if printed is None:
                assert saved is None or saved is pd.NA or math.isnan(saved), name
            else:
                assert saved == pytest.approx(printed), (row["pair_key"], name)
