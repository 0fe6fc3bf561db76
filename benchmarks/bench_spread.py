"""Benchmark: the vectorised spread engine against a straightforward per-pair Python loop.

Synthetic, seeded market: 6 venues x 600 instruments (3600 perp quotes, per-symbol intervals
of 1/2/4/8 h, some 1000x multipliers and OKX-style contract sizes), a 20-level book for every
quote, and Bybit spot books for carry. The loop below computes the same columns pair by pair
with the scalar helpers of strategies.costs, and the script checks both agree (np.allclose).

Run: .venv/bin/python benchmarks/bench_spread.py   (prints timings and their ratio; not a test)
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from scanner.domain import FundingQuote, OrderBook
from scanner.venues.specs import default_fee_table, venue_ids
from strategies.confidence import freshness_component, liquidity_component
from strategies.costs import BPS, FeeSchedule, Side, depth_within, slippage_frac
from strategies.spread import EngineParams, compute_opportunities, quotes_frame

FEES = FeeSchedule.from_table(default_fee_table())
"""The registry's default fees, handed to the engine as the pipeline does."""

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
    asks = [
        (mid * (1 + s) * mult, q / (mult * size)) for s, q in zip(steps, qty_canon, strict=True)
    ]
    bids = [
        (mid * (1 - s) * mult, q / (mult * size)) for s, q in zip(steps, qty_canon, strict=True)
    ]
    return OrderBook(venue, sym, canonical, bids, asks, ts, mult, size)


def synthetic_market(seed: int = 7):
    rng = np.random.default_rng(seed)
    quotes, books, spot = [], {}, {}
    for i in range(N_INSTRUMENTS):
        base = f"C{i:04d}"
        canonical = f"{base}/USDT:USDT"
        mid = float(rng.lognormal(0, 3))
        common = rng.normal(1e-4, 2e-4)
        for venue in venue_ids():
            interval = 1.0 if venue == "hyperliquid" else float(rng.choice([1, 2, 4, 8]))
            rate = (common + rng.normal(0, 1.5e-4)) * interval / 8
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
    asks = np.array(sorted(book.canonical_side("asks")))
    bids = np.array(sorted(book.canonical_side("bids"), reverse=True))
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
        "net_apr": (d * p.horizon_h - cost) / p.horizon_h * 8760, "breakeven_h": cost / d,
        "funding_to_next_long": -r_a, "funding_to_next_short": sq.rate_per_interval,
        "first_cycle_h": (t_end - NOW) / H_MS,
        "collected_first_cycle": n_b * sq.rate_per_interval - n_a * r_a,
        "max_notional_usd": depth, "max_notional_within_slippage_usd": _bisect(total, depth, limit),
        "executable": depth >= n and slip <= limit,
        "liquidity": float(liquidity_component(np.array([liq]), n)[0]),
        "freshness": float(freshness_component(np.array([(NOW - oldest) / 1e3]), stale)[0]),
    }  # fmt: skip


NUMERIC = ["diff_per_h", "gross_apr", "fee_frac", "slippage_frac", "cost_frac", "basis_frac",
           "net_apr", "breakeven_h", "funding_to_next_long", "funding_to_next_short",
           "first_cycle_h", "collected_first_cycle", "max_notional_usd",
           "max_notional_within_slippage_usd", "liquidity", "freshness"]  # fmt: skip


def main() -> None:
    quotes, books, spot = synthetic_market()
    fees = FEES
    params = EngineParams(min_net_apr=-math.inf)
    t0 = time.perf_counter()
    frame = quotes_frame(quotes)
    vec = compute_opportunities(frame, books, fees, params, NOW, spot_books=spot)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = loop_engine(quotes, books, spot, fees, params)
    t_loop = time.perf_counter() - t0

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
    print(f"quotes: {len(quotes)}  books: {len(books)} perp + {len(spot)} spot  "
          f"opportunities (d > 0): {len(vec)}")  # fmt: skip
    print(f"vectorised engine: {t_vec:.3f} s   per-pair loop: {t_loop:.3f} s   "
          f"ratio loop/vectorised: {t_loop / t_vec:.1f}x")  # fmt: skip
    bad = [c for c, ok in checks.items() if not ok]
    print(f"same rows: {same_rows}   same numbers (np.allclose, rtol 1e-9) on "
          f"{len(checks)} columns: {not bad}" + (f"  MISMATCH: {bad}" if bad else ""))  # fmt: skip


if __name__ == "__main__":
    main()
