"""Binance USD-M public endpoints: exchangeInfo, premiumIndex, fundingRate, fundingInfo, depth,
ticker/24hr, ticker/bookTicker.

Shapes follow the real recordings: ``premiumIndex`` is an array without ``symbol`` and an object
with it, times are int ms, rates/prices strings with 8 decimals; ``fundingRate`` history is
oldest first with a few ms of jitter on ``fundingTime``; ``fundingInfo`` lists only symbols
whose interval differs from the 8 h default (as the real endpoint lists only adjusted symbols).
``ticker/24hr`` follows Binance's USD-M docs example (no recording exists): prices and volumes
are strings, ``openTime``/``closeTime``/``firstId``/``lastId``/``count`` JSON integers;
``volume`` is base units, ``quoteVolume`` USDT notional (the market model's 24 h volume).
``ticker/bookTicker`` follows the USD-M docs ("Symbol Order Book Ticker"): ``lastUpdateId``,
``symbol``, ``bidPrice``, ``bidQty``, ``askPrice``, ``askQty`` (strings), ``time`` (int ms); an
object with ``symbol``, an array of every symbol without; the model's best level of the book.
Errors: HTTP 400 with ``{"code": -1121, "msg": "Invalid symbol."}``.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from emulator.model import MarketModel
from emulator.universe import Listing, load_json
from emulator.wire import RowCache, fmt, fmt_levels, int_param, json_response, volume_str

VENUE = "binanceusdm"
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return json_response({"code": code, "msg": msg}, status=status)


class BinancePublic:
    def __init__(self, model: MarketModel, venue: str = VENUE) -> None:
        self.model = model
        self.venue = venue
        self.info = load_json("binance_fapi_v1_exchangeInfo.json")
        self.by_symbol = {x.symbol: x for x in model.venue_listings(self.venue)}
        self._premium_rows = RowCache()
        # the listings' rows: as recorded, except stale 2021 ticks (universe.retick)
        self.info["symbols"] = [x.raw for x in self.by_symbol.values()]

    def register(self, app: web.Application, prefix: str) -> None:
        app.router.add_get(prefix + "/fapi/v1/time", self.time)
        app.router.add_get(prefix + "/fapi/v1/ping", self.ping)
        app.router.add_get(prefix + "/fapi/v1/exchangeInfo", self.exchange_info)
        app.router.add_get(prefix + "/fapi/v1/premiumIndex", self.premium_index)
        app.router.add_get(prefix + "/fapi/v1/fundingRate", self.funding_rate)
        app.router.add_get(prefix + "/fapi/v1/fundingInfo", self.funding_info)
        app.router.add_get(prefix + "/fapi/v1/depth", self.depth)
        app.router.add_get(prefix + "/fapi/v1/ticker/24hr", self.ticker_24hr)
        app.router.add_get(prefix + "/fapi/v1/ticker/bookTicker", self.book_ticker)

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.model.clock.now_ms()})

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def exchange_info(self, request: web.Request) -> web.Response:
        body = copy.copy(self.info)
        body["serverTime"] = self.model.clock.now_ms()
        return json_response(body)

    def _premium_row(self, x: Listing, now: int) -> dict[str, Any]:
        i = self.model.index_of(self.venue, x.symbol)
        mark = float(self.model.mark_prices(now)[i])
        index = float(self.model.index_prices(now)[i])
        rate = float(self.model.funding_rates(now)[i]) if x.perpetual else 0.0
        nxt = self.model.next_funding_ms(self.venue, x.symbol, now) if x.perpetual else 0
        row = self._premium_rows.get(
            (i, mark, index, rate, nxt), lambda: self._new_premium_row(x, mark, index, rate, nxt)
        )
        row["time"] = now
        return row

    def _new_premium_row(
        self, x: Listing, mark: float, index: float, rate: float, nxt: int
    ) -> dict[str, Any]:
        return {
            "symbol": x.symbol,
            "markPrice": fmt(mark, places=8),
            "indexPrice": fmt(index, places=8),
            "estimatedSettlePrice": fmt(index, places=8),
            "lastFundingRate": fmt(rate, places=8),
            "interestRate": "0.00010000" if x.perpetual else "0.00000000",
            "nextFundingTime": nxt,
            "time": 0,
        }

    async def premium_index(self, request: web.Request) -> web.Response:
        now = self.model.clock.now_ms()
        symbol = request.query.get("symbol")
        if symbol:
            x = self.by_symbol.get(symbol)
            if x is None:
                return _error(-1121, "Invalid symbol.")
            return json_response(self._premium_row(x, now))
        return json_response([self._premium_row(x, now) for x in self.by_symbol.values()])

    async def funding_rate(self, request: web.Request) -> web.Response:
        q = request.query
        now = self.model.clock.now_ms()
        try:
            limit = int_param(q, "limit", 100) or 100
            start = int_param(q, "startTime")
            end = int_param(q, "endTime")
        except ValueError:
            return _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        symbols = [q["symbol"]] if q.get("symbol") else list(self.by_symbol)
        rows: list[dict[str, Any]] = []
        for symbol in symbols:
            x = self.by_symbol.get(symbol)
            if x is None:
                return _error(-1121, "Invalid symbol.")
            rows += self._history_rows(x, now)
        rows = [r for r in rows if (start is None or r["fundingTime"] >= start)]
        rows = [r for r in rows if (end is None or r["fundingTime"] <= end)]
        rows.sort(key=lambda r: r["fundingTime"])
        rows = rows[:limit] if start is not None else rows[-limit:]
        return json_response(rows)

    def _history_rows(self, x: Listing, now: int) -> list[dict[str, Any]]:
        mark = self.model.mark_price(self.venue, x.symbol, now)
        return [
            {
                "symbol": x.symbol,
                "fundingTime": t + (t // 3_600_000) % 10,  # real rows carry a few ms of jitter
                "fundingRate": fmt(r, places=8),
                "markPrice": fmt(mark, places=8),
                "rateType": "Regular",
            }
            for t, r in self.model.history(self.venue, x.symbol, now)
        ]

    async def funding_info(self, request: web.Request) -> web.Response:
        rows = [
            {
                "symbol": x.symbol,
                "adjustedFundingRateCap": fmt(x.cap, places=8),
                "adjustedFundingRateFloor": fmt(x.floor, places=8),
                "fundingIntervalHours": x.interval_h,
                "disclaimer": False,
            }
            for x in self.by_symbol.values()
            if x.perpetual and x.interval_h != 8
        ]
        return json_response(rows)

    async def depth(self, request: web.Request) -> web.Response:
        q = request.query
        x = self.by_symbol.get(q.get("symbol", ""))
        if x is None:
            return _error(-1121, "Invalid symbol.")
        try:
            limit = int_param(q, "limit", 500) or 500
        except ValueError:
            return _error(-1100, "Illegal characters found in parameter 'limit'.")
        if limit not in DEPTH_LIMITS:
            return _error(-1130, "Data sent for parameter 'limit' is not valid.")
        now = self.model.clock.now_ms()
        bids, asks = self.model.book(self.venue, x.symbol, limit)
        return json_response(
            {
                "lastUpdateId": now,
                "E": now,
                "T": now - 2,
                "bids": fmt_levels(bids, x.tick, x.lot),
                "asks": fmt_levels(asks, x.tick, x.lot),
            }
        )

    def _ticker_row(self, x: Listing, now: int) -> dict[str, Any]:
        i = self.model.index_of(self.venue, x.symbol)
        last = float(fmt(float(self.model.mark_prices(now)[i]), x.tick))
        quote_volume = self.model.volume_24h_usd(self.venue, x.symbol)
        trades = max(1, int(quote_volume / 2_000))  # ~2 000 USD per trade
        first_id = (now // 1000) % 1_000_000_000
        p = lambda v: fmt(v, x.tick)  # noqa: E731
        return {
            "symbol": x.symbol,
            "priceChange": p(0.0),
            "priceChangePercent": "0.000",
            "weightedAvgPrice": p(last),
            "lastPrice": p(last),
            "lastQty": fmt(x.lot, x.lot),
            "openPrice": p(last),
            "highPrice": p(last * 1.02),
            "lowPrice": p(last * 0.98),
            "volume": volume_str(quote_volume / last if last > 0 else 0.0),
            "quoteVolume": volume_str(quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": first_id,
            "lastId": first_id + trades - 1,
            "count": trades,
        }

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        now = self.model.clock.now_ms()
        symbol = request.query.get("symbol")
        if symbol:
            x = self.by_symbol.get(symbol)
            if x is None:
                return _error(-1121, "Invalid symbol.")
            return json_response(self._ticker_row(x, now))
        return json_response([self._ticker_row(x, now) for x in self.by_symbol.values()])

    def _book_ticker_row(self, x: Listing, now: int) -> dict[str, Any] | None:
        bids, asks = self.model.top_book(self.venue, x.symbol, now)
        if not bids or not asks:
            return None  # a contract without a book (settled, delivering)
        return {
            "lastUpdateId": now,
            "symbol": x.symbol,
            "bidPrice": fmt(bids[0][0], x.tick),
            "bidQty": fmt(bids[0][1], x.lot),
            "askPrice": fmt(asks[0][0], x.tick),
            "askQty": fmt(asks[0][1], x.lot),
            "time": now,
        }

    async def book_ticker(self, request: web.Request) -> web.Response:
        now = self.model.clock.now_ms()
        symbol = request.query.get("symbol")
        if symbol:
            x = self.by_symbol.get(symbol)
            row = self._book_ticker_row(x, now) if x is not None else None
            if row is None:
                return _error(-1121, "Invalid symbol.")
            return json_response(row)
        rows = [self._book_ticker_row(x, now) for x in self.by_symbol.values()]
        return json_response([r for r in rows if r is not None])
