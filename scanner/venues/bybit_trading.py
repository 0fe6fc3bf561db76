"""Bybit V5 private endpoints: balances, fees, orders, executions, positions, leverage.

Why a separate module: the scanner never needs keys; only execution does. Keeping the signed
calls here keeps ``bybit.py`` (market data) small and makes it obvious which code can move
money.

Money in, money out: every quantity and price is a ``Decimal`` built from the venue's strings,
and anything we send is rounded *down* to the instrument's lot/tick (``round_down``), so a
float never reaches an order.

Order create is never blindly retried. After an ambiguous failure (timeout, dropped
connection, 5xx, 10000/10016 "server busy", unreadable body) the order may or may not exist;
we look it up by its ``orderLinkId`` first (``/v5/order/realtime`` also returns recently closed
orders) and only re-send when the venue says it does not have it. A duplicate ``orderLinkId``
(110072) is resolved by the same lookup: the order we wanted is already there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from scanner.domain import Instrument
from scanner.venues.base import (
    BadRequest,
    MalformedResponse,
    TemporaryVenueError,
    to_decimal,
    to_int,
)
from scanner.venues.bybit_http import BybitHttp

log = logging.getLogger(__name__)

DUPLICATE_LINK_IDS = {110072, 170141}  # derivatives, spot
NOT_MODIFIED = {110043, 110025}
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def round_down(value: Decimal, step: Decimal | None) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (tick or lot); unchanged if no step."""
    if step is None or step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def plain(value: Decimal) -> str:
    """A Decimal as Bybit expects it: positional notation, never ``1.2E-7`` or ``1.23E+3``."""
    return format(value, "f")


def _dec(row: Mapping[str, Any], key: str) -> Decimal | None:
    return to_decimal(row.get(key))


@dataclass(frozen=True)
class OrderRequest:
    """What to send to /v5/order/create. ``order_link_id`` is mandatory: it makes retries safe."""

    symbol: str
    side: str  # "Buy" | "Sell"
    qty: Decimal
    order_link_id: str
    order_type: str = "Market"
    price: Decimal | None = None
    time_in_force: str | None = None
    reduce_only: bool = False
    position_idx: int = 0
    category: str = "linear"
    lot: Decimal | None = None
    tick: Decimal | None = None
    market_unit: str | None = None  # spot market orders: "baseCoin" sizes a Buy in base units

    @classmethod
    def for_instrument(
        cls, instrument: Instrument, side: str, qty: Decimal, order_link_id: str, **kw: Any
    ) -> OrderRequest:
        """The way to build an order: the instrument's lot and tick travel with it, so the
        body sent is rounded down to them whatever the caller computed."""
        return cls(
            instrument.venue_symbol, side, qty, order_link_id,
            lot=instrument.lot, tick=instrument.tick, **kw,
        )  # fmt: skip

    def __post_init__(self) -> None:
        if self.side not in ("Buy", "Sell"):
            raise ValueError(f"side must be Buy or Sell, got {self.side!r}")
        if not _LINK_ID.match(self.order_link_id):
            raise ValueError("order_link_id must be 1-36 chars of [A-Za-z0-9_-]")
        if self.qty <= 0:
            raise ValueError(f"qty must be positive, got {self.qty}")
        if self.order_type == "Limit" and self.price is None:
            raise ValueError("a Limit order needs a price")
        if round_down(self.qty, self.lot) <= 0:
            raise ValueError(f"qty {plain(self.qty)} rounds down to 0 at lot {self.lot}")

    def body(self) -> dict[str, Any]:
        """The JSON body: qty and price rounded down to lot and tick, as plain strings."""
        price = None if self.price is None else plain(round_down(self.price, self.tick))
        spot = self.category == "spot"
        return {
            "category": self.category,
            "symbol": self.symbol,
            "side": self.side,
            "orderType": self.order_type,
            "qty": plain(round_down(self.qty, self.lot)),
            "price": price,
            "timeInForce": self.time_in_force,
            "reduceOnly": True if self.reduce_only and not spot else None,
            "positionIdx": None if spot else self.position_idx,
            "orderLinkId": self.order_link_id,
            "marketUnit": self.market_unit if spot else None,
        }


@dataclass(frozen=True)
class OrderAck:
    """The venue accepted (not necessarily filled) the order. ``recovered``: found by lookup."""

    order_id: str
    order_link_id: str
    recovered: bool = False


