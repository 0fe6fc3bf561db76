"""Unmodified async ccxt against the emulator, for all six venues.

What must hold: load_markets, fetch_funding_rates, fetch_order_book and
fetch_funding_rate_history succeed; each venue lists exactly as many perpetuals as its real
recorded instrument list; what ccxt parses (rates, intervals, next funding times, books,
history) equals the emulator's own state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from emu_helpers import HOUR_MS, fixture, running

from emulator import Emulator
from scanner.venues.ccxt_factory import make_exchange

VENUES = ("bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid")
"""The six venues whose real recordings the emulator serves (written out: the counts below are
read from those recordings, independently of the scanner's venue registry)."""
BTC = {v: "BTC/USDT:USDT" for v in VENUES} | {"hyperliquid": "BTC/USDC:USDC"}
# ccxt's client-side throttle only slows a local test down (~0.5 s per Hyperliquid call)
FAST = {"enableRateLimit": False}


def recorded_perpetual_count(venue: str) -> int:
    """Counted from the shared originals, independently of the emulator's loaders."""
    if venue == "bybit":
        rows = fixture("bybit/v5_market_instruments-info_linear.json")["result"]["list"]
        return sum(r["contractType"] == "LinearPerpetual" for r in rows)
    if venue == "binanceusdm":
        rows = fixture("binance/fapi_v1_exchangeInfo.json")["symbols"]
        # ccxt's rule: PERPETUAL, or no contract type with the 2100-12-25 delivery date
        return sum(
            r["contractType"] == "PERPETUAL" or r["deliveryDate"] == 4133404800000 for r in rows
        )
    if venue == "okx":
        rows = fixture("okx/api_v5_public_instruments_SWAP.json")["data"]
        return sum(r["instType"] == "SWAP" for r in rows)
    if venue == "gate":
        return len(fixture("gate/api_v4_futures_usdt_contracts.json"))
    if venue == "bitget":
        return len(fixture("bitget/api_mix_v1_market_contracts_umcbl.json")["data"])
    return len(fixture("hyperliquid/info_meta.json")["universe"])


def venue_id(market: dict[str, Any]) -> str:
    """The venue's own symbol (Hyperliquid's ccxt id is the asset index; the name is in info)."""
    return str(market["info"]["name"]) if market["id"].isdigit() else str(market["id"])


def test_recorded_counts_are_what_the_fixtures_say() -> None:
    counts = {v: recorded_perpetual_count(v) for v in VENUES}
    assert counts == {
        "bybit": 760,
        "binanceusdm": 120,
        "okx": 166,
        "gate": 302,
        "bitget": 51,
        "hyperliquid": 28,
    }


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running(seed=11) as e:
        yield e


async def _with_exchange(emu: Emulator, venue: str, fn: Any) -> Any:
    ex = make_exchange(venue, emu.venue_url(venue), FAST)
    try:
        await ex.load_markets()
        return await fn(ex)
    finally:
        await ex.close()


@pytest.mark.parametrize("venue", VENUES)
async def test_load_markets_lists_every_recorded_perpetual(emu: Emulator, venue: str) -> None:
    async def run(ex: Any) -> list[str]:
        return [venue_id(m) for m in ex.markets.values() if m["swap"]]

    swaps = await _with_exchange(emu, venue, run)
    assert len(swaps) == recorded_perpetual_count(venue)
    assert sorted(swaps) == sorted(emu.market.perpetual_symbols(venue))


async def _rates(ex: Any, venue: str) -> dict[str, Any]:
    if venue == "bitget":  # the default (tickers) carries no interval or next time
        return dict(
            await ex.fetch_funding_rates(
                params={"method": "publicMixGetV2MixMarketCurrentFundRate"}
            )
        )
    return dict(await ex.fetch_funding_rates())


@pytest.mark.parametrize("venue", VENUES)
async def test_funding_rates_equal_the_model(emu: Emulator, venue: str) -> None:
    async def run(ex: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        rates = await _rates(ex, venue)
        intervals = await ex.fetch_funding_intervals() if venue == "binanceusdm" else {}
        return rates, intervals, ex.markets

    rates, intervals, markets = await _with_exchange(emu, venue, run)
    perps = set(emu.market.perpetual_symbols(venue))
    seen = 0
    for symbol, fr in rates.items():
        market_id = venue_id(markets[symbol])
        if market_id not in perps:
            continue
        seen += 1
        assert fr["fundingRate"] == pytest.approx(
            emu.market.funding_rate(venue, market_id), abs=1e-8
        ), symbol
        want_h = emu.market.interval_h(venue, market_id)
        interval = fr["interval"] or (intervals.get(symbol) or {}).get("interval") or "8h"
        assert interval == f"{want_h}h", symbol
        if venue != "hyperliquid":  # ccxt computes Hyperliquid's next hour from its own clock
            assert fr["fundingTimestamp"] == emu.market.next_funding_ms(venue, market_id), symbol
    assert seen == len(perps)


@pytest.mark.parametrize("venue", VENUES)
async def test_order_book_equals_the_model(emu: Emulator, venue: str) -> None:
    async def run(ex: Any) -> tuple[dict[str, Any], str]:
        return await ex.fetch_order_book(BTC[venue], 20 if venue != "okx" else 20), venue_id(
            ex.market(BTC[venue])
        )

    book, market_id = await _with_exchange(emu, venue, run)
    bids, asks = emu.market.book(venue, market_id, 20)
    assert len(book["bids"]) >= 5 and len(book["asks"]) >= 5
    for got, want in ((book["bids"], bids), (book["asks"], asks)):
        for (gp, gq, *_), (wp, wq) in zip(got, want, strict=False):
            assert gp == pytest.approx(wp, rel=1e-9)
            assert gq == pytest.approx(wq, rel=1e-6)
    assert book["bids"][0][0] < book["asks"][0][0]


@pytest.mark.parametrize("venue", VENUES)
async def test_funding_history_equals_the_model(emu: Emulator, venue: str) -> None:
    since = emu.market.history_start_ms

    async def run(ex: Any) -> tuple[list[dict[str, Any]], str]:
        rows = await ex.fetch_funding_rate_history(BTC[venue], since=since)
        return rows, venue_id(ex.market(BTC[venue]))

    rows, market_id = await _with_exchange(emu, venue, run)
    settled = dict(emu.market.history(venue, market_id))
    assert len(rows) >= 3
    for row in rows:
        # venues add a few ms (Binance, Hyperliquid) or seconds (Gate) of jitter to the time
        t = row["timestamp"] // HOUR_MS * HOUR_MS
        assert t in settled, row
        assert row["fundingRate"] == pytest.approx(settled[t], abs=1e-8)
    times = [r["timestamp"] for r in rows]
    assert times == sorted(times)


async def test_hyperliquid_next_funding_is_the_next_hour(emu: Emulator) -> None:
    now = emu.clock.now_ms()
    assert emu.market.next_funding_ms("hyperliquid", "BTC") == (now // HOUR_MS + 1) * HOUR_MS


async def test_single_symbol_funding_rate_where_ccxt_has_it(emu: Emulator) -> None:
    for venue in ("okx", "gate", "bitget", "hyperliquid", "binanceusdm"):

        async def run(ex: Any, v: str = venue) -> tuple[dict[str, Any], str]:
            return await ex.fetch_funding_rate(BTC[v]), venue_id(ex.market(BTC[v]))

        fr, market_id = await _with_exchange(emu, venue, run)
        assert fr["fundingRate"] == pytest.approx(
            emu.market.funding_rate(venue, market_id), abs=1e-8
        ), venue


@pytest.mark.parametrize("venue", VENUES)
async def test_funding_intervals_where_ccxt_has_them(emu: Emulator, venue: str) -> None:
    async def run(ex: Any) -> tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any]]:
        one: dict[str, Any] | None = {}
        if ex.has["fetchFundingInterval"]:
            try:
                one = await ex.fetch_funding_interval(BTC[venue])
            except ccxt_async.NullResponse:  # Binance: fundingInfo lists adjusted symbols only
                one = None
        many = await ex.fetch_funding_intervals() if ex.has["fetchFundingIntervals"] else {}
        return one, many, ex.markets

    one, many, markets = await _with_exchange(emu, venue, run)
    if one is None:
        assert venue == "binanceusdm"
        assert emu.market.interval_h(venue, "BTCUSDT") == 8
    elif one:
        market_id = venue_id(markets[BTC[venue]])
        assert one["interval"] == f"{emu.market.interval_h(venue, market_id)}h"
    for symbol, fr in many.items():
        assert fr["interval"] == f"{emu.market.interval_h(venue, venue_id(markets[symbol]))}h"
    if venue in ("okx", "bitget", "binanceusdm"):
        assert one or many  # these venues do have the call in ccxt 4.5.90
    if venue == "binanceusdm":
        assert {venue_id(markets[s]) for s in many} == {
            x for x in emu.market.perpetual_symbols(venue) if emu.market.interval_h(venue, x) != 8
        }


@pytest.mark.parametrize("venue", VENUES)
async def test_default_market_types_load_too(emu: Emulator, venue: str) -> None:
    """Without the factory's narrowing ccxt also asks for spot/inverse/option/delivery lists;
    the emulator answers those (empty where nothing is emulated)."""
    from scanner.venues.ccxt_factory import _urls
    from scanner.venues.specs import spec_of

    urls = _urls(spec_of(venue).url_keys, emu.venue_url(venue))
    ex = getattr(ccxt_async, venue)({"urls": {"api": urls}, "enableRateLimit": False})
    try:
        markets = await ex.load_markets()
    finally:
        await ex.close()
    assert sum(m["swap"] for m in markets.values()) == recorded_perpetual_count(venue)
