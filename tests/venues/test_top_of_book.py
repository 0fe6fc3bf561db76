"""Top of book from the venues' bulk tickers, read from the real recorded payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from venue_fixtures import load_fixture

from scanner.domain import Instrument, Kind
from scanner.venues.bybit import parse_ticker
from scanner.venues.specs import spec_of
from scanner.venues.volume import lenient_volume, top_of_book, tops_by_symbol


def _spec(venue: str) -> Any:
    quirks = spec_of(venue).quirks
    assert quirks is not None and quirks.top_of_book is not None
    return quirks.top_of_book


def test_bybit_ticker_carries_bid1_and_ask1_with_sizes() -> None:
    row = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    inst = Instrument("bybit", "BTCUSDT", "BTC", "USDT", "USDT", Kind.PERPETUAL,
                      funding_interval_h=8.0)  # fmt: skip
    quote = parse_ticker(row, inst, 1)
    assert quote is not None
    assert (quote.bid_price, quote.bid_qty, quote.ask_price, quote.ask_qty) == (
        78468.50, 4.471, 78468.60, 0.473,
    )  # fmt: skip


def test_gate_ticker_top_is_in_contracts() -> None:
    row = load_fixture("gate", "api_v4_futures_usdt_tickers_BTC_USDT.json")[0]
    # highest_size / lowest_size count contracts (quanto_multiplier 0.0001 BTC each)
    assert top_of_book(_spec("gate"), {"info": row}) == (78074.4, 21142.0, 78074.5, 126622.0)


def test_bitget_ticker_top() -> None:
    row = load_fixture("bitget", "docs_example_api_v2_mix_market_ticker.json")["data"][0]
    assert top_of_book(_spec("bitget"), {"info": row}) == (1829.3, 0.054, 1829.8, 0.785)


def test_binance_book_ticker_through_ccxt_unified_fields() -> None:
    # ccxt's fetch_bids_asks record: bid/bidVolume/ask/askVolume from /fapi/v1/ticker/bookTicker
    record = {"bid": 4.0, "bidVolume": 431.0, "ask": 4.000002, "askVolume": 9.0}
    assert top_of_book(_spec("binanceusdm"), record) == (4.0, 431.0, 4.000002, 9.0)


@pytest.mark.parametrize(
    "info",
    [
        {"bidPx": "", "bidSz": "1", "askPx": "2", "askSz": "1"},  # a side missing
        {"bidPx": "2", "bidSz": "0", "askPx": "2", "askSz": "1"},  # an empty level
        {"bidPx": "3", "bidSz": "1", "askPx": "2", "askSz": "1"},  # crossed
        {"bidPx": "x", "bidSz": "1", "askPx": "2", "askSz": "1"},  # garbled
    ],
)
def test_a_half_known_top_prices_nothing(info: dict[str, str]) -> None:
    assert top_of_book(_spec("okx"), {"info": info}) is None


def reference_top(spec: Any, record: Any) -> Any:
    """The top of book as the adapter read it before its early-exit loop: all four values,
    then the ones known and positive, four of them or none, the bid not above the ask."""
    got = []
    for name in (spec.bid, spec.bid_qty, spec.ask, spec.ask_qty):
        node = record.get("info") if name.startswith("info.") else record
        key = name[5:] if name.startswith("info.") else name
        got.append(lenient_volume(node.get(key)) if isinstance(node, Mapping) else None)
    values = [v for v in got if v is not None and v > 0]
    if len(values) != 4 or values[0] > values[2]:
        return None
    return tuple(values)


TEXTS = st.sampled_from(["1", "2", "0.5", "1e3", "3.25", "0", "-1", "nan", "inf", "100"])
VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "0", "-0", "1", "2", "-1", "nan", "inf", "abc", "1e3", "0.5"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3),
    st.booleans(),
)


@pytest.mark.parametrize("venue", ["okx", "gate", "bitget", "binanceusdm"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_top_of_book_reads_as_the_reference(venue: str, data: st.DataObject) -> None:
    spec = _spec(venue)
    names = (spec.bid, spec.bid_qty, spec.ask, spec.ask_qty)
    info = {n[5:]: data.draw(VALUES) for n in names if n.startswith("info.")}
    record: dict[str, Any] = {n: data.draw(VALUES) for n in names if not n.startswith("info.")}
    record["info"] = data.draw(st.sampled_from([info, None, [1]]))
    assert top_of_book(spec, record) == reference_top(spec, record)


@pytest.mark.parametrize("venue", ["okx", "gate", "bitget", "binanceusdm"])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_tops_by_symbol_read_as_the_reference(venue: str, data: st.DataObject) -> None:
    """Mostly text ``float`` reads (read four at a time), some odd values (read one by one)."""
    spec = _spec(venue)
    names = (spec.bid, spec.bid_qty, spec.ask, spec.ask_qty)
    values = st.one_of(TEXTS, TEXTS, VALUES)
    records: dict[str, Any] = {}
    for i in range(data.draw(st.integers(1, 6))):
        info = {n[5:]: data.draw(values) for n in names if n.startswith("info.")}
        record: dict[str, Any] = {n: data.draw(values) for n in names if not n.startswith("info.")}
        holder = info or record  # where the spec's four values sit
        if holder and data.draw(st.integers(0, 5)) == 0:
            del holder[data.draw(st.sampled_from(sorted(holder)))]  # one value missing
        record["info"] = data.draw(st.sampled_from([info, info, None, [1]]))
        records[f"S{i}"] = record
    want = {s: t for s, r in records.items() if (t := reference_top(spec, r)) is not None}
    assert tops_by_symbol(spec, records) == want
