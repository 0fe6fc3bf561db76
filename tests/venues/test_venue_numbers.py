"""The shared numeric parser: strings, JSON numbers and KuCoin-style E-notation."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from venue_fixtures import fixture_text, load_fixture

from scanner.venues.base import hours_from, settlement_time_ms, to_decimal, to_float, to_int


def test_kucoin_current_rate_e_notation_is_exact():
    text = fixture_text("kucoin", "docs_example_api_v1_funding-rate_current.json")
    data = json.loads(text)["data"]
    assert to_decimal(data["value"]) == Decimal("0.000061")  # 6.1E-5 as a JSON number
    assert to_decimal(data["predictedValue"]) == Decimal("0.000109")
    assert to_decimal("6.1E-5") == Decimal("0.000061")  # and as a string
    assert hours_from(data["granularity"], "ms") == 8.0


def test_every_kucoin_history_number_round_trips_exactly():
    """Parsing via Python floats must give the same Decimal as the literal JSON token."""
    text = fixture_text("kucoin", "docs_example_api_v1_contract_funding-rates.json")
    tokens = re.findall(r'"fundingRate":\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)', text)
    rows = json.loads(text)["data"]
    assert len(tokens) == len(rows) > 50
    assert any("E" in t for t in tokens)
    for token, row in zip(tokens, rows, strict=True):
        assert to_decimal(row["fundingRate"]) == Decimal(token)
        assert to_float(token) == float(token)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.0000523", Decimal("0.0000523")), (" 12 ", Decimal(12)), (7, Decimal(7)), ("", None)],
)
def test_to_decimal_accepts_venue_spellings(raw, expected):
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, [1]])
def test_to_decimal_rejects_non_numbers(raw):
    with pytest.raises(ValueError, match="number"):
        to_decimal(raw)


def test_to_int_timestamps():
    assert to_int("1788912000000") == 1788912000000
    assert to_int(1.7889e12) == 1788900000000
    with pytest.raises(ValueError, match="integer"):
        to_int("1.5")


@pytest.mark.parametrize(
    ("value", "unit", "hours"),
    [
        (480, "min", 8.0),
        ("8", "h", 8.0),
        (28800, "s", 8.0),
        (3_600_000, "ms", 1.0),
        (0, "min", None),
    ],
)
def test_intervals_in_any_unit_end_as_hours(value, unit, hours):
    assert hours_from(value, unit) == hours


def test_settlement_jitter_is_rounded_to_the_nominal_minute():
    rows = load_fixture("binance", "fapi_v1_fundingRate_BTCUSDT.json")
    jittered = [r["fundingTime"] for r in rows]
    assert any(t % 60_000 for t in jittered)  # the real capture has ...001 / ...009 jitter
    assert all(settlement_time_ms(t) % (8 * 3_600_000) == 0 for t in jittered)
    gate = load_fixture("gate", "api_v4_futures_usdt_funding_rate_BTC_USDT.json")
    assert all(settlement_time_ms(r["t"] * 1000) % 3_600_000 == 0 for r in gate)
