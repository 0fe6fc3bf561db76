"""``fundscan research-data``: a sample database for the notebooks (``make research-data``).

Why a command: the notebooks need weeks of history, live quotes and stored rankings, and a
researcher without venue access needs them too. The built-in emulator runs on a stepped
(accelerated) clock: ``--days`` of settled history are backfilled at once, then ``--scans``
scans run one emulated hour apart, so quotes, books and opportunities exist as a scheduled
``fundscan run`` would leave them. Real recorded histories are imported next to the emulated
ones (``--real DIR``, repeatable; the shared recordings by default when present), with their
venues' own names, so every notebook can compare the emulated market with the real one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import err_console, fail
from scanner.clock import FakeClock
from scanner.funding_import import FundingImportError, files_under, read_file
from scanner.units import MS_PER_DAY, MS_PER_H

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
DEFAULT_REAL = (SHARED_DATA / "multi-venue-funding", SHARED_DATA / "funding-history")
START_MS = 1_793_491_200_000
"""2026-11-01 00:00 UTC: a fixed start, so the same seed builds the same database, and after
every real recording (the newest ends 2026-08-22): emulated and real rows of the same venue and
symbol never interleave."""


def build(
    url: str,
    *,
    days: float = 21.0,
    scans: int = 6,
    bases: Sequence[str] | None = None,
    real: Sequence[Path] = (),
    seed: int = 7,
    say: bool = True,
) -> dict[str, int]:
    """Fill the database at ``url``; returns row counts of the main tables."""
    from emulator import Emulator  # the CLI is the only layer that starts the emulator
    from scanner.backfill import backfill  # the venues, storage and pandas load when it runs
    from scanner.pipeline import scan_once
    from scanner.settings import Settings
    from scanner.venues.registry import build_venues, close_all, max_concurrency
    from storage.db import open_database
    from storage.queries import Queries
    from storage.repository import Repository

    def note(text: str) -> None:
        if say:
            err_console.print(text, highlight=False)

    db = open_database(url)
    repo, queries = Repository(db), Queries(db)
    try:
        with Emulator(seed=seed, stepped=True, start_ms=START_MS, history_days=days).run_in_thread(
        ) as emu:  # fmt: skip
            base = Settings(env={}).with_base_url(emu.url)
            settings = base.model_copy(
                update={"storage": base.storage.model_copy(update={"url": url})}
            )
            clock = FakeClock(START_MS)
            names = list(settings.venues.enabled)

            async def fill() -> None:
                venues = build_venues(settings, names, clock=clock)
                try:
                    got = await backfill(
                        venues, repo.market, queries, since_ms=START_MS - int(days * MS_PER_DAY),
                        until_ms=START_MS, universe=settings.universe,
                        bases=set(bases) if bases else None,
                        concurrency=max_concurrency(settings, names), now_ms=START_MS,
                    )  # fmt: skip
                finally:
                    await close_all(venues)
                note(f"backfilled {sum(r.added for r in got.values())} emulated settlements")

            asyncio.run(fill())
            for k in range(scans):
                if k:
                    emu.clock.step(MS_PER_H)
                    clock.set_ms(START_MS + k * MS_PER_H)
                outcome = asyncio.run(scan_once(settings, repo, clock=clock))
                note(f"scan {k + 1}/{scans}: {len(outcome.opportunities)} opportunities")
        for folder in real:
            added = 0
            for path in files_under(folder):
                item = read_file(path)
                added += repo.write_settlements(item.settlements) if item.settlements else 0
                added += repo.write_quotes(item.quotes) if item.quotes else 0
            note(f"imported {added} real rows from {folder}")
        return {t: queries.count(t) for t in ("funding_settlements", "funding_quotes", "scans",
                                               "opportunities")}  # fmt: skip
    finally:
        db.dispose()


def research_data(
    out: Annotated[Path, typer.Option(help="SQLite file to create or extend.")] = Path(
        "data/research.db"
    ),
    days: Annotated[float, typer.Option(min=1, max=120, help="Days of emulated history.")] = 21,
    scans: Annotated[int, typer.Option(min=1, max=200, help="Scans, one hour apart.")] = 6,
    symbols: Annotated[str | None, typer.Option(help="Only these bases (default: all).")] = None,
    real: Annotated[
        list[Path] | None,
        typer.Option(help="Folder or file of real histories (repeatable; default: ../shared)."),
    ] = None,
    no_real: Annotated[bool, typer.Option("--no-real", help="Emulated data only.")] = False,
    seed: Annotated[int, typer.Option(help="Emulator seed.")] = 7,
) -> None:
    """Build a sample research database: emulated weeks of history plus real recordings."""
    folders = [] if no_real else list(real or [p for p in DEFAULT_REAL if p.exists()])
    out.parent.mkdir(parents=True, exist_ok=True)
    bases = [b.strip().upper() for b in symbols.split(",") if b.strip()] if symbols else None
    try:
        counts = build(f"sqlite:///{out}", days=days, scans=scans, bases=bases, real=folders,
                       seed=seed)  # fmt: skip
    except FundingImportError as exc:
        raise fail(str(exc)) from None
    err_console.print(
        f"{out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False
    )


def register(app: typer.Typer) -> None:
    app.command("research-data")(research_data)
