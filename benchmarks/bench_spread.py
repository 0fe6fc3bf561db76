"""Benchmark: the vectorised spread engine against a straightforward per-pair Python loop.

Synthetic, seeded market: 6 venues x 600 instruments (3600 perp quotes, per-symbol intervals
of 1/2/4/8 h, some 1000x multipliers and OKX-style contract sizes), a 20-level book for every
quote, and Bybit spot books for carry. The loop below computes the same columns pair by pair
with the scalar helpers of strategies.costs (max notional by a scalar 60-step bisection), and
the script checks both agree (np.allclose, rtol 1e-9); tests/strategies/test_engine_agreement.py
runs the same comparison on a smaller universe.

Second case: a replay of 30 days of hourly snapshots of the same universe (720 engine runs):
rates move every hour (a random walk per quote), settlement times roll forward, the books stay
the same objects (book history is sparse), so the engine converts them once and solves each
pair's slippage-limited notional once (``BookTable.memo``).

Run: .venv/bin/python benchmarks/bench_spread.py [--days 30] [--no-loop]
(prints stage timings, wall and CPU, and ratios measured in this one run; not a test)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import numpy as np
import pandas as pd

from scanner.domain import FundingQuote, OrderBook
from scanner.venues.specs import default_fee_table, venue_ids
from strategies.confidence import freshness_component, liquidity_component
from strategies.costs import BPS, FeeSchedule, Side, depth_within, slippage_frac
from strategies.spread import EngineParams, compute_opportunities, quotes_frame

NOW = 1_750_000_000_000
H_MS = 3_600_000
N_INSTRUMENTS = 600
LEVELS = 20


def _book(rng, venue, sym, canonical, mid, mult, size, ts) -> OrderBook:
    """A book around canonical ``mid`` expressed in venue units (price*mult, qty/contract)."""
    half = rng.uniform(0.5, 5) * 1e-4
    steps = np.cumsum(np.r_[half, rng.uniform(0.2, 3, LEVELS - 1) * 1e-4])
    usd = rng.lognormal(np.log(3000), 1.0, LEVELS)  # USD per level: some books thin for 10k
    qty_canon = usd / mid
    # (n, 2) float64 arrays, as the venue adapters now build levels; the same values as the
    # Python-float tuples built here before (the same operations in the same order)
    qty = qty_canon / (mult * size)
    asks = np.column_stack((mid * (1 + steps) * mult, qty))
    bids = np.column_stack((mid * (1 - steps) * mult, qty))
    return OrderBook(venue, sym, canonical, bids, asks, ts, mult, size)


def synthetic_market(seed: int = 7, n_instruments: int = N_INSTRUMENTS):
    rng = np.random.default_rng(seed)
    quotes, books, spot = [], {}, {}
    for i in range(n_instruments):
        base = f"C{i:04d}"
        canonical = f"{base}/USDT:USDT"
        mid = float(rng.lognormal(0, 3))
        common = rng.normal(1e-4, 2e-4)
        for venue in venue_ids():
            interval = 1.0 if venue == "hyperliquid" else float(rng.choice([1, 2, 4, 8]))
            rate = float((common + rng.normal(0, 1.5e-4)) * interval / 8)
            mult = 1000.0 if (venue in ("bybit", "binanceusdm") and mid < 0.05) else 1.0
            size = float(rng.choice([1.0, 0.01, 10.0])) if venue in ("okx", "gate") else 1.0
            sym = f"{base}-{venue}"
            ts = NOW - int(rng.integers(0, 90_000))
            nxt = NOW + int(rng.uniform(0.01, interval) * H_MS)
            quotes.append(FundingQuote(venue, sym, canonical, rate, interval, ts, nxt))
            books[(venue, sym)] = _book(rng, venue, sym, canonical, mid, mult, size, ts)
        spot[f"{base}/USDT"] = _book(
            rng, "bybit", f"{base}USDT", f"{base}/USDT", mid, 1.0, 1.0, NOW
        )
    return quotes, books, spot


def _bisect(total, hi: float, limit: float, iterations: int = 60) -> float:
    """Scalar twin of the engine's vectorised bisection."""
    if total(hi) <= limit:
        return hi
    if total(0.0) > limit:
        return 0.0
    lo, up = 0.0, hi
    for _ in range(iterations):
        mid = (lo + up) / 2.0
        if total(mid) <= limit:
            lo = mid
        else:
            up = mid
    return lo


