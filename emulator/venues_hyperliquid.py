"""Hyperliquid ``POST /info`` (JSON-RPC style, dispatched on ``type``).

Served types: ``meta``, ``metaAndAssetCtxs``, ``allMids``, ``fundingHistory``, ``l2Book``,
``perpDexs`` (only the first, unnamed dex: ``[null]``), ``spotMeta``/``spotMetaAndAssetCtxs``
(empty). Numbers are strings except ``time`` (int ms, with a few ms of jitter on funding rows,
as in the real recordings). ``dayNtlVlm`` (USD) and ``dayBaseVlm`` come from the market
model's 24 h volume; ``openInterest`` is the recorded value. Prices follow Hyperliquid's
rule: at most 5 significant figures and at most ``6 - szDecimals`` decimals. Unknown types
answer HTTP 422 as Hyperliquid does for a body it cannot deserialize.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from emulator.model import MarketModel
from emulator.universe import Listing, load_json
from emulator.wire import json_response, rate_str, volume_str

VENUE = "hyperliquid"
FUNDING_PAGE = 500


def px(value: float, sz_decimals: int) -> str:
    if value <= 0:
        return "0.0"
    sig = 5 - int(math.floor(math.log10(value))) - 1
    return f"{value:.{max(0, min(6 - sz_decimals, sig))}f}"


class HyperliquidPublic:
    def __init__(self, model: MarketModel, venue: str = VENUE) -> None:
        self.model = model
        self.venue = venue
        self.by_symbol = {x.symbol: x for x in model.venue_listings(self.venue)}
        self.meta = load_json("hyperliquid_info_meta.json")

    def register(self, app: web.Application, prefix: str) -> None:
        app.router.add_post(prefix + "/info", self.info)

    async def info(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
        except json.JSONDecodeError:
            return web.Response(status=422, text="Failed to deserialize the JSON body")
        kind = body.get("type") if isinstance(body, dict) else None
        handler = {
            "meta": self._meta,
            "metaAndAssetCtxs": self._meta_and_ctxs,
            "allMids": self._all_mids,
            "fundingHistory": self._funding_history,
            "l2Book": self._l2_book,
            "perpDexs": lambda b: [None],
            "spotMeta": lambda b: {"universe": [], "tokens": []},
            "spotMetaAndAssetCtxs": lambda b: [{"universe": [], "tokens": []}, []],
        }.get(str(kind))
        if handler is None:
            return web.Response(
                status=422, text=f"Failed to deserialize the JSON body: unknown type {kind!r}"
            )
        try:
            return json_response(handler(body))
        except KeyError as exc:
            return web.Response(status=422, text=f"Failed to deserialize the JSON body: {exc}")

    def _meta(self, body: dict[str, Any]) -> Any:
        return self.meta

    def _ctx(self, x: Listing, now: int) -> dict[str, Any]:
        i = self.model.index_of(self.venue, x.symbol)
        sz = int(x.raw["szDecimals"])
        mark = float(self.model.mark_prices(now)[i])
        oracle = float(self.model.index_prices(now)[i])
        bids, asks = self.model.top_book(self.venue, x.symbol, now)
        rate = float(self.model.funding_rates(now)[i])
        recorded = x.raw.get("ctx", {})
        usd = self.model.volume_24h_usd(self.venue, x.symbol)
        return {
            "funding": rate_str(rate, 10),
            "openInterest": recorded.get("openInterest", "0.0"),
            "prevDayPx": px(mark, sz),
            "dayNtlVlm": volume_str(usd),
            "premium": rate_str(mark / oracle - 1, 10),
            "oraclePx": px(oracle, sz),
            "markPx": px(mark, sz),
            "midPx": px((bids[0][0] + asks[0][0]) / 2, sz),
            "impactPxs": [px(bids[0][0], sz), px(asks[0][0], sz)],
            "dayBaseVlm": volume_str(usd / mark if mark > 0 else 0.0),
        }

    def _meta_and_ctxs(self, body: dict[str, Any]) -> Any:
        now = self.model.clock.now_ms()
        return [self.meta, [self._ctx(x, now) for x in self.by_symbol.values()]]

    def _all_mids(self, body: dict[str, Any]) -> Any:
        now = self.model.clock.now_ms()
        return {s: self._ctx(x, now)["midPx"] for s, x in self.by_symbol.items()}

    def _find(self, body: dict[str, Any]) -> Listing:
        coin = body["coin"]
        if coin not in self.by_symbol:
            raise KeyError(f"unknown coin {coin!r}")
        return self.by_symbol[coin]

    def _funding_history(self, body: dict[str, Any]) -> Any:
        x = self._find(body)
        start = int(body["startTime"])
        end = body.get("endTime")
        now = self.model.clock.now_ms()
        rows = [r for r in self.model.history(self.venue, x.symbol, now) if r[0] >= start]
        if end is not None:
            rows = [r for r in rows if r[0] <= int(end)]
        return [
            {
                "coin": x.symbol,
                "fundingRate": rate_str(r, 10),
                "premium": rate_str(r - 0.0000125, 10),
                "time": t + (t // 3_600_000) % 50,
            }
            for t, r in rows[:FUNDING_PAGE]
        ]

    def _l2_book(self, body: dict[str, Any]) -> Any:
        x = self._find(body)
        sz = int(x.raw["szDecimals"])
        bids, asks = self.model.book(self.venue, x.symbol, 20)
        lvl = lambda p, s: {"px": px(p, sz), "sz": f"{s:.{sz}f}", "n": 1 + int(s) % 3}  # noqa: E731
        return {
            "coin": x.symbol,
            "levels": [[lvl(p, s) for p, s in bids], [lvl(p, s) for p, s in asks]],
            "time": self.model.clock.now_ms(),
        }
