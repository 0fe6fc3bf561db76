"""``fundscan execute open|status|close|flatten``: hedged pairs by hand.

The contract scripts rely on: ``open --json`` prints one object with ``pair_id``, ``state`` and
``legs`` (venue, venue symbol, side, quantity, average price, order ids); every user error is
one line and exit code 2; a venue failure is one line and exit code 1. ``dry-run`` (the
default mode) prints the orders it would send and builds no keyed client at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from scanner.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    print_fitted,
    settings_or_exit,
)
from scanner.cli.db_cmd import open_db_or_exit
from scanner.cli.tables import Col, Fitted, fit
from scanner.clock import SystemClock

if TYPE_CHECKING:  # the executor (storage, ccxt, httpx) loads only when a command runs
    from scanner.executor import Executor, PairView
    from scanner.settings import Settings

T = TypeVar("T")
MODES = ("dry-run", "paper", "testnet", "demo", "live")
VENUE_CHOICES = ("bybit", "bybit-spot", "binanceusdm")

ModeOption = Annotated[
    str | None, typer.Option("--mode", help="dry-run | paper | testnet | demo | live.")
]
EmulatorOption = Annotated[
    str | None, typer.Option("--emulator", help="Emulator URL (paper mode).", show_default=False)
]
LiveOption = Annotated[
    bool, typer.Option("--live", help="Required (with mode live) for real money.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]


def resolve_mode(settings: Settings, mode: str | None, live: bool) -> str:
    chosen = mode or settings.execution.mode
    if chosen not in MODES:
        raise fail(f"--mode: expected one of {', '.join(MODES)}, got {chosen!r}")
    if chosen == "live" and not (live and settings.execution.mode == "live"):
        raise fail("live trading needs execution.mode: live in the config AND the --live flag")
    return chosen


def run_with_executor(
    settings: Settings,
    mode: str,
    emulator: str | None,
    work: Callable[[Executor], Awaitable[T]],
    *,
    reconcile: bool = True,
) -> T:
    """Open the database and ports, reconcile (unless dry-run), run ``work``, close all."""
    from scanner.executor import ExecutionError, Executor, GateRefused
    from scanner.executor_ports import build_ports, limits_from
    from scanner.llm_gate import LlmGate
    from scanner.venues.base import VenueError
    from strategies.execution import LimitBreach, SizingError
    from strategies.execution_flow import FlowTiming

    try:
        ports = build_ports(settings, mode, emulator)
    except ExecutionError as exc:
        raise fail(str(exc)) from None
    db = open_db_or_exit(settings)

    async def go() -> T:
        clock = SystemClock()
        gate = LlmGate(settings, db, clock) if settings.llm.mode == "gate" else None
        executor = Executor(
            db, ports, clock, limits_from(settings),
            timing=FlowTiming(unwind_timeout_s=settings.execution.unwind_timeout_s),
            kill_switch_file=settings.execution.kill_switch_file, gate=gate,
        )  # fmt: skip
        try:
            if reconcile and mode != "dry-run":
                for problem in await executor.reconcile():
                    err_console.print(f"[bold red]mismatch:[/] {problem}", highlight=False)
            return await work(executor)
        finally:
            for port in ports.values():
                await port.close()  # type: ignore[attr-defined]

    try:
        return asyncio.run(go())
    except GateRefused as exc:  # not a user error: the model said no (or could not say yes)
        raise fail(str(exc), code=1) from None
    except (LimitBreach, SizingError, ExecutionError) as exc:
        raise fail(str(exc)) from None
    except VenueError as exc:
        raise fail(f"venue: {exc}", code=1) from None
    finally:
        db.dispose()


def _notional(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise fail(f"--notional: expected a USD amount, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise fail(f"--notional: must be a positive amount, got {value!r}")
    return amount


def _venue(flag: str, value: str) -> str:
    if value not in VENUE_CHOICES:
        raise fail(f"{flag}: expected one of {', '.join(VENUE_CHOICES)}, got {value!r}")
    return value


def _dec(value: Any) -> str:
    return "-" if value is None else str(value)


LEG_COLUMNS: tuple[Col, ...] = (
    Col("role", "leg", lambda r, _c: str(r["role"]), justify="left"),
    Col("venue", "venue", lambda r, _c: str(r["venue"]), justify="left"),
    Col("symbol", "symbol", lambda r, _c: str(r["venue_symbol"]), justify="left"),
    Col("side", "side", lambda r, _c: str(r["side"]), justify="left", priority=3),
    Col("quantity", "quantity", lambda r, _c: _dec(r["quantity"])),
    Col("price", "avg price", lambda r, _c: _dec(r["average_price"]), priority=1),
    Col("fees", "fees USD", lambda r, _c: _dec(r["fees_usd"]), priority=2),
    Col("funding", "funding USD", lambda r, _c: _dec(r["funding_usd"]), priority=2),
)
"""Legs of a pair, fitted to the terminal: side, then fees/funding, then price go first."""


def leg_table(view: PairView, width: int) -> Fitted:
    rows = [
        {
            "role": leg.role,
            "venue": leg.venue,
            "venue_symbol": leg.venue_symbol,
            "side": leg.side,
            "quantity": leg.quantity,
            "average_price": leg.average_price,
            "fees_usd": leg.fees_usd,
            "funding_usd": leg.funding_usd,
        }
        for leg in view.legs
    ]
    title = f"{view.pair_id} {view.pair} {view.state} ({view.notional_usd} USD per leg)"
    return fit(title, LEG_COLUMNS, rows, width)


def _print_view(view: PairView, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(view.as_json()))
        return
    print_fitted(leg_table(view, console.width))
    for event in view.events:
        console.print(f"  ! {event}", highlight=False)


def _open(
    settings: Settings, symbol: str, long: str, short: str, notional: Decimal,
    mode: str, emulator: str | None, as_json: bool,
) -> None:  # fmt: skip
    async def work(executor: Executor) -> Any:
        plan = await executor.plan(symbol, long, short, notional)
        if mode == "dry-run":
            approval = await executor.check_gate(plan)  # gate mode: even a dry run needs it
            if approval is not None:
                err_console.print(f"llm gate: {approval.reason}", highlight=False)
            return [(venue, intent) for venue, intent in executor.dry_run_orders(plan)], plan
        if mode == "live":
            err_console.print(f"live: opening {plan.pair_key} for {notional} USD", highlight=False)
        view = await executor.open(plan)
        if executor.last_gate is not None:
            err_console.print(f"llm gate: {executor.last_gate.reason}", highlight=False)
        return view

    from scanner.executor import PairView

    result = run_with_executor(settings, mode, emulator, work)
    if isinstance(result, PairView):
        _print_view(result, as_json)
        return
    orders, plan = result
    if as_json:
        console.print_json(json.dumps({
            "pair_id": plan.pair_id, "pair": plan.pair_key, "state": "dry-run",
            "legs": [
                {"venue": venue, "venue_symbol": i.venue_symbol, "side": i.side,
                 "quantity": str(i.qty), "average_price": None, "order_ids": [i.client_id]}
                for venue, i in orders
            ],
        }))  # fmt: skip
        return
    console.print(f"dry-run: would open {plan.pair_key} ({notional} USD):", highlight=False)
    for venue, i in orders:
        console.print(
            f"  {venue} {i.venue_symbol} market {i.side} {i.qty} id {i.client_id}", highlight=False
        )


def open_cmd(
    symbol: Annotated[str, typer.Option("--symbol", help="Base asset, e.g. BTC.")],
    long: Annotated[str, typer.Option("--long", help="bybit | bybit-spot | binanceusdm")],
    short: Annotated[str, typer.Option("--short", help="bybit | binanceusdm")],
    notional: Annotated[str, typer.Option("--notional", help="USD per leg.")],
    mode: ModeOption = None,
    emulator: EmulatorOption = None,
    as_json: JsonOption = False,
    live: LiveOption = False,
    config: ConfigOption = None,
) -> None:
    """Open a hedged pair: long on one venue, short on the other."""
    settings = settings_or_exit(config)
    chosen = resolve_mode(settings, mode, live)
    amount = _notional(notional)
    _open(
        settings, symbol, _venue("--long", long), _venue("--short", short), amount,
        chosen, emulator, as_json,
    )  # fmt: skip


def status_cmd(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Pairs not closed, their legs, and what happened to them (from the database)."""
    from scanner.executor import Executor
    from scanner.executor_ports import limits_from

    settings = settings_or_exit(config)
    db = open_db_or_exit(settings, announce=False)
    try:
        executor = Executor(db, {}, SystemClock(), limits_from(settings))
        views = [executor.view(p.pair_id or "") for p in executor.active()]
        mismatches = [e.message for e in executor.events.recent() if e.kind == "mismatch"]
    finally:
        db.dispose()
    if as_json:
        body = {"pairs": [v.as_json() for v in views], "mismatches": mismatches[-1:]}
        console.print_json(json.dumps(body))
        return
    if not views:
        console.print("no open pairs", highlight=False)
    for view in views:
        _print_view(view, False)
    if mismatches:
        console.print(f"last reconciliation mismatch: {mismatches[-1]}", highlight=False)


