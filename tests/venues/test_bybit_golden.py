"""Golden parsing of real recorded Bybit V5 payloads (see shared/data/PROVENANCE.md)."""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from venue_fixtures import load_fixture

from scanner.domain import Kind
from scanner.venues.base import MalformedResponse
from scanner.venues.bybit import (
    _checked_levels,
    _levels,
    index_by_symbol,
    parse_funding_history,
    parse_instruments,
    parse_orderbook,
    parse_ticker,
    parse_tickers,
)


@pytest.fixture(scope="module")
def instruments_payload():
    return load_fixture("bybit", "v5_market_instruments-info_linear.json")


@pytest.fixture(scope="module")
def instruments(instruments_payload):
    return index_by_symbol(parse_instruments(instruments_payload["result"]))


def test_instruments_minutes_become_hours(instruments_payload, instruments):
    rows = instruments_payload["result"]["list"]
    assert len(instruments) == len(rows)
    for row in rows:
        inst = instruments[row["symbol"]]
        if row["contractType"] == "LinearPerpetual":
            assert inst.kind is Kind.PERPETUAL
            assert inst.funding_interval_h == row["fundingInterval"] / 60
        else:
            assert inst.kind is Kind.DATED
    hours = Counter(i.funding_interval_h for i in instruments.values() if i.is_perpetual)
    assert set(hours) == {1.0, 4.0, 8.0}  # the 2026 list: 60, 240 and 480 minutes
    assert instruments["ACEUSDT"].funding_interval_h == 1.0


def test_multiplier_symbols_are_canonical(instruments):
    pepe = instruments["1000PEPEUSDT"]
    assert (pepe.canonical, pepe.multiplier) == ("PEPE/USDT:USDT", Decimal(1000))


def test_current_ticker_parses_with_interval_in_hours(instruments):
    body = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")
    (quote,) = parse_tickers(body["result"], instruments, ts_ms=body["time"])
    row = body["result"]["list"][0]
    assert quote.canonical == "BTC/USDT:USDT"
    assert quote.rate_per_interval == float(Decimal(row["fundingRate"]))
    assert quote.interval_h == float(row["fundingIntervalHour"])
    assert quote.next_funding_ms == int(row["nextFundingTime"])
    assert quote.mark_price == float(row["markPrice"]) and quote.raw == row


def test_2023_testnet_tickers_without_later_fields_still_parse(instruments):
    body = load_fixture(
        "bybit", "bybit_v5_market_tickers_linear_TESTNET_2023-03-07_result_only.json"
    )
    result = body["LinearInverse"]
    rows = result["list"]
    assert all("fundingIntervalHour" not in r for r in rows)
    quotes = parse_tickers(result, instruments, ts_ms=1678204000000)
    known = [
        r for r in rows if r["symbol"] in instruments and instruments[r["symbol"]].is_perpetual
    ]
    assert len(quotes) == len(known) > 100
    for q in quotes:
        # no fundingIntervalHour in 2023: the interval comes from instruments-info minutes
        assert q.interval_h == instruments[q.venue_symbol].funding_interval_h
        assert q.next_funding_ms == 1678204800000


def test_dated_future_with_empty_funding_fields_is_skipped(instruments):
    row = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    dated = next(i for i in instruments.values() if i.kind is Kind.DATED)
    future_row = {**copy.deepcopy(row), "symbol": dated.venue_symbol}
    future_row.update(fundingRate="", nextFundingTime="")
    assert parse_ticker(future_row, dated, ts_ms=1) is None
    # even with funding fields filled, a dated contract never becomes a funding quote
    assert parse_ticker({**row, "symbol": dated.venue_symbol}, dated, ts_ms=1) is None
    result = {"list": [row, future_row]}
    assert [q.venue_symbol for q in parse_tickers(result, instruments, 1)] == ["BTCUSDT"]


