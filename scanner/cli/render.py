"""Turn the engine's opportunity frame into what a person or a program reads.

Why separate from the commands: ``scan`` and ``demo`` print the same table, and the JSON/CSV
shapes are a contract for scripts, so they live in one place with one test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from rich.table import Table

from scanner.domain import OPPORTUNITY_COLUMNS

JSON_COLUMNS: tuple[str, ...] = OPPORTUNITY_COLUMNS
"""Every opportunity column, in the schema's order (``scanner.domain.Opportunity``)."""


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy scalars -> Python, dicts recursively."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with the documented keys, in rank order."""
    cols = [c for c in JSON_COLUMNS if c in df.columns]
    return [{c: _clean(row[c]) for c in cols} for row in df[cols].to_dict("records")]


def to_json(df: pd.DataFrame) -> str:
    return json.dumps(records(df), indent=2)


def to_csv(df: pd.DataFrame) -> str:
    flat = pd.DataFrame(records(df))
    if "confidence_components" in flat.columns:
        flat["confidence_components"] = flat["confidence_components"].map(json.dumps)
    return str(flat.to_csv(index=False))


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{float(x) * 100:.{digits}f}%"


def _rate(x: Any) -> str:
    return "-" if x is None else f"{float(x) * 100:+.4f}%"


def _hours(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{float(x):.1f}h"


def _when(ms: Any) -> str:
    if ms is None or (isinstance(ms, float) and not math.isfinite(ms)):
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%H:%M")


def _interval(x: Any) -> str:
    return "?" if x is None else f"{float(x):g}h"


def _leg(row: Mapping[str, Any], side: str) -> str:
    """``venue SYMBOL``: the venue alone is ambiguous where it lists USDT and USDC perps."""
    symbol = row.get(f"{side}_symbol")
    return f"{row[f'{side}_venue']} {symbol}" if symbol else str(row[f"{side}_venue"])


def opportunities_table(df: pd.DataFrame, title: str) -> Table:
    """Rich table ranked as given; one row per opportunity."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for name, justify in [
        ("#", "right"),
        ("symbol", "left"),
        ("long leg", "left"),
        ("short leg", "left"),
        ("long rate/int", "right"),
        ("short rate/int", "right"),
        ("gross APR", "right"),
        ("cost", "right"),
        ("net APR", "right"),
        ("break-even", "right"),
        ("conf", "right"),
        ("next funding L/S (UTC)", "right"),
        ("flags", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, row in enumerate(records(df), start=1):
        flags = []
        if row.get("interval_mismatch"):
            flags.append("interval≠")
        if row.get("settle_mismatch"):
            flags.append("USDT/USDC")
        if row.get("price_mismatch"):
            flags.append("price≠")
        if row.get("executable") is False:
            flags.append("thin book")
        if row.get("pair_type") == "carry":
            flags.append("carry")
        conf = row.get("confidence")
        table.add_row(
            str(i),
            str(row["symbol"]),
            _leg(row, "long"),
            _leg(row, "short"),
            f"{_rate(row['long_rate'])}/{_interval(row['long_interval_h'])}",
            f"{_rate(row['short_rate'])}/{_interval(row['short_interval_h'])}",
            _pct(row["gross_apr"]),
            _pct(row["cost_frac"], 3),
            _pct(row["net_apr"]),
            _hours(row["breakeven_h"]),
            "n/a" if conf is None else f"{conf:.2f}",
            f"{_when(row['long_next_funding_ms'])}/{_when(row['short_next_funding_ms'])}",
            " ".join(flags),
        )
    return table
