"""Funding rows read by the venues' row readers (``funding_rows``) are ccxt's
``parse_funding_rates`` on the keys the adapter reads: on every row of the emulator's bodies,
on the recorded fixtures, and on hypothesis rows with odd values (where a reader either gives
ccxt's values or hands the body back to ccxt); and the adapter's quotes are the same either
way."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from scanner.clock import FakeClock
from scanner.settings import Settings
from scanner.venues.capabilities import RawFundingSpec, VenueQuirks
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.funding_rows import (
    READ_KEYS,
    binance_row,
    bitget_row,
    gate_row,
    okx_row,
    read_funding_rows,
)
from scanner.venues.registry import build_venue
from scanner.venues.specs import ccxt_venue_ids, spec_of
from tests.venues.venue_fixtures import load_fixture

READERS = {"okx": okx_row, "gate": gate_row, "binanceusdm": binance_row, "bitget": bitget_row}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=1, stepped=True) as emulator:
        yield emulator


def raw_specs(quirks: VenueQuirks) -> list[RawFundingSpec]:
    return [*quirks.raw_funding, *([quirks.raw_intervals] if quirks.raw_intervals else [])]


def rows_of(raw: RawFundingSpec, body: Any) -> Any:
    for key in raw.rows:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def typed(value: Any) -> Any:
    """A value with its type, NaN equal to itself (ccxt gives NaN for ``"nan"``)."""
    if isinstance(value, float) and math.isnan(value):
        return (float, "nan")
    return (type(value), value)


def ccxt_records(exchange: Any, rows: list[Any]) -> dict[str, dict[str, Any]]:
    """ccxt's structures restricted to the keys the adapter reads."""
    parsed = exchange.parse_funding_rates(rows)
    return {s: {k: fr[k] for k in READ_KEYS} for s, fr in parsed.items()}


