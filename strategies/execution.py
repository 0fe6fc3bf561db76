"""Hedged-pair execution: the sizing, the limits, the order ids and the state machine.

Why pure: this is where a bug costs real money, so every decision here is a function of its
inputs that a test can call without a network. The venues are reached only through the
``TradingPort`` protocol (adapters live in ``scanner/venues/``) and persistence only through
the ``Journal`` protocol (``scanner/executor.py``); the procedures that drive them are in
``strategies/execution_flow.py``.

Units: quantities are venue units (``qty``) or canonical base units (``base_qty``); a venue
unit is ``multiplier`` base units (``1000PEPEUSDT``: 1000, OKX ``ctVal`` folded in). Money is
``Decimal``; anything that will be sent is rounded *down* to the venue's lot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from math import gcd
from typing import Protocol

LONG, SHORT = "long", "short"
ZERO = Decimal(0)


class State(StrEnum):
    PLANNED = "planned"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    BROKEN = "broken"


ACTIVE_STATES = (State.PLANNED, State.OPENING, State.OPEN, State.CLOSING, State.BROKEN)

TRANSITIONS: dict[State, frozenset[State]] = {
    State.PLANNED: frozenset({State.OPENING, State.CLOSED}),
    State.OPENING: frozenset({State.OPEN, State.CLOSING, State.CLOSED, State.BROKEN}),
    State.OPEN: frozenset({State.OPEN, State.CLOSING, State.BROKEN}),
    State.CLOSING: frozenset({State.CLOSED, State.BROKEN, State.OPEN}),
    State.BROKEN: frozenset({State.CLOSING, State.CLOSED, State.OPEN, State.BROKEN}),
    State.CLOSED: frozenset(),
}
"""Closed is final. Broken (exposure left that we could not fix in time) can only be repaired
towards open (legs matched again) or closed; never silently back to planned."""


class IllegalTransition(RuntimeError):
    pass


def transition(current: State, target: State) -> State:
    """``target`` if the lifecycle allows it from ``current``; otherwise IllegalTransition."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a pair cannot go from {current} to {target}")
    return target


class SizingError(ValueError):
    """The notional cannot be expressed as equal, valid orders on both legs."""


class LimitBreach(RuntimeError):
    """An order would breach a limit (or the kill switch is on); nothing was sent."""


# -- markets and plans ------------------------------------------------------------------------


@dataclass(frozen=True)
class LegMarket:
    """What sizing needs to know about one leg's instrument, in venue units."""

    venue: str  # "bybit", "bybit-spot", "binanceusdm"
    venue_symbol: str
    lot: Decimal
    min_qty: Decimal
    min_notional_usd: Decimal
    multiplier: Decimal  # canonical base units per venue unit
    price: Decimal  # venue price per venue unit (mark or mid)
    max_qty: Decimal | None = None  # largest market order the venue takes (None: no limit)

    @property
    def base_step(self) -> Decimal:
        return self.lot * self.multiplier

    def to_base(self, qty: Decimal) -> Decimal:
        return qty * self.multiplier

    def qty_for_base(self, base_qty: Decimal) -> Decimal:
        """The largest valid venue quantity not above ``base_qty`` canonical units."""
        return round_down(base_qty / self.multiplier, self.lot)


@dataclass(frozen=True)
class LegPlan:
    role: str  # long | short
    market: LegMarket
    qty: Decimal  # venue units

    @property
    def side(self) -> str:
        """The order side that opens this leg."""
        return "buy" if self.role == LONG else "sell"

    @property
    def close_side(self) -> str:
        return "sell" if self.role == LONG else "buy"


@dataclass(frozen=True)
class PairPlan:
    pair_id: str
    pair_key: str
    base: str
    notional_usd: Decimal
    first: LegPlan
    second: LegPlan

    def leg(self, role: str) -> LegPlan:
        return self.first if self.first.role == role else self.second


