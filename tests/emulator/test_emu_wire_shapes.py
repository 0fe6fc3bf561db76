"""Every emulated body has the field names and JSON types of the real body it imitates.

Each case pairs a recording under ../shared/data/exchange-fixtures with the emulator's answer
to the same request, compared recursively by ``structure_diff``. Where a recording is not a
REST body (a WS frame) only the REST-shaped part is compared, and documented differences are
listed next to the case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from emu_helpers import fixture, get_json, post_json, running, structure_diff

from emulator import Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running(seed=3) as e:
        yield e


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10) as c:
        yield c


GET_CASES = [
    # (recording, emulated request, part of the recording to compare)
    (
        "bybit/v5_market_instruments-info_linear.json",
        "/bybit/v5/market/instruments-info?category=linear&status=Trading&limit=1000",
        None,
    ),
    (
        "bybit/v5_market_tickers_linear_BTCUSDT.json",
        "/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT",
        None,
    ),
    (
        "bybit/v5_market_funding_history_BTCUSDT.json",
        "/bybit/v5/market/funding/history?category=linear&symbol=BTCUSDT",
        None,
    ),
    (
        "bybit/docs_example_v5_market_orderbook.json",
        "/bybit/v5/market/orderbook?category=linear&symbol=BTCUSDT",
        None,
    ),
    ("binance/fapi_v1_exchangeInfo.json", "/binanceusdm/fapi/v1/exchangeInfo", None),
    ("binance/fapi_v1_premiumIndex_all.json", "/binanceusdm/fapi/v1/premiumIndex", None),
    (
        "binance/docs_example_fapi_v1_premiumIndex_single_symbol.json",
        "/binanceusdm/fapi/v1/premiumIndex?symbol=BTCUSDT",
        None,
    ),
    (
        "binance/fapi_v1_fundingRate_BTCUSDT.json",
        "/binanceusdm/fapi/v1/fundingRate?symbol=BTCUSDT",
        None,
    ),
    ("binance/docs_example_fapi_v1_fundingInfo.json", "/binanceusdm/fapi/v1/fundingInfo", None),
    (
        "binance/fapi_v1_depth_SUSHIUSDT_limit1000.json",
        "/binanceusdm/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000",
        None,
    ),
    (
        "okx/api_v5_public_instruments_SWAP.json",
        "/okx/api/v5/public/instruments?instType=SWAP",
        None,
    ),
    (
        "okx/api_v5_public_funding-rate_XRP-USDT-SWAP.json",
        "/okx/api/v5/public/funding-rate?instId=XRP-USDT-SWAP",
        None,
    ),
    ("gate/api_v4_futures_usdt_contracts.json", "/gate/api/v4/futures/usdt/contracts", None),
    (
        "gate/api_v4_futures_usdt_funding_rate_BTC_USDT.json",
        "/gate/api/v4/futures/usdt/funding_rate?contract=BTC_USDT",
        None,
    ),
    (
        "gate/api_v4_futures_usdt_order_book_RDNT_USDT.json",
        "/gate/api/v4/futures/usdt/order_book?contract=RDNT_USDT&limit=100&with_id=true",
        None,
    ),
    (
        "gate/api_v4_futures_usdt_tickers_BTC_USDT.json",
        "/gate/api/v4/futures/usdt/tickers?contract=BTC_USDT",
        None,
    ),
    (
        "bitget/docs_example_api_v2_mix_market_contracts.json",
        "/bitget/api/v2/mix/market/contracts?productType=USDT-FUTURES",
        None,
    ),
    (
        "bitget/docs_example_api_v2_mix_market_current-fund-rate.json",
        "/bitget/api/v2/mix/market/current-fund-rate?symbol=BTCUSDT&productType=USDT-FUTURES",
        None,
    ),
    (
        "bitget/docs_example_api_v2_mix_market_funding-time.json",
        "/bitget/api/v2/mix/market/funding-time?symbol=BTCUSDT&productType=USDT-FUTURES",
        None,
    ),
    (
        "bitget/docs_example_api_v2_mix_market_history-fund-rate.json",
        "/bitget/api/v2/mix/market/history-fund-rate?symbol=BTCUSDT&productType=USDT-FUTURES",
        None,
    ),
    (
        "bitget/docs_example_api_v2_mix_market_ticker.json",
        "/bitget/api/v2/mix/market/ticker?symbol=BTCUSDT&productType=USDT-FUTURES",
        None,
    ),
]


@pytest.mark.parametrize("recording,path,_", GET_CASES, ids=[c[0] for c in GET_CASES])
def test_get_bodies_have_the_recorded_structure(
    client: httpx.Client, recording: str, path: str, _: None
) -> None:
    assert structure_diff(fixture(recording), get_json(client, path)) == []


def test_binance_funding_info_is_not_empty(client: httpx.Client) -> None:
    """Otherwise the structural comparison above would compare nothing."""
    rows = get_json(client, "/binanceusdm/fapi/v1/fundingInfo")
    assert rows and all(r["fundingIntervalHours"] != 8 for r in rows)


def test_bybit_ticker_fields_match_the_ws_snapshot_fields(client: httpx.Client) -> None:
    """The WS tickers snapshot carries REST ticker fields too; every one of them is served
    (WS-only fields such as ``tickDirection`` are not part of the REST body)."""
    ws = fixture("bybit/ws_v5_public_linear_tickers_snapshot_BTCUSDT.json")["data"]
    row = get_json(client, "/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT")["result"][
        "list"
    ][0]
    rest = fixture("bybit/v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    shared = set(ws) & set(rest)
    assert shared and shared <= set(row)


def test_okx_books_match_the_ws_snapshot_levels(client: httpx.Client) -> None:
    """REST books data[0] is {asks, bids, ts}; the WS snapshot adds ``checksum``."""
    ws = fixture("okx/ws_v5_public_books_snapshot_UNI-USD-SWAP.json")["data"][0]
    del ws["checksum"]
    body = get_json(client, "/okx/api/v5/market/books?instId=UNI-USD-SWAP&sz=50")
    assert body["code"] == "0" and body["msg"] == ""
    assert structure_diff(ws, body["data"][0]) == []


POST_CASES = [
    ("hyperliquid/info_meta.json", {"type": "meta"}),
    ("hyperliquid/info_l2Book_DYDX.json", {"type": "l2Book", "coin": "DYDX"}),
    ("hyperliquid/info_allMids.json", {"type": "allMids"}),
]


@pytest.mark.parametrize("recording,body", POST_CASES, ids=[c[0] for c in POST_CASES])
def test_hyperliquid_bodies_have_the_recorded_structure(
    client: httpx.Client, recording: str, body: dict[str, Any]
) -> None:
    assert structure_diff(fixture(recording), post_json(client, "/hyperliquid/info", body)) == []


def test_hyperliquid_funding_history_structure(client: httpx.Client, emu: Emulator) -> None:
    body = {"type": "fundingHistory", "coin": "BTC", "startTime": emu.market.history_start_ms}
    got = post_json(client, "/hyperliquid/info", body)
    assert len(got) >= 24
    assert structure_diff(fixture("hyperliquid/info_fundingHistory_BTC.json"), got) == []


def test_hyperliquid_asset_ctxs_match_the_ws_ctxs(client: httpx.Client) -> None:
    """metaAndAssetCtxs = [meta, ctxs]; the ctx objects are those of the WS capture."""
    meta, ctxs = post_json(client, "/hyperliquid/info", {"type": "metaAndAssetCtxs"})
    ws_ctxs = fixture("hyperliquid/ws_allDexsAssetCtxs.json")["data"]["ctxs"][0][1]
    assert structure_diff(fixture("hyperliquid/info_meta.json"), meta) == []
    assert len(ctxs) == len(meta["universe"])
    assert structure_diff(ws_ctxs, ctxs) == []


def test_structure_diff_reports_names_and_types() -> None:
    """The helper itself: it must catch a renamed key, a changed type and a nested change."""
    real = {"a": "1", "b": [{"c": 1, "d": None}], "e": {"f": True}}
    assert structure_diff(real, real) == []
    diffs = structure_diff(real, {"a": 1, "b": [{"c": 1, "x": None}], "e": {"f": "yes"}})
    assert any("$.a: real string" in d for d in diffs)
    assert any("$.b[0]: missing keys ['d']" in d for d in diffs)
    assert any("$.b[0]: extra keys ['x']" in d for d in diffs)
    assert any("$.e.f: real bool" in d for d in diffs)
