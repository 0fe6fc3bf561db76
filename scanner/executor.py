"""The executor: plans, opens, closes and reconciles hedged pairs against real venues.

It owns the I/O the pure flow (``strategies/execution_flow.py``) must not: building the
trading ports for a mode, the database journal, the kill-switch file, reading realised fees
and funding back from the venues. ``reconcile()`` runs before anything else on every start:
orders whose fate was never recorded are looked up by their client id, venue positions are
compared with the database, and a mismatch blocks new positions until it is resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from scanner.clock import Clock
from scanner.domain import canonical_id, pair_key
from scanner.executor_journal import OPEN_STATES, DbJournal
from scanner.symbols import SymbolError
from scanner.venues.specs import venue_symbol
from storage.db import Database
from storage.execution_events import ExecutionEventStore
from storage.execution_store import ExecutionStore
from storage.records import LegRecord, PositionRecord
from strategies.execution import (
    LONG,
    SHORT,
    ZERO,
    LegMarket,
    LegPlan,
    LimitBreach,
    Limits,
    OrderIntent,
    PairPlan,
    State,
    TradingPort,
    breaches,
    client_id,
    plan_pair,
)
from strategies.execution_flow import FlowTiming, PairFlow

log = logging.getLogger(__name__)

MULTIPLIERS = (1, 1000, 10000, 1000000)


class ExecutionError(RuntimeError):
    """A request the executor cannot carry out (unknown pair, venue without a port ...)."""


class GateRefused(ExecutionError):
    """The order gate (``llm.mode: gate``) did not approve the pair: nothing was sent."""

    def __init__(self, pair_key: str, reason: str) -> None:
        super().__init__(f"llm gate: no order for {pair_key}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class GateAnswer:
    allowed: bool
    reason: str
    """One line: the decision, its confidence and the first reason (or the failure)."""


class OrderGate(Protocol):
    """Asked before a pair opens (never before an order that reduces exposure)."""

    async def review(self, pair_key: str, opportunity: Mapping[str, Any] | None) -> GateAnswer: ...


@dataclass(frozen=True)
class LegView:
    role: str
    venue: str
    venue_symbol: str
    side: str
    quantity: Decimal
    average_price: Decimal | None
    order_ids: tuple[str, ...]
    fees_usd: Decimal | None
    funding_usd: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role, "venue": self.venue, "venue_symbol": self.venue_symbol,
            "side": self.side, "quantity": str(self.quantity),
            "average_price": None if self.average_price is None else str(self.average_price),
            "order_ids": list(self.order_ids),
            "fees_usd": None if self.fees_usd is None else str(self.fees_usd),
            "funding_usd": None if self.funding_usd is None else str(self.funding_usd),
        }  # fmt: skip


@dataclass(frozen=True)
class PairView:
    pair_id: str
    pair: str
    state: str
    notional_usd: Decimal
    realised_pnl_usd: Decimal | None
    legs: tuple[LegView, ...]
    events: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id, "pair": self.pair, "state": self.state,
            "notional_usd": str(self.notional_usd),
            "realised_pnl_usd": None if self.realised_pnl_usd is None
            else str(self.realised_pnl_usd),
            "legs": [leg.as_json() for leg in self.legs], "events": list(self.events),
        }  # fmt: skip


class Executor:
    """Pairs over ``ports`` (by venue name: ``bybit``, ``bybit-spot``, ``binanceusdm``)."""

    def __init__(
        self,
        db: Database,
        ports: Mapping[str, TradingPort],
        clock: Clock,
        limits: Limits,
        *,
        timing: FlowTiming = FlowTiming(),
        kill_switch_file: str | None = None,
        gate: OrderGate | None = None,
    ) -> None:
        self.gate = gate
        """None: no gate (``llm.mode`` off or advisory); else every opening asks it first."""
        self.last_gate: GateAnswer | None = None
        self.store = ExecutionStore(db)
        self.events = ExecutionEventStore(db)
        self.ports = ports
        self.clock = clock
        self.limits = limits
        self.journal = DbJournal(self.store, self.events, clock, kill_switch_file)
        self.flow = PairFlow(ports, self.journal, clock, limits, timing)

    # -- planning ---------------------------------------------------------------------------

    async def plan(
        self, base: str, long_venue: str, short_venue: str, notional_usd: Decimal
    ) -> PairPlan:
        """Size a pair from the venues' public instrument data (no private call)."""
        if long_venue == short_venue:
            raise ExecutionError("--long and --short must be different venues")
        if short_venue.endswith("-spot"):
            raise ExecutionError("a spot market can only be the long leg (no borrowing)")
        long_m = await self._market(long_venue, base)
        short_m = await self._market(short_venue, base)
        carry = long_venue.endswith("-spot") and long_venue.removesuffix("-spot") == short_venue
        canonical = canonical_id(base.upper(), "USDT", "USDT")
        key = pair_key(canonical, long_venue, short_venue, "carry" if carry else "cross")
        return plan_pair(key, canonical, notional_usd, long_m, short_m, self.clock.now_ms())

    async def plan_symbols(
        self,
        canonical: str,
        long_venue: str,
        long_symbol: str,
        short_venue: str,
        short_symbol: str,
        notional_usd: Decimal,
    ) -> PairPlan:
        """Size a pair whose venue symbols are known (a scan row: auto-execution)."""
        long_m = await self._port(long_venue).market(long_symbol)
        short_m = await self._port(short_venue).market(short_symbol)
        carry = long_venue.endswith("-spot")
        key = pair_key(canonical, long_venue, short_venue, "carry" if carry else "cross")
        return plan_pair(key, canonical, notional_usd, long_m, short_m, self.clock.now_ms())

    def _port(self, venue: str) -> TradingPort:
        port = self.ports.get(venue)
        if port is None:
            raise ExecutionError(f"no trading port for venue {venue!r}; have {sorted(self.ports)}")
        return port

    async def entry_basis(self, pair_id: str) -> float | None:
        """(short fill - long fill) / mid in canonical prices: the basis we entered at."""
        plan = await self.rebuild(pair_id)
        record = self.store.get_by_pair_id(pair_id)
        assert record is not None and record.id is not None
        legs = {leg.role: leg for leg in self.store.legs_for_position(record.id)}
        prices = []
        for leg in (plan.leg(LONG), plan.leg(SHORT)):
            avg = legs[leg.role].avg_price
            if avg is None:
                return None
            prices.append(avg / leg.market.multiplier)
        mid = (prices[0] + prices[1]) / 2
        return float((prices[1] - prices[0]) / mid) if mid else None

    async def _market(self, venue: str, base: str) -> LegMarket:
        port = self._port(venue)
        last: Exception | None = None
        for symbol in _candidates(venue, base.upper()):
            try:
                return await port.market(symbol)
            except Exception as exc:  # noqa: BLE001 - try the next multiplier spelling
                last = exc
        raise ExecutionError(f"{venue}: no USDT market for {base.upper()} ({last})")

    @staticmethod
    def dry_run_orders(plan: PairPlan) -> list[tuple[str, OrderIntent]]:
        """The opening orders ``open`` would send, in order, with their client ids."""
        return [
            (leg.market.venue, OrderIntent(
                leg.market.venue_symbol, leg.side, leg.qty,
                client_id(plan.pair_id, leg.role, "o", 0),
            ))
            for leg in (plan.first, plan.second)
        ]  # fmt: skip

    # -- lifecycle --------------------------------------------------------------------------

    async def check_gate(
        self, plan: PairPlan, opportunity: Mapping[str, Any] | None = None
    ) -> GateAnswer | None:
        """Raise GateRefused unless the gate (if any) approves opening ``plan``.

        ``opportunity`` is the scan row the pair comes from (None: the gate finds the stored
        one). A refusal is stored as an ``llm_gate`` event; nothing about the pair is stored.
        Returns the approval (None when there is no gate).
        """
        if self.gate is None:
            return None
        answer = await self.gate.review(plan.pair_key, opportunity)
        if not answer.allowed:
            self.journal.event(None, "llm_gate", f"no order for {plan.pair_key}: {answer.reason}")
            raise GateRefused(plan.pair_key, answer.reason)
        self.last_gate = answer
        return answer

    async def open(self, plan: PairPlan, opportunity: Mapping[str, Any] | None = None) -> PairView:
        """Open the pair, or raise LimitBreach / GateRefused before anything is stored or sent."""
        refused = breaches(self.limits, self.journal.exposure(), plan.notional_usd, True)
        busy = self._busy_markets() & {
            (leg.market.venue, leg.market.venue_symbol) for leg in _legs(plan)
        }
        if busy:
            refused.append(f"already holding a pair on {sorted(busy)}")
        if refused:
            raise LimitBreach("; ".join(refused))
        await self.check_gate(plan, opportunity)
        self._create(plan)
        await self.flow.open(plan)
        await self.refresh_realised(plan)
        return self.view(plan.pair_id)

    async def close(self, pair_id: str) -> PairView:
        plan = await self.rebuild(pair_id)
        await self.flow.close(plan)
        await self.refresh_realised(plan)
        return self.view(pair_id)

    async def flatten(self, kill_switch_file: str | None) -> list[PairView]:
        """Engage the kill switch (no new positions) and close every pair."""
        if kill_switch_file:
            path = Path(kill_switch_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("engaged by fundscan execute flatten\n", encoding="utf-8")
        views = []
        for record in self.active():
            pair_id = _pair_id(record)
            self.journal.event(await self.rebuild(pair_id), "flatten", "kill switch")
            views.append(await self.close(pair_id))
        return views

    def active(self) -> list[PositionRecord]:
        return [p for p in self.store.open_positions() if p.state in OPEN_STATES]

    # -- restart ----------------------------------------------------------------------------

    async def reconcile(self) -> list[str]:
        """Recover unrecorded orders, compare positions, then finish interrupted work.

        Returns the mismatches found (empty: venues and database agree)."""
        for order in self.store.open_orders():
            record = next(
                (p for p in self.store.open_positions() if p.id == order.position_id), None
            )
            if record is None:
                continue
            plan = await self.rebuild(_pair_id(record))
            role = LONG if order.order_link_id.split("-")[-1].startswith("l") else SHORT
            result = await self.flow.resolve(plan, role, order.order_link_id)
            intent = OrderIntent(
                order.symbol, order.side, order.qty, order.order_link_id, order.reduce_only
            )
            self.journal.after_send(plan, role, intent, result)
            self.journal.event(
                plan,
                "recovered_order",
                f"{order.order_link_id}: {result.status} {result.filled_qty}",
            )
        mismatches = await self._compare()
        self.journal.mismatch = "; ".join(mismatches) or None
        if mismatches:
            self.journal.event(None, "mismatch", self.journal.mismatch or "")
            return mismatches
        for record in self.active():
            await self._resume(record)
        return []

    async def _resume(self, record: PositionRecord) -> None:
        plan = await self.rebuild(_pair_id(record))
        state = State(record.state)
        if state is State.OPENING:
            self.journal.event(plan, "resume", "opening was interrupted: hedging or unwinding")
            await self.flow.hedge_and_match(plan)
        elif state is State.CLOSING:
            self.journal.event(plan, "resume", "closing was interrupted: closing")
            await self.flow.close(plan)
        elif state is State.BROKEN:
            await self.flow.hedge_and_match(plan)
        await self.refresh_realised(plan)

    async def _compare(self) -> list[str]:
        """Per market we hold: the venue's quantity against the database's, within one lot."""
        found = []
        for record in self.active():
            assert record.id is not None
            for leg in self.store.legs_for_position(record.id):
                port = self.ports.get(leg.venue)
                if port is None:
                    found.append(f"{leg.venue} {leg.venue_symbol}: no port to check it")
                    continue
                market = await port.market(leg.venue_symbol)
                venue_qty = await port.position_qty(leg.venue_symbol)
                ours = leg.filled_qty if leg.side == "buy" else -leg.filled_qty
                spot = leg.venue.endswith("-spot")
                short_of = (
                    venue_qty < ours - market.lot if spot else abs(venue_qty - ours) >= market.lot
                )
                if short_of:
                    found.append(
                        f"{leg.venue} {leg.venue_symbol}: venue holds {venue_qty}, "
                        f"database says {ours} (pair {record.pair_id})"
                    )
        return found

    # -- views and bookkeeping --------------------------------------------------------------

    async def rebuild(self, pair_id: str) -> PairPlan:
        record = self.store.get_by_pair_id(pair_id)
        if record is None or record.id is None:
            raise ExecutionError(f"no pair {pair_id!r} (see fundscan execute status)")
        legs = {leg.role: leg for leg in self.store.legs_for_position(record.id)}
        plans = {}
        for role, leg in legs.items():
            port = self.ports.get(leg.venue)
            if port is None:
                raise ExecutionError(f"pair {pair_id} has a leg on {leg.venue}, which has no port")
            plans[role] = LegPlan(role, await port.market(leg.venue_symbol), leg.target_qty)
        first, second = plans[LONG], plans[SHORT]  # plan_pair always sends the long first
        return PairPlan(pair_id, record.pair_key, record.symbol, record.notional_usd, first, second)

    async def refresh_realised(self, plan: PairPlan) -> None:
        """Fees and funding per leg as the venue reports them, and the pair's realised PnL."""
        record = self.store.get_by_pair_id(plan.pair_id)
        assert record is not None and record.id is not None
        orders = self.store.orders_for_position(record.id)
        for leg in self.store.legs_for_position(record.id):
            ids = [o.order_link_id for o in orders if o.leg_id == leg.id and o.filled_qty > 0]
            if not ids:
                continue
            port = self.ports[leg.venue]
            realised = await port.realised(leg.venue_symbol, ids, record.opened_ms)
            assert leg.id is not None
            self.store.update_leg(
                leg.id, updated_ms=self.clock.now_ms(), fees_usd=realised.fees_usd,
                funding_usd=realised.funding_usd,
            )  # fmt: skip
        if State(self.store.get_by_pair_id(plan.pair_id).state) is State.CLOSED:  # type: ignore[union-attr]
            self.store.update_position(
                record.id, updated_ms=self.clock.now_ms(), realised_pnl_usd=self._pnl(record.id)
            )

    def _pnl(self, position_id: int) -> Decimal:
        cash = ZERO
        for order in self.store.orders_for_position(position_id):
            value = order.filled_qty * (order.avg_price or ZERO)
            cash += value if order.side == "sell" else -value
        for leg in self.store.legs_for_position(position_id):
            cash += (leg.funding_usd or ZERO) - (leg.fees_usd or ZERO)
        return cash

    def view(self, pair_id: str) -> PairView:
        record = self.store.get_by_pair_id(pair_id)
        if record is None or record.id is None:
            raise ExecutionError(f"no pair {pair_id!r}")
        orders = self.store.orders_for_position(record.id)
        legs = tuple(
            LegView(
                leg.role, leg.venue, leg.venue_symbol, leg.side, leg.filled_qty, leg.avg_price,
                tuple(o.venue_order_id or o.order_link_id for o in orders if o.leg_id == leg.id),
                leg.fees_usd, leg.funding_usd,
            )
            for leg in self.store.legs_for_position(record.id)
        )  # fmt: skip
        events = tuple(f"{e.kind}: {e.message}" for e in self.events.for_position(record.id))
        return PairView(
            record.pair_id or "", record.pair_key, record.state, record.notional_usd,
            record.realised_pnl_usd, legs, events,
        )  # fmt: skip

    def _create(self, plan: PairPlan) -> None:
        now = self.clock.now_ms()
        long_leg, short_leg = plan.leg(LONG), plan.leg(SHORT)
        position = PositionRecord(
            pair_key=plan.pair_key, pair_id=plan.pair_id,
            symbol=plan.base, long_venue=long_leg.market.venue,
            short_venue=short_leg.market.venue, notional_usd=plan.notional_usd,
            state=State.PLANNED.value, opened_ms=now, updated_ms=now,
        )  # fmt: skip
        legs = [
            LegRecord(
                position_id=0, role=leg.role, venue=leg.market.venue,
                venue_symbol=leg.market.venue_symbol, side=leg.side, target_qty=leg.qty,
                updated_ms=now,
            )
            for leg in (long_leg, short_leg)
        ]  # fmt: skip
        self.store.create_position(position, legs)

    def _busy_markets(self) -> set[tuple[str, str]]:
        busy = set()
        for record in self.active():
            assert record.id is not None
            busy |= {
                (leg.venue, leg.venue_symbol) for leg in self.store.legs_for_position(record.id)
            }
        return busy


def _pair_id(record: PositionRecord) -> str:
    if record.pair_id is None:
        raise ExecutionError(f"position {record.id} ({record.pair_key}) has no pair id")
    return record.pair_id


def _legs(plan: PairPlan) -> tuple[LegPlan, LegPlan]:
    return plan.first, plan.second


def _candidates(venue: str, base: str) -> list[str]:
    """The venue's USDT symbols that may list ``base`` (plain first, then 1000x prefixes)."""
    if venue.endswith("-spot"):
        return [f"{base}USDT"]
    out = []
    for multiplier in MULTIPLIERS:
        try:
            out.append(venue_symbol(venue, base, "USDT", "USDT", multiplier=multiplier))
        except SymbolError:
            continue
    return out
