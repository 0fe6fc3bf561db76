"""Bybit tickers read by ``plain_ticker`` are ``parse_ticker``'s quotes: every row of the
emulator's tickers body and of the recorded bodies, and hypothesis rows with odd values
(where ``plain_ticker`` either gives the checked parse's quote or leaves the row to it)."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from venue_fixtures import load_fixture

from emulator import Emulator
from scanner.domain import FundingQuote, Instrument, Kind
from scanner.settings import Settings
from scanner.venues.base import MalformedResponse
from scanner.venues.bybit import NOT_PLAIN, BybitVenue, parse_ticker, parse_tickers, plain_ticker


def typed(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return (float, "nan")
    return (type(value), value)


def assert_same(got: FundingQuote | None, want: FundingQuote | None) -> None:
    if want is None or got is None:
        assert got is want
        return
    assert type(got) is FundingQuote and got == want
    for f in dataclasses.fields(FundingQuote):
        assert typed(getattr(got, f.name)) == typed(getattr(want, f.name)), f.name
    assert got.raw is want.raw


def checked(row: dict[str, Any], inst: Instrument) -> FundingQuote | None | Exception:
    try:
        return parse_ticker(row, inst, 1_700_000_000_000)
    except MalformedResponse as exc:
        return exc


def compare(row: dict[str, Any], inst: Instrument) -> bool:
    """True when ``plain_ticker`` read the row itself (and gave the checked quote)."""
    got = plain_ticker(row, inst, 1_700_000_000_000)
    want = checked(row, inst)
    if got is NOT_PLAIN:
        return False
    assert not isinstance(want, Exception), (row, want)
    assert_same(got, want)
    return True


def perp(symbol: str, interval_h: float | None = 8.0, kind: Kind = Kind.PERPETUAL) -> Instrument:
    return Instrument(
        "bybit", symbol, symbol[:-4] or "X", "USDT", "USDT", kind,
        multiplier=Decimal(1000) if symbol.startswith("1000") else Decimal(1),
        funding_interval_h=interval_h,
    )  # fmt: skip


async def test_every_row_of_the_emulators_tickers_reads_as_the_checked_parse():
    async with Emulator(seed=1, stepped=True) as emu:
        venue = BybitVenue.from_settings(Settings().with_base_url(emu.url).venues.get("bybit"))
        try:
            instruments = {i.venue_symbol: i for i in await venue.load_instruments()}
            result = await venue.http.get("/v5/market/tickers", {"category": "linear"})
        finally:
            await venue.close()
    rows = [r for r in result["list"] if r["symbol"] in instruments]
    plain = [compare(row, instruments[row["symbol"]]) for row in rows]
    assert len(rows) > 300 and sum(plain) >= 0.95 * len(rows)
    quotes = parse_tickers(result, instruments, 1_700_000_000_000)
    assert [q.venue_symbol for q in quotes] == [
        r["symbol"] for r in rows if checked(r, instruments[r["symbol"]]) is not None
    ]


def fixture_rows() -> list[dict[str, Any]]:
    testnet = load_fixture(
        "bybit", "bybit_v5_market_tickers_linear_TESTNET_2023-03-07_result_only.json"
    )
    live = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")
    ws = load_fixture("bybit", "ws_v5_public_linear_tickers_snapshot_BTCUSDT.json")
    return [*testnet["LinearInverse"]["list"], *live["result"]["list"], ws["data"]]


@pytest.mark.parametrize("interval_h", [8.0, None])
@pytest.mark.parametrize("kind", [Kind.PERPETUAL, Kind.DATED])
def test_recorded_rows_read_as_the_checked_parse(interval_h: float | None, kind: Kind):
    rows = fixture_rows()
    plain = [compare(row, perp(row["symbol"], interval_h, kind)) for row in rows]
    assert len(rows) > 100 and any(plain)


NUMBERS = st.one_of(
    st.none(),
    st.sampled_from(["", "0", "-0", "1", "-1", "8", "0.5", "1e-4", " 2 ", "nan", "inf", "-inf",
                     "abc", "1_000", "１", "1.5e400", "65000.5", "65001"]),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)  # fmt: skip
TEXTS = st.sampled_from(["0", "-0", "1", "-1", "8", "0.5", "1e-4", "nan", "inf", "-inf", "1.5e400",
                         "65000.5", "65001", "2", "0.0001", "1_0"])  # fmt: skip
"""Texts ``float`` reads: a row of them is one ``plain_ticker`` reads itself."""
TIMES = st.one_of(
    st.none(),
    st.sampled_from(["", "0", "1700000000000", "1.7e12", " 17", "17a", "１７", "-5"]),
    st.integers(0, 2**40),
)
FIELDS = ("fundingRate", "fundingIntervalHour", "markPrice", "indexPrice", "bid1Price",
          "bid1Size", "ask1Price", "ask1Size", "turnover24h")  # fmt: skip
PLAIN_ROW = {
    "symbol": "BTCUSDT", "fundingRate": "0.0001", "nextFundingTime": "1700028800000",
    "fundingIntervalHour": "8", "markPrice": "65000.1", "indexPrice": "65001.2",
    "bid1Price": "65000", "bid1Size": "1.5", "ask1Price": "65000.5", "ask1Size": "2",
    "turnover24h": "123456789.5",
}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from(FIELDS), st.one_of(TEXTS, TEXTS, NUMBERS), max_size=4),
    drop=st.sets(st.sampled_from(FIELDS), max_size=2),
    next_time=st.one_of(st.just("1700028800000"), st.just("1700028800000"), TIMES),
    interval_h=st.sampled_from([8.0, None, 0.0]),
    kind=st.sampled_from([Kind.PERPETUAL, Kind.DATED]),
)
def test_odd_rows_read_as_the_checked_parse_or_go_to_it(
    changes: dict[str, Any], drop: set[str], next_time: Any, interval_h: Any, kind: Kind
):
    row = {**PLAIN_ROW, **changes, "nextFundingTime": next_time}
    for key in drop:
        row.pop(key, None)
    compare(row, perp("BTCUSDT", interval_h, kind))


def test_a_plain_row_is_read_by_plain_ticker_and_odd_ones_go_to_the_checked_parse():
    inst = perp("BTCUSDT")
    assert compare(dict(PLAIN_ROW), inst)
    for odd in ({"fundingRate": "abc"}, {"markPrice": ""}, {"nextFundingTime": 17}):
        row = {**PLAIN_ROW, **odd}
        assert plain_ticker(row, inst, 0) is NOT_PLAIN
    with pytest.raises(MalformedResponse, match="BTCUSDT"):
        parse_tickers({"list": [{**PLAIN_ROW, "fundingRate": "abc"}]}, {"BTCUSDT": inst}, 0)
