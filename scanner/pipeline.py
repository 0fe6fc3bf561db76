"""One scan, end to end: collect -> store -> recent history -> engine -> store the ranking.

Why one function for ``scan``, ``demo`` and the scheduled job: they must behave identically
(same candidate selection, same confidence inputs, same persistence), and each step's order
matters for correctness:

1. Collect quotes from every venue, then books for the legs of the best *gross* pairs (the
   engine's own ``select_book_candidates``, so books are fetched where they change the ranking).
2. Store instruments, quotes and books before anything can fail later: collected data is never
   lost because ranking failed.
3. Top up settled funding history for the candidate instruments (only what the database lacks
   over the confidence lookback), so confidence is computed from history, never invented;
   Bybit spot books for carry pairs and Bybit's account fee rate at the same time.
4. Rank with the engine, store the ranking with the scan, record each venue's status.

The whole scan is bounded by ``collector.deadline_s`` (``scanner.budget``): each phase gets
what is left of it up to its share, keeps whatever arrived in time, and the time each phase
used against its budget is reported (``ScanOutcome.budget``, ``scans.notes``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from scanner.budget import ScanBudget
from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.collector import (
    BookPrefetch,
    Collection,
    InstrumentCache,
    ProgressEvent,
    VenueStatus,
    collect,
)
from scanner.domain import FundingQuote, FundingSettlement, Instrument, OrderBook
from scanner.enrich import carry_spot_books, top_up_history
from scanner.recovery import running_note
from scanner.settings import Settings, UniverseSettings
from scanner.units import MS_PER_H
from scanner.venues.base import Venue, VenueError
from scanner.venues.bybit import BybitVenue
from scanner.venues.bybit_trading import BybitTrading
from scanner.venues.registry import build_venues, close_all, max_concurrency
from scanner.venues.specs import default_fee_table
from storage.queries import Queries
from storage.repository import Repository
from strategies.candidates import widest_spread_bases
from strategies.costs import FeeSchedule
from strategies.spread import (
    EngineParams,
    compute_opportunities,
    quotes_frame,
    top_of_book_books,
)

log = logging.getLogger(__name__)

LIVE_FEE_SYMBOL = "BTCUSDT"
"""Fee tiers are per account; one liquid symbol's rate stands for the linear perps."""


@dataclass(frozen=True)
class ScanOutcome:
    scan_id: int
    collection: Collection
    opportunities: pd.DataFrame
    quotes_stored: int
    books_stored: int
    settlements_stored: int
    now_ms: int
    budget: ScanBudget | None = None
    """The scan's time budget by phase (None for a rank-only scan, which waits on nothing)."""


def fee_schedule(settings: Settings) -> FeeSchedule:
    """The venue registry's VIP0 fees overridden by ``venues.<venue>.taker_fee_bps/maker_fee_bps``.

    This is the boundary where the registry's fee table is handed to the pure engine
    (``strategies`` never reads the registry itself).
    """
    overrides: dict[str, tuple[float | None, float | None]] = {
        str(v): (settings.venues.get(v).taker_fee_bps, settings.venues.get(v).maker_fee_bps)
        for v in settings.venues.enabled
    }
    return FeeSchedule.from_table(default_fee_table()).with_overrides(overrides)


def in_universe(quotes: Sequence[FundingQuote], universe: UniverseSettings) -> list[FundingQuote]:
    """Quotes of linear perps settled in ``universe.settle``, bases per include/exclude, and
    24 h volume of at least ``universe.min_volume_24h_usd``.

    Coin-margined (inverse) perps settle in the base coin, so they never pass the settle
    filter: pairing one with a linear perp is a different trade (coin exposure on one leg).
    A quote whose volume is unknown (``volume_24h_usd`` None: the venue's volume call failed)
    is kept: a missing filter input must not silently empty a venue from the scan; books and
    the liquidity confidence component still judge whether it is tradable.
    """
    include = {b.upper() for b in universe.include}
    exclude = {b.upper() for b in universe.exclude}
    min_volume = universe.min_volume_24h_usd
    out = []
    for q in quotes:
        base, _, rest = q.canonical.partition("/")
        settle = rest.partition(":")[2]
        if settle not in universe.settle or base in exclude:
            continue
        if include and base not in include:
            continue
        if q.volume_24h_usd is not None and q.volume_24h_usd < min_volume:
            continue
        out.append(q)
    return out


