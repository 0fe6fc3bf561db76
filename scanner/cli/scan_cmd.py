"""``fundscan scan`` (one scan against the configured venues) and ``fundscan demo`` (the same
against the built-in emulator, on embedded defaults, with no keys and no network).

Machine-readable output (``--json``/``--csv``) goes to stdout alone; progress and notices go to
stderr, so ``fundscan scan --json | jq`` works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scanner.cli.common import (
    ColumnsOption,
    ConfigOption,
    WideOption,
    column_list,
    console,
    err_console,
    fail,
    print_fitted,
    settings_or_exit,
    storage_errors,
    with_emulator,
    with_options,
)
from scanner.cli.tables import ColumnsError
from scanner.clock import SYSTEM_CLOCK
from scanner.collector import ProgressEvent, VenueStatus
from scanner.db_url import redact_url
from scanner.units import MS_PER_S

if TYPE_CHECKING:  # pandas, the pipeline (ccxt, httpx) and storage load when a scan runs
    import pandas as pd

    from scanner.pipeline import ScanOutcome
    from scanner.settings import Settings
    from storage.db import Database

_STYLE = {VenueStatus.OK: "green", VenueStatus.DEGRADED: "yellow", VenueStatus.FAILED: "red"}


def _progress(event: ProgressEvent) -> None:
    r = event.result
    if event.stage == "start":
        err_console.print(f"  {event.venue}: collecting ...", highlight=False)
    elif event.stage == "quotes":
        detail = f"{len(r.quotes)} quotes" if r.status is not VenueStatus.FAILED else r.reason
        err_console.print(
            f"  {event.venue}: [{_STYLE[r.status]}]{r.status}[/] {detail}", highlight=False
        )
    elif event.stage == "books":
        err_console.print(f"  {event.venue}: {len(r.books)} books", highlight=False)


def _venue_list(raw: str | None, settings: Settings) -> list[str]:
    if raw is None:
        return list(settings.venues.enabled)
    names = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [n for n in names if n not in settings.venues.enabled]
    if not names or bad:
        from scanner.venues.specs import venue_ids

        raise fail(
            f"--venues: {', '.join(bad) or '(none given)'} not enabled; "
            f"enabled: {', '.join(settings.venues.enabled)} (known: {', '.join(venue_ids())})"
        )
    return names


def _filter(df: pd.DataFrame, symbol: str | None, top: int) -> pd.DataFrame:
    if symbol:
        wanted = {s.strip().upper() for s in symbol.split(",") if s.strip()}
        base = df["symbol"].str.split("/").str[0]
        df = df[base.isin(wanted) | df["symbol"].isin(wanted)]
    return df.head(top)


def _with_llm(
    settings: Settings, db: Database, df: pd.DataFrame, mode: str, quiet: bool
) -> pd.DataFrame:
    """The shown rows with the model's verdicts (null columns when the mode is off).

    Only these rows are asked about, never the whole universe. The second opinion is optional:
    whatever goes wrong in it, the scan's own output is still printed (all abstentions).
    """
    from scanner.llm_advisor import advise_frame, with_verdicts
    from strategies.llm_verdict import abstain

    if mode == "off" or df.empty:
        return with_verdicts(df, None)

    def say(line: str) -> None:
        if not quiet:
            err_console.print(line, highlight=False)

    if settings.secret(settings.llm.api_key_env) is None:
        say(f"llm: {settings.llm.api_key_env} is not set; asking without an API key")
    try:
        out, stats = asyncio.run(advise_frame(settings, db, df, progress=say))
    except Exception as exc:  # fail closed: the model's trouble never costs the scan output
        reason = f"llm unavailable: {type(exc).__name__}: {exc}"
        err_console.print(f"[yellow]warning:[/] {reason}", highlight=False)
        return with_verdicts(df, [abstain(reason)] * len(df))
    say(stats.summary())
    return out


def _run_scan(
    settings: Settings,
    names: list[str] | None,
    quiet: bool,
    shown: Callable[[pd.DataFrame], pd.DataFrame],
    llm_mode: str = "off",
) -> tuple[ScanOutcome, pd.DataFrame]:
    """Scan, then pick the rows to show (``shown``) and ask the model about those alone."""
    from scanner.pipeline import scan_once
    from storage.db import open_database
    from storage.repository import Repository

    with storage_errors():
        db = open_database(settings.storage.url)
    if db.migration is not None and db.migration.changed:
        err_console.print(db.migration.message, highlight=False)
    try:
        with storage_errors():
            _recover(db)
        progress = None if quiet else _progress
        with storage_errors(), _venue_failures_said_once():
            outcome = asyncio.run(
                scan_once(settings, Repository(db), names=names, progress=progress)
            )
            if not quiet and outcome.budget is not None:
                err_console.print(f"time {outcome.budget.report()}", highlight=False)
            return outcome, _with_llm(settings, db, shown(outcome.opportunities), llm_mode, quiet)
    finally:
        db.dispose()


@contextmanager
def _venue_failures_said_once() -> Iterator[None]:
    """The collector logs each failed venue as a warning (``run``'s log lines); ``scan``
    prints each venue's outcome itself, so that warning would say every failure twice."""
    collector_log = logging.getLogger("scanner.collector")
    level = collector_log.level
    collector_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        collector_log.setLevel(level)


def _recover(db: Database) -> None:
    from scanner.recovery import close_interrupted_scans
    from storage.scan_store import ScanStore

    if closed := close_interrupted_scans(ScanStore(db), SYSTEM_CLOCK):
        err_console.print(
            f"closed {len(closed)} scan(s) left open by an interrupted process as interrupted",
            highlight=False,
        )


@dataclass(frozen=True)
class View:
    """How a person asked to see the table: ``--wide``, ``--columns``."""

    wide: bool = False
    columns: list[str] | None = None


def _emit(
    outcome: ScanOutcome, df: pd.DataFrame, as_json: bool, as_csv: bool, where: str, view: View
) -> None:
    from scanner.cli.render import fit_opportunities, to_csv, to_json

    if as_json:
        typer.echo(to_json(df))
        return
    if as_csv:
        typer.echo(to_csv(df), nl=False)
        return
    notional = f"{df['notional_usd'].iloc[0]:,.0f}" if len(df) else "-"
    title = (
        f"scan #{outcome.scan_id}: {len(outcome.opportunities)} opportunities, top {len(df)} "
        f"by net APR (notional {notional} USD per leg)"
    )
    try:
        fitted = fit_opportunities(df, title, console.width, wide=view.wide, columns=view.columns)
    except ColumnsError as exc:
        raise fail(str(exc)) from None
    print_fitted(fitted)
    c = outcome.collection
    ok = sum(r.status is VenueStatus.OK for r in c.results.values())
    console.print(
        f"{ok}/{len(c.results)} venues ok; stored {outcome.quotes_stored} quotes, "
        f"{outcome.books_stored} books, {outcome.settlements_stored} settlements in {where}",
        highlight=False,
    )
    # a failed venue's reason was printed once already, by the progress line
    for r in c.results.values():
        if r.status is VenueStatus.DEGRADED:
            console.print(f"  {r.venue}: {r.status} ({r.reason})", highlight=False)
    failed = [r.venue for r in c.results.values() if r.status is VenueStatus.FAILED]
    if failed:
        console.print(f"  failed: {', '.join(failed)} (reasons above)", highlight=False)


TopOption = Annotated[int, typer.Option(min=1, max=10_000, help="Show the best N rows.")]
SymbolOption = Annotated[
    str | None, typer.Option(help="Only these bases, comma-separated (e.g. BTC,PEPE).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (a list of objects).")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="advisory|off: ask the configured LLM about the shown rows (overrides llm.mode).",
        show_default=False,
    ),
]


