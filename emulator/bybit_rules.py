"""Request validation for the emulated Bybit private API: what Bybit refuses, and with which code.

Kept apart from the account state so each rule can be read (and tested) on its own. Every
refusal is a ``BybitError`` whose retMsg names the offending parameter, because a client
debugging against the emulator deserves a better hint than Bybit's terse "params error".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ORDER_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "PostOnly")


class BybitError(Exception):
    """A refusal with Bybit's retCode; the HTTP layer turns it into the V5 envelope.

    Business errors travel as HTTP 200 like on Bybit; only missing/unknown keys use 401.
    """

    def __init__(self, ret_code: int, ret_msg: str, http_status: int = 200) -> None:
        super().__init__(f"{ret_code}: {ret_msg}")
        self.ret_code = ret_code
        self.ret_msg = ret_msg
        self.http_status = http_status


def param_error(name: str, problem: str) -> BybitError:
    return BybitError(10001, f"params error: {name} {problem}")


def to_decimal(value: object, name: str) -> Decimal:
    """Decimal from a request value: a string, an int, or a JSON number parsed as Decimal."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise param_error(name, f"must be a number, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise param_error(name, f"must be a number, got {value!r}") from None
    if not result.is_finite():
        raise param_error(name, f"must be finite, got {value!r}")
    return result


def to_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise param_error(name, f"must be true or false, got {value!r}")


def require_str(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise param_error(name, "is required")
    if not isinstance(value, str):
        raise param_error(name, f"must be a string, got {value!r}")
    return value


def require_linear(params: Mapping[str, Any]) -> None:
    category = require_str(params, "category")
    if category != "linear":
        raise param_error("category", f"{category!r} is not supported (emulator: linear only)")


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step == 0 or value % step == 0


@dataclass(frozen=True)
class InstrumentRules:
    """The parts of an instruments-info row that decide whether an order is acceptable."""

    symbol: str
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_market_qty: Decimal
    min_notional: Decimal
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    min_leverage: Decimal
    max_leverage: Decimal
    leverage_step: Decimal

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> InstrumentRules:
        lot, price, lev = row["lotSizeFilter"], row["priceFilter"], row["leverageFilter"]
        return cls(
            symbol=row["symbol"],
            qty_step=Decimal(lot["qtyStep"]),
            min_qty=Decimal(lot["minOrderQty"]),
            max_qty=Decimal(lot["maxOrderQty"]),
            max_market_qty=Decimal(lot.get("maxMktOrderQty") or lot["maxOrderQty"]),
            min_notional=Decimal(lot.get("minNotionalValue") or "0"),
            tick_size=Decimal(price["tickSize"]),
            min_price=Decimal(price["minPrice"]),
            max_price=Decimal(price["maxPrice"]),
            min_leverage=Decimal(lev["minLeverage"]),
            max_leverage=Decimal(lev["maxLeverage"]),
            leverage_step=Decimal(lev["leverageStep"]),
        )


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None
    time_in_force: str
    reduce_only: bool
    order_link_id: str
    rules: InstrumentRules


def parse_order_request(
    params: Mapping[str, Any], rules_for: Callable[[str], InstrumentRules]
) -> OrderRequest:
    """Validate a /v5/order/create body in the order Bybit reports problems."""
    require_linear(params)
    rules = rules_for(require_str(params, "symbol"))
    side = require_str(params, "side")
    if side not in ("Buy", "Sell"):
        raise param_error("side", f"must be Buy or Sell, got {side!r}")
    order_type = require_str(params, "orderType")
    if order_type not in ("Market", "Limit"):
        raise param_error("orderType", f"must be Market or Limit, got {order_type!r}")
    _check_position_idx(params.get("positionIdx", 0))
    qty = _parse_qty(params.get("qty"), order_type, rules)
    price = _parse_price(params.get("price"), rules) if order_type == "Limit" else None
    return OrderRequest(
        symbol=rules.symbol,
        side=side,
        order_type=order_type,
        qty=qty,
        price=price,
        time_in_force=_parse_time_in_force(params.get("timeInForce"), order_type),
        reduce_only=to_bool(params.get("reduceOnly", False), "reduceOnly"),
        order_link_id=_parse_link_id(params.get("orderLinkId")),
        rules=rules,
    )


def parse_leverage(buy: object, sell: object, rules: InstrumentRules) -> Decimal:
    if buy is None or sell is None:
        raise param_error("buyLeverage/sellLeverage", "are both required")
    buy_lev, sell_lev = to_decimal(buy, "buyLeverage"), to_decimal(sell, "sellLeverage")
    if buy_lev != sell_lev:
        raise param_error("buyLeverage", "must equal sellLeverage in one-way mode")
    if not rules.min_leverage <= buy_lev <= rules.max_leverage:
        raise param_error(
            "buyLeverage",
            f"{buy_lev} outside [{rules.min_leverage}, {rules.max_leverage}] for {rules.symbol}",
        )
    if not is_multiple(buy_lev, rules.leverage_step):
        raise param_error("buyLeverage", f"{buy_lev} is not a multiple of {rules.leverage_step}")
    return buy_lev


def _check_position_idx(value: object) -> None:
    if value not in (0, "0"):
        raise BybitError(10001, f"position idx not match position mode (positionIdx={value!r})")


def _parse_qty(value: object, order_type: str, rules: InstrumentRules) -> Decimal:
    if value is None or value == "":
        raise param_error("qty", "is required")
    qty = to_decimal(value, "qty")
    if qty <= 0:
        raise param_error("qty", f"must be positive, got {qty}")
    if not is_multiple(qty, rules.qty_step):
        raise param_error("qty", f"{qty} is not a multiple of qtyStep {rules.qty_step}")
    if qty < rules.min_qty:
        raise param_error("qty", f"{qty} is below minOrderQty {rules.min_qty}")
    limit = rules.max_market_qty if order_type == "Market" else rules.max_qty
    if qty > limit:
        raise param_error("qty", f"{qty} exceeds the maximum {limit} for {order_type} orders")
    return qty


def _parse_price(value: object, rules: InstrumentRules) -> Decimal:
    if value is None or value == "":
        raise param_error("price", "is required for Limit orders")
    price = to_decimal(value, "price")
    if not rules.min_price <= price <= rules.max_price:
        raise param_error("price", f"{price} outside [{rules.min_price}, {rules.max_price}]")
    if not is_multiple(price, rules.tick_size):
        raise param_error("price", f"{price} is not a multiple of tickSize {rules.tick_size}")
    return price


def _parse_time_in_force(value: object, order_type: str) -> str:
    if order_type == "Market":
        return "IOC"  # Bybit ignores timeInForce on market orders
    if value is None or value == "":
        return "GTC"
    if value not in TIME_IN_FORCE:
        raise param_error("timeInForce", f"must be one of {TIME_IN_FORCE}, got {value!r}")
    return str(value)


def _parse_link_id(value: object) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not ORDER_LINK_ID.match(value):
        raise param_error("orderLinkId", "must be 1-36 characters of [A-Za-z0-9_-]")
    return value
