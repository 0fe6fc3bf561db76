"""Bybit V5 private (signed) REST endpoints of the venue emulator, as aiohttp routes.

``register(app, prefix, market, accounts)`` adds ``{prefix}/v5/...`` routes and returns the
``BybitPrivateApi`` that owns the accounts. Each request goes through the same pipeline as on
Bybit: authenticate (key, timestamp window, signature over the exact bytes sent), count it
against the UID's per-endpoint one-second limit, parse parameters, act on the account, and
answer with the V5 envelope plus the ``X-Bapi-Limit*`` headers. Business errors are HTTP 200
with a non-zero retCode, as on Bybit.

Funding: the API subscribes to the market's settlement listener and books funding for every
account holding a position in the settled symbol. The listener and the handlers share one
lock, so a market model that settles from another thread cannot interleave with an order.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from emulator import bybit_queries as queries
from emulator.bybit_account import VENUE, AccountState, BybitAccount
from emulator.bybit_auth import LimitStatus, RateLimiter, authenticate
from emulator.bybit_queries import require_category
from emulator.bybit_rules import BybitError, require_linear, require_str
from emulator.bybit_spot import place_spot_order
from emulator.bybit_wire import envelope
from emulator.interfaces import MarketView

Params = Mapping[str, Any]
Action = Callable[[AccountState, Params], dict[str, Any]]
FIRST_UID = 100001


class BybitPrivateApi:
    """The emulated accounts and the request pipeline in front of them."""

    def __init__(
        self,
        market: MarketView,
        accounts: Sequence[BybitAccount],
        limiter: RateLimiter | None = None,
        spot_symbols: frozenset[str] = frozenset(),
    ) -> None:
        self.market = market
        self.limiter = limiter or RateLimiter()
        self._lock = threading.RLock()
        self._states: dict[str, AccountState] = {}
        self.order_log: list[dict[str, Any]] = []
        """Every authenticated /v5/order/create, in arrival order, with its outcome."""
        for offset, account in enumerate(accounts):
            if account.api_key in self._states:
                raise ValueError(f"duplicate Bybit emulator api_key {account.api_key!r}")
            self._states[account.api_key] = AccountState(
                account, FIRST_UID + offset, market, spot_symbols=spot_symbols
            )
        market.add_settlement_listener(self.on_settlement)

    def state(self, api_key: str) -> AccountState:
        """The live state of one account (for tests and the demo's reporting)."""
        return self._states[api_key]

    def on_settlement(
        self,
        venue: str,
        venue_symbol: str,
        rate_per_interval: float,
        mark_price: float,
        funding_time_ms: int,
    ) -> None:
        if venue != VENUE:
            return
        rate, mark = Decimal(str(rate_per_interval)), Decimal(str(mark_price))
        with self._lock:
            for state in self._states.values():
                state.settle_funding(venue_symbol, rate, mark, funding_time_ms)

    def routes(self, prefix: str) -> list[web.RouteDef]:
        get, post = web.get, web.post
        table: list[tuple[Callable[..., web.RouteDef], str, Action]] = [
            (get, "/v5/account/wallet-balance", queries.wallet_balance),
            (get, "/v5/account/fee-rate", queries.fee_rate),
            (get, "/v5/account/info", queries.account_info),
            (get, "/v5/user/query-api", queries.query_api),
            (get, "/v5/asset/coin/query-info", queries.coin_info),
            (post, "/v5/order/create", _create_order),
            (post, "/v5/order/cancel", _cancel_order),
            (get, "/v5/order/realtime", queries.open_orders),
            (get, "/v5/order/history", queries.order_history),
            (get, "/v5/execution/list", queries.executions),
            (get, "/v5/position/list", queries.positions),
            (post, "/v5/position/set-leverage", _set_leverage),
            (post, "/v5/position/switch-mode", _switch_mode),
        ]
        return [make(prefix + path, self._handler(path, action)) for make, path, action in table]

    def _handler(self, endpoint: str, action: Action) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            payload = await _payload(request)
            return self._respond(request, endpoint, payload, action)

        return handle

    def _respond(
        self, request: web.Request, endpoint: str, payload: bytes, action: Action
    ) -> web.Response:
        now = self.market.clock.now_ms()
        limit = self.limiter.limit_for(endpoint)
        status = LimitStatus(True, limit, limit, now)
        try:
            api_key = authenticate(
                request.headers, payload, now, self._secret_for, strict_window(self.market)
            )
            state = self._states[api_key]
            status = self.limiter.admit(state.uid, endpoint, now)
            if not status.allowed:
                raise BybitError(10006, "Too many visits. Exceeded the API Rate Limit.")
            params = _parse_params(request.method, payload)
            with self._lock:
                body = envelope(action(state, params), now)
            http_status = 200
        except BybitError as error:
            body = envelope({}, now, error.ret_code, error.ret_msg)
            http_status = error.http_status
        if endpoint == "/v5/order/create" and body["retCode"] != 10003:
            self._log_order(payload, body, now)
        return web.json_response(
            body, status=http_status, headers=status.headers(), dumps=_compact_json
        )

    def _log_order(self, payload: bytes, body: dict[str, Any], now: int) -> None:
        try:
            sent = json.loads(payload or b"{}")
        except ValueError:
            sent = {}
        self.order_log.append(
            {
                "ts_ms": now,
                "category": sent.get("category"),
                "symbol": sent.get("symbol"),
                "side": sent.get("side"),
                "qty": sent.get("qty"),
                "orderLinkId": sent.get("orderLinkId"),
                "reduceOnly": sent.get("reduceOnly"),
                "retCode": body["retCode"],
            }
        )

    def _secret_for(self, api_key: str) -> str | None:
        state = self._states.get(api_key)
        return state.account.api_secret if state else None


def strict_window(market: MarketView) -> bool:
    """False for an accelerated clock (see ``bybit_auth``): no client clock can keep up."""
    clock = market.clock
    return bool(getattr(clock, "stepped", True)) or float(getattr(clock, "speed", 1.0)) <= 1.0


def register(
    app: web.Application,
    prefix: str,
    market: MarketView,
    accounts: Sequence[BybitAccount],
    spot_symbols: frozenset[str] = frozenset(),
) -> BybitPrivateApi:
    """Add the private routes under ``{prefix}/v5/...`` (prefix "" or e.g. "/bybit")."""
    api = BybitPrivateApi(market, accounts, spot_symbols=spot_symbols)
    app.router.add_routes(api.routes(prefix.rstrip("/")))
    return api


async def _payload(request: web.Request) -> bytes:
    """The bytes Bybit signs: the raw query string as sent (GET) or the raw body (POST)."""
    if request.method == "GET":
        return request.raw_path.partition("?")[2].encode("utf-8", "surrogateescape")
    return await request.read()


def _parse_params(method: str, payload: bytes) -> dict[str, Any]:
    if method == "GET":
        return dict(urllib.parse.parse_qsl(payload.decode(), keep_blank_values=True))
    if not payload.strip():
        return {}
    try:
        parsed = json.loads(payload, parse_float=Decimal)
    except ValueError as error:
        raise BybitError(10001, f"request body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise BybitError(10001, "request body must be a JSON object")
    return parsed


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _create_order(state: AccountState, params: Params) -> dict[str, Any]:
    if params.get("category") == "spot":
        order = place_spot_order(state, params)
    else:
        order = state.place_order(params)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _cancel_order(state: AccountState, params: Params) -> dict[str, Any]:
    require_category(params)
    symbol = require_str(params, "symbol")
    order_id, link_id = params.get("orderId"), params.get("orderLinkId")
    if not order_id and not link_id:
        raise BybitError(10001, "params error: orderId or orderLinkId is required")
    order = state.cancel_order(
        str(order_id) if order_id else None, str(link_id) if link_id else None, symbol
    )
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _set_leverage(state: AccountState, params: Params) -> dict[str, Any]:
    require_linear(params)
    state.set_leverage(
        require_str(params, "symbol"), params.get("buyLeverage"), params.get("sellLeverage")
    )
    return {}


def _switch_mode(state: AccountState, params: Params) -> dict[str, Any]:
    """Accounts are one-way; asking for one-way again is Bybit's 110025 'not modified'."""
    require_linear(params)
    if not params.get("symbol") and not params.get("coin"):
        raise BybitError(10001, "params error: symbol or coin is required")
    if params.get("symbol"):
        state.rules(str(params["symbol"]))
    mode = params.get("mode")
    if mode in (0, "0"):
        raise BybitError(110025, "Position mode is not modified")
    if mode in (3, "3"):
        raise BybitError(110029, "Hedge mode is not available (the emulator is one-way only)")
    raise BybitError(10001, f"params error: mode must be 0 or 3, got {mode!r}")
