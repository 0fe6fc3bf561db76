"""Optional scan data keeps what arrived: deadlines and bad symbols cost only themselves."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from scanner.domain import Instrument, Kind
from scanner.enrich import carry_spot_books, gather_until
from scanner.venues.base import MalformedResponse
from scanner.venues.bybit import BybitVenue, parse_orderbook
from scanner.venues.bybit_http import BybitHttp


async def test_gather_until_keeps_results_that_arrived_before_the_deadline() -> None:
    async def fetch(i: int) -> int:
        if i == 3:
            raise ValueError("a broken symbol")
        if i >= 5:
            await asyncio.sleep(60)  # hangs past the deadline
        return i * 10

    got = await gather_until(range(8), fetch, cap=8, timeout_s=0.5, what="test")
    assert sorted(got) == [0, 10, 20, 40]


async def test_gather_until_respects_the_concurrency_cap() -> None:
    running = 0
    peak = 0

    async def fetch(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return i

    got = await gather_until(range(20), fetch, cap=3, timeout_s=30, what="test")
    assert sorted(got) == list(range(20)) and peak == 3


def _spot(symbol: str, base: str) -> dict[str, object]:
    return {
        "symbol": symbol, "baseCoin": base, "quoteCoin": "USDT", "status": "Trading",
        "lotSizeFilter": {"basePrecision": "0.01", "minOrderQty": "0.01"},
        "priceFilter": {"tickSize": "0.0001"},
    }  # fmt: skip


def _bybit_spot_transport() -> httpx.MockTransport:
    """Bybit's wire format: the AAA spot book has a NaN level, BBB's is fine."""

    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        if request.url.path.endswith("/v5/market/instruments-info"):
            result = {
                "category": "spot",
                "list": [_spot("AAAUSDT", "AAA"), _spot("BBBUSDT", "BBB")],
            }
        elif request.url.path.endswith("/v5/market/orderbook"):
            bids = [["NaN", "1"]] if q["symbol"] == "AAAUSDT" else [["1.0", "5"]]
            result = {"s": q["symbol"], "b": bids, "a": [["1.1", "5"]], "ts": 1, "u": 1}
        else:
            return httpx.Response(404)
        body = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(handler)


async def test_one_poisoned_spot_book_costs_only_itself() -> None:
    venue = BybitVenue(BybitHttp("http://bybit.test", transport=_bybit_spot_transport(), retries=0))
    try:
        books = await carry_spot_books(
            venue, ["AAA/USDT:USDT", "BBB/USDT:USDT"], depth=5, cap=2, timeout_s=10
        )
    finally:
        await venue.close()
    assert list(books) == ["BBB/USDT"]


@pytest.mark.parametrize(
    "bids",
    [[["NaN", "1"]], [["1.0"]], [["-1", "2"]], [["inf", "1"]], ["1.0"], [["x", "1"]]],
)
def test_bybit_book_levels_that_cannot_be_real_are_malformed(bids: list[object]) -> None:
    inst = Instrument("bybit", "AUSDT", "A", "USDT", "USDT", Kind.PERPETUAL, Decimal(1))
    with pytest.raises(MalformedResponse):
        parse_orderbook({"s": "AUSDT", "b": bids, "a": [["2", "1"]], "ts": 1}, inst)
