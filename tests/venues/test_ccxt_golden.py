"""Golden parsing for the ccxt venues: real recorded payloads through ccxt's own
``parse_funding_rate`` (no network, no mocks), then through our conversion and quirk table."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from venue_fixtures import load_fixture

from scanner.venues.ccxt_venue import _interval_h, quote_from_unified
from scanner.venues.specs import spec_of

NOW = 1_800_000_000_000


@pytest.fixture
async def exchange(request):
    ex = getattr(ccxt_async, request.param)()
    yield ex
    await ex.close()


@pytest.mark.parametrize("exchange", ["binanceusdm"], indirect=True)
def test_binance_premium_index_intervals_default_to_8h_unless_adjusted(exchange):
    instruments = {
        r["symbol"]: spec_of("binanceusdm").parse_row(r)
        for r in load_fixture("binance", "fapi_v1_exchangeInfo.json")["symbols"]
    }
    rows = load_fixture("binance", "fapi_v1_premiumIndex_all.json")
    info = load_fixture("binance", "docs_example_fapi_v1_fundingInfo.json")
    # the docs example says BLZUSDT is 8 h; make it 4 h to see the adjusted value win
    info = [{**info[0], "fundingIntervalHours": 4}]
    adjusted = {
        s: h for s, fr in exchange.parse_funding_rates(info).items() if (h := _interval_h(fr))
    }
    assert adjusted == {"BLZUSDT": 4.0}
    quotes = {}
    for row in rows:
        inst = instruments.get(row["symbol"])
        if inst is None:
            continue
        fr = exchange.parse_funding_rate(row, None)
        quote = quote_from_unified(spec_of("binanceusdm").quirks, inst, fr, adjusted, NOW)
        if quote is not None:
            quotes[row["symbol"]] = (quote, row)
    assert len(quotes) > 50
    for symbol, (quote, row) in quotes.items():
        assert quote.interval_h == (4.0 if symbol == "BLZUSDT" else 8.0)
        assert quote.rate_per_interval == float(Decimal(row["lastFundingRate"]))
        assert quote.next_funding_ms == row["nextFundingTime"]
        assert quote.ts_ms == row["time"] and quote.raw == row


@pytest.mark.parametrize("exchange", ["binanceusdm"], indirect=True)
def test_binance_delivery_contract_in_premium_index_is_not_a_quote(exchange):
    rows = load_fixture("binance", "fapi_v1_premiumIndex_all.json")
    dated_rows = [r for r in rows if "_" in r["symbol"]]
    assert dated_rows and all(r["nextFundingTime"] == 0 for r in dated_rows)
    info = load_fixture("binance", "fapi_v1_exchangeInfo.json")["symbols"]
    dated = [spec_of("binanceusdm").parse_row(r) for r in info if "_" in r["symbol"]]
    assert dated and all(not i.is_perpetual for i in dated)
    fr = exchange.parse_funding_rate(dated_rows[0], None)
    assert quote_from_unified(spec_of("binanceusdm").quirks, dated[0], fr, {}, NOW) is None


@pytest.mark.parametrize("exchange", ["okx"], indirect=True)
def test_okx_interval_from_the_gap_between_funding_times(exchange):
    body = load_fixture("okx", "api_v5_public_funding-rate_XRP-USDT-SWAP.json")
    row = body["data"][0]
    inst = next(
        spec_of("okx").parse_row(r)
        for r in load_fixture("okx", "api_v5_public_instruments_SWAP.json")["data"]
        if r["instId"] == "XRP-USDT-SWAP"
    )
    assert inst.funding_interval_h is None  # instruments do not say; only the gap does
    quote = quote_from_unified(
        spec_of("okx").quirks, inst, exchange.parse_funding_rate(row, None), {}, NOW
    )
    assert quote is not None
    assert quote.interval_h == (int(row["nextFundingTime"]) - int(row["fundingTime"])) / 3.6e6
    assert quote.interval_h == 8.0
    assert quote.next_funding_ms == int(row["fundingTime"])  # fundingTime is the coming one
    assert quote.rate_per_interval == float(Decimal(row["fundingRate"]))
    assert quote.canonical == "XRP/USDT:USDT" and quote.raw == row


@pytest.mark.parametrize("exchange", ["gate"], indirect=True)
def test_gate_contracts_seconds_become_hours_and_ms(exchange):
    contracts = load_fixture("gate", "api_v4_futures_usdt_contracts.json")
    n = 0
    for row in contracts:
        inst = dataclasses.replace(spec_of("gate").parse_row(row), funding_interval_h=None)
        fr = exchange.parse_funding_rate(row, None)
        quote = quote_from_unified(spec_of("gate").quirks, inst, fr, {}, NOW)
        if row.get("in_delisting"):
            continue
        assert quote is not None
        assert quote.interval_h == row["funding_interval"] / 3600
        assert quote.next_funding_ms == row["funding_next_apply"] * 1000
        assert quote.rate_per_interval == float(Decimal(row["funding_rate"]))
        n += 1
    assert n > 200


@pytest.mark.parametrize("exchange", ["bitget"], indirect=True)
def test_bitget_current_fund_rate_has_interval_hours_and_next_update(exchange):
    row = load_fixture("bitget", "docs_example_api_v2_mix_market_current-fund-rate.json")["data"][0]
    contract = load_fixture("bitget", "docs_example_api_v2_mix_market_contracts.json")["data"][0]
    inst = dataclasses.replace(spec_of("bitget").parse_row(contract), funding_interval_h=None)
    fr = exchange.parse_funding_rate(row, None)
    quote = quote_from_unified(spec_of("bitget").quirks, inst, fr, {}, NOW)
    assert quote is not None
    assert quote.interval_h == float(row["fundingRateInterval"])
    assert quote.next_funding_ms == int(row["nextUpdate"])
    assert quote.rate_per_interval == float(Decimal(row["fundingRate"]))


@pytest.mark.parametrize("exchange", ["hyperliquid"], indirect=True)
def test_hyperliquid_is_hourly_with_oracle_as_index(exchange):
    meta = load_fixture("hyperliquid", "info_meta.json")["universe"]
    ctxs = load_fixture("hyperliquid", "ws_allDexsAssetCtxs.json")["data"]["ctxs"][0][1]
    # BTC and ETH are assets 0 and 1 in both the 2023 meta and the 2026 main-dex contexts
    for index in (0, 1):
        inst = spec_of("hyperliquid").parse_row(meta[index], index)
        merged = {**meta[index], **ctxs[index]}  # what ccxt's fetch_funding_rates builds
        quote = quote_from_unified(
            spec_of("hyperliquid").quirks, inst, exchange.parse_funding_rate(merged, None), {}, NOW
        )
        assert quote is not None
        assert quote.interval_h == 1.0
        assert quote.rate_per_interval == float(Decimal(ctxs[index]["funding"]))
        assert quote.index_price == float(ctxs[index]["oraclePx"])
        assert quote.next_funding_ms is not None and quote.next_funding_ms % 3_600_000 == 0
