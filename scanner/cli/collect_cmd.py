"""``fundscan collect``: one collection from every enabled venue, printed, not stored.

Why a separate command: it is the quickest way to see whether each venue answers, how fast,
and with how many instruments and quotes — the first thing to check when a scan looks wrong.
Exit codes: 0 at least one venue delivered quotes, 1 every venue failed, 2 bad arguments.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import (
    ConfigOption,
    WideOption,
    console,
    fail,
    print_fitted,
    settings_or_exit,
    with_emulator,
)
from scanner.cli.tables import Col, Fitted, fit
from scanner.collector import Collection, ProgressEvent, VenueStatus, collect

if TYPE_CHECKING:
    from scanner.settings import Settings


_STYLE = {VenueStatus.OK: "green", VenueStatus.DEGRADED: "yellow", VenueStatus.FAILED: "red"}


def _parse_venues(raw: str | None, settings: Settings) -> list[str]:
    from scanner.venues.specs import venue_ids

    if raw is None:
        return list(settings.venues.enabled)
    names = [v.strip() for v in raw.split(",") if v.strip()]
    unknown = [n for n in names if n not in venue_ids()]
    if not names or unknown:
        raise fail(
            f"--venues: unknown venue(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(venue_ids())}"
        )
    return names


def _print_progress(event: ProgressEvent) -> None:
    r = event.result
    if event.stage == "start":
        console.print(f"  {event.venue}: collecting ...", highlight=False)
    elif event.stage == "quotes":
        style = _STYLE[r.status]
        detail = f"{len(r.quotes)} quotes" if r.status is not VenueStatus.FAILED else r.reason
        console.print(f"  {event.venue}: [{style}]{r.status}[/] {detail}", highlight=False)
    elif event.stage == "books":
        console.print(f"  {event.venue}: {len(r.books)} books", highlight=False)


COLLECT_COLUMNS: tuple[Col, ...] = (
    Col("venue", "venue", lambda r, _c: str(r["venue"]), justify="left"),
    Col(
        "status",
        "status",
        lambda r, _c: str(r["status"]),
        justify="left",
        style=lambda r: _STYLE[r["status"]],
    ),
    Col("quotes", "quotes", lambda r, _c: str(r["quotes"])),
    Col("latency", "latency ms", lambda r, _c: f"{r['latency_ms']:.0f}", priority=1),
    Col("instruments", "instruments", lambda r, _c: str(r["instruments"]), priority=3),
    Col("books", "books", lambda r, _c: str(r["books"]), priority=2),
    Col("reason", "reason", lambda r, _c: r["reason"] or "", justify="left", max_width=30),
)


def _summary_rows(collection: Collection) -> list[dict[str, Any]]:
    return [
        {
            "venue": r.venue,
            "status": r.status,
            "quotes": len(r.quotes),
            "latency_ms": r.latency_ms,
            "instruments": len(r.instruments),
            "books": len(r.books),
            "reason": r.reason,
        }
        for r in collection.results.values()
    ]


def summary(collection: Collection, width: int, wide: bool = False) -> Fitted:
    """The per-venue table, fitted to ``width`` (failure reasons fold; numbers never do)."""
    return fit("collection", COLLECT_COLUMNS, _summary_rows(collection), width, wide=wide)


async def _collect(settings: Settings, names: list[str], books: int) -> Collection:
    from scanner.venues.registry import build_venues, close_all, max_concurrency  # ccxt, httpx

    venues = build_venues(settings, names)
    try:
        return await collect(
            venues,
            deadline_s=settings.collector.deadline_s,
            book_depth=settings.collector.book_depth,
            book_symbols=None if books > 0 else [],
            book_candidates=books,
            max_concurrency=max_concurrency(settings, names),
            progress=_print_progress,
        )
    finally:
        await close_all(venues)


def register(app: typer.Typer) -> None:
    @app.command("collect")
    def collect_cmd(
        config: ConfigOption = None,
        emulator: Annotated[
            str | None,
            typer.Option(
                help="Emulator URL; every venue is served at URL/<venue>.", show_default=False
            ),
        ] = None,
        venues: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated venues (default: venues.enabled).", show_default=False
            ),
        ] = None,
        books: Annotated[
            int, typer.Option(min=0, max=1000, help="Fetch books for the N widest spreads.")
        ] = 0,
        wide: WideOption = False,
    ) -> None:
        """Collect funding quotes (and optionally books) once and print a per-venue summary."""
        settings = settings_or_exit(config)
        settings = with_emulator(settings, emulator)
        names = _parse_venues(venues, settings)
        if venues is not None:
            settings = settings.model_copy(
                update={"venues": settings.venues.model_copy(update={"enabled": tuple(names)})}
            )
        result = asyncio.run(_collect(settings, names, books))
        print_fitted(summary(result, console.width, wide))
        if result.all_failed:
            raise typer.Exit(1)
