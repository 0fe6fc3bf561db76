"""Gate.io API v4 futures endpoints (settle ``usdt``; other settles answer empty lists).

Contracts are the recorded rows with the live fields replaced (``funding_rate``,
``funding_rate_indicative``, ``funding_next_apply`` in unix **seconds**, ``mark_price``,
``index_price``, ``last_price``). Funding history rows ``{t, r}`` are newest first with ``t`` in
seconds; order book sizes are integer contract counts. Ticker volumes are the model's 24 h
USD volume as the real ``tickers`` body prints them: ``volume_24h`` contracts, ``volume_24h_base``
base coin and ``volume_24h_quote``/``volume_24h_settle`` USDT, all integer strings.
Errors: HTTP 400 ``{"label": "CONTRACT_NOT_FOUND", "message": ...}`` as Gate does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.model import MarketModel
from emulator.universe import Listing
from emulator.wire import RowCache, RowText, fmt, fmt_prices, int_param, json_response, rate_str

VENUE = "gate"
SETTLE = "usdt"


def error(label: str, message: str, status: int = 400) -> web.Response:
    return json_response({"label": label, "message": message}, status=status)


class GatePublic:
    def __init__(self, model: MarketModel, venue: str = VENUE) -> None:
        self.model = model
        self.venue = venue
        self.by_symbol = {x.symbol: x for x in model.venue_listings(self.venue)}
        self._row_text = RowText(("highest_bid", "highest_size", "lowest_ask", "lowest_size"))
        self._contracts = RowCache()
        self._contract_texts = RowText(())

    def register(self, app: web.Application, prefix: str) -> None:
        base = prefix + "/api/v4/futures/{settle}"
        app.router.add_get(base + "/contracts", self.contracts)
        app.router.add_get(base + "/contracts/{contract}", self.contract)
        app.router.add_get(base + "/tickers", self.tickers)
        app.router.add_get(base + "/funding_rate", self.funding_rate)
        app.router.add_get(base + "/order_book", self.order_book)
        # ccxt's default load_markets also asks for currencies, spot/margin pairs, delivery
        # contracts and option underlyings; only USDT perpetuals are emulated, so those are
        # empty lists (a valid answer on Gate).
        for path in (
            "/api/v4/spot/currencies",
            "/api/v4/spot/currency_pairs",
            "/api/v4/margin/currency_pairs",
            "/api/v4/delivery/{settle}/contracts",
            "/api/v4/options/underlyings",
        ):
            app.router.add_get(prefix + path, self.empty)

    async def empty(self, request: web.Request) -> web.Response:
        return json_response([])

    def _values(self, x: Listing, now: int) -> tuple[int, float, float, float, int]:
        """(listing index, mark, index price, live rate, next funding ms): what a contract or
        tickers row is printed from, and so the key it is kept under."""
        i = self.model.index_of(self.venue, x.symbol)
        return (
            i,
            float(self.model.mark_prices(now)[i]),
            float(self.model.index_prices(now)[i]),
            float(self.model.funding_rates(now)[i]),
            self.model.next_funding_ms(self.venue, x.symbol, now),
        )

    def _contract_row(self, x: Listing, now: int) -> dict[str, Any]:
        values = self._values(x, now)
        return self._contracts.get(values, lambda: self._new_contract_row(x, *values[1:]))

    def _contract_text(self, x: Listing, now: int) -> Any:
        """``_contract_row`` as JSON text (``wire.RowText``): the contracts body asks for
        every row each cycle, and they change once a minute."""
        values = self._values(x, now)
        return self._contract_texts.row(values, lambda: self._new_contract_row(x, *values[1:]), {})

    def _new_contract_row(
        self, x: Listing, mark: float, index: float, rate: float, next_ms: int
    ) -> dict[str, Any]:
        rate_s = rate_str(rate)
        row = dict(x.raw)
        row.update(
            {
                "funding_rate": rate_s,
                "funding_rate_indicative": rate_s,
                "funding_next_apply": next_ms // 1000,
                "mark_price": fmt(mark, x.tick),
                "index_price": fmt(index, places=6),
                "last_price": fmt(mark, x.tick),
            }
        )
        return row

    def _find(self, request: web.Request, contract: str | None) -> Listing | web.Response:
        if request.match_info["settle"] != SETTLE:
            return error(
                "INVALID_PARAM_VALUE",
                f"settle {request.match_info['settle']!r} has no contracts here",
            )
        x = self.by_symbol.get(contract or "")
        if x is None:
            return error("CONTRACT_NOT_FOUND", f"contract {contract!r} not found")
        return x

    async def contracts(self, request: web.Request) -> web.Response:
        if request.match_info["settle"] != SETTLE:
            return json_response([])
        now = self.model.clock.now_ms()
        return json_response([self._contract_text(x, now) for x in self.by_symbol.values()])

    async def contract(self, request: web.Request) -> web.Response:
        x = self._find(request, request.match_info["contract"])
        if isinstance(x, web.Response):
            return x
        return json_response(self._contract_row(x, self.model.clock.now_ms()))

    async def tickers(self, request: web.Request) -> web.Response:
        if request.match_info["settle"] != SETTLE:
            return json_response([])
        now = self.model.clock.now_ms()
        wanted = request.query.get("contract")
        rows = [self.by_symbol[wanted]] if wanted in self.by_symbol else []
        if not wanted:
            rows = list(self.by_symbol.values())
        return json_response([self._ticker(x, now) for x in rows])

    def _ticker(self, x: Listing, now: int) -> Any:
        """Field set of the real ``tickers?contract=BTC_USDT`` body (a dict, or its JSON text
        as an ``orjson.Fragment``: ``wire.RowText``)."""
        bids, asks = self.model.top_book(self.venue, x.symbol, now)
        book = {
            "highest_bid": fmt(bids[0][0], x.tick),
            "highest_size": str(int(bids[0][1])),
            "lowest_ask": fmt(asks[0][0], x.tick),
            "lowest_size": str(int(asks[0][1])),
        }
        return self._row_text.row(self._values(x, now), lambda: self._ticker_row(x, now), book)

    def _ticker_row(self, x: Listing, now: int) -> dict[str, Any]:
        """The row's fields that depend on prices and rates only (book fields left empty)."""
        c = self._contract_row(x, now)
        usd = self.model.volume_24h_usd(self.venue, x.symbol)
        last = float(c["last_price"])
        base = usd / last if last > 0 else 0.0
        return {
            "last": c["last_price"],
            "low_24h": c["last_price"],
            "high_24h": c["last_price"],
            "volume_24h": str(round(base / x.contract_size)),
            "change_percentage": "0",
            "change_price": "0",
            "funding_rate_indicative": c["funding_rate_indicative"],
            "index_price": c["index_price"],
            "volume_24h_base": str(round(base)),
            "volume_24h_quote": str(round(usd)),
            "contract": x.symbol,
            "volume_24h_settle": str(round(usd)),
            "funding_rate": c["funding_rate"],
            "mark_price": c["mark_price"],
            "total_size": "0",
            "highest_bid": "",
            "highest_size": "",
            "lowest_ask": "",
            "lowest_size": "",
            "quanto_multiplier": x.raw["quanto_multiplier"],
        }

    async def funding_rate(self, request: web.Request) -> web.Response:
        q = request.query
        x = self._find(request, q.get("contract"))
        if isinstance(x, web.Response):
            return x
        try:
            limit = int_param(q, "limit", 100) or 100
            since_s = int_param(q, "from")
            to_s = int_param(q, "to")
        except ValueError:
            return error("INVALID_PARAM_VALUE", "limit/from/to must be integers")
        if not 1 <= limit <= 1000:
            return error("INVALID_PARAM_VALUE", "limit must be in [1, 1000]")
        rows = self.model.history(self.venue, x.symbol)
        rows = [r for r in rows if (since_s is None or r[0] // 1000 >= since_s)]
        rows = [r for r in rows if (to_s is None or r[0] // 1000 <= to_s)]
        rows = rows[::-1][:limit]
        # real rows carry 1-3 s of jitter on t
        return json_response(
            [{"t": t // 1000 + 1 + (t // 3_600_000) % 3, "r": rate_str(r)} for t, r in rows]
        )

    async def order_book(self, request: web.Request) -> web.Response:
        q = request.query
        x = self._find(request, q.get("contract"))
        if isinstance(x, web.Response):
            return x
        try:
            limit = int_param(q, "limit", 10) or 10
        except ValueError:
            return error("INVALID_PARAM_VALUE", "limit must be an integer")
        if not 1 <= limit <= 300:
            return error("INVALID_PARAM_VALUE", "limit must be in [1, 300]")
        now = self.model.clock.now_ms()
        bids, asks = self.model.book(self.venue, x.symbol, limit)
        body: dict[str, Any] = {}
        if q.get("with_id") == "true":
            body["id"] = now // 10
        body.update(
            {
                "current": now / 1000,
                "update": (now - 30) / 1000,
                "asks": _gate_levels(asks, x.tick),
                "bids": _gate_levels(bids, x.tick),
            }
        )
        return json_response(body)


def _gate_levels(levels: list[tuple[float, float]], tick: float) -> list[dict[str, Any]]:
    """``{"p": price text, "s": contracts}`` per level, the prices formatted at once."""
    prices = fmt_prices([p for p, _ in levels], tick)
    return [{"p": p, "s": int(s)} for p, (_, s) in zip(prices, levels, strict=True)]
