"""Auto-execution inside ``fundscan run``: after each scan, manage held pairs, then maybe open.

Off unless ``execution.auto: true`` and a trading mode (never in dry-run; ``live`` also needs
``fundscan run --live``). The first tick reconciles with the venues before anything else; a
mismatch stops all opening until resolved (pairs already held are still closed when their
exit rule fires). Each tick builds its ports and closes them (one event loop per tick, so no
connection outlives the loop that made it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from scanner.clock import Clock, SystemClock
from scanner.executor import ExecutionError, Executor, GateRefused
from scanner.executor_journal import OPEN_STATES
from scanner.executor_ports import build_ports, limits_from
from scanner.llm_gate import LlmGate
from scanner.settings import Settings
from scanner.venues.bybit_http import BybitHttp
from scanner.venues.bybit_ports import BybitPort
from storage.db import Database
from storage.execution_store import ExecutionStore
from strategies.execution import LimitBreach, SizingError
from strategies.execution_flow import FlowTiming
from strategies.execution_policy import AutoRules, Held, exit_reason, pick_entry
from strategies.llm_verdict import LlmVerdict

log = logging.getLogger(__name__)
TRADABLE = frozenset({"bybit", "bybit-spot", "binanceusdm"})


def rules_from(settings: Settings) -> AutoRules:
    e = settings.execution
    return AutoRules(
        e.min_net_apr, e.min_confidence, e.exit_below_apr, e.max_hold_h, e.basis_stop_frac,
        TRADABLE,
    )  # fmt: skip


class VenueClock:
    """Now as the venue counts it (Bybit's server time via the measured offset); deadlines
    and sleeps stay on the local monotonic clock.

    Why: hold times are market time. Against a real venue the two agree within the offset;
    against an accelerated emulator only the venue's clock sees 12 hours pass in 12 seconds.
    """

    def __init__(self, http: BybitHttp, local: Clock) -> None:
        self.http = http
        self.local = local

    def now_ms(self) -> int:
        return self.http.timestamp_ms() if self.http.time_offset_ms is not None else (
            self.local.now_ms()
        )  # fmt: skip

    def monotonic_ms(self) -> float:
        return self.local.monotonic_ms()

    async def sleep(self, seconds: float) -> None:
        await self.local.sleep(seconds)


class AutoExecutor:
    def __init__(self, settings: Settings, db: Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock or SystemClock()
        self.rules = rules_from(settings)
        self.reconciled = False
        self.gate = LlmGate(settings, db, self.clock) if settings.llm.mode == "gate" else None
        """``llm.mode: gate``: no pair opens without the model's valid approve."""

    def next_entry(self, opportunities: pd.DataFrame) -> dict[str, Any] | None:
        """The row the next tick would open if nothing changes (``fundscan run`` asks the model
        about it together with the rows it alerts, so the gate finds its verdict)."""
        rows = opportunities.to_dict("records") if len(opportunities) else []
        store = ExecutionStore(self.db)
        held = {p.pair_key for p in store.open_positions() if p.state in OPEN_STATES}
        pick = pick_entry(rows, self.rules, held)
        return None if pick is None else _row_of(rows, pick.pair_key)

    def tick(
        self, opportunities: pd.DataFrame, verdicts: Mapping[str, LlmVerdict] | None = None
    ) -> list[str]:
        """One round after a scan; returns what it did, one line each (for the run log).

        ``verdicts``: what the model said about this scan's rows, by ``pair_key`` (the gate
        uses them instead of asking again)."""
        if self.gate is not None:
            self.gate.remember(verdicts or {})
        rows = opportunities.to_dict("records") if len(opportunities) else []
        return asyncio.run(self._tick(rows))

    async def _tick(self, rows: list[dict[str, Any]]) -> list[str]:
        mode = self.settings.execution.mode
        ports = build_ports(self.settings, mode, None)
        bybit = ports["bybit"]
        assert isinstance(bybit, BybitPort)
        await bybit.http.sync_time()
        clock = VenueClock(bybit.http, self.clock)
        executor = Executor(
            self.db, ports, clock, limits_from(self.settings),
            timing=FlowTiming(unwind_timeout_s=self.settings.execution.unwind_timeout_s),
            kill_switch_file=self.settings.execution.kill_switch_file, gate=self.gate,
        )  # fmt: skip
        done: list[str] = []
        try:
            if not self.reconciled:
                problems = await executor.reconcile()
                done += [f"reconcile mismatch: {p}" for p in problems]
                self.reconciled = not problems
            executor.journal.mismatch = None if self.reconciled else "unresolved mismatch"
            done += await self._manage(executor, rows)
            done += await self._maybe_open(executor, rows)
        finally:
            for port in ports.values():
                await port.close()  # type: ignore[attr-defined]
        return done

    async def _manage(self, executor: Executor, rows: list[dict[str, Any]]) -> list[str]:
        by_key = {str(r.get("pair_key")): r for r in rows}
        done = []
        for record in executor.active():
            if record.pair_id is None:
                continue
            entry = await executor.entry_basis(record.pair_id)
            held = Held(record.pair_key, record.opened_ms, entry)
            now = executor.clock.now_ms()
            reason = exit_reason(held, by_key.get(record.pair_key), self.rules, now)
            if reason is None:
                await executor.refresh_realised(await executor.rebuild(record.pair_id))
                continue
            plan = await executor.rebuild(record.pair_id)
            executor.journal.event(plan, "exit", reason)
            view = await executor.close(record.pair_id)
            done.append(f"closed {record.pair_id} {record.pair_key} ({reason}): {view.state}")
        return done

    async def _maybe_open(self, executor: Executor, rows: list[dict[str, Any]]) -> list[str]:
        held = {p.pair_key for p in executor.active()}
        pick = pick_entry(rows, self.rules, held)
        if pick is None:
            return []
        notional = Decimal(str(min(self.settings.engine.notional_usd,
                                   self.settings.execution.max_notional_usd)))  # fmt: skip
        try:
            plan = await executor.plan_symbols(
                pick.symbol, pick.long_venue, pick.long_symbol, pick.short_venue,
                pick.short_symbol, notional,
            )  # fmt: skip
            view = await executor.open(plan, opportunity=_row_of(rows, pick.pair_key))
        except GateRefused as exc:
            return [f"not opening {pick.pair_key}: llm gate: {exc.reason}"]
        except (LimitBreach, SizingError, ExecutionError) as exc:
            return [f"not opening {pick.pair_key}: {exc}"]
        gate = "" if executor.last_gate is None else f" (llm gate: {executor.last_gate.reason})"
        return [
            f"opened {view.pair_id} {pick.pair_key} net APR {pick.net_apr:.1%} "
            f"conf {pick.confidence:.2f}: {view.state}{gate}"
        ]


def _row_of(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((r for r in rows if str(r.get("pair_key")) == key), None)