def round_down(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def decimal_lcm(a: Decimal, b: Decimal) -> Decimal:
    """Least common multiple of two positive decimals (0.001 and 0.01 -> 0.01; 0.4, 0.6 -> 1.2)."""
    exp = max(-a.as_tuple().exponent, -b.as_tuple().exponent, 0)  # type: ignore[operator]
    scale = Decimal(10) ** exp
    ia, ib = int(a * scale), int(b * scale)
    return Decimal(ia * ib // gcd(ia, ib)) / scale


def size_pair(notional_usd: Decimal, long: LegMarket, short: LegMarket) -> tuple[Decimal, Decimal]:
    """Venue quantities (long, short) with equal canonical base exposure, at most the notional.

    The common base quantity is a multiple of both legs' lot in base units (so neither leg is
    rounded again), priced at the dearer leg so neither leg exceeds ``notional_usd``.
    """
    if notional_usd <= 0:
        raise SizingError(f"notional must be positive, got {notional_usd}")
    price = max(long.price / long.multiplier, short.price / short.multiplier)
    if price <= 0:
        raise SizingError("no price to size against")
    step = decimal_lcm(long.base_step, short.base_step)
    base = round_down(notional_usd / price, step)
    qtys = (long.qty_for_base(base), short.qty_for_base(base))
    for market, qty in zip((long, short), qtys, strict=True):
        _check_minimums(market, qty, notional_usd)
    return qtys


def _check_minimums(market: LegMarket, qty: Decimal, notional_usd: Decimal) -> None:
    where = f"{market.venue} {market.venue_symbol}"
    if qty <= 0 or qty < market.min_qty:
        raise SizingError(
            f"{notional_usd} USD is below the smallest order on {where} "
            f"(min qty {market.min_qty}, lot {market.lot}, price {market.price})"
        )
    if market.max_qty is not None and qty > market.max_qty:
        raise SizingError(
            f"{notional_usd} USD gives {qty} on {where}, above its largest market order "
            f"{market.max_qty}: lower the notional"
        )
    if qty * market.price < market.min_notional_usd:
        raise SizingError(
            f"{notional_usd} USD gives {qty} on {where}, below its minimum order value "
            f"{market.min_notional_usd} USD"
        )


def pair_id_for(pair_key: str, opened_ms: int) -> str:
    """A short deterministic id for one opening of a pair (the same pair can reopen later)."""
    digest = hashlib.sha256(f"{pair_key}@{opened_ms}".encode()).hexdigest()[:10]
    return f"fs{digest}"


def client_id(pair_id: str, role: str, action: str, attempt: int) -> str:
    """Deterministic order id per (pair, leg, action, attempt): ``fs1a2b3c4d5e-lo0``.

    ``action``: ``o`` open, ``u`` unwind (reduce after a failed hedge), ``c`` close. A retry
    after an ambiguous failure reuses the id (the venue refuses a duplicate); only an order
    the venue provably does not have is resent, under the next attempt number.
    """
    if action not in ("o", "u", "c") or attempt < 0:
        raise ValueError(f"bad order id parts {action!r}/{attempt}")
    return f"{pair_id}-{role[0]}{action}{attempt}"


def plan_pair(
    pair_key: str,
    base: str,
    notional_usd: Decimal,
    long: LegMarket,
    short: LegMarket,
    opened_ms: int,
) -> PairPlan:
    """Size both legs. The long leg is sent first: in a carry it is the spot buy, the leg most
    likely to be refused (it needs the cash), so a refusal costs nothing."""
    long_qty, short_qty = size_pair(notional_usd, long, short)
    first, second = LegPlan(LONG, long, long_qty), LegPlan(SHORT, short, short_qty)
    return PairPlan(pair_id_for(pair_key, opened_ms), pair_key, base, notional_usd, first, second)


# -- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_notional_usd: Decimal
    max_total_exposure_usd: Decimal
    max_open_pairs: int
    max_daily_loss_usd: Decimal


@dataclass(frozen=True)
class Exposure:
    """Where the book stands before an opening order: pairs and notional not yet closed."""

    open_pairs: int
    exposure_usd: Decimal
    daily_realised_pnl_usd: Decimal
    kill_switch: bool
    mismatch: str | None = None


def breaches(limits: Limits, now: Exposure, notional_usd: Decimal, new_pair: bool) -> list[str]:
    """Every limit an opening order for ``notional_usd`` would breach ([] = may send).

    ``new_pair`` False is the second leg of a pair already counted in ``now``.
    """
    found = []
    if now.kill_switch:
        found.append("kill switch is on: no new positions")
    if now.mismatch:
        found.append(f"unresolved reconciliation mismatch: {now.mismatch}")
    if notional_usd > limits.max_notional_usd:
        found.append(f"notional {notional_usd} USD > max_notional_usd {limits.max_notional_usd}")
    if -now.daily_realised_pnl_usd >= limits.max_daily_loss_usd:
        found.append(
            f"daily realised loss {-now.daily_realised_pnl_usd} USD reached "
            f"max_daily_loss_usd {limits.max_daily_loss_usd}"
        )
    if new_pair:
        if now.open_pairs + 1 > limits.max_open_pairs:
            found.append(f"{now.open_pairs} open pairs: max_open_pairs {limits.max_open_pairs}")
        if now.exposure_usd + notional_usd > limits.max_total_exposure_usd:
            found.append(
                f"exposure {now.exposure_usd} + {notional_usd} USD > max_total_exposure_usd "
                f"{limits.max_total_exposure_usd}"
            )
    return found


# -- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderIntent:
    venue_symbol: str
    side: str  # buy | sell
    qty: Decimal
    client_id: str
    reduce_only: bool = False


@dataclass(frozen=True)
class OrderResult:
    """What the venue says became of an order. ``status``: filled, partial (IOC remainder
    cancelled), rejected (venue refused; nothing traded), unknown (could not find out)."""

    client_id: str
    status: str
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    fee_usd: Decimal = ZERO
    order_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Realised:
    fees_usd: Decimal
    funding_usd: Decimal  # > 0 received


class TradingPort(Protocol):
    """One venue market as the executor sees it (implemented in ``scanner/venues/``)."""

    venue: str

    async def market(self, venue_symbol: str) -> LegMarket: ...

    async def prepare(self, venue_symbol: str) -> None:
        """Make the symbol tradable as we assume (leverage 1, one-way); idempotent."""

    async def submit(self, intent: OrderIntent) -> OrderResult:
        """Send a market order once; after an ambiguous failure look it up by client id before
        anything else. Business refusals are a ``rejected`` result, not an exception."""
        ...

    async def lookup(self, venue_symbol: str, client_id: str) -> OrderResult | None:
        """The order with this client id, or None when the venue has none."""

    async def position_qty(self, venue_symbol: str) -> Decimal:
        """Signed venue quantity held now (spot: the coin balance)."""
        ...

    async def realised(self, venue_symbol: str, client_ids: list[str], since_ms: int) -> Realised:
        """Fees of our orders and funding on the symbol since ``since_ms``, from the venue."""
        ...


class Journal(Protocol):
    """Where the flow records what it does, *before* it does it (``scanner/executor.py``)."""

    def state(self, plan: PairPlan, state: State) -> None: ...

    def before_send(self, plan: PairPlan, role: str, intent: OrderIntent) -> None: ...

    def after_send(
        self, plan: PairPlan, role: str, intent: OrderIntent, result: OrderResult
    ) -> None:
        """Record the result and the leg's new filled quantity."""

    def filled(self, plan: PairPlan, role: str) -> Decimal:
        """Venue quantity the leg holds according to the journal."""
        ...

    def attempts(self, plan: PairPlan, role: str, action: str) -> int:
        """How many orders of this (leg, action) were already recorded (the next attempt)."""
        ...

    def event(self, plan: PairPlan, kind: str, message: str) -> None: ...

    def exposure(self) -> Exposure: ...