async def with_live_bybit_fees(
    settings: Settings, fees: FeeSchedule, venue: Venue | None
) -> FeeSchedule:
    """Bybit's own account fee rate (``/v5/account/fee-rate``) when ``venue`` carries API keys.

    ``venue`` is the scan's own Bybit adapter, never a fresh one: its ban gate and rate limits
    must cover the fee call too (a per-scan adapter kept hitting a banned IP every scan).
    Precedence: fees written in config > the account's live rate > built-in VIP0 defaults.
    Skipped on Bybit's demo host, which does not serve fee-rate. Any error keeps ``fees``.
    """
    vs = settings.venues.get("bybit")
    configured = vs.taker_fee_bps is not None and vs.maker_fee_bps is not None
    if (
        not isinstance(venue, BybitVenue)
        or not venue.http.has_credentials
        or vs.environment == "demo"
        or configured
    ):
        return fees
    try:
        rate = await BybitTrading(venue.http).fee_rate(LIVE_FEE_SYMBOL)
    except VenueError as exc:
        log.warning("bybit fee-rate unavailable, using configured fees: %s", exc)
        return fees
    taker = fees.taker_of("bybit") if vs.taker_fee_bps is not None else float(rate.taker)
    maker = fees.maker["bybit"] if vs.maker_fee_bps is not None else float(rate.maker)
    return fees.with_live("bybit", taker, maker)


def candidate_selector(top_n: int) -> Callable[[Sequence[FundingQuote]], list[str]]:
    """Canonical ids of the ``top_n`` bases with the best gross pairs, every listing of each.

    Counted per base asset, not per pair: a base listed on six venues in two settle coins has
    over a hundred ordered pairs and would otherwise take every slot. The collector fetches
    books for these canonical ids on every venue that lists them. Chosen from the quotes
    directly (``strategies.candidates``: the engine's rules without its pandas frame, ~8 ms
    of every steady cycle's CPU).
    """

    def select(quotes: Sequence[FundingQuote]) -> list[str]:
        return widest_spread_bases(quotes, top_n)

    return select


def fill_quoted_intervals(collection: Collection) -> None:
    """Give instruments without a funding interval the one their live quote carries.

    Binance (default-8 h symbols are absent from fundingInfo) and OKX (interval from the gap
    between its two funding times) only learn a symbol's interval while quoting. Without this,
    their stored instruments and fetched settlements would carry no interval, and per-hour
    history (confidence) would be unknown for them.
    """
    for result in collection.results.values():
        quoted = {q.venue_symbol: q.interval_h for q in result.quotes}
        result.instruments = [
            dataclasses.replace(i, funding_interval_h=quoted[i.venue_symbol])
            if i.funding_interval_h is None and i.venue_symbol in quoted
            else i
            for i in result.instruments
        ]


def _instrument_index(collection: Collection) -> dict[tuple[str, str], Instrument]:
    return {
        (i.venue, i.venue_symbol): i for r in collection.results.values() for i in r.instruments
    }


