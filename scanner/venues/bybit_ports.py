"""Bybit trading ports for the executor: the linear perpetual and spot in the unified account.

Why a port per market: the executor's flow (``strategies/execution_flow.py``) sees "a leg on a
venue" and nothing else; whether that leg is a perp position or a coin balance is this
module's business. Both ports speak through our own signed client (``bybit_trading.py``).

Exactly-once: ``submit`` posts /v5/order/create once (``idempotent=False``: the transport never
retries it). Whatever goes wrong - timeout, dropped connection, 5xx, garbled body, a
duplicate-id refusal - the order is then looked up by its ``orderLinkId``; only the venue
saying it has no such order makes the result ``rejected`` (never sent), and even then this
module does not resend: the flow decides, under a new attempt id.

Spot fees: Bybit charges a spot buy's fee in the coin bought, so a buy of ``q`` leaves
``q - fee`` in the wallet; the result reports what is *held* (that is what the hedge and the
close must match), and the fee in USD at the fill price.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from scanner.symbols.bybit import instrument_from_bybit
from scanner.units import MS_PER_DAY
from scanner.venues.base import BadRequest, MalformedResponse, VenueError, to_decimal
from scanner.venues.bybit_http import BybitHttp
from scanner.venues.bybit_trading import (
    DUPLICATE_LINK_IDS,
    BybitTrading,
    Order,
    OrderRequest,
)
from strategies.execution import LegMarket, OrderIntent, OrderResult, Realised

log = logging.getLogger(__name__)

ZERO = Decimal(0)
FINAL_FILLED = {"Filled"}
FINAL_PARTIAL = {"PartiallyFilledCanceled"}
FINAL_EMPTY = {"Cancelled", "Rejected", "Deactivated"}
SPOT_MIN_ORDER_AMT = Decimal("5")
DAY7_MS = 7 * MS_PER_DAY


class BybitPort:
    """One Bybit market category as a ``TradingPort`` (``venue`` is what pairs name it)."""

    category = "linear"
    venue = "bybit"

    def __init__(self, http: BybitHttp, *, leverage: Decimal = Decimal(1)) -> None:
        self.http = http
        self.trading = BybitTrading(http, create_attempts=1)
        self.leverage = leverage
        self._markets: dict[str, LegMarket] = {}
        self._bases: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http!r})"

    async def market(self, venue_symbol: str) -> LegMarket:
        params = {"category": self.category, "symbol": venue_symbol}
        info = await self.http.get("/v5/market/instruments-info", params)
        rows = [r for r in info.get("list") or [] if r.get("symbol") == venue_symbol]
        if not rows:
            raise BadRequest("bybit", f"{self.category} {venue_symbol} is not listed")
        inst = instrument_from_bybit(rows[0], self.category)
        self._bases[venue_symbol] = str(rows[0].get("baseCoin", inst.base))
        ticker = await self.http.get("/v5/market/tickers", params)
        price = _price(
            ticker, venue_symbol, "lastPrice" if self.category == "spot" else "markPrice"
        )
        lot = inst.lot or Decimal(1)
        market = LegMarket(
            venue=self.venue, venue_symbol=venue_symbol, lot=lot,
            min_qty=inst.min_qty or lot, min_notional_usd=self._min_notional(rows[0]),
            multiplier=inst.multiplier * inst.contract_size, price=price,
            max_qty=self._max_qty(rows[0]),
        )  # fmt: skip
        self._markets[venue_symbol] = market
        return market

    def _min_notional(self, row: dict[str, Any]) -> Decimal:
        return to_decimal((row.get("lotSizeFilter") or {}).get("minNotionalValue")) or ZERO

    def _max_qty(self, row: dict[str, Any]) -> Decimal | None:
        """``maxMktOrderQty`` (market orders are capped below ``maxOrderQty``)."""
        lot = row.get("lotSizeFilter") or {}
        return to_decimal(lot.get("maxMktOrderQty")) or to_decimal(lot.get("maxOrderQty"))

    async def prepare(self, venue_symbol: str) -> None:
        await self.trading.set_leverage(venue_symbol, self.leverage)

    async def submit(self, intent: OrderIntent) -> OrderResult:
        request = self._request(intent)
        try:
            await self.http.signed_post("/v5/order/create", request.body(), idempotent=False)
        except BadRequest as exc:
            if exc.code not in DUPLICATE_LINK_IDS:
                return OrderResult(intent.client_id, "rejected", error=str(exc))
            log.warning("bybit: %s duplicate id; looking it up", intent.client_id)
        except VenueError as exc:
            log.warning("bybit: order %s ambiguous (%s); looking it up", intent.client_id, exc)
        found = await self.lookup(intent.venue_symbol, intent.client_id)
        if found is None:
            return OrderResult(intent.client_id, "rejected", error="the venue never got it")
        return found

    def _request(self, intent: OrderIntent) -> OrderRequest:
        return OrderRequest(
            intent.venue_symbol, intent.side.capitalize(), intent.qty, intent.client_id,
            reduce_only=intent.reduce_only, category=self.category,
            lot=self._markets[intent.venue_symbol].lot if intent.venue_symbol in self._markets
            else None,
        )  # fmt: skip

    async def lookup(self, venue_symbol: str, client_id: str) -> OrderResult | None:
        try:
            order = await self.trading.find_order(venue_symbol, client_id, self.category)
        except VenueError as exc:
            return OrderResult(client_id, "unknown", error=str(exc))
        return None if order is None else self._result(order)

    def _result(self, order: Order) -> OrderResult:
        filled = order.cum_exec_qty or ZERO
        if order.status in FINAL_FILLED:
            status = "filled"
        elif order.status in FINAL_PARTIAL or (order.status in FINAL_EMPTY and filled > 0):
            status = "partial"
        elif order.status in FINAL_EMPTY:
            status = "rejected"
        else:
            status = "unknown"  # still working; market orders end within moments
        fee = order.cum_exec_fee or ZERO
        return OrderResult(
            order.order_link_id, status, filled, order.avg_price, fee, order.order_id,
            None if status != "rejected" else str(order.raw.get("rejectReason") or order.status),
        )  # fmt: skip

    async def position_qty(self, venue_symbol: str) -> Decimal:
        for position in await self.trading.positions(venue_symbol):
            if position.symbol == venue_symbol:
                return position.signed_size
        return ZERO

    async def realised(self, venue_symbol: str, client_ids: list[str], since_ms: int) -> Realised:
        """Fees of our fills; funding on the symbol since our first fill (venue time, so our
        clock and the venue's need not agree; ``since_ms`` only when nothing filled)."""
        fees, first_ms = ZERO, None
        for cid in client_ids:
            rows = await self.trading.executions(
                venue_symbol, cid, category=self.category, exec_type="Trade"
            )
            for e in rows:
                fees += self._fee_usd(e.exec_fee, e.exec_price, e.fee_currency)
                if e.exec_ms is not None:
                    first_ms = e.exec_ms if first_ms is None else min(first_ms, e.exec_ms)
        funding = ZERO
        if self.category == "linear":
            rows = await self.trading.executions(
                venue_symbol, exec_type="Funding", start_ms=first_ms or since_ms
            )
            funding = -sum((e.exec_fee or ZERO for e in rows), ZERO)  # execFee > 0: we paid
        return Realised(fees, funding)

    def _fee_usd(self, fee: Decimal | None, price: Decimal | None, currency: str) -> Decimal:
        if fee is None:
            return ZERO
        return fee if currency in ("USDT", "USDC") else fee * (price or ZERO)

    async def close(self) -> None:
        await self.http.close()


class BybitSpotPort(BybitPort):
    """Spot in the unified account: the leg is the coin balance; no leverage, no reduce-only."""

    category = "spot"
    venue = "bybit-spot"

    def _min_notional(self, row: dict[str, Any]) -> Decimal:
        return to_decimal((row.get("lotSizeFilter") or {}).get("minOrderAmt")) or SPOT_MIN_ORDER_AMT

    async def prepare(self, venue_symbol: str) -> None:
        return None

    def _request(self, intent: OrderIntent) -> OrderRequest:
        request = super()._request(intent)
        return OrderRequest(
            request.symbol, request.side, request.qty, request.order_link_id,
            category="spot", lot=request.lot, market_unit="baseCoin",
        )  # fmt: skip

    def _result(self, order: Order) -> OrderResult:
        """A buy's fee is paid in the coin bought: report what is held and the fee in USD."""
        result = super()._result(order)
        currency = next(iter(order.raw.get("cumFeeDetail") or {"USDT": 0}), "USDT")
        if currency in ("USDT", "USDC"):
            return result
        price = order.avg_price or ZERO
        return OrderResult(
            result.client_id, result.status, result.filled_qty - result.fee_usd, order.avg_price,
            result.fee_usd * price, result.order_id, result.error,
        )  # fmt: skip

    async def position_qty(self, venue_symbol: str) -> Decimal:
        coin = self._bases.get(venue_symbol) or venue_symbol.removesuffix("USDT")
        wallet = await self.trading.wallet_balance((coin,))
        held = wallet.coins.get(coin)
        return (held.wallet_balance or ZERO) if held else ZERO


def _price(result: dict[str, Any], symbol: str, field: str) -> Decimal:
    for row in result.get("list") or []:
        if row.get("symbol") == symbol:
            price = to_decimal(row.get(field)) or to_decimal(row.get("lastPrice"))
            if price and price > 0:
                return price
    raise MalformedResponse("bybit", f"tickers: no {field} for {symbol}")
