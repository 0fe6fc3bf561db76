"""A perpetual on another venue as an executor ``TradingPort``, through ccxt's unified order API.

Why ccxt here: cross-venue pairs need a second venue's orders, positions, fills and funding
income; ccxt already speaks them (Binance USD-M: ``/fapi/v1/order``, ``positionRisk``,
``userTrades``, ``income``). This module only translates: our Decimal intents to ccxt calls,
ccxt's answers and exceptions to ``OrderResult`` (a refusal is ``rejected``; a network failure
is looked up by the client order id before anything else; never resent here).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base import errors as ccxt_errors

from scanner.symbols.binance import instrument_from_binance
from scanner.venues.base import BadRequest, to_decimal
from strategies.execution import LegMarket, OrderIntent, OrderResult, Realised

log = logging.getLogger(__name__)
ZERO = Decimal(0)
AMBIGUOUS = (ccxt_errors.NetworkError, ccxt_errors.DuplicateOrderId)
"""Network trouble (timeouts, 5xx, dropped connections) or a duplicate id: the order may exist."""


class CcxtPerpPort:
    """A linear USDT perpetual on Binance USD-M (instrument rows and the premium index are
    Binance's; another ccxt venue needs those two readers, the order path is generic)."""

    def __init__(self, venue: str, exchange: ccxt_async.Exchange, *, leverage: int = 1) -> None:
        self.venue = venue
        self.exchange = exchange
        self.leverage = leverage
        self._order_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"CcxtPerpPort({self.venue!r})"

    async def _symbol(self, venue_symbol: str) -> str:
        await self.exchange.load_markets()
        found = self.exchange.markets_by_id.get(venue_symbol)
        if not found:
            raise BadRequest(self.venue, f"{venue_symbol} is not listed")
        return str(found[0]["symbol"])

    async def market(self, venue_symbol: str) -> LegMarket:
        symbol = await self._symbol(venue_symbol)
        m = self.exchange.market(symbol)
        inst = instrument_from_binance(m["info"])
        lot = inst.lot or Decimal(str(m["precision"]["amount"]))
        premium = await self.exchange.fapiPublicGetPremiumIndex({"symbol": venue_symbol})
        price = to_decimal(premium.get("markPrice"))
        if not price:
            raise BadRequest(self.venue, f"{venue_symbol}: no mark price")
        min_cost = to_decimal(((m.get("limits") or {}).get("cost") or {}).get("min")) or ZERO
        filters = {f.get("filterType"): f for f in m["info"].get("filters") or []}
        max_qty = to_decimal((filters.get("MARKET_LOT_SIZE") or {}).get("maxQty"))
        return LegMarket(
            self.venue, venue_symbol, lot, inst.min_qty or lot, min_cost,
            inst.multiplier * inst.contract_size, price, max_qty,
        )  # fmt: skip

    async def prepare(self, venue_symbol: str) -> None:
        await self.exchange.set_leverage(self.leverage, await self._symbol(venue_symbol))

    async def submit(self, intent: OrderIntent) -> OrderResult:
        symbol = await self._symbol(intent.venue_symbol)
        params: dict[str, Any] = {"newClientOrderId": intent.client_id}
        if intent.reduce_only:
            params["reduceOnly"] = True
        try:
            order = await self.exchange.create_order(
                symbol, "market", intent.side, format(intent.qty, "f"), None, params
            )
            return self._result(intent.client_id, order)
        except AMBIGUOUS as exc:
            log.warning(
                "%s: order %s ambiguous (%s); looking it up", self.venue, intent.client_id, exc
            )
        except ccxt_errors.ExchangeError as exc:
            return OrderResult(intent.client_id, "rejected", error=f"{self.venue}: {exc}")
        found = await self.lookup(intent.venue_symbol, intent.client_id)
        return found or OrderResult(intent.client_id, "rejected", error="the venue never got it")

    async def lookup(self, venue_symbol: str, client_id: str) -> OrderResult | None:
        try:
            symbol = await self._symbol(venue_symbol)
            order = await self.exchange.fetch_order(None, symbol, {"origClientOrderId": client_id})
        except ccxt_errors.OrderNotFound:
            return None
        except ccxt_errors.BaseError as exc:
            return OrderResult(client_id, "unknown", error=f"{self.venue}: {exc}")
        return self._result(client_id, order)

    def _result(self, client_id: str, order: dict[str, Any]) -> OrderResult:
        filled = to_decimal(order.get("filled")) or ZERO
        amount = to_decimal(order.get("amount")) or ZERO
        status = order.get("status")
        if status == "closed" and filled >= amount:
            verdict = "filled"
        elif status in ("closed", "canceled", "expired", "rejected"):
            verdict = "partial" if filled > 0 else "rejected"
        else:
            verdict = "unknown"
        if order.get("id"):
            self._order_ids[client_id] = str(order["id"])
        return OrderResult(
            client_id, verdict, filled, to_decimal(order.get("average")), ZERO,
            str(order.get("id") or "") or None, None if verdict != "rejected" else str(status),
        )  # fmt: skip

    async def position_qty(self, venue_symbol: str) -> Decimal:
        symbol = await self._symbol(venue_symbol)
        for p in await self.exchange.fetch_positions([symbol]):
            if p.get("symbol") == symbol:
                size = to_decimal(p.get("contracts")) or ZERO
                return -size if p.get("side") == "short" else size
        return ZERO

    async def realised(self, venue_symbol: str, client_ids: list[str], since_ms: int) -> Realised:
        """Commissions of our orders' fills (user trades) and funding income since our first."""
        symbol = await self._symbol(venue_symbol)
        ours = set()
        for cid in client_ids:
            found = self._order_ids.get(cid) or (await self._order_id(symbol, cid))
            if found:
                ours.add(found)
        trades = await self.exchange.fetch_my_trades(symbol)
        mine = [t for t in trades if str(t.get("order")) in ours]
        fees = sum((to_decimal((t.get("fee") or {}).get("cost")) or ZERO for t in mine), ZERO)
        first = min((int(t["timestamp"]) for t in mine if t.get("timestamp")), default=since_ms)
        income = await self.exchange.fetch_funding_history(symbol, first)
        funding = sum((to_decimal(i.get("amount")) or ZERO for i in income), ZERO)
        return Realised(fees, funding)

    async def _order_id(self, symbol: str, cid: str) -> str | None:
        try:
            order = await self.exchange.fetch_order(None, symbol, {"origClientOrderId": cid})
        except ccxt_errors.OrderNotFound:
            return None
        return str(order.get("id") or "") or None

    async def close(self) -> None:
        await self.exchange.close()