def _llm_mode(settings: Settings, override: str | None) -> str:
    """The mode for this run: ``--llm`` wins; gate mode also shows verdicts in ``scan``."""
    if override is None:
        return settings.llm.mode
    if override not in ("advisory", "off"):
        raise fail(f"--llm: expected advisory or off, got {override!r}")
    return override


def scan(
    config: ConfigOption = None,
    emulator: Annotated[
        str | None, typer.Option(help="Emulator URL; every venue is served at URL/<venue>.")
    ] = None,
    venues: Annotated[str | None, typer.Option(help="Comma-separated venues.")] = None,
    top: TopOption = 20,
    symbol: SymbolOption = None,
    min_net_apr: Annotated[
        float | None, typer.Option(help="Hide rows below this net APR (0.1 = 10 %).")
    ] = None,
    notional: Annotated[
        float | None, typer.Option(help="Notional per leg in USD (finite, > 0).")
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    wide: WideOption = False,
    columns: ColumnsOption = None,
    llm: LlmOption = None,
) -> None:
    """Collect once, store, rank by net APR after fees and slippage, print the table."""
    if as_json and as_csv:
        raise fail("--json and --csv are mutually exclusive")
    settings = settings_or_exit(config)
    settings = with_emulator(settings, emulator)
    settings = with_options(
        settings,
        "engine",
        {"min_net_apr": ("--min-net-apr", min_net_apr), "notional_usd": ("--notional", notional)},
    )
    names = _venue_list(venues, settings)
    mode = _llm_mode(settings, llm)
    outcome, df = _run_scan(
        settings, names, quiet=False, shown=lambda ranked: _filter(ranked, symbol, top),
        llm_mode=mode,
    )  # fmt: skip
    view = View(wide, column_list(columns))
    _emit(outcome, df, as_json, as_csv, redact_url(settings.storage.url), view)
    if outcome.collection.all_failed:
        raise typer.Exit(1)


def demo(
    config: ConfigOption = None,
    seed: Annotated[int, typer.Option(help="Emulator market seed.")] = 7,
    regime: Annotated[
        str, typer.Option(help="Emulated market: calm (2023-like), normal (2025-like), hot (2021).")
    ] = "normal",
    top: TopOption = 15,
    db_path: Annotated[
        Path, typer.Option("--db", help="Demo SQLite file (recreated each run).")
    ] = Path("data/demo.db"),
    as_json: JsonOption = False,
    wide: WideOption = False,
    columns: ColumnsOption = None,
) -> None:
    """Start the built-in venue emulator, scan it into a demo SQLite file, print the table.

    Uses the embedded default configuration unless --config is given (then its engine,
    universe and collector settings apply); venues always point at the emulator and
    storage at the demo file. No keys, no network.
    """
    from scanner.cli.emulator_cmd import check_regime
    from scanner.settings import Settings

    check_regime(regime)
    chosen = settings_or_exit(config) if config is not None else Settings(env={})
    from emulator import Emulator

    started_ms = SYSTEM_CLOCK.monotonic_ms()
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    except OSError as exc:
        raise fail(f"--db {db_path}: {exc.strerror or exc}") from None
    url = f"sqlite:///{db_path}"
    err_console.print(
        f"starting the venue emulator (real wire formats, seeded market, regime {regime}) ..."
    )
    with Emulator(seed=seed, regime=regime).run_in_thread() as emu:
        err_console.print(f"emulator listening on {emu.url}", highlight=False)
        base = chosen.without_secrets().with_base_url(emu.url)
        settings = base.model_copy(update={"storage": base.storage.model_copy(update={"url": url})})
        outcome, df = _run_scan(
            settings, None, quiet=as_json, shown=lambda ranked: ranked.head(top),
            llm_mode=settings.llm.mode,
        )  # fmt: skip
    _emit(outcome, df, as_json, False, url, View(wide, column_list(columns)))
    if not as_json:
        elapsed_s = (SYSTEM_CLOCK.monotonic_ms() - started_ms) / MS_PER_S
        console.print(
            f"demo finished in {elapsed_s:.1f} s (emulated market: regime {regime}; "
            f"--regime calm|normal|hot). Explore the data:\n"
            f"  FUNDSCAN__STORAGE__URL={url} fundscan export --table opportunities "
            f"--format csv\n"
            f"  notebooks/funding_research.ipynb (in Jupyter) reads FUNDSCAN_DB_URL={url}\n"
            f"  notebooks/01-03 (landscape, persistence, backtest) read the research database "
            f"that `make research-data` builds",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("demo")(demo)
