"""Binance USD-M signed (USER_DATA / TRADE) endpoints of the emulator, as aiohttp routes.

Authentication as Binance applies it: the key in ``X-MBX-APIKEY``; ``signature`` = lowercase
hex HMAC-SHA256, keyed by the secret, of the *total params* - the query string as sent,
followed by the request body as sent (without the ``signature`` pair itself); ``timestamp``
must satisfy ``timestamp < serverTime + 1000`` and ``serverTime - timestamp <= recvWindow``
(default 5000 ms). Failures: -2014/-2015 (HTTP 401) for a missing/unknown key, -1021 for the
time window, -1022 for a bad signature, -1102 for a missing mandatory parameter.

Routes: ``POST/GET /fapi/v1/order``, ``POST /fapi/v1/leverage``, ``GET /fapi/v2|v3/positionRisk``,
``GET /fapi/v2|v3/account``, ``GET /fapi/v1/userTrades``, ``GET /fapi/v1/income``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from emulator.binance_account import (
    VENUE,
    ZERO,
    BinanceAccountConfig,
    BinanceAccountState,
    BinanceError,
    BinanceOrder,
)
from emulator.interfaces import MarketView
from emulator.wire import json_response

Params = Mapping[str, str]
Action = Callable[[BinanceAccountState, Params], Any]
DEFAULT_RECV_WINDOW_MS = 5000


class BinancePrivateApi:
    def __init__(
        self,
        market: MarketView,
        accounts: Sequence[BinanceAccountConfig],
        symbols: Sequence[str] = (),
    ) -> None:
        self.market = market
        self.symbols = tuple(symbols)
        self._lock = threading.RLock()
        self._states = {a.api_key: BinanceAccountState(a, market) for a in accounts}
        self.order_log: list[dict[str, Any]] = []
        market.add_settlement_listener(self.on_settlement)

    def state(self, api_key: str) -> BinanceAccountState:
        return self._states[api_key]

    def on_settlement(
        self, venue: str, symbol: str, rate: float, mark: float, funding_time_ms: int
    ) -> None:
        if venue != VENUE:
            return
        with self._lock:
            for state in self._states.values():
                state.settle_funding(
                    symbol, Decimal(str(rate)), Decimal(str(mark)), funding_time_ms
                )

    def routes(self, prefix: str) -> list[web.RouteDef]:
        table: list[tuple[Callable[..., web.RouteDef], str, Action]] = [
            (web.post, "/fapi/v1/order", _new_order),
            (web.get, "/fapi/v1/order", _query_order),
            (web.post, "/fapi/v1/leverage", _leverage),
            (web.get, "/fapi/v2/positionRisk", _position_risk),
            (web.get, "/fapi/v3/positionRisk", _position_risk),
            (web.get, "/fapi/v2/account", _account),
            (web.get, "/fapi/v3/account", _account),
            (web.get, "/fapi/v1/userTrades", _user_trades),
            (web.get, "/fapi/v1/income", _income),
            (web.get, "/fapi/v1/leverageBracket", self._brackets),
        ]
        return [make(prefix + path, self._handler(path, action)) for make, path, action in table]

    def _brackets(self, state: BinanceAccountState, params: Params) -> list[dict[str, Any]]:
        """One flat bracket per symbol (the emulator has no tiered margin)."""
        symbol = params.get("symbol")
        if symbol:
            state.rules(symbol)
        return [
            {
                "symbol": s, "notionalCoef": 1.0,
                "brackets": [
                    {"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000_000,
                     "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}
                ],
            }
            for s in ([symbol] if symbol else self.symbols)
        ]  # fmt: skip

    def _handler(self, path: str, action: Action) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            query = request.raw_path.partition("?")[2]
            body = (await request.read()).decode("utf-8", "replace")
            try:
                params, state = self._authenticate(request.headers, query, body)
                with self._lock:
                    result = action(state, params)
                status = 200
            except BinanceError as error:
                result, status = {"code": error.code, "msg": error.msg}, error.http_status
            if path == "/fapi/v1/order" and request.method == "POST" and status != 401:
                self._log_order(query, body, result, status)
            return json_response(result, status=status)

        return handle

    def _authenticate(
        self, headers: Mapping[str, str], query: str, body: str
    ) -> tuple[dict[str, str], BinanceAccountState]:
        key = headers.get("X-MBX-APIKEY", "")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        state = self._states.get(key)
        if state is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        total = query + body
        unsigned, _, signature = total.rpartition("&signature=")
        if not signature:
            raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent.")
        params = dict(urllib.parse.parse_qsl(unsigned, keep_blank_values=True))
        clock = self.market.clock
        accelerated = not getattr(clock, "stepped", True) and getattr(clock, "speed", 1.0) > 1.0
        _check_window(params, clock.now_ms(), strict=not accelerated)
        expected = hmac.new(
            state.config.api_secret.encode(), unsigned.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(signature, expected):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        return params, state

    def _log_order(self, query: str, body: str, result: Any, status: int) -> None:
        sent = dict(urllib.parse.parse_qsl(query + "&" + body))
        self.order_log.append(
            {
                "ts_ms": self.market.clock.now_ms(), "symbol": sent.get("symbol"),
                "side": sent.get("side"), "quantity": sent.get("quantity"),
                "newClientOrderId": sent.get("newClientOrderId"),
                "reduceOnly": sent.get("reduceOnly"),
                "code": result.get("code", 0) if isinstance(result, dict) else 0,
                "status": status,
            }
        )  # fmt: skip


def register(
    app: web.Application,
    prefix: str,
    market: MarketView,
    accounts: Sequence[BinanceAccountConfig],
    symbols: Sequence[str] = (),
) -> BinancePrivateApi:
    api = BinancePrivateApi(market, accounts, symbols)
    app.router.add_routes(api.routes(prefix.rstrip("/")))
    return api


def _check_window(params: Mapping[str, str], now_ms: int, *, strict: bool = True) -> None:
    """Binance's window; an accelerated emulator checks only that a timestamp is present."""
    ts, window = (
        params.get("timestamp", ""),
        params.get("recvWindow") or str(DEFAULT_RECV_WINDOW_MS),
    )
    if not ts.isdigit():
        raise BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null.")
    if not window.isdigit() or int(window) > 60_000:
        raise BinanceError(-1131, "recvWindow must be less than 60000.")
    if strict and not (int(ts) < now_ms + 1000 and now_ms - int(ts) <= int(window)):
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _need(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null.")
    return value


def _decimal(params: Params, name: str) -> Decimal:
    try:
        value = Decimal(_need(params, name))
    except InvalidOperation:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.") from None
    if not value.is_finite():
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def _s(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def _order_row(order: BinanceOrder) -> dict[str, Any]:
    return {
        "orderId": order.order_id, "symbol": order.symbol, "status": order.status,
        "clientOrderId": order.client_order_id, "price": "0", "avgPrice": _s(order.avg_price),
        "origQty": _s(order.orig_qty), "executedQty": _s(order.executed_qty),
        "cumQuote": _s(order.cum_quote), "timeInForce": "GTC", "type": "MARKET",
        "reduceOnly": order.reduce_only, "closePosition": False, "side": order.side,
        "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
        "priceProtect": False, "origType": "MARKET", "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": order.time_ms,
        "updateTime": order.time_ms,
    }  # fmt: skip


def _new_order(state: BinanceAccountState, params: Params) -> dict[str, Any]:
    kind = _need(params, "type")
    if kind != "MARKET":
        raise BinanceError(-1116, "Invalid orderType. (the emulator fills MARKET orders only)")
    side = _need(params, "side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    order = state.place(
        _need(params, "symbol"), side, _decimal(params, "quantity"),
        params.get("newClientOrderId", ""), params.get("reduceOnly") == "true",
    )  # fmt: skip
    return _order_row(order)


def _query_order(state: BinanceAccountState, params: Params) -> dict[str, Any]:
    symbol = _need(params, "symbol")
    oid, cid = params.get("orderId"), params.get("origClientOrderId")
    if not oid and not cid:
        raise BinanceError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return _order_row(state.find(symbol, oid, cid))


def _leverage(state: BinanceAccountState, params: Params) -> dict[str, Any]:
    lev = _need(params, "leverage")
    if not lev.isdigit():
        raise BinanceError(-1100, "Illegal characters found in parameter 'leverage'.")
    position = state.set_leverage(_need(params, "symbol"), int(lev))
    return {"leverage": position.leverage, "maxNotionalValue": "1000000", "symbol": position.symbol}


def _position_rows(state: BinanceAccountState, symbol: str | None) -> list[dict[str, Any]]:
    if symbol:
        state.rules(symbol)
        chosen = [state.position(symbol)]
    else:
        chosen = [p for p in state.positions.values() if p.amount != 0]
    rows = []
    for p in chosen:
        mark = state.mark(p.symbol)
        notional = p.amount * mark
        rows.append(
            {
                "symbol": p.symbol, "positionSide": "BOTH", "positionAmt": _s(p.amount),
                "entryPrice": _s(p.entry_price), "breakEvenPrice": _s(p.entry_price),
                "markPrice": _s(mark), "unRealizedProfit": _s(p.amount * (mark - p.entry_price)),
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": _s(notional),
                "marginAsset": "USDT", "isolatedWallet": "0",
                "initialMargin": _s(abs(notional) / p.leverage),
                "maintMargin": _s(abs(notional) * Decimal("0.004")),
                "positionInitialMargin": _s(abs(notional) / p.leverage),
                "openOrderInitialMargin": "0",
                "adl": 0, "bidNotional": "0", "askNotional": "0", "leverage": str(p.leverage),
                "marginType": "cross", "isAutoAddMargin": "false", "maxNotionalValue": "1000000",
                "updateTime": p.update_ms,
            }
        )  # fmt: skip
    return rows


def _position_risk(state: BinanceAccountState, params: Params) -> list[dict[str, Any]]:
    return _position_rows(state, params.get("symbol"))


def _account(state: BinanceAccountState, params: Params) -> dict[str, Any]:
    upnl, im = state.unrealised(), state.initial_margin()
    margin = state.wallet + upnl
    asset = {
        "asset": "USDT", "walletBalance": _s(state.wallet), "unrealizedProfit": _s(upnl),
        "marginBalance": _s(margin), "maintMargin": "0", "initialMargin": _s(im),
        "positionInitialMargin": _s(im), "openOrderInitialMargin": "0", "crossWalletBalance":
        _s(state.wallet), "crossUnPnl": _s(upnl), "availableBalance": _s(state.available()),
        "maxWithdrawAmount": _s(max(state.available(), ZERO)), "updateTime": 0,
    }  # fmt: skip
    return {
        "totalInitialMargin": _s(im), "totalMaintMargin": "0",
        "totalWalletBalance": _s(state.wallet), "totalUnrealizedProfit": _s(upnl),
        "totalMarginBalance": _s(margin), "totalPositionInitialMargin": _s(im),
        "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": _s(state.wallet),
        "totalCrossUnPnl": _s(upnl), "availableBalance": _s(state.available()),
        "maxWithdrawAmount": _s(max(state.available(), ZERO)), "assets": [asset],
        "positions": _position_rows(state, None),
    }  # fmt: skip


def _window(params: Params, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start, end = params.get("startTime"), params.get("endTime")
    if start:
        rows = [r for r in rows if r["time"] >= int(start)]
    if end:
        rows = [r for r in rows if r["time"] <= int(end)]
    limit = int(params.get("limit") or 100)
    return rows[-limit:] if not start else rows[:limit]


def _user_trades(state: BinanceAccountState, params: Params) -> list[dict[str, Any]]:
    symbol = _need(params, "symbol")
    rows = [t for t in state.trades if t["symbol"] == symbol]
    if params.get("orderId"):
        rows = [t for t in rows if str(t["orderId"]) == params["orderId"]]
    return _window(params, rows)


def _income(state: BinanceAccountState, params: Params) -> list[dict[str, Any]]:
    rows = state.income
    if params.get("symbol"):
        rows = [r for r in rows if r["symbol"] == params["symbol"]]
    if params.get("incomeType"):
        rows = [r for r in rows if r["incomeType"] == params["incomeType"]]
    return _window(params, list(rows))
