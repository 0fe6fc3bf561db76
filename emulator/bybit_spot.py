"""Spot orders in the emulated Bybit unified account (``category=spot``).

Why separate from ``bybit_account.py``: spot has no positions, only coin balances, and its own
refusal codes (170xxx) and fee rule, so keeping it apart keeps both state machines readable.

What Bybit does and the emulator copies (facts A.4, ``create-order.mdx``):
- a Market **Buy** is sized in the quote coin (USDT) unless ``marketUnit=baseCoin``; a Market
  Sell always in the base coin;
- ``qty`` must be a multiple of ``basePrecision`` (170137), at least ``minOrderQty`` (170136)
  and worth at least ``minOrderAmt`` (170140); a balance too small is 170131;
- a duplicate ``orderLinkId`` is 170141 (derivatives use 110072);
- the fee is charged in the coin *received*: a buy pays it in the base coin, a sell in USDT.

Simplifications: the spot book is the perpetual's book of the same symbol (the model keeps one
book per listing); coins bought count at mark value in equity but not as margin collateral;
Limit spot orders that rest never fill later (as for linear).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from emulator.bybit_account import VENUE, AccountState
from emulator.bybit_records import ZERO, Execution, Order, money
from emulator.bybit_rules import (
    BybitError,
    InstrumentRules,
    is_multiple,
    param_error,
    require_str,
    to_decimal,
)

SPOT_MIN_ORDER_AMT = Decimal("5")
QUOTE = "USDT"


def spot_rules(state: AccountState, symbol: str) -> tuple[InstrumentRules, str]:
    """The spot pair's rules and its base coin (170121 'invalid symbol' when not listed)."""
    row = state.market.instrument(VENUE, symbol) if symbol in state.spot_symbols else None
    if row is None:
        raise BybitError(170121, f"Invalid symbol. ({symbol!r} has no spot market)")
    return InstrumentRules.from_row(row), str(row.get("baseCoin", symbol.removesuffix(QUOTE)))


def place_spot_order(state: AccountState, params: Mapping[str, Any]) -> Order:
    """Validate, check balances, fill against the book, move coins; returns the final order."""
    symbol = require_str(params, "symbol")
    rules, base = spot_rules(state, symbol)
    side = require_str(params, "side")
    if side not in ("Buy", "Sell"):
        raise param_error("side", f"must be Buy or Sell, got {side!r}")
    order_type = require_str(params, "orderType")
    if order_type != "Market":
        raise param_error("orderType", "the emulator's spot book takes Market orders only")
    link_id = str(params.get("orderLinkId") or "")
    if link_id and link_id in state.link_ids():
        raise BybitError(170141, "Duplicate clientOrderId.")
    unit = params.get("marketUnit") or ("quoteCoin" if side == "Buy" else "baseCoin")
    if unit not in ("baseCoin", "quoteCoin"):
        raise param_error("marketUnit", f"must be baseCoin or quoteCoin, got {unit!r}")
    amount = to_decimal(params.get("qty"), "qty")
    if amount <= 0:
        raise param_error("qty", f"must be positive, got {amount}")
    mark = state.mark(symbol)
    base_qty = amount if unit == "baseCoin" else _floor(amount / mark, rules.qty_step)
    _check_size(unit, amount, base_qty, mark, rules)
    _check_balance(state, side, base, base_qty, mark)
    now = state.market.clock.now_ms()
    order = Order(
        order_id=str(uuid.uuid4()),
        order_link_id=link_id,
        symbol=symbol,
        side=side,
        order_type="Market",
        time_in_force="IOC",
        price=ZERO,
        qty=base_qty,
        reduce_only=False,
        last_price_on_created=mark,
        created_ms=now,
        updated_ms=now,
        category="spot",
        fee_currency=base if side == "Buy" else QUOTE,
    )
    state.remember(order)
    for price, qty in _walk(state, symbol, side, base_qty, rules.qty_step):
        _trade(state, order, base, price, qty)
    order.status = "Filled" if order.cum_exec_qty == order.qty else (
        "PartiallyFilledCanceled" if order.cum_exec_qty > 0 else "Cancelled"
    )  # fmt: skip
    return order


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_DOWN) * step if step > 0 else value


def _check_size(
    unit: str, amount: Decimal, base_qty: Decimal, mark: Decimal, rules: InstrumentRules
) -> None:
    if unit == "baseCoin" and not is_multiple(base_qty, rules.qty_step):
        raise BybitError(170137, f"Order quantity has too many decimals (step {rules.qty_step}).")
    if base_qty < rules.min_qty:
        raise BybitError(170136, f"Order quantity {base_qty} is below minOrderQty {rules.min_qty}.")
    value = amount if unit == "quoteCoin" else base_qty * mark
    if value < SPOT_MIN_ORDER_AMT:
        raise BybitError(170140, f"Order value {value} is below minOrderAmt {SPOT_MIN_ORDER_AMT}.")


def _check_balance(state: AccountState, side: str, base: str, qty: Decimal, mark: Decimal) -> None:
    if side == "Sell":
        held = state.coins.get(base, ZERO)
        if qty > held:
            raise BybitError(170131, f"Insufficient balance. ({base} {held} < {qty})")
        return
    if qty * mark > state.totals().available:
        raise BybitError(170131, "Insufficient balance. (USDT available below order value)")


def _walk(
    state: AccountState, symbol: str, side: str, qty: Decimal, step: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """Fills best level first, at most 5 % away from mark (Bybit's market-order protection)."""
    bids, asks = state.market.book(VENUE, symbol)
    mark = state.mark(symbol)
    band = mark * Decimal("0.05")
    fills, remaining = [], qty
    for raw_price, raw_size in asks if side == "Buy" else bids:
        price, size = Decimal(str(raw_price)), Decimal(str(raw_size))
        if abs(price - mark) > band or remaining <= 0:
            break
        take = _floor(min(remaining, size), step)
        if take > 0:
            fills.append((price, take))
            remaining -= take
    return fills


def _trade(state: AccountState, order: Order, base: str, price: Decimal, qty: Decimal) -> None:
    rate = state.account.spot_taker_fee_rate
    value = price * qty
    if order.side == "Buy":
        fee = money(qty * rate)  # paid in the base coin received
        state.coins[base] = state.coins.get(base, ZERO) + qty - fee
        state.wallet -= value
    else:
        fee = money(value * rate)  # paid in USDT received
        state.coins[base] = state.coins.get(base, ZERO) - qty
        state.wallet += value - fee
    order.cum_exec_qty += qty
    order.cum_exec_value += value
    order.cum_exec_fee += fee
    now = state.market.clock.now_ms()
    order.updated_ms = now
    state.executions.append(
        Execution(
            exec_id=str(uuid.uuid4()),
            symbol=order.symbol,
            order_id=order.order_id,
            order_link_id=order.order_link_id,
            side=order.side,
            order_type="Market",
            order_price=ZERO,
            order_qty=order.qty,
            leaves_qty=order.qty - order.cum_exec_qty,
            exec_type="Trade",
            exec_price=price,
            exec_qty=qty,
            exec_value=value,
            exec_fee=fee,
            fee_rate=rate,
            is_maker=False,
            exec_time_ms=now,
            mark_price=state.mark(order.symbol),
            closed_size=ZERO,
            seq=state.next_seq(),
            category="spot",
            fee_currency=order.fee_currency,
        )
    )
