"""How fast fundscan sees the whole market, next to the floor and a per-symbol scanner.

Against the emulator with a fixed latency on every request (default 50 ms,
``Emulator(latency_ms=...)``: the time from a request's arrival to its answer), six venues, full
universe. The emulator stands in for six venues' own servers, so by default each venue is
served by its own emulator process (``--one-emulator``: one process for all six, as until
2026-11-30: it answered every venue's requests one after another on one core, ~0.15 s of its CPU
a steady cycle). Its processes run their event loops on uvloop where installed (ccxt requires
it); on a 2-core machine their CPU shares the machine with the scanner's, so they run at
niceness 10 (``--emulator-nice``): servers on other machines do not take turns with the scanner
for its cores (medians of 10 cycles on a loaded host, 20:05: 0.42-0.59 s at niceness 0,
0.31-0.35 s at 10). The scanner itself
runs on the event loop ``fundscan run``'s session runs its scans on
(``scanner.session.new_event_loop``: uvloop where installed, as it is with ccxt):

- one-shot ``collect``: fresh adapters, instruments + quotes + candidate books;
- steady-state cycle: the collection of the second and later scans of one session (instrument
  lists cached, adapters and their rate-limit windows kept), median of ``--cycles``. Cycles
  start ``--pace-s`` apart (default 5 s, the shortest ``schedule.scan_every_s`` that ``fundscan
  run`` accepts), as the scheduler starts them; the same session then runs ``--cycles`` more
  back to back (``cycle_back_to_back_s``), which ``fundscan run`` never does: there the venues'
  request budgets, not the round trips, set the pace (OKX's throttle holds 18 cost units per
  2 s for all endpoints, a cycle spends ~14, so a cycle that starts right after the previous
  one waits ~1-1.7 s for its books). The session keeps the book prefetch ``fundscan run``
  keeps (``BookPrefetch``: the last cycle's candidates' books go out with the quotes); the
  same session's cycles without it, every book after the cycle's quotes as before the prefetch
  existed, are printed next to it (``cycle_no_prefetch_s``), with how many candidates a
  cycle newly selected (those are fetched after the quotes);
- the same steady cycle against emulators with no latency injected
  (``cycle_zero_latency_s``, with both sides' CPU): what is left of a cycle without the round
  trip is the CPU of the scanner and of the emulator, which share this machine's cores;
- client CPU per steady cycle (``time.process_time`` of this process) and the emulator's CPU
  over the same cycle (its processes' user + system time from ``/proc``, Linux only), so the
  figures can be read on a loaded machine; their sum over the cores, median of the cycles, is
  the shortest cycle this host allows (``cycle_cpu_bound_s``, ``cpu_bound_ratio_to_floor``:
  ``cpu_bound_s``). Every collection (and scan) runs in the session's
  collector pause, as ``ScanSession`` runs its scans (``scanner.gcpause.SessionGc``): the
  young pass it defers to after the scan, and the refreeze after an instrument load, are not
  in the cycle; the CPU with them is printed next to it (``cycle_cpu_with_gc_s``);
- a whole ``scan`` (collect, store, rank, store the ranking) in that session, paced the same
  way, median;
- per venue: its time within the collection, its requests, the floor, and a simple bulk-call
  scanner (fresh ccxt exchange: ``load_markets`` + ``fetch_funding_rates``, default settings,
  one venue in the process); next to it fundscan's one-shot quotes of that venue alone in the
  process too (fresh adapter, instruments + quotes: ``one_shot_alone_s``), the like-for-like
  comparison - within the six-venue collection a venue's time also holds the other five
  venues' parsing, which runs on the same event loop;
- the floor: the longest chain of *dependent* requests each venue needs with its real bulk
  endpoints (``FLOOR_ROUNDS``), times the latency; venues are concurrent, and the candidate
  books need every venue's quotes first, so the collection floor is the longest venue chain
  plus one round of books (all sent at once). Kept as it was with the prefetch: a newly
  selected candidate still needs this chain; a cycle whose candidates were all prefetched
  needs one round, so it can come in under this floor;
- the common scanner baseline: ccxt ``fetch_funding_rate`` per symbol, venue after venue, with
  ccxt's default throttle. It takes minutes, so it runs ``--baseline-symbols`` symbols per venue
  and extrapolates to the venue's full list (said so in the output: ``baseline_extrapolated``);
- growth: the steady cycle for 1, 3 and 6 venues and half and full universe (half: the emulator
  quotes every other base asset; instrument lists stay whole).

Usage: python benchmarks/bench_scan.py [--json] [--latency-ms 50] [--cycles 5] [--pace-s 5]
       [--baseline-symbols 15] [--no-growth] [--no-baseline] [--one-emulator]
       [--emulator-nice 10]
Timings are wall-clock on a machine other jobs may share: the load average is printed with
them, and the ratios (to the floor, to the baseline) are measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scanner.collector import BookPrefetch, Collection, InstrumentCache, ProgressEvent, collect
from scanner.gcpause import SessionGc
from scanner.pipeline import candidate_selector, in_universe, scan_once
from scanner.session import new_event_loop
from scanner.settings import Settings, load_settings
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.registry import build_venues, close_all, max_concurrency
from storage.db import open_database
from storage.repository import Repository

ALL = ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid")
FLOOR_ROUNDS: dict[str, tuple[int, int]] = {
    # venue: (rounds to know the instruments, rounds for quotes + volume + top of book once
    # the instruments are known). Independent calls of one round go out together.
    "bybit": (1, 1),  # instruments-info (1 page of 1000) | tickers?category=linear
    "binanceusdm": (1, 1),  # exchangeInfo | premiumIndex + fundingInfo + 24hr + bookTicker
    "okx": (1, 1),  # instruments?instType=SWAP | funding-rate?instId=ANY + tickers
    "bitget": (1, 1),  # contracts per productType | current-fund-rate + tickers per productType
    "gate": (0, 1),  # contracts (carries rate, interval, next time) + tickers: no prior list
    "hyperliquid": (0, 1),  # metaAndAssetCtxs: the universe and every asset's funding at once
}
# The emulator processes run with the cyclic garbage collector off. They stand in for venues'
# servers, whose CPU is not the scanner's, but here they share its two cores, so their CPU is
# in every cycle. Their collector's passes (~700 new container objects start one; a steady
# cycle's answers make tens of thousands) were ~15-20 % of their CPU a cycle (medians of two
# runs each way of 8 paced cycles, 2026-12-01: 0.13-0.14 -> 0.105-0.115 s). They free nothing
# the reference counts do not: over 150 cycles against the same emulators, resident memory
# went from 69-73 MB to 74-100 MB a process with the collector on and off alike (the request
# log and the row caches, which grow by design).
LAUNCH = """
import asyncio, gc, os, sys, zlib
from emulator import Emulator

