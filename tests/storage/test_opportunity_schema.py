"""One opportunity schema: the engine frame, the table, the row mapping and the JSON agree.

``scanner.domain.Opportunity`` is the one definition; these tests prove each layer follows it
and that nothing the scan JSON had before the schema existed was lost.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from opportunity_cases import engine_frame
from sqlalchemy import JSON, BigInteger, Boolean, Double, String

from scanner.cli.render import records, to_csv
from scanner.domain import OPPORTUNITY_SCHEMA, Opportunity, pair_key
from storage import tables as T
from storage.rows import opportunity_row
from strategies.spread import OUTPUT_COLUMNS, to_opportunities

TODAY_JSON_KEYS = (
    "symbol", "pair_type", "long_venue", "short_venue", "long_symbol", "short_symbol",
    "long_canonical", "short_canonical", "long_rate", "long_interval_h", "short_rate",
    "short_interval_h", "diff_per_h", "gross_apr", "fee_frac", "slippage_frac", "cost_frac",
    "basis_frac", "net_apr", "breakeven_h", "confidence", "confidence_components",
    "long_next_funding_ms", "short_next_funding_ms", "interval_mismatch", "settle_mismatch",
    "price_gap_frac", "price_mismatch", "executable", "notional_usd", "max_notional_usd",
)  # fmt: skip
"""The keys of one ``fundscan scan --json`` row before the schema existed (copied from the
output of ``fundscan demo --json`` at commit 2336ac4), in their order then."""

REASONS = (
    "price_mismatch", "book_missing", "book_thin", "max_notional_within_slippage_usd",
    "first_cycle_h", "funding_to_next_long", "funding_to_next_short", "collected_first_cycle",
    "price_gap_frac", "long_canonical", "short_canonical", "pair_key",
)  # fmt: skip
"""What the engine knew and the database dropped before revision 0002."""

SA_TYPES = {"str": String, "float": Double, "int": BigInteger, "bool": Boolean, "json": JSON}


@pytest.fixture(scope="module")
def frame():
    return engine_frame()


def test_the_schema_is_opportunitys_fields_each_with_a_unit_and_a_meaning() -> None:
    assert [c.name for c in OPPORTUNITY_SCHEMA] == [f.name for f in dataclasses.fields(Opportunity)]
    for spec in OPPORTUNITY_SCHEMA:
        assert spec.doc, spec.name
        assert spec.dtype in SA_TYPES, spec.name
        assert (spec.max_chars is not None) == (spec.dtype == "str"), spec.name
        if spec.dtype in ("float", "int"):
            assert spec.unit, f"{spec.name} has no unit"
        if spec.name.endswith("_h") and not spec.name.endswith("_per_h"):
            assert spec.unit == "h", spec.name  # a duration
        if spec.name.endswith("_usd"):
            assert spec.unit == "USD", spec.name
        if spec.name.endswith("_ms"):
            assert spec.unit == "epoch ms", spec.name


def test_engine_frame_has_exactly_the_schema_columns_and_dtypes(frame) -> None:
    assert tuple(c.name for c in OPPORTUNITY_SCHEMA) == OUTPUT_COLUMNS
    assert list(frame.columns) == list(OUTPUT_COLUMNS)
    expected = {"str": "object", "float": "float64", "int": "Int64", "bool": "bool"}
    for spec in OPPORTUNITY_SCHEMA:
        if spec.dtype == "json":
            assert all(isinstance(v, dict) for v in frame[spec.name]), spec.name
        elif spec.dtype == "str":
            assert all(isinstance(v, str) for v in frame[spec.name]), spec.name
        else:
            assert str(frame[spec.name].dtype) == expected[spec.dtype], spec.name


def test_the_case_frame_exercises_every_reason(frame) -> None:
    """Guards the fixture: a reason never True below would make the round trips vacuous."""
    for flag in ("price_mismatch", "book_missing", "book_thin", "executable", "settle_mismatch"):
        assert frame[flag].any() and not frame[flag].all(), flag
    assert (frame["pair_type"] == "carry").any()
    assert (frame["long_canonical"] != frame["symbol"]).any()
    assert frame["max_notional_within_slippage_usd"].notna().any()


def test_table_columns_types_and_nullability_follow_the_schema() -> None:
    own = {"id", "scan_id", "ts_ms"}
    assert {c.name for c in T.opportunities.c} - own == {c.name for c in OPPORTUNITY_SCHEMA}
    for spec in OPPORTUNITY_SCHEMA:
        col = T.opportunities.c[spec.name]
        assert isinstance(col.type, SA_TYPES[spec.dtype]), spec.name
        assert col.nullable == spec.nullable, spec.name
        if spec.dtype == "str":
            assert col.type.length == spec.max_chars, spec.name


def test_row_mapping_fills_every_table_column_from_an_engine_row(frame) -> None:
    table_columns = {c.name for c in T.opportunities.c} - {"id"}
    for record in frame.to_dict("records"):
        row = opportunity_row(7, 1_000, record)
        assert set(row) == table_columns
        assert (row["scan_id"], row["ts_ms"]) == (7, 1_000)
        for spec in OPPORTUNITY_SCHEMA:
            value, stored = record[spec.name], row[spec.name]
            if spec.dtype == "json":
                assert stored == value
            elif value is None or (not isinstance(value, str | dict) and math.isnan(value)):
                assert stored is None, spec.name
            else:
                assert stored == value and type(stored) is not type(None), spec.name


def test_stored_pair_keys_are_domain_pair_keys_and_unique_per_scan(frame) -> None:
    keys = [opportunity_row(1, 1, r)["pair_key"] for r in frame.to_dict("records")]
    assert len(set(keys)) == len(keys)
    assert "XRP/USDT:USDT|long=bybit@XRP/USDC:USDC|short=okx" in keys
    assert "XRP/USDT:USDT|long=bybit|short=okx" in keys
    assert "BTC/USDT:USDT|long=bybit-spot|short=bybit" in keys
    for r in frame.to_dict("records"):
        assert r["pair_key"] == pair_key(
            r["symbol"], r["long_venue"], r["short_venue"], r["pair_type"],
            long_canonical=r["long_canonical"],
        )  # fmt: skip


def test_json_has_every_schema_key_and_keeps_todays_keys_first_in_order(frame) -> None:
    rows = records(frame)
    names = [c.name for c in OPPORTUNITY_SCHEMA]
    assert all(list(r) == names for r in rows)
    assert names[: len(TODAY_JSON_KEYS)] == list(TODAY_JSON_KEYS)  # positional CSV readers
    assert set(REASONS) <= set(names)
    header = to_csv(frame).splitlines()[0].split(",")
    assert header == names


def test_to_opportunities_carries_every_schema_field(frame) -> None:
    opps = to_opportunities(frame)
    for opp, record in zip(opps, frame.to_dict("records"), strict=True):
        for spec in OPPORTUNITY_SCHEMA:
            got, want = getattr(opp, spec.name), record[spec.name]
            if spec.dtype == "float" and (want is None or math.isnan(want)):
                assert got is None or math.isnan(got), spec.name
            elif spec.dtype == "int" and want is not None and not isinstance(want, int):
                assert got is None, spec.name  # pandas NA
            else:
                assert got == want, spec.name
