"""to_float and lenient_volume read floats, small integers and text without the Decimal, with
the same results and errors as the Decimal reading they skip (``to_decimal``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.venues.base import to_decimal, to_float
from scanner.venues.volume import lenient_volume


def by_decimal(value: Any) -> Any:
    """to_float as it read every non-text value: through ``to_decimal``; or its error."""
    try:
        dec = to_decimal(value)
    except (ValueError, ArithmeticError) as exc:
        return (type(exc).__name__, str(exc))
    return None if dec is None else float(dec)


def outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except (ValueError, ArithmeticError) as exc:
        return (type(exc).__name__, str(exc))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b and type(a) is type(b)


EDGES = [0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, 0.1, -2.5, math.nan, math.inf]
EDGES += [-math.inf, 0, 1, -1, 2**53, -(2**53), 2**53 + 1, 10**400, -(10**400), True, False]
EDGES += [None, "", np.float64(0.1), np.float64("nan"), np.int64(7)]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_to_float_of_numbers_is_the_decimal_reading(value: Any):
    assert same(outcome(to_float, value), by_decimal(value))


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()))
def test_to_float_of_any_float_or_integer_is_the_decimal_reading(value: Any):
    assert same(outcome(to_float, value), by_decimal(value))


def lenient_by_to_float(value: Any) -> float | None:
    """lenient_volume as it read every value: through ``to_float``."""
    try:
        amount = to_float(value)
    except (ValueError, ArithmeticError, TypeError):
        return None
    if amount is None or not math.isfinite(amount) or amount < 0:
        return None
    return amount


TEXT = ["", " ", "1", " 2.5 ", "-1", "0", "-0", "1e3", "1_000", "nan", "inf", "-inf", "abc"]


@pytest.mark.parametrize("value", EDGES + TEXT, ids=repr)
def test_lenient_volume_is_its_to_float_reading(value: Any):
    got, want = lenient_volume(value), lenient_by_to_float(value)
    assert got is want is None or same(got, want)


@given(st.one_of(st.floats(), st.integers(), st.text(max_size=12)))
def test_lenient_volume_of_anything_is_its_to_float_reading(value: Any):
    got, want = lenient_volume(value), lenient_by_to_float(value)
    assert got is want is None or same(got, want)
