"""Bybit V5 public market endpoints (the ones our httpx client and ccxt call).

Shapes follow the real recordings: instruments rows are served as recorded; ticker rows use the
field order of the real ``tickers?category=linear&symbol=BTCUSDT`` body; errors use the V5
envelope with HTTP 200 and ``retCode != 0``. Spot instruments are not recorded anywhere, so the
spot list is synthesised from the USDT perpetuals without a multiplier prefix (documented in
``data/README.md``); the private module trades linear only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.books import synth_book
from emulator.model import MarketModel
from emulator.universe import Listing
from emulator.wire import RowText, fmt, fmt_levels, int_param, json_response, rate_str

ORDERBOOK_LIMITS = {"spot": (1, 1000, 1), "linear": (1, 1000, 25), "inverse": (1, 1000, 25)}
INSTRUMENT_LIMIT = (1, 1000, 500)
FUNDING_LIMIT = (1, 200, 200)


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def envelope(result: Any, now_ms: int, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def _param_error(msg: str) -> BybitError:
    return BybitError(10001, f"params error: {msg}")


def _limit(query: Any, bounds: tuple[int, int, int]) -> int:
    lo, hi, default = bounds
    try:
        value = int_param(query, "limit", default)
    except ValueError:
        raise _param_error("limit must be an integer") from None
    assert value is not None
    if not lo <= value <= hi:
        raise _param_error(f"limit must be in [{lo}, {hi}]")
    return value


def spot_listings(linear: list[Listing]) -> list[Listing]:
    """Spot rows synthesised from USDT perpetuals without a multiplier prefix."""
    out = []
    for x in linear:
        if x.perpetual and x.settle == "USDT" and x.multiplier == 1 and x.symbol.endswith("USDT"):
            raw = {
                "symbol": x.symbol,
                "baseCoin": x.asset,
                "quoteCoin": "USDT",
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "utaOnly",
                "stTag": "0",
                "lotSizeFilter": {
                    "basePrecision": fmt(x.lot, places=None, step=x.lot),
                    "quotePrecision": "0.00000001",
                    "minOrderQty": x.raw["lotSizeFilter"]["minOrderQty"],
                    "maxOrderQty": x.raw["lotSizeFilter"]["maxOrderQty"],
                    "minOrderAmt": "5",
                    "maxOrderAmt": "2000000",
                },
                "priceFilter": {"tickSize": x.raw["priceFilter"]["tickSize"]},
                "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
            }
            out.append(
                Listing(
                    "bybit",
                    x.symbol,
                    x.asset,
                    "USDT",
                    "USDT",
                    False,
                    1.0,
                    1.0,
                    0,
                    0,
                    0,
                    x.tick,
                    x.lot,
                    raw=raw,
                )
            )
    return out


class BybitPublic:
    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self._row_text = RowText(("ask1Size", "bid1Price", "ask1Price", "bid1Size"))
        self.linear: dict[str, Listing] = {}
        for x in model.venue_listings("bybit"):
            self.linear.setdefault(x.symbol, x)  # the first of a symbol, as the list walk found
        self.spot = {x.symbol: x for x in spot_listings(model.venue_listings("bybit"))}

    def register(self, app: web.Application, prefix: str) -> None:
        for path, handler in (
            ("/v5/market/time", self.time),
            ("/v5/market/instruments-info", self.instruments),
            ("/v5/market/tickers", self.tickers),
            ("/v5/market/funding/history", self.funding_history),
            ("/v5/market/orderbook", self.orderbook),
        ):
            app.router.add_get(prefix + path, self._wrap(handler))

    def _wrap(self, handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            now = self.model.clock.now_ms()
            try:
                result = handler(request.query, now)
            except BybitError as exc:
                return json_response(
                    {
                        "retCode": exc.code,
                        "retMsg": exc.msg,
                        "result": {},
                        "retExtInfo": {},
                        "time": now,
                    }
                )
            return json_response(envelope(result, now))

        return run

    # ------------------------------------------------------------------ helpers
    def _category(self, query: Any, allowed: tuple[str, ...]) -> str:
        category = query.get("category")
        if not category:
            raise _param_error("category is required")
        if category not in allowed:
            raise _param_error(f"category {category!r} is not one of {', '.join(allowed)}")
        return str(category)

    def _rows(self, category: str) -> list[Listing]:
        if category == "linear":
            return self.model.venue_listings("bybit")
        if category == "spot":
            return list(self.spot.values())
        return []

    def _find(self, category: str, symbol: str) -> Listing:
        """The listing by symbol (a dict lookup: a book request asked for one of ~800 linear
        listings by walking the list, ~40 us each)."""
        x = self.linear.get(symbol) if category == "linear" else None
        if category == "spot":
            x = self.spot.get(symbol)
        if x is None:
            raise BybitError(10001, "params error: symbol invalid")
        return x

    # ------------------------------------------------------------------ endpoints
    def time(self, query: Any, now: int) -> dict[str, Any]:
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def instruments(self, query: Any, now: int) -> dict[str, Any]:
        category = self._category(query, ("linear", "inverse", "spot", "option"))
        rows = [x.raw for x in self._rows(category)]
        status = query.get("status") or "Trading"
        rows = [r for r in rows if r.get("status") == status]
        if query.get("symbol"):
            rows = [r for r in rows if r["symbol"] == query["symbol"]]
        if query.get("baseCoin"):
            rows = [r for r in rows if r["baseCoin"] == query["baseCoin"]]
        if category == "spot":
            return {"category": category, "list": rows}
        limit = _limit(query, INSTRUMENT_LIMIT)
        try:
            start = int(query.get("cursor") or 0)
        except ValueError:
            raise _param_error("cursor invalid") from None
        page = rows[start : start + limit]
        nxt = str(start + limit) if start + limit < len(rows) else ""
        return {"category": category, "list": page, "nextPageCursor": nxt}

    def tickers(self, query: Any, now: int) -> dict[str, Any]:
        category = self._category(query, ("linear", "inverse", "spot", "option"))
        rows = self._rows(category)
        if query.get("symbol"):
            rows = [self._find(category, query["symbol"])]
        marks = self.model.mark_prices(now)
        index = self.model.index_prices(now)
        rates = self.model.funding_rates(now)
        out = []
        for x in rows:
            if category == "spot":
                i = self.model.index_of("bybit", x.symbol)
                out.append(self._spot_ticker(x, i, float(index[i]), now))
            else:
                i = self.model.index_of("bybit", x.symbol)
                out.append(
                    self._linear_ticker(
                        x, i, float(marks[i]), float(index[i]), float(rates[i]), now
                    )
                )
        return {"category": category, "list": out}

    def _linear_ticker(
        self, x: Listing, i: int, mark: float, index: float, rate: float, now: int
    ) -> Any:
        """The row (a dict, or its JSON text as an ``orjson.Fragment``: ``wire.RowText``)."""
        next_ms = self.model.next_funding_ms("bybit", x.symbol, now) if x.perpetual else 0
        bids, asks = self.model.top_book("bybit", x.symbol, now)
        book = {
            "ask1Size": fmt(asks[0][1], x.lot),
            "bid1Price": fmt(bids[0][0], x.tick),
            "ask1Price": fmt(asks[0][0], x.tick),
            "bid1Size": fmt(bids[0][1], x.lot),
        }
        return self._row_text.row(
            (i, mark, index, rate, next_ms),
            lambda: self._linear_row(x, mark, index, rate, next_ms),
            book,
        )

    def _linear_row(
        self, x: Listing, mark: float, index: float, rate: float, next_ms: int
    ) -> dict[str, Any]:
        """The row's fields that depend on prices and rates only (book fields left empty)."""
        p = lambda v: fmt(v, x.tick)  # noqa: E731
        perp = x.perpetual
        turnover = self.model.volume_24h_usd("bybit", x.symbol)
        return {
            "symbol": x.symbol,
            "lastPrice": p(mark),
            "indexPrice": p(index),
            "markPrice": p(mark),
            "prevPrice24h": p(mark),
            "price24hPcnt": "0",
            "highPrice24h": p(mark * 1.02),
            "lowPrice24h": p(mark * 0.98),
            "prevPrice1h": p(mark),
            "openInterest": "0",
            "openInterestValue": "0",
            "singleOpenInterest": "0",
            "singleOpenInterestValue": "0",
            "turnover24h": fmt(turnover, places=4),
            "volume24h": fmt(turnover / mark if mark > 0 else 0.0, places=4),
            "fundingRate": rate_str(rate) if perp else "",
            "nextFundingTime": str(next_ms) if perp else "",
            "predictedDeliveryPrice": "" if perp else p(index),
            "basisRate": "" if perp else fmt(mark / index - 1, places=6),
            "deliveryFeeRate": "" if perp else "0",
            "deliveryTime": x.raw.get("deliveryTime", "0"),
            "ask1Size": "",
            "bid1Price": "",
            "ask1Price": "",
            "bid1Size": "",
            "basis": "" if perp else p(mark - index),
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "fundingIntervalHour": str(x.interval_h) if perp else "",
            "basisRateYear": "",
            "fundingCap": x.raw.get("upperFundingRate", "") if perp else "",
        }

    def _spot_ticker(self, x: Listing, i: int, price: float, now: int) -> dict[str, Any]:
        """Spot volume reuses the perpetual's model volume (no spot recording to scale by)."""
        bids, asks = synth_book(x, price, 1, (self.model.seed, i, now // 1000))
        turnover = self.model.volume_24h_usd("bybit", x.symbol)
        p = lambda v: fmt(v, x.tick)  # noqa: E731
        return {
            "symbol": x.symbol,
            "bid1Price": p(bids[0][0]),
            "bid1Size": fmt(bids[0][1], x.lot),
            "ask1Price": p(asks[0][0]),
            "ask1Size": fmt(asks[0][1], x.lot),
            "lastPrice": p(price),
            "prevPrice24h": p(price),
            "price24hPcnt": "0",
            "highPrice24h": p(price * 1.02),
            "lowPrice24h": p(price * 0.98),
            "turnover24h": fmt(turnover, places=8),
            "volume24h": fmt(turnover / price if price > 0 else 0.0, x.lot),
            "usdIndexPrice": p(price),
        }

    def funding_history(self, query: Any, now: int) -> dict[str, Any]:
        category = self._category(query, ("linear", "inverse"))
        symbol = query.get("symbol")
        if not symbol:
            raise _param_error("symbol is required")
        x = self._find(category, symbol)
        limit = _limit(query, FUNDING_LIMIT)
        try:
            start = int_param(query, "startTime")
            end = int_param(query, "endTime")
        except ValueError:
            raise _param_error("startTime/endTime must be integers (ms)") from None
        if start is not None and end is None:
            raise _param_error("endTime is required when startTime is set")
        rows = self.model.history("bybit", x.symbol, now)
        upto = now if end is None else min(end, now)
        rows = [r for r in rows if r[0] <= upto and (start is None or r[0] >= start)]
        rows = rows[::-1][:limit]
        return {
            "category": category,
            "list": [
                {"symbol": x.symbol, "fundingRate": rate_str(r), "fundingRateTimestamp": str(t)}
                for t, r in rows
            ],
        }

    def orderbook(self, query: Any, now: int) -> dict[str, Any]:
        category = self._category(query, ("linear", "inverse", "spot", "option"))
        if category not in ORDERBOOK_LIMITS:
            return {
                "s": query.get("symbol", ""),
                "b": [],
                "a": [],
                "ts": now,
                "u": 0,
                "seq": 0,
                "cts": now,
            }
        limit = _limit(query, ORDERBOOK_LIMITS[category])
        symbol = query.get("symbol")
        if not symbol:
            raise _param_error("symbol is required")
        x = self._find(category, symbol)
        i = self.model.index_of("bybit", x.symbol)
        price = (
            self.model.mark_prices(now)[i]
            if category != "spot"
            else self.model.index_prices(now)[i]
        )
        bids, asks = synth_book(x, float(price), limit, (self.model.seed, i, now // 1000))
        seq = now // 1000
        return {
            "s": x.symbol,
            "b": fmt_levels(bids, x.tick, x.lot),
            "a": fmt_levels(asks, x.tick, x.lot),
            "ts": now,
            "u": seq % 10_000_000,
            "seq": seq,
            "cts": now - 3,
        }