def assert_same(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> None:
    assert list(got) == list(want)  # the same symbols in the same order
    for symbol, record in want.items():
        assert list(got[symbol]) == list(READ_KEYS), symbol
        assert got[symbol]["info"] is record["info"], symbol
        for key in READ_KEYS[1:]:
            assert typed(got[symbol][key]) == typed(record[key]), (symbol, key)


def test_every_raw_funding_call_of_these_venues_has_its_reader():
    for venue, reader in READERS.items():
        quirks = spec_of(venue).quirks
        assert quirks is not None
        specs = raw_specs(quirks)
        assert specs and all(raw.reader is reader for raw in specs), venue


@pytest.mark.parametrize("venue", list(READERS))
async def test_every_row_of_the_emulators_bodies_reads_as_ccxt_parses_it(emu: Emulator, venue: str):
    ccxt_venue = build_venue(venue, Settings().with_base_url(emu.url), retries=0)
    assert isinstance(ccxt_venue, CcxtVenue)
    try:
        await ccxt_venue.load_instruments()
        ex = ccxt_venue.exchange
        read = 0
        for raw in raw_specs(ccxt_venue.quirks):
            rows = rows_of(raw, await ccxt_venue._raw_body(raw))
            assert isinstance(rows, list), raw.method
            read += len(rows)
            assert raw.reader is not None
            got = read_funding_rows(ex, raw.reader, rows)
            assert got is not None, raw.method
            want = ccxt_records(ex, rows)
            assert len(want) >= len(rows) * 0.9, raw.method  # the rows name loaded markets
            assert_same(got, want)
        assert read > 50
    finally:
        await ccxt_venue.close()


def requests_since(emu: Emulator, start: int) -> list[tuple[Any, ...]]:
    log = emu.logs()["requests"][start:]
    return [(r["venue"], r["method"], r["path"], r["query"], r["status"]) for r in log]


@pytest.mark.parametrize("venue", list(READERS))
async def test_the_raw_funding_calls_are_the_requests_ccxts_fetch_sends(emu: Emulator, venue: str):
    ccxt_venue = build_venue(venue, Settings().with_base_url(emu.url), retries=0)
    assert isinstance(ccxt_venue, CcxtVenue)
    quirks = ccxt_venue.quirks
    try:
        await ccxt_venue.load_instruments()
        start = len(emu.logs()["requests"])
        for raw in quirks.raw_funding:
            await ccxt_venue._raw_body(raw)
        sent = requests_since(emu, start)
        start = len(emu.logs()["requests"])
        for params in quirks.funding_calls:
            await ccxt_venue.exchange.fetch_funding_rates(None, dict(params))
        assert sent == requests_since(emu, start) and len(sent) == len(quirks.funding_calls)
    finally:
        await ccxt_venue.close()


@pytest.mark.parametrize("venue", list(READERS))
async def test_the_adapters_quotes_are_the_same_with_and_without_the_reader(
    emu: Emulator, venue: str
):
    settings = Settings().with_base_url(emu.url)
    clock = FakeClock()  # rows without a timestamp are stamped with the adapter's clock
    fast = build_venue(venue, settings, retries=0, clock=clock)
    plain = build_venue(venue, settings, retries=0, clock=clock)
    assert isinstance(fast, CcxtVenue) and isinstance(plain, CcxtVenue)
    plain.quirks = replace(
        plain.quirks,
        raw_funding=tuple(replace(r, reader=None) for r in plain.quirks.raw_funding),
        raw_intervals=plain.quirks.raw_intervals
        and replace(plain.quirks.raw_intervals, reader=None),
    )
    try:
        await fast.load_instruments()
        await plain.load_instruments()
        got = await fast.fetch_quotes()
        want = await plain.fetch_quotes()
        assert len(got) > 50
        assert got == want
        assert [q.raw for q in got] == [q.raw for q in want]
    finally:
        await fast.close()
        await plain.close()


FIXTURES = [
    ("okx", "okx", "api_v5_public_funding-rate_XRP-USDT-SWAP.json", ("data",)),
    ("gate", "gate", "api_v4_futures_usdt_contracts.json", ()),
    ("binanceusdm", "binance", "fapi_v1_premiumIndex_all.json", ()),
    ("binanceusdm", "binance", "docs_example_fapi_v1_premiumIndex_single_symbol.json", ()),
    ("binanceusdm", "binance", "docs_example_fapi_v1_fundingInfo.json", ()),
    ("bitget", "bitget", "docs_example_api_v2_mix_market_current-fund-rate.json", ("data",)),
]


@pytest.mark.parametrize(("venue", "folder", "name", "path"), FIXTURES)
async def test_recorded_bodies_read_as_ccxt_parses_them(
    emu: Emulator, venue: str, folder: str, name: str, path: tuple[str, ...]
):
    """Real rows, their symbols resolved by the emulator's markets where it lists them and by
    ccxt's own ``safe_symbol`` where it does not."""
    body = load_fixture(folder, name)
    rows = rows_of(RawFundingSpec("x", {}, path), body)
    rows = rows if isinstance(rows, list) else [rows]
    ccxt_venue = build_venue(venue, Settings().with_base_url(emu.url), retries=0)
    assert isinstance(ccxt_venue, CcxtVenue)
    try:
        await ccxt_venue.load_instruments()
        got = read_funding_rows(ccxt_venue.exchange, READERS[venue], rows)
        assert got is not None
        assert_same(got, ccxt_records(ccxt_venue.exchange, rows))
    finally:
        await ccxt_venue.close()


# --- odd values ------------------------------------------------------------------------------

ODD = st.one_of(
    st.none(),
    st.sampled_from(["", "0", "1", "-1", "28800", "8", "0.0001", "1e-4", " 2 ", "nan", "inf",
                     "abc", "1_000", "1704844800000", "1704816000000", "1.5", "-0"]),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.just([1]),
)  # fmt: skip
KEYS = {
    "okx": ("instId", "fundingRate", "fundingTime", "nextFundingTime"),
    "gate": ("name", "funding_rate", "mark_price", "index_price", "funding_next_apply",
             "funding_interval"),
    "binanceusdm": ("symbol", "lastFundingRate", "time", "nextFundingTime", "markPrice",
                    "indexPrice", "fundingIntervalHours"),
    "bitget": ("symbol", "fundingRate", "ts", "nextFundingTime", "nextUpdate", "ratePeriod",
               "fundingRateInterval", "markPrice", "indexPrice"),
}  # fmt: skip
IDS = {
    "okx": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"],
    "gate": ["BTC_USDT", "ETH_USDT", "FOO_BAR"],
    "binanceusdm": ["BTCUSDT", "ETHUSDT"],
    "bitget": ["BTCUSDT", "ETHUSDT"],
}


def offline(venue: str) -> Any:
    """A ccxt instance with two markets of the venue, set without a network."""
    ex = getattr(ccxt_async, spec_of(venue).ccxt_class or venue)()
    ids = IDS[venue][:2]
    markets = []
    for i, market_id in enumerate(ids):
        base = ("BTC", "ETH")[i]
        markets.append(
            {"id": market_id, "symbol": f"{base}/USDT:USDT", "base": base, "quote": "USDT",
             "settle": "USDT", "type": "swap", "swap": True, "contract": True, "linear": True,
             "spot": False}
        )  # fmt: skip
    ex.set_markets(markets)
    return ex


@pytest.mark.parametrize("venue", list(READERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_odd_rows_read_as_ccxt_parses_them_or_go_to_ccxt(venue: str, data: st.DataObject):
    ex = offline(venue)
    id_key = KEYS[venue][0]
    rows = []
    for _ in range(data.draw(st.integers(1, 3))):
        row: dict[str, Any] = {id_key: data.draw(st.sampled_from([*IDS[venue], None, 7]))}
        for key in KEYS[venue][1:]:
            if data.draw(st.booleans()):
                row[key] = data.draw(ODD)
        rows.append(row)
    if data.draw(st.integers(0, 9)) == 0:
        rows.append(data.draw(st.sampled_from([[1, 2], "row", None])))
    try:
        want = ccxt_records(ex, rows)
    except Exception:  # noqa: BLE001 - whatever ccxt raises, the reader must not accept it
        want = None
    got = read_funding_rows(ex, READERS[venue], rows)
    if got is None:
        return  # ccxt's parse reads this body (its values or its error)
    assert want is not None
    assert_same(got, want)


def test_a_body_with_a_row_that_is_not_an_object_goes_to_ccxt():
    ex = offline("okx")
    rows = [{"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001"}, ["BTC-USDT-SWAP"]]
    assert read_funding_rows(ex, okx_row, rows) is None
    assert read_funding_rows(ex, okx_row, rows[:1]) is not None


def test_only_venues_with_raw_funding_calls_have_readers():
    for venue in ccxt_venue_ids():
        quirks = spec_of(venue).quirks
        assert quirks is not None
        for raw in raw_specs(quirks):
            assert raw.reader is READERS.get(venue), venue