def test_ticker_without_any_interval_is_malformed(instruments):
    row = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    row = {k: v for k, v in row.items() if k != "fundingIntervalHour"}
    inst = instruments["BTCUSDT"]
    bare = dataclasses.replace(inst, funding_interval_h=None)
    with pytest.raises(MalformedResponse, match="BTCUSDT"):
        parse_ticker(row, bare, ts_ms=1)


def test_funding_history_real_capture_sorted_oldest_first(instruments):
    body = load_fixture("bybit", "v5_market_funding_history_BTCUSDT.json")
    rows = body["result"]["list"]
    got = parse_funding_history(body["result"], instruments["BTCUSDT"])
    assert len(got) == len(rows)
    times = [s.funding_time_ms for s in got]
    assert times == sorted(int(r["fundingRateTimestamp"]) for r in rows)
    by_time = {int(r["fundingRateTimestamp"]): float(Decimal(r["fundingRate"])) for r in rows}
    assert all(s.rate_per_interval == by_time[s.funding_time_ms] for s in got)
    assert {s.interval_h for s in got} == {8.0}


def test_orderbook_docs_example_and_ws_snapshot(instruments):
    body = load_fixture("bybit", "docs_example_v5_market_orderbook.json")
    book = parse_orderbook(body["result"], instruments["BTCUSDT"])
    assert book.bids[0].tolist() == [float(x) for x in body["result"]["b"][0]]
    assert book.ts_ms == body["result"]["ts"]
    frame = load_fixture("bybit", "ws_v5_public_linear_orderbook200_snapshot_BTCUSDT.json")
    big = parse_orderbook(frame["data"], instruments["BTCUSDT"], frame["ts"])  # ts on the frame
    assert big.ts_ms == frame["ts"]
    assert len(big.bids) == len(big.asks) == 200
    # every level as sent, price then size, in Bybit's order, into read-only float64 arrays
    for got, raw in ((big.bids, frame["data"]["b"]), (big.asks, frame["data"]["a"])):
        assert got.dtype == np.float64 and not got.flags.writeable
        assert got.tolist() == [[float(p), float(q)] for p, q in raw]
    assert [p for p, _ in big.bids] == sorted((p for p, _ in big.bids), reverse=True)
    assert [p for p, _ in big.asks] == sorted(p for p, _ in big.asks)
    assert big.best_bid is not None and big.best_ask is not None and big.best_bid < big.best_ask


def test_a_book_with_no_timestamp_at_all_is_malformed_not_stamped_by_another_clock(instruments):
    body = load_fixture("bybit", "docs_example_v5_market_orderbook.json")["result"]
    undated = {k: v for k, v in body.items() if k != "ts"}
    assert parse_orderbook(undated, instruments["BTCUSDT"], 1_700_000_000_123).ts_ms == (
        1_700_000_000_123
    )
    with pytest.raises(MalformedResponse, match="no ts"):
        parse_orderbook(undated, instruments["BTCUSDT"])


def test_missing_list_is_malformed():
    with pytest.raises(MalformedResponse, match="result.list"):
        parse_instruments({"category": "linear"})


_NUMBERS = st.one_of(
    st.from_regex(r"-?\d{1,5}(\.\d{1,4})?", fullmatch=True),
    st.sampled_from(["", " 1", "nan", "inf", "-inf", "1e3", "0", "x", "1_0"]),
    st.floats(allow_nan=True),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.lists(st.lists(_NUMBERS, max_size=3), max_size=4), _NUMBERS))
def test_the_one_pass_level_parse_agrees_with_the_checked_one(raw: object) -> None:
    """``_levels`` takes a one-pass parse for plain decimal-string pairs and falls back to the
    checked parse otherwise: the same levels, or MalformedResponse from both."""

    def outcome(parse: Callable[[], object]) -> object:
        try:
            levels = parse()
        except MalformedResponse:
            return "malformed"
        assert isinstance(levels, np.ndarray) and levels.shape == (len(levels), 2)
        return levels.tolist()

    assert outcome(lambda: _levels(raw, "b")) == outcome(lambda: _checked_levels(raw, "b"))