class Half(Emulator):
    def _universe(self):
        full = super()._universe()
        keep = lambda x: zlib.crc32(x.asset.encode()) % 2 == 0
        return {v: [x for x in xs if keep(x)] for v, xs in full.items()}

async def main(latency_ms, half):
    os.nice(int(sys.argv[3]))
    cls = Half if half else Emulator
    emu = cls(seed=1, latency_ms=latency_ms, history_days=3)
    await emu.start(0)
    gc.collect()  # the model's arrays and tables live as long as the process: a full
    gc.freeze()  # collection walked them every few dozen cycles (~1.5 ms a cycle on Bybit's)
    gc.disable()  # see the comment above LAUNCH
    sys.stdout.write(f"{emu.url}\\n")
    sys.stdout.flush()
    await asyncio.Event().wait()

try:  # uvloop comes with ccxt; the emulator stands in for six venues' servers, not for us
    import uvloop
    uvloop.run(main(float(sys.argv[1]), sys.argv[2] == "half"))
except ImportError:
    asyncio.run(main(float(sys.argv[1]), sys.argv[2] == "half"))
"""


@dataclass
class Served:
    """The emulator processes of a run: ``roots[venue]`` is the URL of the process serving
    that venue (every process can serve every venue; each is asked for its own only)."""

    procs: list[subprocess.Popen[str]]
    roots: dict[str, str]

    def venue_url(self, venue: str) -> str:
        return f"{self.roots[venue]}/{venue}"

    def requests(self) -> list[dict[str, Any]]:
        """Every process's request log, merged in arrival order (the processes' emulated
        clocks are all the real clock: speed 1, no fixed start)."""
        log: list[dict[str, Any]] = []
        for root in dict.fromkeys(self.roots.values()):
            log += httpx.get(f"{root}/_control/log", timeout=60).json()["requests"]
        log.sort(key=lambda r: r["ts_ms"])
        return log

    def cpu_s(self) -> float | None:
        """The emulator processes' CPU time so far (user + system), None off Linux."""
        got = [process_cpu_s(p.pid) for p in self.procs]
        return None if any(c is None for c in got) else sum(c for c in got if c is not None)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` from ``/proc`` (None where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(latency_ms: float, half: bool, per_venue: bool = True, nice: int = 0) -> Served:
    """The emulator: one process per venue (``per_venue``; real venues are separate servers,
    and one process answering all six serialised their answers on one core), or one process
    for all six; ``nice``: their niceness (stand-ins for servers on other machines: at 10 they
    take the CPU the scanner leaves idle instead of taking turns with it)."""
    groups = [[v] for v in ALL] if per_venue else [list(ALL)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(latency_ms), "half" if half else "full", str(nice)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in groups
    ]
    roots: dict[str, str] = {}
    for proc, venues in zip(procs, groups, strict=True):
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            for p in procs:
                p.kill()
            raise SystemExit("emulator did not start")
        roots.update(dict.fromkeys(venues, url))
    return Served(procs, roots)


def settings_for(served: Served, venues: Sequence[str], db_path: Path) -> Settings:
    config = db_path.parent / "bench.yaml"
    config.write_text(
        f"venues:\n  enabled: [{', '.join(venues)}]\nstorage:\n  url: sqlite:///{db_path}\n",
        encoding="utf-8",
    )
    return load_settings(config).with_venue_roots(served.roots)


@dataclass
class Timed:
    collection: Collection
    total_s: float
    venue_s: dict[str, float] = field(default_factory=dict)
    cpu_s: float = float("nan")
    """This process's CPU time over the collection."""
    emulator_cpu_s: float = float("nan")
    """The emulator process's CPU time over the collection (nan where unknown)."""
    cpu_with_gc_s: float = float("nan")
    """``cpu_s`` plus the session's collector work once the collection ended (its young
    pass; after an instrument load, the refreeze): CPU the session spends between scans."""


async def timed_collect(
    settings: Settings,
    venues: dict[str, Any],
    cache: InstrumentCache,
    served: Served | None = None,
    prefetch: BookPrefetch | None = None,
    session_gc: SessionGc | None = None,
) -> Timed:
    """One collection as the pipeline runs it; per venue: when its last stage ended. With
    ``session_gc``, inside the session's collector pause (``ScanSession`` runs every scan in
    it): its young pass runs after the collection, counted in ``cpu_with_gc_s`` only."""
    if session_gc is None:
        return await _timed_collect(settings, venues, cache, served, prefetch)
    cpu0 = time.process_time()
    with session_gc.scan(lambda: cache.loads):
        timed = await _timed_collect(settings, venues, cache, served, prefetch)
    timed.cpu_with_gc_s = time.process_time() - cpu0
    return timed


async def _timed_collect(
    settings: Settings,
    venues: dict[str, Any],
    cache: InstrumentCache,
    served: Served | None,
    prefetch: BookPrefetch | None,
) -> Timed:
    emu0 = served.cpu_s() if served is not None else None
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    ends: dict[str, float] = {}

    def progress(event: ProgressEvent) -> None:
        if event.stage in ("quotes", "books"):
            ends[event.venue] = time.perf_counter() - t0

    c = await collect(
        venues,
        deadline_s=settings.collector.deadline_s,
        book_depth=settings.collector.book_depth,
        book_symbols=lambda qs: candidate_selector(settings.collector.book_candidates)(
            in_universe(list(qs), settings.universe)
        ),
        max_concurrency=max_concurrency(settings, list(venues)),
        progress=progress,
        instruments=cache,
        prefetch=prefetch,
    )
    total_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    emu1 = served.cpu_s() if served is not None else None
    emu_s = emu1 - emu0 if emu0 is not None and emu1 is not None else float("nan")
    return Timed(c, total_s, ends, cpu_s, emu_s, cpu_s)


async def paced(started: float, pace_s: float) -> None:
    """Sleep until ``pace_s`` after ``started`` (``perf_counter``), as a scheduler would."""
    await asyncio.sleep(max(0.0, started + pace_s - time.perf_counter()))


def per_venue_requests(log: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in log:
        out[r["venue"]] = out.get(r["venue"], 0) + 1
    return out


def floor_s(venues: Sequence[str], latency_s: float, one_shot: bool, books: bool) -> float:
    """The longest chain of dependent round trips, venues concurrent, plus one book round."""
    chain = max(FLOOR_ROUNDS[v][1] + (FLOOR_ROUNDS[v][0] if one_shot else 0) for v in venues)
    return (chain + (1 if books else 0)) * latency_s


async def session_run(
    served: Served,
    names: Sequence[str],
    cycles: int,
    tmp: Path,
    with_scans: bool,
    pace_s: float,
    back_to_back: bool = False,
    prefetching: bool = True,
) -> dict[str, Any]:
    """One session: a one-shot collection, ``cycles`` steady collections started ``pace_s``
    apart, optionally ``cycles`` more back to back and ``cycles`` whole scans (paced)."""
    settings = settings_for(served, names, tmp / f"bench-{len(names)}-{time.time_ns()}.db")
    venues = build_venues(settings, names)
    cache = InstrumentCache(settings.collector.instruments_refresh_s)
    prefetch = BookPrefetch() if prefetching else None
    session_gc = SessionGc()  # as ScanSession runs each scan: see timed_collect
    try:
        before = len(served.requests())
        started = time.perf_counter()
        first = await timed_collect(settings, venues, cache, served, prefetch, session_gc)
        log = served.requests()
        one_shot_requests = per_venue_requests(log[before:])
        steady: list[Timed] = []
        steady_requests: dict[str, int] = {}
        for _ in range(cycles):
            await paced(started, pace_s)
            before = len(log)
            started = time.perf_counter()
            steady.append(
                await timed_collect(settings, venues, cache, served, prefetch, session_gc)
            )
            log = served.requests()
            steady_requests = per_venue_requests(log[before:])
        unpaced: list[Timed] = []
        if back_to_back:
            await paced(started, pace_s)
            for _ in range(cycles + 1):  # the first starts with the budgets refilled
                unpaced.append(
                    await timed_collect(settings, venues, cache, served, prefetch, session_gc)
                )
            started = time.perf_counter()
        scans: list[float] = []
        if with_scans:
            db = open_database(settings.storage.url)
            repo = Repository(db)
            try:
                for _ in range(cycles + 1):
                    await paced(started, pace_s)
                    started = time.perf_counter()
                    with session_gc.scan(lambda: cache.loads):
                        await scan_once(
                            settings, repo, venues=venues, instruments=cache, prefetch=prefetch
                        )
                    scans.append(time.perf_counter() - started)
            finally:
                db.dispose()
    finally:
        await close_all(venues)
        session_gc.release()
    books = any(r.books for r in first.collection.results.values())
    return {
        "one_shot": first,
        "steady": steady,
        "back_to_back": unpaced[1:],
        "one_shot_requests": one_shot_requests,
        "steady_requests": steady_requests,
        "scans_s": scans[1:],
        "books": books,
    }


async def simple_bulk_scanner(served: Served, venue: str) -> tuple[float, float]:
    """A fresh ccxt exchange with ccxt's defaults: load_markets, then fetch_funding_rates.
    (wall s, CPU s of this process)."""
    ex = make_exchange(venue, base_url=served.venue_url(venue))
    try:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await ex.load_markets()
        await ex.fetch_funding_rates()
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await ex.close()


async def one_shot_alone(served: Served, venue: str, tmp: Path) -> tuple[float, float]:
    """fundscan's one-shot quotes of one venue alone in the process (fresh adapter), as the
    simple bulk scanner runs: (s until its instruments and quotes are in, CPU s of the
    collection)."""
    got = await session_run(served, [venue], 0, tmp, with_scans=False, pace_s=0.0)
    first: Timed = got["one_shot"]
    return first.collection.results[venue].latency_ms / 1000, first.cpu_s


async def sequential_baseline(served: Served, venue: str, limit: int) -> dict[str, Any]:
    """ccxt fetch_funding_rate per symbol, one after another (default throttle)."""
    ex = make_exchange(venue, base_url=served.venue_url(venue))
    try:
        t0 = time.perf_counter()
        markets = await ex.load_markets()
        t_markets = time.perf_counter() - t0
        symbols = [s for s, m in markets.items() if m.get("swap") and m.get("active", True)]
        sample = symbols[:limit]
        t1 = time.perf_counter()
        for s in sample:
            with contextlib.suppress(Exception):  # a scanner moves on; the time still counts
                await ex.fetch_funding_rate(s)
        per_symbol = (time.perf_counter() - t1) / max(1, len(sample))
    finally:
        await ex.close()
    return {
        "symbols": len(symbols),
        "sampled": len(sample),
        "load_markets_s": t_markets,
        "per_symbol_s": per_symbol,
        "estimate_s": t_markets + per_symbol * len(symbols),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    latency_s = args.latency_ms / 1000
    tmp = Path(tempfile.mkdtemp(prefix="fundscan-bench-"))
    full = serve(args.latency_ms, False, not args.one_emulator, args.emulator_nice)
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}",
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_avg_before": os.getloadavg()[0],
        "latency_ms": args.latency_ms,
        "emulators": ("one for all venues" if args.one_emulator else "one process per venue")
        + f", niceness {args.emulator_nice}",
    }
    try:
        main = await session_run(
            full, ALL, args.cycles, tmp, with_scans=True, pace_s=args.pace_s, back_to_back=True
        )
        first: Timed = main["one_shot"]
        steady: list[Timed] = main["steady"]
        unpaced: list[Timed] = main["back_to_back"]
        cycle = median([t.total_s for t in steady])
        out.update(
            pace_s=args.pace_s,
            collect_s=first.total_s,
            collect_cpu_s=first.cpu_s,
            collect_emulator_cpu_s=first.emulator_cpu_s,
            collect_floor_s=floor_s(ALL, latency_s, one_shot=True, books=main["books"]),
            cycle_s=cycle,
            cycle_cpu_s=median([t.cpu_s for t in steady]),
            cycle_cpu_with_gc_s=median([t.cpu_with_gc_s for t in steady]),
            cycle_emulator_cpu_s=median([t.emulator_cpu_s for t in steady]),
            cycle_back_to_back_s=median([t.total_s for t in unpaced]),
            cycle_back_to_back_cpu_s=median([t.cpu_s for t in unpaced]),
            floor_s=floor_s(ALL, latency_s, one_shot=False, books=main["books"]),
            scan_s=median(main["scans_s"]),
        )
        out["ratio_to_floor"] = cycle / out["floor_s"]
        out["cycle_cpu_bound_s"] = cpu_bound_s(steady)
        out["cpu_bound_ratio_to_floor"] = out["cycle_cpu_bound_s"] / out["floor_s"]
        cands = [first.collection.candidates] + [t.collection.candidates for t in steady]
        out["cycle_new_candidates"] = median(
            [float(len(set(b) - set(a))) for a, b in zip(cands, cands[1:], strict=False)]
        )
        out["cycle_candidates"] = median([float(len(c)) for c in cands[1:]])
        # the same session without the book prefetch (every book after this cycle's quotes,
        # as before the prefetch existed): the figure the steady cycle was measured as until then
        plain = await session_run(
            full, ALL, args.cycles, tmp, with_scans=False, pace_s=args.pace_s, prefetching=False
        )
        out["cycle_no_prefetch_s"] = median([t.total_s for t in plain["steady"]])
        out["cycle_no_prefetch_cpu_s"] = median([t.cpu_s for t in plain["steady"]])
        out["cycle_no_prefetch_emulator_cpu_s"] = median(
            [t.emulator_cpu_s for t in plain["steady"]]
        )
        out.update(await zero_latency_cycle(args, tmp))
        venues: dict[str, Any] = {}
        for v in ALL:
            res = first.collection.results[v]
            venues[v] = {
                # until the venue's instruments and quotes are in (what a bulk scanner does)
                "one_shot_s": res.latency_ms / 1000,
                "steady_s": median([t.collection.results[v].latency_ms / 1000 for t in steady]),
                # until its candidate books are in too (they wait for every venue's quotes)
                "one_shot_with_books_s": first.venue_s.get(v),
                "steady_with_books_s": median([t.venue_s.get(v, float("nan")) for t in steady]),
                "quotes": len(res.quotes),
                "priced_top_of_book": sum(q.has_top_of_book for q in res.quotes),
                "books": len(res.books),
                "one_shot_requests": main["one_shot_requests"].get(v, 0),
                "steady_requests": main["steady_requests"].get(v, 0),
                "floor_one_shot_s": floor_s([v], latency_s, True, bool(res.books)),
                "floor_steady_s": floor_s([v], latency_s, False, bool(res.books)),
                "status": str(res.status),
            }
        for v in ALL:
            wall, cpu = await simple_bulk_scanner(full, v)
            venues[v]["simple_bulk_scanner_s"] = wall
            venues[v]["simple_bulk_scanner_cpu_s"] = cpu
            wall, cpu = await one_shot_alone(full, v, tmp)
            venues[v]["one_shot_alone_s"] = wall
            venues[v]["one_shot_alone_cpu_s"] = cpu
        out["venues"] = venues
        if not args.no_baseline:
            base = {v: await sequential_baseline(full, v, args.baseline_symbols) for v in ALL}
            out["baseline"] = base
            out["baseline_s"] = sum(b["estimate_s"] for b in base.values())
            out["baseline_extrapolated"] = any(b["sampled"] < b["symbols"] for b in base.values())
            out["speedup_vs_sequential"] = out["baseline_s"] / cycle
        growth = []
        if not args.no_growth:
            half = serve(args.latency_ms, True, not args.one_emulator, args.emulator_nice)
            try:
                for size, served in (("half", half), ("full", full)):
                    for names in (ALL[:1], ALL[:3], ALL):
                        got = await session_run(
                            served, names, args.cycles, tmp, with_scans=False, pace_s=args.pace_s
                        )
                        growth.append(
                            {
                                "venues": len(names),
                                "universe": size,
                                "quotes": sum(
                                    len(r.quotes)
                                    for r in got["one_shot"].collection.results.values()
                                ),
                                "one_shot_s": got["one_shot"].total_s,
                                "cycle_s": median([t.total_s for t in got["steady"]]),
                                "cycle_cpu_s": median([t.cpu_s for t in got["steady"]]),
                                "floor_s": floor_s(names, latency_s, False, got["books"]),
                            }
                        )
            finally:
                half.stop()
        out["growth"] = growth
    finally:
        full.stop()
    out["load_avg_after"] = os.getloadavg()[0]
    return out


def cpu_bound_s(cycles: Sequence[Timed]) -> float:
    """The shortest a cycle could be on this machine's cores given its measured CPU: the
    scanner's and the emulator's CPU over the cycle, spread perfectly over every core
    (median of the cycles). Why: the floor counts latency only, as if servers and scanner
    took no time; where both share a machine's cores, a cycle cannot end before its CPU is
    done, so this says how much of the ratio to the floor the host alone decides (a slower
    host raises it, whatever the scheduling)."""
    cores = os.cpu_count() or 1
    return median([(t.cpu_s + t.emulator_cpu_s) / cores for t in cycles])


async def zero_latency_cycle(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """The steady cycle of the same session against emulators with no latency injected.

    Why: on a machine whose cores the scanner shares with the emulator that stands in for six
    venues' servers, a cycle is latency plus CPU, both sides' CPU. With the latency at zero,
    what is left is that CPU alone (the scanner's and the emulator's, on the same cores), so
    the difference to ``cycle_s`` is what the round trip adds. The floor assumes servers and
    a scanner that take no time; this figure says how far this machine is from that."""
    zero = serve(0.0, False, not args.one_emulator, args.emulator_nice)
    try:
        got = await session_run(zero, ALL, args.cycles, tmp, with_scans=False, pace_s=args.pace_s)
    finally:
        zero.stop()
    steady: list[Timed] = got["steady"]
    return {
        "cycle_zero_latency_s": median([t.total_s for t in steady]),
        "cycle_zero_latency_cpu_s": median([t.cpu_s for t in steady]),
        "cycle_zero_latency_emulator_cpu_s": median([t.emulator_cpu_s for t in steady]),
    }


def _fmt(v: Any, unit: str = "s") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:.2f} {unit}" if isinstance(v, float) else str(v)


def report(r: dict[str, Any]) -> str:
    nan = float("nan")
    lines = [
        f"bench_scan: {r['machine']}, {r['date_utc']} UTC, load average "
        f"{r['load_avg_before']:.1f} -> {r['load_avg_after']:.1f}; "
        f"{r['latency_ms']:g} ms per request; emulator: {r.get('emulators', '-')}",
        "",
        "| venue | quotes one-shot (alone / in six) | quotes steady | "
        "with books one-shot / steady | "
        "requests (one-shot / steady) | priced by top of book | books | simple bulk scanner | "
        "floor (one-shot / steady, with books) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v, d in r["venues"].items():
        lines.append(
            f"| {v} | {_fmt(d.get('one_shot_alone_s'))} "
            f"({_fmt(d.get('one_shot_alone_cpu_s'))} CPU) / {_fmt(d['one_shot_s'])} | "
            f"{_fmt(d['steady_s'])} | "
            f"{_fmt(d['one_shot_with_books_s'])} / {_fmt(d['steady_with_books_s'])} | "
            f"{d['one_shot_requests']} / {d['steady_requests']} | "
            f"{d['priced_top_of_book']}/{d['quotes']} | {d['books']} | "
            f"{_fmt(d['simple_bulk_scanner_s'])} "
            f"({_fmt(d.get('simple_bulk_scanner_cpu_s'))} CPU) | "
            f"{_fmt(d['floor_one_shot_s'])} / {_fmt(d['floor_steady_s'])} |"
        )
    lines += [
        "",
        f"whole market: one-shot collect {_fmt(r['collect_s'])} "
        f"(floor {_fmt(r['collect_floor_s'])}; CPU {_fmt(r.get('collect_cpu_s'))} here, "
        f"{_fmt(r.get('collect_emulator_cpu_s'))} in the emulator); "
        f"steady-state cycle {_fmt(r['cycle_s'])} (cycles {r.get('pace_s', 0):g} s apart; "
        f"floor {_fmt(r['floor_s'])}, {r['ratio_to_floor']:.2f}x; "
        f"its CPU alone, spread over every core, needs {_fmt(r.get('cycle_cpu_bound_s'))}, "
        f"{r.get('cpu_bound_ratio_to_floor', nan):.2f}x the floor; "
        f"CPU {_fmt(r.get('cycle_cpu_s'))} here ({_fmt(r.get('cycle_cpu_with_gc_s'))} with the "
        f"collector's pass after it), {_fmt(r.get('cycle_emulator_cpu_s'))} in the "
        f"emulator; newly selected candidates a cycle {r.get('cycle_new_candidates', nan):g} "
        f"of {r.get('cycle_candidates', nan):g}); without the book prefetch "
        f"{_fmt(r.get('cycle_no_prefetch_s'))} (CPU {_fmt(r.get('cycle_no_prefetch_cpu_s'))} here, "
        f"{_fmt(r.get('cycle_no_prefetch_emulator_cpu_s'))} in the emulator); "
        f"with no latency injected {_fmt(r.get('cycle_zero_latency_s'))} (CPU "
        f"{_fmt(r.get('cycle_zero_latency_cpu_s'))} here, "
        f"{_fmt(r.get('cycle_zero_latency_emulator_cpu_s'))} in the emulator: the cycle's CPU "
        "alone, on the cores the two share); "
        f"back to back {_fmt(r.get('cycle_back_to_back_s'))} "
        f"(CPU {_fmt(r.get('cycle_back_to_back_cpu_s'))}); "
        f"whole scan (collect, store, rank) {_fmt(r['scan_s'])}",
    ]
    if "baseline_s" in r:
        extra = " (extrapolated from a sample per venue)" if r["baseline_extrapolated"] else ""
        lines.append(
            f"sequential per-symbol baseline {_fmt(r['baseline_s'])}{extra}: "
            f"{r['speedup_vs_sequential']:.0f}x slower than the steady cycle"
        )
    if r["growth"]:
        lines += [
            "",
            "| venues | universe | quotes | one-shot | steady cycle | its CPU here | floor |",
            "|---|---|---|---|---|---|---|",
        ]
        for g in r["growth"]:
            lines.append(
                f"| {g['venues']} | {g['universe']} | {g['quotes']} | {_fmt(g['one_shot_s'])} | "
                f"{_fmt(g['cycle_s'])} | {_fmt(g.get('cycle_cpu_s'))} | {_fmt(g['floor_s'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--cycles", type=int, default=5, help="steady-state cycles measured")
    parser.add_argument(
        "--pace-s",
        type=float,
        default=5.0,
        help="steady cycles start this far apart (fundscan run's shortest scan_every_s)",
    )
    parser.add_argument("--baseline-symbols", type=int, default=15, help="sampled per venue")
    parser.add_argument("--no-growth", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--one-emulator",
        action="store_true",
        help="serve all six venues from one emulator process (the default is one per venue)",
    )
    parser.add_argument(
        "--emulator-nice",
        type=int,
        default=10,
        help="the emulator processes' niceness (0: the scanner's priority)",
    )
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:  # as ``fundscan run``'s scans
        result = runner.run(run(args))
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(report(result))


if __name__ == "__main__":
    main()
