"""The fast readers of book sides give exactly what the checked readers give: ccxt's
``parse_order_book`` (through ``book_sides``) for the ccxt venues' raw books, and Bybit's
``_checked_levels`` for its ``_plain_levels``, on generated sides (in and out of order, odd
numbers, odd shapes): the same arrays, or the same error."""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt_async
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.venues import bybit
from scanner.venues.base import MalformedResponse
from scanner.venues.specs import spec_of
from tests.venues.test_raw_books import body_of, read, reference, same

NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["0", "-0", "1e400", "-1e400", "nan", "inf", "", " 1", "1_0", "0x10", "1e-400"]
    ),
)
LEVEL_ITEM = st.one_of(
    NUMBER_TEXT, NUMBER_TEXT, NUMBER_TEXT, st.none(), st.integers(), st.booleans()
)
PLAIN_LEVEL = st.lists(
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, places=2).map(str),
    min_size=2,
    max_size=2,
)
"""A level as the venues send them: two decimal strings."""
LEVEL = st.one_of(
    st.lists(NUMBER_TEXT, min_size=2, max_size=2),
    st.lists(NUMBER_TEXT, min_size=2, max_size=2),
    st.lists(LEVEL_ITEM, min_size=0, max_size=4),
    NUMBER_TEXT,
)


def ordered(levels: list[Any], descending: bool) -> list[Any]:
    """The side sorted as a venue sends it, where its prices read as floats (else as given)."""
    try:
        return sorted(levels, key=lambda lv: float(lv[0]), reverse=descending)
    except (TypeError, ValueError, IndexError, KeyError):
        return levels


@pytest.fixture(scope="module")
def exchanges() -> Any:
    made = {"binanceusdm": ccxt_async.binanceusdm(), "gate": ccxt_async.gate()}
    yield made


@settings(max_examples=300, deadline=None)
@given(
    bids=st.one_of(st.lists(PLAIN_LEVEL, max_size=8), st.lists(LEVEL, max_size=8)),
    asks=st.one_of(st.lists(PLAIN_LEVEL, max_size=8), st.lists(LEVEL, max_size=8)),
    sort=st.booleans(),
    depth=st.sampled_from([1, 3, 50]),
)
def test_raw_book_sides_are_ccxts(exchanges: Any, bids: Any, asks: Any, sort: bool, depth: int):
    if sort:
        bids, asks = ordered(bids, True), ordered(asks, False)
    for venue, keys in (("binanceusdm", None), ("gate", ("p", "s"))):
        ex = exchanges[venue]
        raw = spec_of(venue).quirks.raw_book
        body = body_of(bids, asks, keys)
        got, want = read(ex, raw, body, depth), reference(ex, raw, body, depth)
        assert same(got, want), (venue, got, want)


def bybit_outcome(read_levels: Any, raw: Any) -> Any:
    try:
        return read_levels(raw, "orderbook bids")
    except MalformedResponse:
        return MalformedResponse


@settings(max_examples=300, deadline=None)
@given(
    levels=st.one_of(
        st.lists(PLAIN_LEVEL, max_size=8),
        st.lists(LEVEL, max_size=8),
        st.lists(st.lists(NUMBER_TEXT, min_size=2, max_size=2), max_size=8),
    )
)
def test_bybit_plain_levels_are_the_checked_levels(levels: Any):
    """Where the fast reader takes a side, its array is the checked reader's; where it
    declines, ``_levels`` gives the checked reader's answer, array or error."""
    plain = bybit._plain_levels(levels)
    checked = bybit_outcome(bybit._checked_levels, levels)
    if plain is not None:
        assert isinstance(checked, np.ndarray)
        assert plain.shape == checked.shape and np.array_equal(plain, checked)
        assert np.array_equal(np.signbit(plain), np.signbit(checked))
    got = bybit_outcome(bybit._levels, levels)
    if isinstance(checked, np.ndarray):
        assert isinstance(got, np.ndarray) and np.array_equal(got, checked)
    else:
        assert got is checked
