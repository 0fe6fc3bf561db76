"""One emulated Bybit UTA account: orders, fills, one-way linear positions, USDT wallet, funding.

This is a state machine with no HTTP in it, so it can be tested by calling methods. The HTTP
layer (``bybit_private.py``) authenticates and parses requests, then calls ``place_order``,
``cancel_order``, ``set_leverage`` and reads the records; everything refuses exactly where
Bybit would, by raising ``BybitError`` with Bybit's retCode.

Money is Decimal throughout. Book levels arrive from the market model as floats; they are
converted with ``Decimal(str(x))`` (shortest repr, so 65114.2 stays 65114.2). Fees, PnL and
funding are rounded to 8 decimals (Bybit's USDT precision in execution/position strings).

Deliberate simplifications (documented, not hidden):
- one-way mode only (positionIdx 0), category ``linear`` only;
- taker orders fill against ``market.book()`` but do not consume it (the model's book is the
  same for the next order); resting GTC/PostOnly orders never fill later, they can only be
  cancelled;
- margin is cross, IM = positionValue / leverage, MM = positionValue x 0.5 % (a rough tier-1
  figure), no liquidation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from emulator.bybit_records import (
    MAINTENANCE_RATE,
    ZERO,
    BybitAccount,
    Execution,
    Order,
    Position,
    WalletTotals,
    money,
)
from emulator.bybit_rules import (
    BybitError,
    InstrumentRules,
    OrderRequest,
    parse_leverage,
    parse_order_request,
)
from emulator.interfaces import MarketView

VENUE = "bybit"
MARKET_SLIPPAGE_BAND = Decimal("0.05")
"""Market orders become IOC limits this far from mark (Bybit converts them similarly)."""


@dataclass
class AccountState:
    """Everything one account owns; mutate only through the methods below."""

    account: BybitAccount
    uid: int
    market: MarketView
    wallet: Decimal = ZERO
    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    coins: dict[str, Decimal] = field(default_factory=dict)
    """Spot coin balances other than USDT (which is ``wallet``)."""
    spot_symbols: frozenset[str] = frozenset()
    _link_ids: dict[str, str] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=lambda: iter(range(1, 2**62)))

    def __post_init__(self) -> None:
        self.wallet = self.account.usdt_balance

    # ---- lookups -------------------------------------------------------------------------

    def rules(self, symbol: str) -> InstrumentRules:
        row = self.market.instrument(VENUE, symbol) if symbol else None
        if row is None:
            raise BybitError(10001, f"params error: symbol invalid ({symbol!r} is not listed)")
        return InstrumentRules.from_row(row)

    def position(self, symbol: str) -> Position:
        if symbol not in self.positions:
            now = self.market.clock.now_ms()
            self.positions[symbol] = Position(symbol, created_ms=now, updated_ms=now)
        return self.positions[symbol]

    def mark(self, symbol: str) -> Decimal:
        """Mark price at the symbol's tick precision (the model's float has noise digits)."""
        raw = Decimal(str(self.market.mark_price(VENUE, symbol)))
        return raw.quantize(self.rules(symbol).tick_size, ROUND_HALF_UP)

    def find_order(self, order_id: str | None, order_link_id: str | None) -> Order | None:
        """orderId wins when both are given (as on Bybit)."""
        if order_id:
            return self.orders.get(order_id)
        if order_link_id:
            found = self._link_ids.get(order_link_id)
            return self.orders.get(found) if found else None
        return None

    def link_ids(self) -> Mapping[str, str]:
        return self._link_ids

    def remember(self, order: Order) -> None:
        """Register a new order (and its orderLinkId) with the account."""
        self.orders[order.order_id] = order
        if order.order_link_id:
            self._link_ids[order.order_link_id] = order.order_id

    def next_seq(self) -> int:
        return next(self._seq)

    def spot_value(self) -> Decimal:
        """Coins held, valued at mark (they count in equity, not as margin here)."""
        return money(sum((q * self.mark(f"{c}USDT") for c, q in self.coins.items() if q), ZERO))

    def unrealised_pnl(self, position: Position) -> Decimal:
        if position.size == 0:
            return ZERO
        return money(position.size * (self.mark(position.symbol) - position.avg_price))

    def totals(self) -> WalletTotals:
        open_positions = [p for p in self.positions.values() if p.size != 0]
        order_im = sum(
            (
                o.leaves_qty * o.price / self.position(o.symbol).leverage
                for o in self.orders.values()
                if o.is_open and not o.reduce_only and o.category == "linear"
            ),
            ZERO,
        )
        return WalletTotals(
            wallet=self.wallet,
            unrealised_pnl=sum((self.unrealised_pnl(p) for p in open_positions), ZERO),
            cum_realised_pnl=sum((p.cum_realised_pnl for p in self.positions.values()), ZERO),
            position_im=money(sum((p.value / p.leverage for p in open_positions), ZERO)),
            position_mm=money(sum((p.value * MAINTENANCE_RATE for p in open_positions), ZERO)),
            order_im=money(order_im),
        )

    # ---- commands ------------------------------------------------------------------------

    def place_order(self, params: Mapping[str, object]) -> Order:
        """Validate, then fill what crosses now; returns the order (already final or resting)."""
        request = parse_order_request(params, self.rules)
        if request.order_link_id and request.order_link_id in self._link_ids:
            raise BybitError(110072, "OrderLinkedID is duplicate")
        position = self.position(request.symbol)
        qty = self._reduce_only_qty(request, position) if request.reduce_only else request.qty
        mark = self.mark(request.symbol)
        price = request.price if request.price is not None else self._protection_price(request)
        if not request.reduce_only:
            reference = request.price if request.price is not None else mark
            if qty * reference < request.rules.min_notional:
                raise BybitError(
                    110094,
                    f"Order does not meet minimum order value {request.rules.min_notional}USDT "
                    f"(qty {qty} x price {reference})",
                )
            self._check_margin(request, qty, reference, position)
        now = self.market.clock.now_ms()
        order = Order(
            order_id=str(uuid.uuid4()),
            order_link_id=request.order_link_id,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            price=price,
            qty=qty,
            reduce_only=request.reduce_only,
            last_price_on_created=mark,
            created_ms=now,
            updated_ms=now,
        )
        self.remember(order)
        self._match(order, request.rules)
        return order

    def cancel_order(self, order_id: str | None, order_link_id: str | None, symbol: str) -> Order:
        order = self.find_order(order_id, order_link_id)
        if order is None or order.symbol != symbol or not order.is_open:
            raise BybitError(110001, "order not exists or too late to cancel")
        order.status = "PartiallyFilledCanceled" if order.cum_exec_qty > 0 else "Cancelled"
        order.cancel_type = "CancelByUser"
        order.updated_ms = self.market.clock.now_ms()
        return order

    def set_leverage(self, symbol: str, buy: object, sell: object) -> None:
        rules = self.rules(symbol)
        leverage = parse_leverage(buy, sell, rules)
        position = self.position(symbol)
        if leverage == position.leverage:
            raise BybitError(110043, "leverage not modified")
        previous, position.leverage = position.leverage, leverage
        if self.totals().available < 0:
            position.leverage = previous
            raise BybitError(110044, "Insufficient available margin for this leverage")
        position.updated_ms = self.market.clock.now_ms()

    def settle_funding(self, symbol: str, rate: Decimal, mark: Decimal, time_ms: int) -> None:
        """Pay or receive size x mark x rate; positive rate: longs pay, shorts receive."""
        position = self.positions.get(symbol)
        if position is None or position.size == 0:
            return
        mark = mark.quantize(self.rules(symbol).tick_size, ROUND_HALF_UP)
        value = abs(position.size) * mark
        paid = money(position.size * mark * rate)  # > 0 means this account pays
        self._book_pnl(position, -paid)
        position.updated_ms = time_ms
        self._record(
            Execution(
                exec_id=str(uuid.uuid4()),
                symbol=symbol,
                order_id=str(uuid.uuid4()),
                order_link_id="",
                side=position.side,
                order_type="UNKNOWN",
                order_price=ZERO,
                order_qty=ZERO,
                leaves_qty=ZERO,
                exec_type="Funding",
                exec_price=mark,
                exec_qty=abs(position.size),
                exec_value=money(value),
                exec_fee=paid,
                fee_rate=rate,
                is_maker=False,
                exec_time_ms=time_ms,
                mark_price=mark,
                closed_size=ZERO,
                seq=next(self._seq),
            )
        )

    # ---- internals -----------------------------------------------------------------------

    def _reduce_only_qty(self, request: OrderRequest, position: Position) -> Decimal:
        """Bybit shrinks a reduce-only order to the position; it refuses one that would add."""
        if position.size == 0:
            raise BybitError(110017, "current position is zero, cannot fix reduce-only order qty")
        if position.side == request.side:
            raise BybitError(110017, f"Reduce-only rule not satisfied: position is {position.side}")
        return min(request.qty, abs(position.size))

    def _protection_price(self, request: OrderRequest) -> Decimal:
        mark = self.mark(request.symbol)
        tick = request.rules.tick_size
        if request.side == "Buy":
            bound = mark * (1 + MARKET_SLIPPAGE_BAND)
            return (bound / tick).to_integral_value(ROUND_DOWN) * tick
        bound = mark * (1 - MARKET_SLIPPAGE_BAND)
        return (bound / tick).to_integral_value(ROUND_UP) * tick

    def _check_margin(
        self, request: OrderRequest, qty: Decimal, price: Decimal, position: Position
    ) -> None:
        """Only the part that opens or grows the position needs initial margin (+ a fee)."""
        reducible = abs(position.size) if position.side not in ("", request.side) else ZERO
        opening = max(qty - reducible, ZERO)
        required = opening * price / position.leverage + qty * price * self.account.taker_fee_rate
        if required > self.totals().available:
            raise BybitError(110007, "ab not enough for new order")

    def _match(self, order: Order, rules: InstrumentRules) -> None:
        bids, asks = self.market.book(VENUE, order.symbol)
        levels = asks if order.side == "Buy" else bids
        crossing = _crossing(levels, order.side, order.price, order.qty, rules.qty_step)
        if order.time_in_force == "PostOnly" and crossing:
            order.status, order.reject_reason = "Cancelled", "EC_PostOnlyWillTakeLiquidity"
            order.cancel_type = "CancelByPostOnly"
            return
        if order.time_in_force == "FOK" and sum(q for _, q in crossing) < order.qty:
            order.status, order.cancel_type = "Cancelled", "CancelByFOK"
            return
        if order.time_in_force != "PostOnly":
            for price, qty in crossing:
                self._trade(order, price, qty)
        order.status = _final_status(order)

    def _trade(self, order: Order, price: Decimal, qty: Decimal) -> None:
        position = self.position(order.symbol)
        if position.size == 0:
            position.cur_realised_pnl = ZERO
            position.created_ms = self.market.clock.now_ms()
        value = price * qty
        fee = money(value * self.account.taker_fee_rate)
        delta = qty if order.side == "Buy" else -qty
        closed, realised = position.apply_fill(delta, price)
        self._book_pnl(position, money(realised) - fee)
        order.cum_exec_qty += qty
        order.cum_exec_value += value
        order.cum_exec_fee += fee
        now = self.market.clock.now_ms()
        order.updated_ms = position.updated_ms = now
        self._record(
            Execution(
                exec_id=str(uuid.uuid4()),
                symbol=order.symbol,
                order_id=order.order_id,
                order_link_id=order.order_link_id,
                side=order.side,
                order_type=order.order_type,
                order_price=order.price,
                order_qty=order.qty,
                leaves_qty=order.qty - order.cum_exec_qty,
                exec_type="Trade",
                exec_price=price,
                exec_qty=qty,
                exec_value=value,
                exec_fee=fee,
                fee_rate=self.account.taker_fee_rate,
                is_maker=False,
                exec_time_ms=now,
                mark_price=self.mark(order.symbol),
                closed_size=closed,
                seq=next(self._seq),
            )
        )

    def _book_pnl(self, position: Position, amount: Decimal) -> None:
        self.wallet += amount
        position.cum_realised_pnl += amount
        position.cur_realised_pnl += amount

    def _record(self, execution: Execution) -> None:
        self.executions.append(execution)
        self.positions[execution.symbol].seq = execution.seq


def _crossing(
    levels: list[tuple[float, float]], side: str, limit: Decimal, qty: Decimal, step: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """Walk levels best first while they are at or better than ``limit``, up to ``qty``."""
    fills: list[tuple[Decimal, Decimal]] = []
    remaining = qty
    for raw_price, raw_size in levels:
        price, size = Decimal(str(raw_price)), Decimal(str(raw_size))
        if (price > limit) if side == "Buy" else (price < limit):
            break
        take = (min(remaining, size) / step).to_integral_value(ROUND_DOWN) * step
        if take > 0:
            fills.append((price, take))
            remaining -= take
        if remaining == 0:
            break
    return fills


def _final_status(order: Order) -> str:
    if order.cum_exec_qty == order.qty:
        return "Filled"
    if order.time_in_force in ("GTC", "PostOnly"):
        return "PartiallyFilled" if order.cum_exec_qty > 0 else "New"
    return "PartiallyFilledCanceled" if order.cum_exec_qty > 0 else "Cancelled"
