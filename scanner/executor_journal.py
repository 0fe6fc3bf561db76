"""The executor's ``Journal``: the flow's memory, written to the database before every send.

Why write first: if the process dies between "send" and "hear back", the next start must know
that an order with this client id may exist. So ``before_send`` stores the order as ``new``;
``after_send`` stores what the venue said and moves the leg's filled quantity; a restart looks
up every order still ``new`` by its id before it does anything else.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from scanner.clock import Clock
from scanner.units import MS_PER_DAY
from storage.execution_events import ExecutionEventStore
from storage.execution_store import ExecutionStore
from storage.records import ExecutionEvent, LegRecord, OrderRecord
from strategies.execution import (
    ZERO,
    Exposure,
    OrderIntent,
    OrderResult,
    PairPlan,
    State,
    transition,
)

log = logging.getLogger(__name__)

ORDER_STATUS = {"filled": "filled", "partial": "partial", "rejected": "rejected"}
"""Final statuses of an IOC market order; an order whose fate is unknown stays ``sent``, one of
the statuses a restart looks up again."""
OPEN_STATES = tuple(s.value for s in (State.OPENING, State.OPEN, State.CLOSING, State.BROKEN))


class DbJournal:
    """Journal over the execution stores; ``kill_switch_file`` and mismatch feed exposure."""

    def __init__(
        self,
        store: ExecutionStore,
        events: ExecutionEventStore,
        clock: Clock,
        kill_switch_file: str | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.clock = clock
        self.kill_switch_file = kill_switch_file
        self.mismatch: str | None = None

    # -- ids --------------------------------------------------------------------------------

    def position_id(self, plan: PairPlan) -> int:
        record = self.store.get_by_pair_id(plan.pair_id)
        if record is None or record.id is None:
            raise KeyError(f"no stored pair {plan.pair_id}")
        return record.id

    def leg(self, plan: PairPlan, role: str) -> LegRecord:
        for leg in self.store.legs_for_position(self.position_id(plan)):
            if leg.role == role:
                return leg
        raise KeyError(f"pair {plan.pair_id} has no {role} leg")

    # -- Journal protocol -------------------------------------------------------------------

    def state(self, plan: PairPlan, state: State) -> None:
        record = self.store.get_by_pair_id(plan.pair_id)
        assert record is not None and record.id is not None
        current = State(record.state)
        if current is state:
            return
        transition(current, state)
        closed = self.clock.now_ms() if state is State.CLOSED else None
        self.store.update_position(
            record.id, updated_ms=self.clock.now_ms(), state=state.value, closed_ms=closed
        )
        log.info("pair %s: %s -> %s", plan.pair_id, current, state)

    def before_send(self, plan: PairPlan, role: str, intent: OrderIntent) -> None:
        leg = self.leg(plan, role)
        now = self.clock.now_ms()
        self.store.save_order(
            OrderRecord(
                order_link_id=intent.client_id, venue=leg.venue, symbol=intent.venue_symbol,
                side=intent.side, order_type="market", qty=intent.qty, created_ms=now,
                updated_ms=now, status="new", position_id=leg.position_id, leg_id=leg.id,
                reduce_only=intent.reduce_only,
            )
        )  # fmt: skip

    def after_send(
        self, plan: PairPlan, role: str, intent: OrderIntent, result: OrderResult
    ) -> None:
        """Idempotent: the leg moves by what this order filled *beyond what was recorded for
        it*, so resolving the same order again (every restart) never counts a fill twice."""
        now = self.clock.now_ms()
        before = self.store.get_order(intent.client_id)
        recorded = before.filled_qty if before is not None else ZERO
        status = ORDER_STATUS.get(result.status, "sent")
        filled = max(result.filled_qty, recorded)
        self.store.update_order(
            intent.client_id, updated_ms=now, status=status, filled_qty=filled,
            avg_price=result.avg_price, venue_order_id=result.order_id, error=result.error,
        )  # fmt: skip
        delta = filled - recorded
        if delta > 0:
            self._move_leg(plan, role, intent, replace(result, filled_qty=delta))

    def _move_leg(
        self, plan: PairPlan, role: str, intent: OrderIntent, result: OrderResult
    ) -> None:
        leg = self.leg(plan, role)
        opening = intent.side == leg.side
        held = leg.filled_qty + (result.filled_qty if opening else -result.filled_qty)
        avg = leg.avg_price
        if opening and result.avg_price is not None:
            prior = leg.filled_qty * (leg.avg_price or ZERO)
            avg = (prior + result.filled_qty * result.avg_price) / held
        fees = (leg.fees_usd or ZERO) + result.fee_usd
        assert leg.id is not None
        self.store.update_leg(
            leg.id, updated_ms=self.clock.now_ms(), filled_qty=max(held, ZERO), avg_price=avg,
            fees_usd=fees, state="open" if held > 0 else "flat",
        )  # fmt: skip

    def filled(self, plan: PairPlan, role: str) -> Decimal:
        return self.leg(plan, role).filled_qty

    def attempts(self, plan: PairPlan, role: str, action: str) -> int:
        prefix = f"{plan.pair_id}-{role[0]}{action}"
        orders = self.store.orders_for_position(self.position_id(plan))
        return sum(1 for o in orders if o.order_link_id.startswith(prefix))

    def event(self, plan: PairPlan | None, kind: str, message: str) -> None:
        pid = self.position_id(plan) if plan is not None else None
        log.warning("%s: %s", kind, message)
        self.events.add(ExecutionEvent(kind, message, self.clock.now_ms(), pid))

    def exposure(self) -> Exposure:
        active = [p for p in self.store.open_positions() if p.state in OPEN_STATES]
        since = self.clock.now_ms() - MS_PER_DAY
        closed_today = self.store.closed_since(since)
        pnl = sum((p.realised_pnl_usd or ZERO for p in closed_today), ZERO)
        return Exposure(
            open_pairs=len(active),
            exposure_usd=sum((p.notional_usd for p in active), ZERO),
            daily_realised_pnl_usd=pnl,
            kill_switch=self.kill_switch_on(),
            mismatch=self.mismatch,
        )

    def kill_switch_on(self) -> bool:
        return bool(self.kill_switch_file) and Path(str(self.kill_switch_file)).exists()