def _legs_of(book: OrderBook):
    a, b = book.canonical_side("asks"), book.canonical_side("bids")
    asks = a[np.lexsort((a[:, 1], a[:, 0]))]  # ascending (price, qty), as sorted() did on tuples
    bids = b[np.lexsort((-b[:, 1], -b[:, 0]))]  # descending
    return asks, bids, (asks[0, 0] + bids[0, 0]) / 2.0


def loop_engine(quotes, books, spot, fees: FeeSchedule, p: EngineParams) -> pd.DataFrame:
    """Per pair, in plain Python: the reference the vectorised engine must reproduce."""
    by_base: dict[str, list[FundingQuote]] = {}
    for q in quotes:
        by_base.setdefault(q.canonical.split("/")[0], []).append(q)
    rows = []
    for qs in by_base.values():
        legs = [(q.venue, q, books[(q.venue, q.venue_symbol)]) for q in qs]
        spot_book = spot.get(qs[0].canonical.split(":")[0])
        for sq in qs:
            if sq.venue == "bybit" and spot_book is not None:
                rows.append(
                    _loop_row(
                        "bybit-spot",
                        None,
                        spot_book,
                        sq,
                        books[(sq.venue, sq.venue_symbol)],
                        fees,
                        p,
                    )
                )
        for lv, lq, lb in legs:
            for sv, sq, sb in legs:
                if lv != sv:
                    rows.append(_loop_row(lv, lq, lb, sq, sb, fees, p))
    frame = pd.DataFrame([r for r in rows if r is not None])
    return frame.sort_values(["long_venue", "short_venue", "symbol"]).reset_index(drop=True)


def _loop_row(long_venue, lq, lb, sq, sb, fees, p):  # noqa: C901 - a reference, kept linear
    l_rph = 0.0 if lq is None else lq.rate_per_interval / lq.interval_h
    d = sq.rate_per_interval / sq.interval_h - l_rph
    if d <= 0:
        return None
    n = p.notional_usd
    la, lbid, lmid = _legs_of(lb)
    sa, sbid, smid = _legs_of(sb)
    walks: list[tuple[np.ndarray, float, Side]] = [
        (la, lmid, "buy"), (sbid, smid, "sell"), (lbid, lmid, "sell"), (sa, smid, "buy")
    ]  # fmt: skip
    slip = sum(slippage_frac(lv, m, n, side) for lv, m, side in walks)
    fee = 2 * (fees.taker_of(long_venue) + fees.taker_of(sq.venue))
    cost = fee + slip
    net = (d * p.horizon_h - cost) / p.horizon_h * 8760
    depth = min(float((lv[:, 0] * lv[:, 1]).sum()) for lv, _, _ in walks)
    limit = p.max_slippage_bps * BPS

    def total(x: float) -> float:
        return sum(slippage_frac(lv, m, x, side) for lv, m, side in walks)

    t_a = None if lq is None else lq.next_funding_ms
    t_end = max(t for t in (t_a, sq.next_funding_ms) if t is not None)
    n_a = 0 if lq is None else math.floor((t_end - t_a) / (lq.interval_h * H_MS)) + 1
    n_b = math.floor((t_end - sq.next_funding_ms) / (sq.interval_h * H_MS)) + 1
    r_a = 0.0 if lq is None else lq.rate_per_interval
    band = p.depth_band_bps * BPS
    liq = min(depth_within(lv, m, band, side) for lv, m, side in walks)
    oldest = min(sq.ts_ms, lb.ts_ms, sb.ts_ms, sq.ts_ms if lq is None else lq.ts_ms)
    stale = p.stale_after_s
    return {
        "symbol": sq.canonical, "long_venue": long_venue, "short_venue": sq.venue,
        "diff_per_h": d, "gross_apr": d * 8760, "fee_frac": fee, "slippage_frac": slip,
        "cost_frac": cost, "basis_frac": (sbid[0, 0] - la[0, 0]) / ((lmid + smid) / 2),
        # measured only when every walk covers the notional; else the figure is an upper bound
        "net_apr": net if depth >= n else math.nan,
        "net_apr_upper": math.nan if depth >= n else net,
        "breakeven_h": cost / d,
        "funding_to_next_long": -r_a, "funding_to_next_short": sq.rate_per_interval,
        "first_cycle_h": (t_end - NOW) / H_MS,
        "collected_first_cycle": n_b * sq.rate_per_interval - n_a * r_a,
        "max_notional_usd": depth, "max_notional_within_slippage_usd": _bisect(total, depth, limit),
        "executable": depth >= n and slip <= limit,
        "liquidity": float(liquidity_component(np.array([liq]), n)[0]),
        "freshness": float(freshness_component(np.array([(NOW - oldest) / 1e3]), stale)[0]),
    }  # fmt: skip