def _order_mode(settings: Settings, mode: str | None, live: bool, verb: str) -> str:
    """The mode for a command that sends orders: dry-run has nothing to send, so it is refused."""
    chosen = resolve_mode(settings, mode, live)
    if chosen == "dry-run":
        raise fail(f"{verb} sends orders: pass --mode paper|testnet|demo|live")
    return chosen


def close_cmd(
    pair_id: Annotated[str, typer.Argument(help="The pair id shown by open/status.")],
    mode: ModeOption = None,
    emulator: EmulatorOption = None,
    as_json: JsonOption = False,
    live: LiveOption = False,
    config: ConfigOption = None,
) -> None:
    """Close one pair: the hedge leg first, then the first leg matched to it."""
    settings = settings_or_exit(config)
    chosen = _order_mode(settings, mode, live, "close")
    view = run_with_executor(settings, chosen, emulator, lambda ex: ex.close(pair_id))
    _print_view(view, as_json)


def flatten_cmd(
    mode: ModeOption = None,
    emulator: EmulatorOption = None,
    as_json: JsonOption = False,
    live: LiveOption = False,
    config: ConfigOption = None,
) -> None:
    """Kill switch: create execution.kill_switch_file and close every pair."""
    settings = settings_or_exit(config)
    chosen = _order_mode(settings, mode, live, "flatten")
    kill = settings.execution.kill_switch_file
    views = run_with_executor(settings, chosen, emulator, lambda ex: ex.flatten(kill))
    if as_json:
        console.print_json(json.dumps({"pairs": [v.as_json() for v in views]}))
        return
    console.print(f"kill switch engaged ({kill}); closed {len(views)} pair(s)")
    for view in views:
        _print_view(view, False)


