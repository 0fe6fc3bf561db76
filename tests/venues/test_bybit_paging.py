"""Bybit pagination over httpx.MockTransport: instruments by cursor, funding history backwards
by ``endTime = oldest - 1``. The fake server implements the documented paging rules."""

from __future__ import annotations

import httpx
from venue_fixtures import load_fixture

from scanner.venues.bybit import BybitVenue
from scanner.venues.bybit_http import BybitHttp

ROWS = load_fixture("bybit", "v5_market_instruments-info_linear.json")["result"]["list"]
H8 = 8 * 3_600_000


def envelope(result: dict) -> httpx.Response:
    return httpx.Response(200, json={"retCode": 0, "retMsg": "OK", "result": result, "time": 1})


def venue_over(handler) -> BybitVenue:
    return BybitVenue(BybitHttp("http://venue.test/bybit", transport=httpx.MockTransport(handler)))


async def test_instruments_follow_the_cursor_until_empty():
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        seen.append(q)
        start = int(q.get("cursor") or 0)
        page = ROWS[start : start + 300]  # this server pages at 300 whatever limit says
        nxt = str(start + 300) if start + 300 < len(ROWS) else ""
        return envelope({"category": "linear", "list": page, "nextPageCursor": nxt})

    venue = venue_over(handler)
    got = await venue.load_instruments()
    await venue.close()
    assert [i.venue_symbol for i in got] == [r["symbol"] for r in ROWS]
    assert [q.get("cursor") for q in seen] == [None, "300", "600"]
    assert all(q["limit"] == "1000" and q["category"] == "linear" for q in seen)


async def test_history_pages_backwards_with_end_time_oldest_minus_one():
    btc = next(r for r in ROWS if r["symbol"] == "BTCUSDT")
    times = [1_700_000_000_000 // H8 * H8 + i * H8 for i in range(450)]
    ends: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("instruments-info"):
            return envelope({"list": [btc], "nextPageCursor": ""})
        q = dict(request.url.params)
        end, limit = int(q["endTime"]), int(q["limit"])
        ends.append(end)
        page = [t for t in times if t <= end][-limit:][::-1]  # newest first, as Bybit sends
        rows = [
            {"symbol": "BTCUSDT", "fundingRate": f"{t % 7}e-5", "fundingRateTimestamp": str(t)}
            for t in page
        ]
        return envelope({"category": "linear", "list": rows})

    venue = venue_over(handler)
    (inst,) = await venue.load_instruments()
    got = await venue.fetch_history(inst, times[10], times[-1])
    await venue.close()
    assert [s.funding_time_ms for s in got] == times[10:]
    assert ends[0] == times[-1]
    assert ends[1] == times[-200] - 1 and ends[2] == times[-400] - 1
    assert len(ends) == 3
    assert all(s.interval_h == 8.0 for s in got)