@dataclass(frozen=True)
class Order:
    order_id: str
    order_link_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    qty: Decimal | None
    price: Decimal | None
    avg_price: Decimal | None
    cum_exec_qty: Decimal | None
    cum_exec_fee: Decimal | None
    created_ms: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> Order:
        return cls(
            order_id=str(row.get("orderId", "")),
            order_link_id=str(row.get("orderLinkId", "")),
            symbol=str(row.get("symbol", "")),
            side=str(row.get("side", "")),
            order_type=str(row.get("orderType", "")),
            status=str(row.get("orderStatus", "")),
            qty=_dec(row, "qty"),
            price=_dec(row, "price"),
            avg_price=_dec(row, "avgPrice"),
            cum_exec_qty=_dec(row, "cumExecQty"),
            cum_exec_fee=_dec(row, "cumExecFee"),
            created_ms=to_int(row.get("createdTime")),
            raw=dict(row),
        )


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: str
    order_link_id: str
    symbol: str
    side: str
    exec_type: str
    exec_price: Decimal | None
    exec_qty: Decimal | None
    exec_fee: Decimal | None
    exec_ms: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    fee_currency: str = "USDT"

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> Execution:
        return cls(
            exec_id=str(row.get("execId", "")),
            order_id=str(row.get("orderId", "")),
            order_link_id=str(row.get("orderLinkId", "")),
            symbol=str(row.get("symbol", "")),
            side=str(row.get("side", "")),
            exec_type=str(row.get("execType", "")),
            exec_price=_dec(row, "execPrice"),
            exec_qty=_dec(row, "execQty"),
            exec_fee=_dec(row, "execFee"),
            exec_ms=to_int(row.get("execTime")),
            raw=dict(row),
            fee_currency=str(row.get("feeCurrency") or "USDT"),
        )


@dataclass(frozen=True)
class Position:
    """``size`` is always >= 0; ``side`` is Buy/Sell, or "" for a flat position."""

    symbol: str
    side: str
    size: Decimal
    avg_price: Decimal | None
    mark_price: Decimal | None
    leverage: Decimal | None
    unrealised_pnl: Decimal | None
    position_idx: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def signed_size(self) -> Decimal:
        return -self.size if self.side == "Sell" else self.size

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> Position:
        return cls(
            symbol=str(row.get("symbol", "")),
            side=str(row.get("side", "")),
            size=_dec(row, "size") or Decimal(0),
            avg_price=_dec(row, "avgPrice"),
            mark_price=_dec(row, "markPrice"),
            leverage=_dec(row, "leverage"),
            unrealised_pnl=_dec(row, "unrealisedPnl"),
            position_idx=to_int(row.get("positionIdx")) or 0,
            raw=dict(row),
        )


@dataclass(frozen=True)
class CoinBalance:
    coin: str
    equity: Decimal | None
    wallet_balance: Decimal | None
    unrealised_pnl: Decimal | None


@dataclass(frozen=True)
class WalletBalance:
    account_type: str
    total_equity: Decimal | None
    total_available: Decimal | None
    coins: Mapping[str, CoinBalance]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, result: Mapping[str, Any]) -> WalletBalance:
        rows = result.get("list") or []
        if not rows or not isinstance(rows[0], dict):
            raise MalformedResponse("bybit", "wallet-balance: empty list")
        acct = rows[0]
        coins = {
            str(c.get("coin")): CoinBalance(
                coin=str(c.get("coin")),
                equity=_dec(c, "equity"),
                wallet_balance=_dec(c, "walletBalance"),
                unrealised_pnl=_dec(c, "unrealisedPnl"),
            )
            for c in acct.get("coin") or []
        }
        return cls(
            account_type=str(acct.get("accountType", "")),
            total_equity=_dec(acct, "totalEquity"),
            total_available=_dec(acct, "totalAvailableBalance"),
            coins=coins,
            raw=dict(acct),
        )


@dataclass(frozen=True)
class FeeRate:
    symbol: str
    taker: Decimal
    maker: Decimal


