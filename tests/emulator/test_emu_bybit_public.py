"""Bybit V5 public endpoints follow the documented rules (exchange-api-facts.md, A.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from emu_helpers import HOUR_MS, START_MS, fixture, running

from emulator import Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running(seed=6) as e:
        yield e


@pytest.fixture(scope="module")
def c(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{emu.url}/bybit") as client:
        yield client


def ok(c: httpx.Client, path: str) -> Any:
    body = c.get(path).json()
    assert body["retCode"] == 0, body
    assert body["retMsg"] == "OK"
    return body["result"]


def err(c: httpx.Client, path: str) -> str:
    r = c.get(path)
    assert r.status_code == 200  # Bybit reports business errors with HTTP 200
    body = r.json()
    assert body["retCode"] == 10001, body
    return str(body["retMsg"])


def test_server_time(c: httpx.Client) -> None:
    result = ok(c, "/v5/market/time")
    assert result["timeSecond"] == str(START_MS // 1000)
    assert int(result["timeNano"]) // 1_000_000 == START_MS


def test_instruments_paginate_with_default_500(c: httpx.Client) -> None:
    first = ok(c, "/v5/market/instruments-info?category=linear")
    assert len(first["list"]) == 500 and first["nextPageCursor"]
    second = ok(c, f"/v5/market/instruments-info?category=linear&cursor={first['nextPageCursor']}")
    assert len(second["list"]) == 300 and second["nextPageCursor"] == ""
    symbols = [r["symbol"] for r in first["list"] + second["list"]]
    recorded = fixture("bybit/v5_market_instruments-info_linear.json")["result"]["list"]
    assert symbols == [r["symbol"] for r in recorded]


def test_instruments_limit_status_and_category(c: httpx.Client) -> None:
    assert len(ok(c, "/v5/market/instruments-info?category=linear&limit=1000")["list"]) == 800
    assert ok(c, "/v5/market/instruments-info?category=linear&status=PreLaunch")["list"] == []
    one = ok(c, "/v5/market/instruments-info?category=linear&symbol=ETHUSDT")["list"]
    assert [r["symbol"] for r in one] == ["ETHUSDT"]
    assert "limit" in err(c, "/v5/market/instruments-info?category=linear&limit=1001")
    assert "limit" in err(c, "/v5/market/instruments-info?category=linear&limit=0")
    assert "category" in err(c, "/v5/market/instruments-info")
    spot = ok(c, "/v5/market/instruments-info?category=spot")
    btc = next(r for r in spot["list"] if r["symbol"] == "BTCUSDT")
    assert (btc["baseCoin"], btc["quoteCoin"], btc["status"]) == ("BTC", "USDT", "Trading")
    assert "nextPageCursor" not in spot  # spot ignores limit/cursor


def test_linear_tickers_include_dated_futures_with_empty_funding(c: httpx.Client) -> None:
    rows = ok(c, "/v5/market/tickers?category=linear")["list"]
    assert len(rows) == 800
    instruments = {
        r["symbol"]: r
        for r in fixture("bybit/v5_market_instruments-info_linear.json")["result"]["list"]
    }
    for row in rows:
        inst = instruments[row["symbol"]]
        if inst["contractType"] == "LinearFutures":
            assert row["fundingRate"] == "" and row["nextFundingTime"] == ""
        else:
            assert row["fundingRate"] != ""
            assert int(row["fundingIntervalHour"]) * 60 == inst["fundingInterval"]
            assert int(row["nextFundingTime"]) % (int(row["fundingIntervalHour"]) * HOUR_MS) == 0
            assert row["fundingCap"] == inst["upperFundingRate"]
            assert float(row["bid1Price"]) < float(row["ask1Price"])


def test_spot_and_single_tickers(c: httpx.Client) -> None:
    spot = ok(c, "/v5/market/tickers?category=spot&symbol=BTCUSDT")["list"]
    assert spot[0]["symbol"] == "BTCUSDT" and "fundingRate" not in spot[0]
    assert "symbol" in err(c, "/v5/market/tickers?category=linear&symbol=NOPEUSDT")


def test_funding_history_rules(c: httpx.Client) -> None:
    base = "/v5/market/funding/history?category=linear&symbol=BTCUSDT"
    assert "endTime" in err(c, f"{base}&startTime={START_MS - 86_400_000}")
    assert "symbol" in err(c, "/v5/market/funding/history?category=linear")
    assert "limit" in err(c, f"{base}&limit=201")
    assert "limit" in err(c, f"{base}&limit=0")
    rows = ok(c, base)["list"]
    times = [int(r["fundingRateTimestamp"]) for r in rows]
    assert times == sorted(times, reverse=True) and len(times) == 9  # 3 days of 8 h
    assert len(ok(c, f"{base}&limit=2")["list"]) == 2
    end = times[2]
    ending = ok(c, f"{base}&endTime={end}")["list"]
    assert [int(r["fundingRateTimestamp"]) for r in ending] == times[2:]
    window = ok(c, f"{base}&startTime={times[4]}&endTime={times[1]}")["list"]
    assert [int(r["fundingRateTimestamp"]) for r in window] == times[1:5]


def test_orderbook_limits_per_category(c: httpx.Client) -> None:
    linear = ok(c, "/v5/market/orderbook?category=linear&symbol=BTCUSDT")
    assert len(linear["b"]) == 25 and len(linear["a"]) == 25
    bids = [float(p) for p, _ in linear["b"]]
    asks = [float(p) for p, _ in linear["a"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert len(ok(c, "/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1000")["b"]) == 1000
    assert "limit" in err(c, "/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1001")
    spot = ok(c, "/v5/market/orderbook?category=spot&symbol=BTCUSDT")
    assert len(spot["b"]) == 1 and len(spot["a"]) == 1


def test_orderbook_matches_the_market_view(c: httpx.Client, emu: Emulator) -> None:
    book = ok(c, "/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=5")
    bids, asks = emu.market.book("bybit", "ETHUSDT", 5)
    assert [float(p) for p, _ in book["b"]] == pytest.approx([p for p, _ in bids])
    assert [float(q) for _, q in book["a"]] == pytest.approx([q for _, q in asks])