def rank(
    settings: Settings,
    quotes: Sequence[FundingQuote],
    books: Sequence[OrderBook],
    instruments: Mapping[tuple[str, str], Instrument],
    history: pd.DataFrame | None,
    now_ms: int,
    spot_books: Mapping[str, OrderBook] | None = None,
    fees: FeeSchedule | None = None,
) -> pd.DataFrame:
    """The engine over one snapshot (pure; no I/O). ``fees`` default: ``fee_schedule``.

    Every listing's top of book (from the venues' bulk tickers) prices the legs that have no
    full book, so every row carries at least its spread cost.
    """
    kept = in_universe(quotes, settings.universe)
    frame = quotes_frame(kept, instruments)
    sizes = {key: float(inst.contract_size) for key, inst in instruments.items()}
    full = {(b.venue, b.venue_symbol): b for b in books}
    tops = top_of_book_books(kept, sizes)
    params = EngineParams.from_settings(settings.engine)
    ranked = compute_opportunities(
        frame,
        {**tops, **full},
        fees or fee_schedule(settings),
        params,
        now_ms,
        confidence=history,
        spot_books=spot_books,
        top_only=tops.keys() - full.keys(),
    )
    # A row whose cost is only a lower bound (its net APR an upper bound) must not outrank a
    # measured one: executable first, then measured, then the figure shown.
    shown = ranked["net_apr"].fillna(ranked["net_apr_upper"])
    keys = pd.DataFrame(
        {"executable": ranked["executable"], "measured": ranked["cost_measured"], "shown": shown}
    )
    order = keys.sort_values(
        ["executable", "measured", "shown"], ascending=False, kind="stable"
    ).index
    return ranked.loc[order].reset_index(drop=True)


@dataclass(frozen=True)
class _Gathered:
    collection: Collection
    instruments: dict[tuple[str, str], Instrument]
    spot_books: dict[str, OrderBook]
    quotes_stored: int
    books_stored: int
    settlements_stored: int
    fees: FeeSchedule
    budget: ScanBudget


def _venue_ok(collection: Collection, name: str) -> bool:
    result = collection.results.get(name)
    return result is not None and result.status is not VenueStatus.FAILED


async def _enrich(
    settings: Settings,
    repo: Repository,
    venues: Mapping[str, Venue],
    collection: Collection,
    caps: Mapping[str, int],
    timeout_s: float,
    clock: Clock,
) -> tuple[dict[str, OrderBook], list[FundingSettlement], FeeSchedule]:
    """Spot books, history top-up and Bybit's fee rate at once, all within ``timeout_s``.

    A venue whose collection failed is not asked again (its failure is reported once)."""
    bybit = venues.get("bybit") if _venue_ok(collection, "bybit") else None

    async def spot() -> dict[str, OrderBook]:
        if not settings.engine.include_carry or bybit is None:
            return {}
        return await carry_spot_books(
            bybit,
            collection.candidates,
            settings.collector.book_depth,
            caps.get("bybit", 4),
            timeout_s,
            clock,
        )

    async def fees() -> FeeSchedule:
        base = fee_schedule(settings)
        try:
            async with asyncio.timeout(timeout_s):
                return await with_live_bybit_fees(settings, base, bybit)
        except TimeoutError:
            log.warning("bybit fee-rate: no answer within the scan's budget; configured fees")
            return base

    history = top_up_history(
        venues,
        collection,
        Queries(repo.db),
        lookback_h=settings.engine.lookback_h,
        now_ms=collection.finished_ms,
        timeout_s=timeout_s,
        caps=caps,
    )
    return await asyncio.gather(spot(), history, fees())


async def _gather(
    settings: Settings,
    repo: Repository,
    venues: Mapping[str, Venue],
    progress: Callable[[ProgressEvent], None] | None,
    clock: Clock,
    peers: Sequence[FundingQuote] = (),
    budget: ScanBudget | None = None,
    instrument_cache: InstrumentCache | None = None,
    prefetch: BookPrefetch | None = None,
) -> _Gathered:
    """Collect, store what was collected, then enrich (spot books, history, fees) and store
    that, each phase within its share of ``budget`` (default: ``collector.deadline_s`` from
    now).

    ``peers``: other venues' latest quotes (``--role collect``), so books are fetched for the
    pairs that are best across every venue, not only across this process's own.
    ``instrument_cache``: the session's cache (instrument lists reloaded only when due).
    ``prefetch``: the session's last candidates, whose books go out with the quotes."""
    budget = budget or ScanBudget(clock, settings.collector.deadline_s)
    caps = max_concurrency(settings, list(venues))
    with budget.phase("collect") as collect_s:
        collection = await collect(
            venues,
            deadline_s=collect_s,
            book_depth=settings.collector.book_depth,
            book_symbols=lambda qs: candidate_selector(settings.collector.book_candidates)(
                in_universe([*qs, *peers], settings.universe)
            ),
            max_concurrency=caps,
            progress=progress,
            clock=clock,
            instruments=instrument_cache,
            prefetch=prefetch,
        )
    with budget.phase("store"):
        now_ms = collection.finished_ms
        fill_quoted_intervals(collection)
        instruments = _instrument_index(collection)
        repo.upsert_instruments(list(instruments.values()), now_ms)
        quotes_stored = repo.write_quotes(collection.quotes)
        books_stored = repo.write_books(collection.fetched_books)
    with budget.phase("enrich") as enrich_s:
        spot_books, settlements, fees = await _enrich(
            settings, repo, venues, collection, caps, enrich_s, clock
        )
    books_stored += repo.write_books(spot_books.values())
    settlements_stored = repo.write_settlements(settlements)
    return _Gathered(
        collection,
        instruments,
        spot_books,
        quotes_stored,
        books_stored,
        settlements_stored,
        fees,
        budget,
    )


