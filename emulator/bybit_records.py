"""Records of the emulated Bybit account: credentials, orders, positions, executions.

Plain dataclasses with the little arithmetic that belongs to each record (a position knows
how a fill changes its size, average price and realised PnL). The state machine that creates
and mutates them lives in ``bybit_account.py``; JSON rendering in ``bybit_wire.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
MONEY_QUANTUM = Decimal("0.00000001")
MAINTENANCE_RATE = Decimal("0.005")
DEFAULT_LEVERAGE = Decimal("10")
OPEN_STATUSES = frozenset({"New", "PartiallyFilled"})


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, ROUND_HALF_UP)


@dataclass(frozen=True, repr=False)
class BybitAccount:
    """Credentials and starting state of one emulated account (the secret never prints)."""

    api_key: str
    api_secret: str
    usdt_balance: Decimal = Decimal("100000")
    taker_fee_rate: Decimal = Decimal("0.00055")
    maker_fee_rate: Decimal = Decimal("0.0002")
    spot_taker_fee_rate: Decimal = Decimal("0.001")
    spot_maker_fee_rate: Decimal = Decimal("0.001")

    def __repr__(self) -> str:
        return (
            f"BybitAccount(api_key={self.api_key!r}, api_secret='***', "
            f"usdt_balance={self.usdt_balance}, taker_fee_rate={self.taker_fee_rate}, "
            f"maker_fee_rate={self.maker_fee_rate})"
        )


@dataclass
class Order:
    order_id: str
    order_link_id: str
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    price: Decimal
    qty: Decimal
    reduce_only: bool
    last_price_on_created: Decimal
    created_ms: int
    updated_ms: int
    status: str = "New"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    cum_exec_qty: Decimal = ZERO
    cum_exec_value: Decimal = ZERO
    cum_exec_fee: Decimal = ZERO
    category: str = "linear"
    fee_currency: str = "USDT"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.cum_exec_qty if self.is_open else ZERO

    @property
    def avg_price(self) -> Decimal | None:
        if self.cum_exec_qty == 0:
            return None
        return money(self.cum_exec_value / self.cum_exec_qty)


@dataclass
class Position:
    """One-way position; ``size`` is signed here (+ long, - short) and rendered unsigned."""

    symbol: str
    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    leverage: Decimal = DEFAULT_LEVERAGE
    cum_realised_pnl: Decimal = ZERO
    cur_realised_pnl: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = 0

    @property
    def side(self) -> str:
        return "Buy" if self.size > 0 else "Sell" if self.size < 0 else ""

    @property
    def value(self) -> Decimal:
        return abs(self.size) * self.avg_price

    def apply_fill(self, delta: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
        """Add a signed fill; returns (closed size, realised PnL before fees)."""
        if self.size == 0 or (self.size > 0) == (delta > 0):
            new_size = self.size + delta
            total = abs(self.size) * self.avg_price + abs(delta) * price
            self.avg_price = money(total / abs(new_size))
            self.size = new_size
            return ZERO, ZERO
        closed = min(abs(self.size), abs(delta))
        direction = 1 if self.size > 0 else -1
        realised = closed * (price - self.avg_price) * direction
        new_size = self.size + delta
        if new_size == 0:
            self.avg_price = ZERO
        elif (new_size > 0) != (self.size > 0):
            self.avg_price = price  # flipped: the remainder opened at this fill's price
        self.size = new_size
        return closed, realised


@dataclass(frozen=True)
class Execution:
    exec_id: str
    symbol: str
    order_id: str
    order_link_id: str
    side: str
    order_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves_qty: Decimal
    exec_type: str
    exec_price: Decimal
    exec_qty: Decimal
    exec_value: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    is_maker: bool
    exec_time_ms: int
    mark_price: Decimal
    closed_size: Decimal
    seq: int
    category: str = "linear"
    fee_currency: str = "USDT"


@dataclass(frozen=True)
class WalletTotals:
    wallet: Decimal
    unrealised_pnl: Decimal
    cum_realised_pnl: Decimal
    position_im: Decimal
    position_mm: Decimal
    order_im: Decimal

    @property
    def equity(self) -> Decimal:
        return self.wallet + self.unrealised_pnl

    @property
    def available(self) -> Decimal:
        return self.equity - self.position_im - self.order_im