def reconcile_cmd(
    mode: ModeOption = None,
    emulator: EmulatorOption = None,
    as_json: JsonOption = False,
    live: LiveOption = False,
    config: ConfigOption = None,
) -> None:
    """What every start does first: recover unrecorded orders, compare with the venues,
    finish interrupted openings (hedge or unwind) and closings. Exit 1 on a mismatch."""
    settings = settings_or_exit(config)
    chosen = resolve_mode(settings, mode, live)
    if chosen == "dry-run":
        raise fail("reconcile reads private endpoints: pass --mode paper|testnet|demo|live")

    async def work(executor: Executor) -> tuple[list[str], list[PairView]]:
        problems = executor.journal.mismatch
        views = [executor.view(p.pair_id or "") for p in executor.active()]
        return ([problems] if problems else []), views

    problems, views = run_with_executor(settings, chosen, emulator, work)
    if as_json:
        body = {"mismatches": problems, "pairs": [v.as_json() for v in views]}
        console.print_json(json.dumps(body))
    else:
        for view in views:
            _print_view(view, False)
        console.print("venues and database agree" if not problems else "MISMATCH", highlight=False)
    if problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    execute = typer.Typer(help="Open, inspect and close hedged pairs (dry-run by default).")
    app.add_typer(execute, name="execute")
    execute.command("open")(open_cmd)
    execute.command("status")(status_cmd)
    execute.command("close")(close_cmd)
    execute.command("flatten")(flatten_cmd)
    execute.command("reconcile")(reconcile_cmd)
