"""Bitget V2 mix (USDT-FUTURES) public endpoints.

Envelope ``{"code": "00000", "msg": "success", "requestTime": int, "data": [...]}`` with every
value a string; ``data`` is an array even for one symbol. The contract rows are built from the
real legacy v1 ``umcbl`` list (see ``universe.bitget_v2_row``). Other product types answer
empty lists. Ticker volumes are the model's 24 h USD volume: ``baseVolume`` in the base coin,
``quoteVolume`` and ``usdtVolume`` in USDT (ccxt's ``quoteVolume``).
Errors: HTTP 400 ``{"code": "40034", "msg": "Parameter does not exist"}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.model import MarketModel
from emulator.universe import Listing
from emulator.wire import fmt, fmt_levels, int_param, json_response, rate_str, volume_str

VENUE = "bitget"
PRODUCT = "USDT-FUTURES"


class BitgetPublic:
    def __init__(self, model: MarketModel, venue: str = VENUE) -> None:
        self.model = model
        self.venue = venue
        self.by_symbol = {x.symbol: x for x in model.venue_listings(self.venue)}

    def register(self, app: web.Application, prefix: str) -> None:
        base = prefix + "/api/v2/mix/market"
        for path, handler in (
            ("/contracts", self.contracts),
            ("/tickers", self.tickers),
            ("/ticker", self.ticker),
            ("/current-fund-rate", self.current_fund_rate),
            ("/funding-time", self.funding_time),
            ("/history-fund-rate", self.history),
            ("/merge-depth", self.merge_depth),
        ):
            app.router.add_get(base + path, handler)
        app.router.add_get(prefix + "/api/v2/public/time", self.time)
        # ccxt's default load_markets also asks for coins, spot symbols and margin currencies;
        # only USDT-FUTURES are emulated, so those are empty lists.
        for path in (
            "/api/v2/spot/public/coins",
            "/api/v2/spot/public/symbols",
            "/api/v2/margin/currencies",
        ):
            app.router.add_get(prefix + path, self.coins)

    async def coins(self, request: web.Request) -> web.Response:
        return self._ok([])

    # ------------------------------------------------------------------ helpers
    def _ok(self, data: Any) -> web.Response:
        now = self.model.clock.now_ms()
        return json_response({"code": "00000", "msg": "success", "requestTime": now, "data": data})

    def _error(self, code: str, msg: str) -> web.Response:
        now = self.model.clock.now_ms()
        return json_response(
            {"code": code, "msg": msg, "requestTime": now, "data": None}, status=400
        )

    def _select(self, request: web.Request, need_symbol: bool) -> list[Listing] | web.Response:
        q = request.query
        product = (q.get("productType") or "").upper()
        if not product:
            return self._error("40019", "Parameter productType cannot be empty")
        if product != PRODUCT:
            return []
        symbol = q.get("symbol")
        if not symbol:
            if need_symbol:
                return self._error("40019", "Parameter symbol cannot be empty")
            return list(self.by_symbol.values())
        x = self.by_symbol.get(symbol)
        if x is None:
            return self._error("40034", "Parameter does not exist")
        return [x]

    # ------------------------------------------------------------------ endpoints
    async def time(self, request: web.Request) -> web.Response:
        return self._ok({"serverTime": str(self.model.clock.now_ms())})

    async def contracts(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=False)
        if isinstance(rows, web.Response):
            return rows
        return self._ok([x.raw for x in rows])

    def _ticker(self, x: Listing, now: int) -> dict[str, Any]:
        i = self.model.index_of(self.venue, x.symbol)
        mark = float(self.model.mark_prices(now)[i])
        bids, asks = self.model.top_book(self.venue, x.symbol, now)
        p = lambda v: fmt(v, x.tick)  # noqa: E731
        usd = self.model.volume_24h_usd(self.venue, x.symbol)
        last = float(p(mark))
        return {
            "symbol": x.symbol,
            "lastPr": p(mark),
            "askPr": p(asks[0][0]),
            "bidPr": p(bids[0][0]),
            "bidSz": fmt(bids[0][1], x.lot),
            "askSz": fmt(asks[0][1], x.lot),
            "high24h": p(mark * 1.02),
            "low24h": p(mark * 0.98),
            "ts": str(now),
            "change24h": "0",
            "baseVolume": volume_str(usd / last if last > 0 else 0.0),
            "quoteVolume": volume_str(usd),
            "usdtVolume": volume_str(usd),
            "openUtc": p(mark),
            "changeUtc24h": "0",
            "indexPrice": p(float(self.model.index_prices(now)[i])),
            "fundingRate": rate_str(float(self.model.funding_rates(now)[i])),
            "holdingAmount": "0",
            "deliveryStartTime": "",
            "deliveryTime": "",
            "deliveryStatus": "",
            "open24h": p(mark),
            "markPrice": p(mark),
        }

    async def tickers(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=False)
        if isinstance(rows, web.Response):
            return rows
        now = self.model.clock.now_ms()
        return self._ok([self._ticker(x, now) for x in rows])

    async def ticker(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=True)
        if isinstance(rows, web.Response):
            return rows
        now = self.model.clock.now_ms()
        return self._ok([self._ticker(x, now) for x in rows])

    async def current_fund_rate(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=False)
        if isinstance(rows, web.Response):
            return rows
        now = self.model.clock.now_ms()
        rates = self.model.funding_rates(now)
        return self._ok(
            [
                {
                    "symbol": x.symbol,
                    "fundingRate": rate_str(
                        float(rates[self.model.index_of(self.venue, x.symbol)])
                    ),
                    "fundingRateInterval": str(x.interval_h),
                    "nextUpdate": str(self.model.next_funding_ms(self.venue, x.symbol, now)),
                    "minFundingRate": rate_str(x.floor),
                    "maxFundingRate": rate_str(x.cap),
                }
                for x in rows
            ]
        )

    async def funding_time(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=True)
        if isinstance(rows, web.Response):
            return rows
        now = self.model.clock.now_ms()
        return self._ok(
            [
                {
                    "symbol": x.symbol,
                    "nextFundingTime": str(self.model.next_funding_ms(self.venue, x.symbol, now)),
                    "ratePeriod": str(x.interval_h),
                }
                for x in rows
            ]
        )

    async def history(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=True)
        if isinstance(rows, web.Response):
            return rows
        try:
            size = int_param(request.query, "pageSize", 20) or 20
            page = int_param(request.query, "pageNo", 1) or 1
        except ValueError:
            return self._error("40020", "Parameter pageSize/pageNo error")
        if not 1 <= size <= 100 or page < 1:
            return self._error("40020", "Parameter pageSize/pageNo error")
        if not rows:
            return self._ok([])
        x = rows[0]
        hist = self.model.history(self.venue, x.symbol)[::-1][(page - 1) * size : page * size]
        return self._ok(
            [
                {"symbol": x.symbol, "fundingRate": rate_str(r), "fundingTime": str(t)}
                for t, r in hist
            ]
        )

    async def merge_depth(self, request: web.Request) -> web.Response:
        rows = self._select(request, need_symbol=True)
        if isinstance(rows, web.Response):
            return rows
        if not rows:
            return self._ok({"asks": [], "bids": [], "ts": str(self.model.clock.now_ms())})
        x = rows[0]
        try:
            limit = int_param(request.query, "limit", 100) or 100
        except ValueError:
            return self._error("40020", "Parameter limit error")
        limit = min(limit, 1000)
        now = self.model.clock.now_ms()
        bids, asks = self.model.book(self.venue, x.symbol, limit)
        return self._ok(
            {
                "asks": fmt_levels(asks, x.tick, x.lot),
                "bids": fmt_levels(bids, x.tick, x.lot),
                "ts": str(now),
                "scale": fmt(x.tick, x.tick),
                "precision": "scale0",
                "isMaxPrecision": "NO",
            }
        )
