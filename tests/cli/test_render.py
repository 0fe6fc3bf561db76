"""The scan output contract: JSON keys, NaN handling, CSV flattening, table rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from rich.console import Console

from scanner.cli.render import JSON_COLUMNS, opportunities_table, to_csv, to_json

REQUIRED = {
    "symbol", "long_venue", "short_venue", "long_rate", "long_interval_h", "short_rate",
    "short_interval_h", "gross_apr", "cost_frac", "net_apr", "breakeven_h", "confidence",
    "confidence_components", "long_next_funding_ms", "short_next_funding_ms", "notional_usd",
}  # fmt: skip


def _frame() -> pd.DataFrame:
    row = {c: 0.0 for c in JSON_COLUMNS}
    row.update(
        symbol="PEPE/USDT:USDT",
        pair_type="cross",
        long_venue="bybit",
        short_venue="hyperliquid",
        long_rate=0.0001,
        long_interval_h=8.0,
        short_rate=0.00005,
        short_interval_h=1.0,
        gross_apr=np.float64(0.328),
        net_apr=0.21,
        breakeven_h=float("nan"),
        confidence=None,
        confidence_components={"persistence": None, "freshness": np.float64(1.0)},
        long_next_funding_ms=1_763_798_400_000,
        short_next_funding_ms=np.int64(1_763_784_000_000),
        interval_mismatch=True,
        settle_mismatch=False,
        executable=False,
    )
    return pd.DataFrame([row])


def test_json_has_the_documented_keys_and_is_strict_json() -> None:
    text = to_json(_frame())
    data = json.loads(text)  # json.loads accepts NaN literals, hence the explicit check
    assert "NaN" not in text
    assert set(data[0]) >= REQUIRED
    assert data[0]["breakeven_h"] is None
    assert data[0]["short_next_funding_ms"] == 1_763_784_000_000
    assert data[0]["confidence_components"] == {"persistence": None, "freshness": 1.0}
    assert math.isclose(data[0]["gross_apr"], 0.328)


def test_csv_flattens_components_to_json() -> None:
    lines = to_csv(_frame()).splitlines()
    header = lines[0].split(",")
    assert header[0] == "symbol" and "net_apr" in header
    assert '""persistence"": null' in lines[1]


def test_table_renders_flags_and_missing_values() -> None:
    console = Console(width=250, record=True)
    console.print(opportunities_table(_frame(), "t"))
    out = console.export_text()
    assert "PEPE/USDT:USDT" in out and "bybit" in out
    assert "interval≠" in out and "thin book" in out
    assert "n/a" in out  # confidence unknown is said, not invented
    assert "+0.0100%/8h" in out and "+0.0050%/1h" in out