NUMERIC = ["diff_per_h", "gross_apr", "fee_frac", "slippage_frac", "cost_frac", "basis_frac",
           "net_apr", "net_apr_upper", "breakeven_h", "funding_to_next_long",
           "funding_to_next_short", "first_cycle_h", "collected_first_cycle", "max_notional_usd",
           "max_notional_within_slippage_usd", "liquidity", "freshness"]  # fmt: skip


class Stopwatch:
    """Wall and CPU time of a block (the machine is shared: CPU time shows our own share)."""

    def __enter__(self) -> Stopwatch:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def __str__(self) -> str:
        return f"{self.wall * 1e3:8.1f} ms wall {self.cpu * 1e3:8.1f} ms cpu"


def _fresh(books: dict) -> dict:
    """The same books as new objects (new level arrays too): what a live scan hands the engine.

    The engine keeps the table of the last books it converted (``BookTableCache``, for
    replays); new objects make every timed run convert and solve from scratch.
    """
    return {
        k: dataclasses.replace(b, bids=b.bids.copy(), asks=b.asks.copy()) for k, b in books.items()
    }


def snapshot(quotes, books, spot, fees, params, repeats: int = 5) -> pd.DataFrame:
    """One full-universe ranking, timed by stage; the best of ``repeats`` runs is printed.

    ``total`` is a live scan's snapshot: quotes_frame plus compute_opportunities on book
    objects the engine has not seen (its book table built and its pairs solved inside the
    timing). ``total, same books`` runs it again on the books of the run before (a replay's
    case: the table and its solved pairs are reused).
    """
    from strategies.books import BookTable

    stages: dict[str, list[Stopwatch]] = {
        "quotes_frame": [], "BookTable.build": [], "compute_opportunities": [], "total": [],
        "total, same books": [],
    }  # fmt: skip
    band = params.depth_band_bps * BPS
    vec = pd.DataFrame()
    for _ in range(repeats):
        new_books, new_spot = _fresh(books), _fresh(spot)
        with Stopwatch() as total:
            with Stopwatch() as sw:
                frame = quotes_frame(quotes)
            stages["quotes_frame"].append(sw)
            with Stopwatch() as sw:
                vec = compute_opportunities(
                    frame, new_books, fees, params, NOW, spot_books=new_spot
                )
            stages["compute_opportunities"].append(sw)
        stages["total"].append(total)
        with Stopwatch() as again:
            compute_opportunities(quotes_frame(quotes), new_books, fees, params, NOW,
                                  spot_books=new_spot)  # fmt: skip
        stages["total, same books"].append(again)
        with Stopwatch() as sw:  # the part of compute_opportunities that reads Python objects
            BookTable.build([*new_books.values(), *new_spot.values()], band)
        stages["BookTable.build"].append(sw)
    for name, runs in stages.items():
        best = min(runs, key=lambda r: r.wall)
        print(f"  {name:<22} {best}   (best of {repeats})")
    return vec


