"""``fundscan backfill``: settled funding history of the whole universe into the database.

Resumable and idempotent (``scanner.backfill``): run it again after an interruption and it
asks each venue only for what is still missing; run it twice and the second run adds nothing.
A progress bar per venue goes to stderr; the summary table to stdout.
Exit codes: 0 every venue complete, 1 some symbols or venues failed (run again to finish),
2 bad arguments or configuration.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scanner.cli.backtest_cmd import parse_moment
from scanner.cli.collect_cmd import _parse_venues
from scanner.cli.common import (
    ConfigOption,
    console,
    err_console,
    fail,
    settings_or_exit,
    with_emulator,
)
from scanner.cli.db_cmd import open_db_or_exit
from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.units import MS_PER_DAY

if TYPE_CHECKING:  # the venues (ccxt, httpx) and storage load only when the command runs
    from scanner.backfill import VenueBackfill
    from scanner.settings import Settings


def _bases(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    bases = {b.strip().upper() for b in raw.split(",") if b.strip()}
    if not bases:
        raise fail("--symbols: expected canonical bases such as BTC,ETH")
    return bases


def _summary(results: dict[str, VenueBackfill]) -> Table:
    table = Table(title="backfill")
    for name in ("venue", "instruments", "complete before", "pages", "fetched", "new", "failed"):
        table.add_column(name, justify="left" if name == "venue" else "right")
    for r in results.values():
        failed = r.error or (f"{len(r.failed)} symbols" if r.failed else "")
        table.add_row(
            r.venue, str(r.instruments), str(r.complete), str(r.pages), str(r.fetched),
            str(r.added), failed,
        )  # fmt: skip
    return table


def run_backfill(
    settings: Settings,
    clock: Clock,
    since: str | None,
    until: str | None,
    venues: str | None,
    symbols: str | None,
    *,
    show_progress: bool = True,
) -> dict[str, VenueBackfill]:
    from scanner.backfill import backfill
    from scanner.venues.registry import build_venues, close_all, max_concurrency
    from storage.queries import Queries
    from storage.repository import Repository

    now_ms = clock.now_ms()
    until_ms = parse_moment(until, "--until", now_ms) if until else now_ms
    default_since = until_ms - settings.collector.history_days * MS_PER_DAY
    since_ms = parse_moment(since, "--since", now_ms) if since else default_since
    if since_ms >= until_ms:
        raise fail("--since must be before --until")
    names = _parse_venues(venues, settings)
    bases = _bases(symbols)
    with open_db_or_exit(settings) as db:
        repo, queries = Repository(db), Queries(db)
        with Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=err_console,
            disable=not show_progress,
            transient=False,
        ) as bar:
            tasks = {n: bar.add_task(n, total=None, detail="instruments ...") for n in names}

            def on_progress(state: VenueBackfill) -> None:
                detail = f"{state.added} new / {state.fetched} fetched"
                if state.failed:
                    detail += f", {len(state.failed)} failed"
                if state.error:
                    detail += f" [red]{state.error}[/]"
                bar.update(
                    tasks[state.venue],
                    total=state.instruments,
                    completed=state.done,
                    detail=detail,
                )

            async def go() -> dict[str, VenueBackfill]:
                adapters = build_venues(settings, names, clock=clock)
                try:
                    return await backfill(
                        adapters,
                        repo.market,
                        queries,
                        since_ms=since_ms,
                        until_ms=until_ms,
                        universe=settings.universe,
                        bases=bases,
                        concurrency=max_concurrency(settings, names),
                        now_ms=now_ms,
                        on_progress=on_progress,
                    )
                finally:
                    await close_all(adapters)

            return asyncio.run(go())


def backfill_cmd(
    config: ConfigOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="90d / 12h before now, epoch ms or ISO date (default: history_days)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the window (default: now).")] = None,
    venues: Annotated[str | None, typer.Option(help="Only these venues, e.g. bybit,okx.")] = None,
    symbols: Annotated[str | None, typer.Option(help="Only these bases, e.g. BTC,ETH.")] = None,
    emulator: Annotated[
        str | None, typer.Option(help="Every venue at URL/<venue> (the emulator).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Fetch settled funding history for the universe, resumably and idempotently.

    --since defaults to collector.history_days before --until (default now). Run it again after
    an interruption: it asks only for what is still missing.
    """
    settings = with_emulator(settings_or_exit(config), emulator)
    results = run_backfill(
        settings, SYSTEM_CLOCK, since, until, venues, symbols, show_progress=not quiet
    )
    console.print(_summary(results))
    added = sum(r.added for r in results.values())
    incomplete = [r.venue for r in results.values() if not r.ok]
    err_console.print(f"{added} new settlements", highlight=False)
    if incomplete:
        err_console.print(
            f"incomplete: {', '.join(incomplete)}; run the same command again to continue",
            highlight=False,
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill_cmd)
