"""Read-only Bybit V5 private endpoints: wallet, fees, orders, executions, positions.

Each function takes an account state and the request's parameters and returns the ``result``
object. Filters and pagination follow Bybit's documented rules (facts A.4): the cursor is an
opaque string (here: an offset), ``limit`` has per-endpoint defaults and maxima.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from emulator.bybit_account import VENUE, AccountState
from emulator.bybit_records import Execution, Order
from emulator.bybit_rules import BybitError, param_error, require_linear, require_str
from emulator.bybit_wire import (
    execution_row,
    fmt,
    order_row,
    position_row,
    wallet_row,
    with_spot_coins,
)

Params = Mapping[str, Any]
SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000
RECENT_CLOSED_ORDERS = 500


def wallet_balance(state: AccountState, params: Params) -> dict[str, Any]:
    account_type = require_str(params, "accountType")
    if account_type != "UNIFIED":
        raise param_error("accountType", f"only UNIFIED is supported, got {account_type!r}")
    coin = params.get("coin")
    coins = [c.strip() for c in str(coin).split(",")] if coin else None
    return {"list": [with_spot_coins(wallet_row(state, coins), state, coins)]}


def fee_rate(state: AccountState, params: Params) -> dict[str, Any]:
    """Rows for ``symbol``; without it, for the symbols this account has touched.

    (Bybit lists every symbol; the MarketView protocol cannot enumerate instruments.)
    """
    category = require_category(params)
    symbol = params.get("symbol")
    if category == "spot":
        symbols = [str(symbol)] if symbol else sorted(state.spot_symbols)
        taker, maker = state.account.spot_taker_fee_rate, state.account.spot_maker_fee_rate
        return {
            "list": [
                {"symbol": s, "takerFeeRate": fmt(taker), "makerFeeRate": fmt(maker)}
                for s in symbols
            ]
        }
    symbols = [state.rules(str(symbol)).symbol] if symbol else sorted(state.positions)
    taker, maker = state.account.taker_fee_rate, state.account.maker_fee_rate
    return {
        "list": [
            {"symbol": s, "takerFeeRate": fmt(taker), "makerFeeRate": fmt(maker)} for s in symbols
        ]
    }


def account_info(state: AccountState, params: Params) -> dict[str, Any]:
    """What ccxt reads to decide the account is UTA (unifiedMarginStatus 6 = UTA 2.0 Pro)."""
    return {
        "marginMode": "REGULAR_MARGIN",
        "updatedTime": "0",
        "unifiedMarginStatus": 6,
        "dcpStatus": "OFF",
        "timeWindow": 10,
        "smpGroup": 0,
        "isMasterTrader": False,
        "spotHedgingStatus": "OFF",
    }


def query_api(state: AccountState, params: Params) -> dict[str, Any]:
    """API-key info; ccxt checks ``uta == 1`` before trading."""
    return {
        "id": str(state.uid),
        "note": "fundscan emulator",
        "apiKey": state.account.api_key,
        "readOnly": 0,
        "secret": "",
        "permissions": {"ContractTrade": ["Order", "Position"], "Wallet": ["AccountTransfer"]},
        "ips": ["*"],
        "type": 1,
        "deadlineDay": -1,
        "expiredAt": "",
        "createdAt": "",
        "unified": 0,
        "uta": 1,
        "userID": state.uid,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
    }


def coin_info(state: AccountState, params: Params) -> dict[str, Any]:
    """The settle coin only (ccxt's load_markets asks for coin info when it holds keys)."""
    return {"rows": [{"name": "USDT", "coin": "USDT", "remainAmount": "5000000", "chains": []}]}


def open_orders(state: AccountState, params: Params) -> dict[str, Any]:
    """/v5/order/realtime: open orders, or (openOnly=1) recently closed ones.

    A lookup by orderId/orderLinkId ignores openOnly and finds closed orders too; that is
    how a client reconciles after a create that timed out.
    """
    category = require_category(params)
    if category == "linear" and not any(
        params.get(k) for k in ("symbol", "baseCoin", "settleCoin")
    ):
        raise param_error("symbol/baseCoin/settleCoin", "one of them is required for linear")
    orders = _filtered_orders(state, params)
    if not (params.get("orderId") or params.get("orderLinkId")):
        open_only = params.get("openOnly", "0")
        if open_only not in ("0", "1"):
            raise param_error("openOnly", f"must be 0 or 1, got {open_only!r}")
        wanted_open = open_only == "0"
        orders = [o for o in orders if o.is_open == wanted_open]
        orders = orders if wanted_open else orders[:RECENT_CLOSED_ORDERS]
    return _page(orders, params, order_row, default=20, maximum=50)


def order_history(state: AccountState, params: Params) -> dict[str, Any]:
    require_category(params)
    return _page(_filtered_orders(state, params), params, order_row, default=20, maximum=50)


def executions(state: AccountState, params: Params) -> dict[str, Any]:
    category = require_category(params)
    now = state.market.clock.now_ms()
    end = _int_param(params, "endTime", now)
    start = _int_param(params, "startTime", end - SEVEN_DAYS_MS)
    if end < start:
        raise param_error("endTime", "must not be before startTime")
    if end - start > SEVEN_DAYS_MS:
        raise param_error("startTime", "endTime - startTime must be at most 7 days")
    filters = {
        "symbol": lambda e, v: e.symbol == v,
        "orderId": lambda e, v: e.order_id == v,
        "orderLinkId": lambda e, v: e.order_link_id == v,
        "execType": lambda e, v: e.exec_type == v,
    }
    rows: Iterable[Execution] = (
        e for e in state.executions if start <= e.exec_time_ms <= end and e.category == category
    )
    rows = _apply(rows, params, filters)
    ordered = sorted(rows, key=lambda e: (e.exec_time_ms, e.seq), reverse=True)
    return _page(ordered, params, execution_row, default=50, maximum=100)


def positions(state: AccountState, params: Params) -> dict[str, Any]:
    """By symbol: that position even when flat (side ""); by settleCoin: open ones only."""
    require_linear(params)
    symbol, settle = params.get("symbol"), params.get("settleCoin")
    if symbol:
        chosen = [state.position(state.rules(str(symbol)).symbol)]
    elif settle:
        chosen = [p for p in state.positions.values() if p.size != 0 and settle == "USDT"]
    else:
        raise BybitError(
            10001, "Missing some parameters that must be filled in, symbol or settleCoin"
        )
    chosen.sort(key=lambda p: p.symbol)
    return _page(chosen, params, lambda p: position_row(state, p), default=20, maximum=200)


def _filtered_orders(state: AccountState, params: Params) -> list[Order]:
    if params.get("orderId") or params.get("orderLinkId"):
        found = state.find_order(params.get("orderId"), params.get("orderLinkId"))
        candidates: Iterable[Order] = [found] if found else []
    else:
        candidates = reversed(list(state.orders.values()))

    def base_coin(order: Order, wanted: str) -> bool:
        row = state.market.instrument(VENUE, order.symbol)
        return row is not None and row.get("baseCoin") == wanted

    filters: dict[str, Callable[[Order, str], bool]] = {
        "symbol": lambda o, v: o.symbol == v,
        "settleCoin": lambda o, v: v == "USDT",
        "baseCoin": base_coin,
    }
    category = params.get("category")
    candidates = [o for o in candidates if o.category == category]
    selected = _apply(candidates, params, filters)
    return sorted(selected, key=lambda o: o.created_ms, reverse=True)


def require_category(params: Params) -> str:
    """``linear`` or ``spot`` (the categories the emulated account trades)."""
    category = require_str(params, "category")
    if category not in ("linear", "spot"):
        raise param_error("category", f"{category!r} is not supported (emulator: linear, spot)")
    return category


def _apply(
    rows: Iterable[Any], params: Params, filters: Mapping[str, Callable[..., bool]]
) -> list[Any]:
    """Keep rows matching every filter whose parameter the request carries."""
    for name, keep in filters.items():
        wanted = params.get(name)
        if wanted:
            rows = [r for r in rows if keep(r, wanted)]
    return list(rows)


def _int_param(params: Params, name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not str(value).isdigit():
        raise param_error(name, f"must be an integer, got {value!r}")
    return int(value)


def _page(
    rows: list[Any],
    params: Params,
    render: Callable[[Any], dict[str, Any]],
    *,
    default: int,
    maximum: int,
) -> dict[str, Any]:
    limit = _int_param(params, "limit", default)
    if not 1 <= limit <= maximum:
        raise param_error("limit", f"must be within [1, {maximum}], got {limit}")
    offset = _int_param(params, "cursor", 0)
    page = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    return {
        "category": str(params.get("category") or "linear"),
        "list": [render(r) for r in page],
        "nextPageCursor": str(offset + limit) if more else "",
    }
