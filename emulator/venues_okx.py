"""OKX V5 public endpoints: instruments, funding-rate, funding-rate-history, market/books,
market/tickers.

Everything is a string (``code: "0"``, timestamps, numbers), as in the real bodies. The
funding-rate row copies the field set of the recorded XRP-USDT-SWAP body: ``fundingTime`` is the
coming settlement, ``nextFundingTime`` the one after, ``nextFundingRate`` is ``""``.
``market/tickers`` rows have the documented field set (all strings); for swaps ``vol24h`` is
in contracts and ``volCcy24h`` in the base coin (real WS tickers: BTC-USDT-SWAP
``vol24h`` 12214388 = ``volCcy24h`` 122143.88 / ctVal 0.01), so USD = ``volCcy24h`` x ``last``.
Errors: HTTP 400 with ``{"code": "51001", "msg": "Instrument ID does not exist", "data": []}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.model import MarketModel
from emulator.universe import Listing, load_json
from emulator.wire import (
    RowText,
    fmt,
    fmt_column,
    fmt_prices,
    int_param,
    json_response,
    rate_str,
    volume_str,
)

VENUE = "okx"
HOUR_MS = 3_600_000


def ok(data: list[Any]) -> web.Response:
    return json_response({"code": "0", "data": data, "msg": ""})


def error(code: str, msg: str, status: int = 400) -> web.Response:
    return json_response({"code": code, "data": [], "msg": msg}, status=status)


class OkxPublic:
    def __init__(self, model: MarketModel, venue: str = VENUE) -> None:
        self.model = model
        self.venue = venue
        self.by_symbol = {x.symbol: x for x in model.venue_listings(self.venue)}
        self._row_text = RowText(("askPx", "askSz", "bidPx", "bidSz", "ts"))
        self._rate_rows = RowText(("ts",))
        self.template = load_json("okx_api_v5_public_funding-rate_XRP-USDT-SWAP.json")["data"][0]

    def register(self, app: web.Application, prefix: str) -> None:
        app.router.add_get(prefix + "/api/v5/public/time", self.time)
        app.router.add_get(prefix + "/api/v5/public/instruments", self.instruments)
        app.router.add_get(prefix + "/api/v5/public/funding-rate", self.funding_rate)
        app.router.add_get(prefix + "/api/v5/public/funding-rate-history", self.history)
        app.router.add_get(prefix + "/api/v5/market/books", self.books)
        app.router.add_get(prefix + "/api/v5/market/tickers", self.tickers)

    async def time(self, request: web.Request) -> web.Response:
        return ok([{"ts": str(self.model.clock.now_ms())}])

    async def instruments(self, request: web.Request) -> web.Response:
        inst_type = request.query.get("instType")
        if not inst_type:
            return error("50014", "Parameter instType can not be empty")
        if inst_type != "SWAP":
            return ok([])
        rows = [x.raw for x in self.by_symbol.values()]
        if request.query.get("instId"):
            rows = [r for r in rows if r["instId"] == request.query["instId"]]
        return ok(rows)

    def _rate_row(self, x: Listing, now: int) -> Any:
        """Kept by (listing, live rate, next funding time): the last settlement is the one
        before the next, so the key fixes every field but ``ts`` (the row as JSON text:
        ``wire.RowText``)."""
        i = self.model.index_of(self.venue, x.symbol)
        nxt = self.model.next_funding_ms(self.venue, x.symbol, now)
        rate = float(self.model.funding_rates(now)[i])
        return self._rate_rows.row(
            (i, rate, nxt), lambda: self._new_rate_row(x, rate, nxt, now), {"ts": str(now)}
        )

    def _new_rate_row(self, x: Listing, rate: float, nxt: int, now: int) -> dict[str, Any]:
        history = self.model.history(self.venue, x.symbol, now)
        row = dict(self.template)
        row.update(
            {
                "fundingRate": rate_str(rate, 16),
                "fundingTime": str(nxt),
                "instId": x.symbol,
                "maxFundingRate": rate_str(x.cap),
                "minFundingRate": rate_str(x.floor),
                "nextFundingRate": "",
                "nextFundingTime": str(nxt + x.interval_h * HOUR_MS),
                "settFundingRate": rate_str(history[-1][1], 16) if history else "",
                "settState": "settled",
                "ts": str(now),
            }
        )
        return row

    async def funding_rate(self, request: web.Request) -> web.Response:
        inst_id = request.query.get("instId")
        now = self.model.clock.now_ms()
        if not inst_id:
            return error("50014", "Parameter instId can not be empty")
        if inst_id == "ANY":
            return ok([self._rate_row(x, now) for x in self.by_symbol.values()])
        x = self.by_symbol.get(inst_id)
        if x is None:
            return error("51001", "Instrument ID does not exist")
        return ok([self._rate_row(x, now)])

    async def history(self, request: web.Request) -> web.Response:
        q = request.query
        x = self.by_symbol.get(q.get("instId", ""))
        if x is None:
            return error("51001", "Instrument ID does not exist")
        try:
            limit = int_param(q, "limit", 100) or 100
            before = int_param(q, "before")
            after = int_param(q, "after")
        except ValueError:
            return error("50014", "Parameter limit/before/after must be integers")
        if not 1 <= limit <= 100:
            return error("51000", "Parameter limit error")
        now = self.model.clock.now_ms()
        rows = self.model.history(self.venue, x.symbol, now)
        if before is not None:
            rows = [r for r in rows if r[0] > before][:limit]
        if after is not None:
            rows = [r for r in rows if r[0] < after]
        rows = rows[-limit:][::-1]
        return ok(
            [
                {
                    "fundingRate": rate_str(r, 16),
                    "fundingTime": str(t),
                    "instId": x.symbol,
                    "instType": "SWAP",
                    "method": "current_period",
                    "realizedRate": rate_str(r, 16),
                }
                for t, r in rows
            ]
        )

    async def books(self, request: web.Request) -> web.Response:
        q = request.query
        x = self.by_symbol.get(q.get("instId", ""))
        if x is None:
            return error("51001", "Instrument ID does not exist")
        try:
            size = int_param(q, "sz", 1) or 1
        except ValueError:
            return error("50014", "Parameter sz must be an integer")
        if not 1 <= size <= 400:
            return error("51000", "Parameter sz error")
        bids, asks = self.model.book(self.venue, x.symbol, size)
        return ok(
            [
                {
                    "asks": _okx_levels(asks, x),
                    "bids": _okx_levels(bids, x),
                    "ts": str(self.model.clock.now_ms()),
                }
            ]
        )

    def _ticker(self, x: Listing, now: int) -> Any:
        """A tickers row (a dict, or its JSON text as an ``orjson.Fragment``: ``wire.RowText``)."""
        i = self.model.index_of(self.venue, x.symbol)
        mark = float(self.model.mark_prices(now)[i])
        bids, asks = self.model.top_book(self.venue, x.symbol, now)
        book = {
            "askPx": fmt(asks[0][0], x.tick),
            "askSz": fmt(asks[0][1], x.lot),
            "bidPx": fmt(bids[0][0], x.tick),
            "bidSz": fmt(bids[0][1], x.lot),
            "ts": str(now),
        }
        return self._row_text.row((i, mark), lambda: self._ticker_row(x, mark), book)

    def _ticker_row(self, x: Listing, mark: float) -> dict[str, Any]:
        """The row's fields that depend on the price only (book fields and time left empty)."""
        last_s = fmt(mark, x.tick)
        last = float(last_s)
        usd = self.model.volume_24h_usd(self.venue, x.symbol)
        base = usd / last if last > 0 else 0.0
        contracts = usd / x.contract_size if x.inverse else base / x.contract_size
        p = lambda v: fmt(v, x.tick)  # noqa: E731
        return {
            "instType": "SWAP",
            "instId": x.symbol,
            "last": last_s,
            "lastSz": fmt(x.lot, x.lot),
            "askPx": "",
            "askSz": "",
            "bidPx": "",
            "bidSz": "",
            "open24h": last_s,
            "high24h": p(last * 1.02),
            "low24h": p(last * 0.98),
            "volCcy24h": volume_str(base),
            "vol24h": volume_str(contracts),
            "ts": "",
            "sodUtc0": last_s,
            "sodUtc8": last_s,
        }

    async def tickers(self, request: web.Request) -> web.Response:
        inst_type = request.query.get("instType")
        if not inst_type:
            return error("50014", "Parameter instType can not be empty")
        if inst_type != "SWAP":
            return ok([])
        now = self.model.clock.now_ms()
        return ok([self._ticker(x, now) for x in self.by_symbol.values()])


def _okx_levels(levels: list[tuple[float, float]], x: Listing) -> list[list[str]]:
    """``[price, size, "0", number of orders]`` per level (the order count made up from the
    size), each column formatted at once."""
    prices = fmt_prices([p for p, _ in levels], x.tick)
    sizes = fmt_column([s for _, s in levels], x.lot)
    orders = [str(1 + int(s) % 7) for _, s in levels]
    return [[p, s, "0", n] for p, s, n in zip(prices, sizes, orders, strict=True)]