def _list(result: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    rows = result.get("list")
    if not isinstance(rows, list):
        raise MalformedResponse("bybit", f"{where}: result.list missing")
    return [r for r in rows if isinstance(r, dict)]


class BybitTrading:
    """Signed Bybit calls. Needs a ``BybitHttp`` built with credentials."""

    def __init__(self, http: BybitHttp, *, create_attempts: int = 2) -> None:
        self.http = http
        self.create_attempts = create_attempts

    async def wallet_balance(self, coins: tuple[str, ...] = ()) -> WalletBalance:
        params = {"accountType": "UNIFIED", "coin": ",".join(coins) or None}
        return WalletBalance.parse(await self.http.signed_get("/v5/account/wallet-balance", params))

    async def fee_rate(self, symbol: str, category: str = "linear") -> FeeRate:
        result = await self.http.signed_get(
            "/v5/account/fee-rate", {"category": category, "symbol": symbol}
        )
        for row in _list(result, "fee-rate"):
            if row.get("symbol") == symbol:
                taker, maker = _dec(row, "takerFeeRate"), _dec(row, "makerFeeRate")
                if taker is None or maker is None:
                    break
                return FeeRate(symbol, taker, maker)
        raise MalformedResponse("bybit", f"fee-rate: no rates for {symbol}")

    async def positions(self, symbol: str | None = None, settle: str = "USDT") -> list[Position]:
        params = {
            "category": "linear",
            "symbol": symbol,
            "settleCoin": None if symbol else settle,
            "limit": 200,
        }
        result = await self.http.signed_get("/v5/position/list", params)
        return [Position.parse(r) for r in _list(result, "position/list")]

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        """Idempotent: 110043 'leverage not modified' counts as success."""
        lev = str(leverage)
        body = {"category": "linear", "symbol": symbol, "buyLeverage": lev, "sellLeverage": lev}
        try:
            await self.http.signed_post("/v5/position/set-leverage", body)
        except BadRequest as exc:
            if exc.code not in NOT_MODIFIED:
                raise

    async def find_order(
        self, symbol: str, order_link_id: str, category: str = "linear"
    ) -> Order | None:
        """Open or recently closed order by ``orderLinkId`` (None when Bybit has none)."""
        params = {"category": category, "symbol": symbol, "orderLinkId": order_link_id}
        result = await self.http.signed_get("/v5/order/realtime", params)
        for row in _list(result, "order/realtime"):
            if row.get("orderLinkId") == order_link_id:
                return Order.parse(row)
        return None

    async def open_orders(self, symbol: str | None = None, settle: str = "USDT") -> list[Order]:
        params = {"category": "linear", "symbol": symbol, "settleCoin": None if symbol else settle}
        result = await self.http.signed_get("/v5/order/realtime", params)
        return [Order.parse(r) for r in _list(result, "order/realtime")]

    async def order_history(self, symbol: str | None = None, limit: int = 50) -> list[Order]:
        params = {"category": "linear", "symbol": symbol, "limit": limit}
        result = await self.http.signed_get("/v5/order/history", params)
        return [Order.parse(r) for r in _list(result, "order/history")]

    async def executions(
        self,
        symbol: str | None = None,
        order_link_id: str | None = None,
        limit: int = 100,
        *,
        category: str = "linear",
        exec_type: str | None = None,
        start_ms: int | None = None,
    ) -> list[Execution]:
        params = {
            "category": category,
            "symbol": symbol,
            "orderLinkId": order_link_id,
            "execType": exec_type,
            "startTime": start_ms,
            "limit": limit,
        }
        result = await self.http.signed_get("/v5/execution/list", params)
        return [Execution.parse(r) for r in _list(result, "execution/list")]

    async def cancel_order(self, symbol: str, order_link_id: str) -> OrderAck:
        body = {"category": "linear", "symbol": symbol, "orderLinkId": order_link_id}
        result = await self.http.signed_post("/v5/order/cancel", body)
        return OrderAck(str(result.get("orderId", "")), str(result.get("orderLinkId", "")))

    async def place_order(self, request: OrderRequest) -> OrderAck:
        """Create an order exactly once, resolving ambiguity by looking it up by orderLinkId."""
        last: Exception | None = None
        for attempt in range(self.create_attempts):
            try:
                result = await self.http.signed_post(
                    "/v5/order/create", request.body(), idempotent=False
                )
                return OrderAck(str(result["orderId"]), str(result["orderLinkId"]))
            except KeyError:
                last = MalformedResponse("bybit", "order/create result lacks orderId")
            except BadRequest as exc:
                if exc.code not in DUPLICATE_LINK_IDS:
                    raise
                last = exc
            except (TemporaryVenueError, MalformedResponse) as exc:
                if getattr(exc, "ban", False):
                    raise
                last = exc
            log.warning(
                "bybit: order %s ambiguous after attempt %d (%s); looking it up",
                request.order_link_id,
                attempt + 1,
                last,
            )
            found = await self.find_order(request.symbol, request.order_link_id, request.category)
            if found is not None:
                return OrderAck(found.order_id, found.order_link_id, recovered=True)
            if isinstance(last, BadRequest):
                raise last  # 110072 but no such order: something else holds the id
        assert last is not None
        raise last
