"""Venue-style numbers: a book's levels print exactly as each number printed alone."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from emulator import wire
from emulator.wire import RowText, fmt, fmt_levels, fmt_prices, json_bytes


@pytest.mark.parametrize(
    ("tick", "lot"), [(0.1, 1.0), (0.0001, 0.001), (5.0, 0.5), (0.0, 0.0), (1e-40, 1e-35)]
)
def test_levels_print_as_fmt_prints_each_number(tick: float, lot: float) -> None:
    levels = [(104_123.45, 0.0123), (0.5, 3.0), (1e-9, 12_345_678.9), (2.675, 0.125)]
    want = [[fmt(p, tick), fmt(s, lot)] for p, s in levels]
    assert fmt_levels(levels, tick, lot) == want


def test_a_level_that_is_not_finite_prints_as_fmt_prints_it() -> None:
    levels = [(1.5, math.inf), (math.nan, 2.0), (3.25, 4.0)]
    want = [[fmt(p, 0.01), fmt(s, 1.0)] for p, s in levels]
    assert fmt_levels(levels, 0.01, 1.0) == want
    assert want[0][1] == "0" and want[1][0] == "0"


@pytest.mark.parametrize(
    "prices",
    [
        [104_123.45, 104_123.55, 2.675],
        [0.0, 1.5],
        [-0.0, 1.5],
        [1.5, -0.0],
        [math.nan, 0.0],
        [2.0, math.nan, -0.0],
        [1.5, math.inf],
        [],
    ],
)
def test_a_kept_price_ladder_prints_as_fmt_prints_each_price(prices: list[float]) -> None:
    """``fmt_prices`` keeps ladders by their values: asked twice, and after a ladder whose
    values compare equal but print differently (``0.0`` / ``-0.0``), it prints each price as
    ``fmt`` does."""
    twin = [0.0 if p == 0 else p for p in prices]
    for values in (twin, prices, prices):
        assert fmt_prices(values, 0.01) == [fmt(p, 0.01) for p in values]


SLOTS = ("size", "ts")


def _build(tag: str) -> dict[str, Any]:
    # slots between and around other fields; text that JSON must escape, and non-ASCII
    return {"symbol": f'A"B\\{tag}', "size": "", "last": "1.5\n", "ts": "", "name": "é\x01"}


@pytest.mark.parametrize(
    "values",
    [
        {"size": "0.125", "ts": "1795000000000"},
        {"ts": "", "size": 'q"\\\x00é'},
    ],
)
def test_a_row_text_prints_as_json_prints_the_rows_dict(values: dict[str, str]) -> None:
    """``RowText`` rows in a body give the bytes ``json_bytes`` gives for the dicts, for a new
    key and a kept one asked with other values."""
    rows = RowText(SLOTS)
    for key in ("k1", "k2", "k1", "k2"):
        got = json_bytes({"list": [rows.row(key, lambda k=key: _build(k), values)]})  # type: ignore[misc]
        want = json_bytes({"list": [{**_build(key), **values}]})
        assert got == want
    other = {name: f"other {name}" for name in SLOTS}
    got = json_bytes([rows.row("k1", lambda: _build("k1"), other)])
    assert got == json_bytes([{**_build("k1"), **other}])


def test_a_row_without_its_slots_or_without_orjson_is_the_dict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {"size": "2", "ts": "3"}
    lacking = RowText(("size", "missing"))
    row = lacking.row("k", lambda: _build("k"), {"size": "2", "missing": "4"})
    assert row == {**_build("k"), "size": "2", "missing": "4"}
    monkeypatch.setattr(wire, "orjson", None)
    plain = RowText(SLOTS)
    assert plain.row("k", lambda: _build("k"), values) == {**_build("k"), **values}
    assert (
        json_bytes([plain.row("k", lambda: _build("k"), values)])
        == json.dumps([{**_build("k"), **values}], separators=(",", ":")).encode()
    )