async def scan_once(
    settings: Settings,
    repo: Repository,
    *,
    names: Sequence[str] | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    venues: Mapping[str, Venue] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    instruments: InstrumentCache | None = None,
    prefetch: BookPrefetch | None = None,
) -> ScanOutcome:
    """Collect, store, rank and store the ranking; never loses what was collected.

    ``venues``: adapters to reuse (``scanner.session.ScanSession``); they are left open. Without
    them, adapters for ``names`` (default: the enabled venues) are built and closed here. A scan
    that fails or is cancelled is still closed in ``scans``, with the reason in its notes.
    ``clock`` stamps the scan and the collection (the session's clock in ``fundscan run``).
    ``instruments``: the session's instrument cache (None: every venue's list is loaded).
    ``prefetch``: the session's memory of the last book candidates (``collect``).
    """
    owned = venues is None
    if venues is None:
        wanted = list(names) if names is not None else list(settings.venues.enabled)
        venues = build_venues(settings, wanted, with_keys=True, clock=clock)
    budget = ScanBudget(clock, settings.collector.deadline_s)
    scan_id = repo.start_scan(clock.now_ms(), notes=running_note())
    try:
        try:
            got = await _gather(
                settings,
                repo,
                venues,
                progress,
                clock,
                budget=budget,
                instrument_cache=instruments,
                prefetch=prefetch,
            )
        finally:
            if owned:
                await close_all(venues)
        with budget.phase("rank"):
            ranked = _rank_and_store(settings, repo, scan_id, got, got.fees)
        repo.finish_scan(scan_id, clock.now_ms(), venue_status(got.collection), budget.report())
    except BaseException as exc:
        reason = f"failed: {type(exc).__name__}: {exc}"[:500]
        repo.finish_scan(scan_id, clock.now_ms(), {}, notes=reason)
        raise
    c = got.collection
    return ScanOutcome(
        scan_id,
        c,
        ranked,
        got.quotes_stored,
        got.books_stored,
        got.settlements_stored,
        c.finished_ms,
        budget,
    )


def venue_status(c: Collection) -> dict[str, dict[str, object]]:
    """Per venue, what ``scans.venue_status`` keeps: status, reason, latency and counts."""
    return {
        n: {
            "status": str(r.status),
            "reason": r.reason,
            "latency_ms": round(r.latency_ms),
            "quotes": len(r.quotes),
            "books": len(r.books),
        }
        for n, r in c.results.items()
    }


def _rank_and_store(
    settings: Settings,
    repo: Repository,
    scan_id: int,
    got: _Gathered,
    fees: FeeSchedule,
) -> pd.DataFrame:
    c = got.collection
    since_ms = c.finished_ms - int(settings.engine.lookback_h * MS_PER_H)
    history = Queries(repo.db).quote_history_for_confidence(c.candidates, since_ms)
    ranked = rank(
        settings, c.quotes, c.books, got.instruments, history, c.finished_ms, got.spot_books, fees
    )
    repo.write_opportunities(scan_id, ranked)
    return ranked
