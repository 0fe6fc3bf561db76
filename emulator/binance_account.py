"""One emulated Binance USD-M account: market orders, one-way positions, USDT wallet, funding.

No HTTP here (``binance_private.py`` authenticates and renders). Refusals raise
``BinanceError`` with Binance's code and message (HTTP 400 unless stated):

- -1121 Invalid symbol; -1111 quantity precision over the step; -4003 quantity below minQty;
- -4005 quantity above MARKET_LOT_SIZE maxQty;
- -4164 notional below MIN_NOTIONAL; -2019 margin is insufficient; -2022 reduce-only rejected;
- -4116 duplicate clientOrderId; -2013 order does not exist.

Simplifications (documented): MARKET orders only (filled at once against the model's book
within 5 % of mark, the rest expires), one-way mode, cross margin, no liquidation; the
order answer is the final state (as with ``newOrderRespType=RESULT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from itertools import count
from typing import Any

from emulator.interfaces import MarketView

VENUE = "binanceusdm"
ZERO = Decimal(0)
Q8 = Decimal("0.00000001")
BAND = Decimal("0.05")


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.http_status = code, msg, http_status


@dataclass(frozen=True, repr=False)
class BinanceAccountConfig:
    api_key: str
    api_secret: str
    usdt_balance: Decimal = Decimal("100000")
    taker_fee_rate: Decimal = Decimal("0.0005")

    def __repr__(self) -> str:
        return f"BinanceAccountConfig(api_key={self.api_key!r}, api_secret='***')"


@dataclass
class BinanceOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    orig_qty: Decimal
    reduce_only: bool
    time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    @property
    def avg_price(self) -> Decimal:
        return (self.cum_quote / self.executed_qty).quantize(Q8) if self.executed_qty else ZERO


@dataclass
class BinancePosition:
    symbol: str
    amount: Decimal = ZERO  # signed
    entry_price: Decimal = ZERO
    leverage: int = 20
    update_ms: int = 0


@dataclass
class Rules:
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    tick: Decimal
    max_qty: Decimal

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Rules:
        f = {x["filterType"]: x for x in row.get("filters", [])}
        lot = f.get("MARKET_LOT_SIZE") or f["LOT_SIZE"]
        return cls(
            Decimal(lot["stepSize"]),
            Decimal(lot["minQty"]),
            Decimal(f.get("MIN_NOTIONAL", {}).get("notional", "0")),
            Decimal(f["PRICE_FILTER"]["tickSize"]),
            Decimal(lot.get("maxQty") or "Infinity"),
        )


@dataclass
class BinanceAccountState:
    config: BinanceAccountConfig
    market: MarketView
    wallet: Decimal = ZERO
    orders: dict[int, BinanceOrder] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    positions: dict[str, BinancePosition] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    income: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: count(8_000_000_001))

    def __post_init__(self) -> None:
        self.wallet = self.config.usdt_balance

    # -- lookups ------------------------------------------------------------------------------

    def rules(self, symbol: str) -> Rules:
        row = self.market.instrument(VENUE, symbol) if symbol else None
        if row is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return Rules.from_row(row)

    def mark(self, symbol: str) -> Decimal:
        raw = Decimal(str(self.market.mark_price(VENUE, symbol)))
        return raw.quantize(self.rules(symbol).tick, ROUND_HALF_UP)

    def position(self, symbol: str) -> BinancePosition:
        if symbol not in self.positions:
            self.positions[symbol] = BinancePosition(symbol)
        return self.positions[symbol]

    def find(self, symbol: str, order_id: str | None, client_id: str | None) -> BinanceOrder:
        oid = int(order_id) if order_id and order_id.isdigit() else None
        if oid is None and client_id:
            oid = self.by_client_id.get(client_id)
        order = self.orders.get(oid) if oid is not None else None
        if order is None or order.symbol != symbol:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def unrealised(self) -> Decimal:
        return sum(
            (p.amount * (self.mark(p.symbol) - p.entry_price) for p in self.positions.values()),
            ZERO,
        )

    def initial_margin(self) -> Decimal:
        return sum(
            (abs(p.amount) * p.entry_price / p.leverage for p in self.positions.values()), ZERO
        )

    def available(self) -> Decimal:
        return self.wallet + self.unrealised() - self.initial_margin()

    # -- commands -----------------------------------------------------------------------------

    def place(
        self, symbol: str, side: str, qty: Decimal, client_id: str, reduce_only: bool
    ) -> BinanceOrder:
        rules = self.rules(symbol)
        if client_id and client_id in self.by_client_id:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        if qty <= 0 or qty % rules.step != 0:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < rules.min_qty:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if qty > rules.max_qty:
            raise BinanceError(-4005, "Quantity greater than max quantity.")
        position = self.position(symbol)
        mark = self.mark(symbol)
        if reduce_only:
            if position.amount == 0 or (position.amount > 0) == (side == "BUY"):
                raise BinanceError(-2022, "ReduceOnly Order is rejected.")
            qty = min(qty, abs(position.amount))
        else:
            if qty * mark < rules.min_notional:
                raise BinanceError(
                    -4164, f"Order's notional must be no smaller than {rules.min_notional} "
                    "(unless you choose reduce only)."
                )  # fmt: skip
            grows = (position.amount >= 0) == (side == "BUY") or position.amount == 0
            need = qty * mark / position.leverage + qty * mark * self.config.taker_fee_rate
            if grows and need > self.available():
                raise BinanceError(-2019, "Margin is insufficient.")
        now = self.market.clock.now_ms()
        order = BinanceOrder(next(self._ids), client_id, symbol, side, qty, reduce_only, now)
        self.orders[order.order_id] = order
        if client_id:
            self.by_client_id[client_id] = order.order_id
        self._fill(order, rules, mark)
        return order

    def set_leverage(self, symbol: str, leverage: int) -> BinancePosition:
        self.rules(symbol)
        if not 1 <= leverage <= 125:
            raise BinanceError(-4028, f"Leverage {leverage} is not valid")
        position = self.position(symbol)
        position.leverage = leverage
        return position

    def settle_funding(self, symbol: str, rate: Decimal, mark: Decimal, time_ms: int) -> None:
        position = self.positions.get(symbol)
        if position is None or position.amount == 0:
            return
        income = (-position.amount * mark * rate).quantize(Q8, ROUND_HALF_UP)
        self.wallet += income
        self._income(symbol, "FUNDING_FEE", income, time_ms, "")

    # -- internals ----------------------------------------------------------------------------

    def _fill(self, order: BinanceOrder, rules: Rules, mark: Decimal) -> None:
        bids, asks = self.market.book(VENUE, order.symbol)
        remaining = order.orig_qty
        for raw_price, raw_size in asks if order.side == "BUY" else bids:
            price, size = Decimal(str(raw_price)), Decimal(str(raw_size))
            if abs(price - mark) > mark * BAND or remaining <= 0:
                break
            take = (min(remaining, size) / rules.step).to_integral_value(ROUND_DOWN) * rules.step
            if take > 0:
                self._trade(order, price, take)
                remaining -= take
        order.status = "FILLED" if remaining == 0 else "EXPIRED"

    def _trade(self, order: BinanceOrder, price: Decimal, qty: Decimal) -> None:
        position = self.position(order.symbol)
        delta = qty if order.side == "BUY" else -qty
        realised = ZERO
        if position.amount != 0 and (position.amount > 0) != (delta > 0):
            closed = min(abs(position.amount), qty)
            realised = closed * (price - position.entry_price) * (1 if position.amount > 0 else -1)
            new = position.amount + delta
            position.entry_price = ZERO if new == 0 else (
                position.entry_price if (new > 0) == (position.amount > 0) else price
            )  # fmt: skip
            position.amount = new
        else:
            total = abs(position.amount) * position.entry_price + qty * price
            position.amount += delta
            position.entry_price = (total / abs(position.amount)).quantize(Q8)
        fee = (qty * price * self.config.taker_fee_rate).quantize(Q8, ROUND_HALF_UP)
        self.wallet += realised.quantize(Q8) - fee
        now = self.market.clock.now_ms()
        position.update_ms = now
        order.executed_qty += qty
        order.cum_quote += qty * price
        trade_id = next(self._ids)
        self.trades.append(
            {
                "buyer": order.side == "BUY", "commission": str(fee), "commissionAsset": "USDT",
                "id": trade_id, "maker": False, "orderId": order.order_id, "price": str(price),
                "qty": str(qty), "quoteQty": str(qty * price), "realizedPnl": str(realised),
                "side": order.side, "positionSide": "BOTH", "symbol": order.symbol, "time": now,
            }
        )  # fmt: skip
        self._income(order.symbol, "COMMISSION", -fee, now, str(trade_id))
        if realised:
            self._income(order.symbol, "REALIZED_PNL", realised.quantize(Q8), now, str(trade_id))

    def _income(self, symbol: str, kind: str, amount: Decimal, time_ms: int, trade_id: str) -> None:
        self.income.append(
            {
                "symbol": symbol, "incomeType": kind, "income": str(amount), "asset": "USDT",
                "info": kind, "time": time_ms, "tranId": next(self._ids), "tradeId": trade_id,
            }
        )  # fmt: skip
