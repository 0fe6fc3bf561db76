"""Open, hold, close and repair one hedged pair over two trading ports.

The rules that keep money safe, in the order they apply:

1. Every order is journalled (with its deterministic client id) *before* it is sent, and its
   result after; an order whose fate is unknown is looked up by that id, never re-sent.
2. The hedge leg is sent as soon as the first leg's fill is known, sized to what actually
   filled (in canonical base units, rounded down to the hedge venue's lot).
3. If the hedge is refused or only partly fills, the larger leg is reduced (reduce-only) until
   both legs hold the same base quantity within one lot, bounded by ``unwind_timeout_s``;
   what cannot be matched in time leaves the pair ``broken`` (reported, never ignored).
4. Closing reverses the opening: the hedge leg is closed first, the first leg matched to it.
5. Limits and the kill switch are checked before every order that adds exposure; orders that
   reduce exposure are always allowed (a kill switch must be able to flatten).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from scanner.clock import Clock
from strategies.execution import (
    ZERO,
    Journal,
    LegPlan,
    Limits,
    OrderIntent,
    OrderResult,
    PairPlan,
    State,
    TradingPort,
    breaches,
    client_id,
    round_down,
)


@dataclass(frozen=True)
class FlowTiming:
    unwind_timeout_s: float = 30.0
    """How long the flow keeps trying to match legs (or find out an order's fate)."""
    retry_pause_s: float = 1.0


class PairFlow:
    """Drives one pair's orders; all I/O goes through ``ports`` and ``journal``."""

    def __init__(
        self,
        ports: Mapping[str, TradingPort],
        journal: Journal,
        clock: Clock,
        limits: Limits,
        timing: FlowTiming = FlowTiming(),
    ) -> None:
        self.ports = ports
        self.journal = journal
        self.clock = clock
        self.limits = limits
        self.timing = timing

    # -- public procedures ----------------------------------------------------------------

    async def open(self, plan: PairPlan) -> State:
        # checked while still planned: a planned pair is not yet counted in the exposure
        refused = breaches(self.limits, self.journal.exposure(), plan.notional_usd, True)
        if refused:
            return self._give_up(plan, "refused", "; ".join(refused))
        self.journal.state(plan, State.OPENING)
        for leg in (plan.first, plan.second):
            await self._port(leg).prepare(leg.market.venue_symbol)
        await self._send(plan, plan.first, plan.first.side, plan.first.qty, "o")
        if self._held(plan, plan.first) == 0:
            return self._give_up(plan, "first_leg_unfilled", f"{_where(plan.first)} did not fill")
        return await self.hedge_and_match(plan)

    async def hedge_and_match(self, plan: PairPlan) -> State:
        """Hedge what the first leg holds, then make both legs equal (after a fill or restart)."""
        first, second = plan.first, plan.second
        want = second.market.qty_for_base(first.market.to_base(self._held(plan, first)))
        missing = round_down(want - self._held(plan, second), second.market.lot)
        refused = breaches(self.limits, self.journal.exposure(), plan.notional_usd, False)
        if refused:
            self.journal.event(plan, "hedge_refused", "; ".join(refused))
        elif missing >= max(second.market.min_qty, second.market.lot):
            result = await self._send(plan, second, second.side, missing, "o")
            if result.status != "filled":
                self.journal.event(
                    plan, "hedge_" + result.status,
                    f"{_where(second)} {result.status} ({result.filled_qty} of {missing}): "
                    f"{result.error or 'IOC remainder cancelled'}; reducing the first leg",
                )  # fmt: skip
        return await self._settle(plan, "u", after=State.OPEN)

    async def close(self, plan: PairPlan) -> State:
        """Close the hedge leg, then match the first leg to it, until flat or out of time."""
        self.journal.state(plan, State.CLOSING)
        deadline = self._deadline()
        while True:
            second = plan.second
            held = round_down(self._held(plan, second), second.market.lot)
            if held > 0:
                await self._send(plan, second, second.close_side, held, "c", reduce_only=True)
            state = await self._settle(plan, "c", after=State.CLOSING)
            if state is State.CLOSED or self.clock.monotonic_ms() >= deadline:
                return state
            await self.clock.sleep(self.timing.retry_pause_s)

    async def resolve(self, plan: PairPlan, role: str, cid: str) -> OrderResult:
        """The fate of a journalled order whose result we never recorded (crash, timeout)."""
        leg = plan.leg(role)
        found = await self._port(leg).lookup(leg.market.venue_symbol, cid)
        return found or OrderResult(cid, "rejected", error="the venue has no such order")

    # -- steps ----------------------------------------------------------------------------

    async def _settle(self, plan: PairPlan, action: str, *, after: State) -> State:
        """Reduce the larger leg until both hold the same base quantity within one lot.

        Matched and flat is ``closed``; matched but holding is ``after`` (open after opening,
        still closing during a close); out of time is ``broken``."""
        deadline = self._deadline()
        while True:
            excess_leg, qty = self._excess(plan)
            if qty == 0:
                flat = all(self._held(plan, leg) < leg.market.lot for leg in _legs(plan))
                state = State.CLOSED if flat else after
                self.journal.state(plan, state)
                return state
            if self.clock.monotonic_ms() >= deadline:
                self.journal.event(
                    plan, "unmatched",
                    f"{_where(excess_leg)} still holds {qty} more than its hedge after "
                    f"{self.timing.unwind_timeout_s:g} s",
                )  # fmt: skip
                self.journal.state(plan, State.BROKEN)
                return State.BROKEN
            side = excess_leg.close_side
            result = await self._send(plan, excess_leg, side, qty, action, reduce_only=True)
            if result.status in ("rejected", "unknown"):
                await self.clock.sleep(self.timing.retry_pause_s)

    def _excess(self, plan: PairPlan) -> tuple[LegPlan, Decimal]:
        """The leg holding more base units than the other, and the venue qty to reduce it by."""
        first, second = plan.first, plan.second
        base_first = first.market.to_base(self._held(plan, first))
        base_second = second.market.to_base(self._held(plan, second))
        leg, extra = (first, base_first - base_second)
        if base_second > base_first:
            leg, extra = (second, base_second - base_first)
        return leg, round_down(extra / leg.market.multiplier, leg.market.lot)

    async def _send(
        self, plan: PairPlan, leg: LegPlan, side: str, qty: Decimal, action: str,
        *, reduce_only: bool = False,
    ) -> OrderResult:  # fmt: skip
        attempt = self.journal.attempts(plan, leg.role, action)
        intent = OrderIntent(
            leg.market.venue_symbol, side, qty, client_id(plan.pair_id, leg.role, action, attempt),
            reduce_only,
        )  # fmt: skip
        self.journal.before_send(plan, leg.role, intent)
        result = await self._port(leg).submit(intent)
        deadline = self._deadline()
        while result.status == "unknown" and self.clock.monotonic_ms() < deadline:
            await self.clock.sleep(self.timing.retry_pause_s)
            result = await self.resolve(plan, leg.role, intent.client_id)
        self.journal.after_send(plan, leg.role, intent, result)
        return result

    def _give_up(self, plan: PairPlan, kind: str, message: str) -> State:
        self.journal.event(plan, kind, message)
        self.journal.state(plan, State.CLOSED)
        return State.CLOSED

    def _held(self, plan: PairPlan, leg: LegPlan) -> Decimal:
        return max(self.journal.filled(plan, leg.role), ZERO)

    def _port(self, leg: LegPlan) -> TradingPort:
        return self.ports[leg.market.venue]

    def _deadline(self) -> float:
        return self.clock.monotonic_ms() + self.timing.unwind_timeout_s * 1000


def _legs(plan: PairPlan) -> tuple[LegPlan, LegPlan]:
    return plan.first, plan.second


def _where(leg: LegPlan) -> str:
    return f"{leg.role} leg {leg.market.venue} {leg.market.venue_symbol}"