def compare_with_loop(vec, quotes, books, spot, fees, params, t_vec: float) -> None:
    with Stopwatch() as sw:
        ref = loop_engine(quotes, books, spot, fees, params)
    comps = pd.DataFrame(list(vec["confidence_components"]))
    vec = pd.concat([vec.drop(columns="confidence_components"), comps], axis=1)
    vec = vec.sort_values(["long_venue", "short_venue", "symbol"]).reset_index(drop=True)
    key = ["long_venue", "short_venue", "symbol"]
    same_rows = len(vec) == len(ref) and vec[key].equals(ref[key])
    checks = {c: bool(np.allclose(vec[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-9,
                                  atol=1e-12, equal_nan=True)) for c in NUMERIC}  # fmt: skip
    checks["executable"] = bool(
        (vec["executable"].to_numpy() == ref["executable"].to_numpy()).all()
    )
    print(f"  per-pair loop           {sw}   ratio loop/vectorised: {sw.wall / t_vec:.1f}x")
    bad = [c for c, ok in checks.items() if not ok]
    print(f"  same rows: {same_rows}   same numbers (np.allclose, rtol 1e-9) on "
          f"{len(checks)} columns: {not bad}" + (f"  MISMATCH: {bad}" if bad else ""))  # fmt: skip


def replay(quotes, books, spot, fees, params, days: int) -> None:
    """``days`` x 24 hourly snapshots through the full engine; quotes as frames, not objects."""
    base = quotes_frame(quotes)
    hours = days * 24
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 2e-5, (hours, len(base))) * base["interval_h"].to_numpy() / 8
    rates = base["rate_per_interval"].to_numpy() + np.cumsum(steps, axis=0)
    interval_ms = base["interval_h"].to_numpy() * H_MS
    first = base["next_funding_ms"].to_numpy()
    n_rows = 0
    with Stopwatch() as sw:
        for t in range(hours):
            now = NOW + t * H_MS
            frame = base.copy()
            frame["rate_per_interval"] = rates[t]
            frame["rate_per_h"] = rates[t] / frame["interval_h"].to_numpy()
            behind = np.maximum(np.ceil((now - first) / interval_ms), 0.0)
            frame["next_funding_ms"] = first + behind * interval_ms
            frame["ts_ms"] = now
            n_rows += len(compute_opportunities(frame, books, fees, params, now, spot_books=spot))
    per = sw.wall / hours
    print(
        f"replay: {days} days x 24 hourly snapshots = {hours} engine runs, "
        f"{n_rows} ranked rows in all"
    )
    print(
        f"  total {sw}   per snapshot {per * 1e3:.1f} ms   "
        f"target 60 s: {'met' if sw.wall <= 60 else 'NOT met'} on this run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of hourly snapshots to replay")
    parser.add_argument("--no-loop", action="store_true", help="skip the slow per-pair loop")
    args = parser.parse_args()
    quotes, books, spot = synthetic_market()
    fees = FeeSchedule.from_table(default_fee_table())
    params = EngineParams(min_net_apr=-math.inf)
    with Stopwatch() as warm:  # numba compiles (or loads its cache) on the first call
        compute_opportunities(quotes_frame(quotes[:60]), books, fees, params, NOW)
    print(
        f"quotes: {len(quotes)}  books: {len(books)} perp + {len(spot)} spot   "
        f"(first call, numba compile or cache load: {warm.wall:.2f} s)"
    )
    print("snapshot: 6 venues x 600 instruments, new book objects (target 50 ms)")
    vec = snapshot(quotes, books, spot, fees, params)
    print(f"  opportunities (d > 0): {len(vec)}")
    with Stopwatch() as sw:
        vec = compute_opportunities(quotes_frame(quotes), books, fees, params, NOW, spot_books=spot)
    if not args.no_loop:
        compare_with_loop(vec, quotes, books, spot, fees, params, sw.wall)
    replay(quotes, books, spot, fees, params, args.days)


if __name__ == "__main__":
    main()
