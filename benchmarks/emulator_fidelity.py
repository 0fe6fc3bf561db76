"""Fidelity report: the emulated funding market against the real one (issue 10's table).

Real: the shared multi-venue recordings (``../shared/data/multi-venue-funding``, 21 majors on
Binance, Bybit and Hyperliquid, 2025-08 to 2026-08): the whole year, and the range over its
30-day windows. Emulated: ``--seeds`` emulators of the chosen regime, each read over HTTP like
a client (settled funding of the same assets over 30 days of history).

    .venv/bin/python benchmarks/emulator_fidelity.py [--regime normal] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator import Emulator  # noqa: E402
from emulator.calibration import REGIME_YEARS, real_major_series, supervik_series  # noqa: E402
from emulator.fidelity import (  # noqa: E402
    WINDOW_DAYS,
    book_rows,
    emulated_books,
    emulated_series,
    flat,
    funding_table,
    real_book_ranges,
    windows,
)

SHARED = ROOT / ".." / "shared" / "data"
START_MS = 1_795_000_000_000


def emulated_tables(regime: str, seeds: list[int], assets: list[str]) -> list[dict[str, float]]:
    out = []
    for seed in seeds:
        emu = Emulator(
            seed=seed, stepped=True, start_ms=START_MS, history_days=WINDOW_DAYS, regime=regime
        )
        with emu.run_in_thread():
            since = emu.market.history_start_ms
            table = flat(funding_table(emulated_series(emu.url, assets, since)))
            out.append(table | book_rows(emulated_books(emu.url)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regime", default="normal", choices=("calm", "normal", "hot"))
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    real = real_major_series(SHARED)
    assets = sorted({a for _, a in real})
    if args.regime != "normal":  # the regime's year: BTC and ETH on six venues (supervik)
        year_of = REGIME_YEARS[args.regime]
        real = supervik_series(SHARED, year_of)
        print(f"real: BTC and ETH on six venues in {year_of} (supervik), not the 21 majors")
    year = flat(funding_table(real))
    wins = [flat(t) for t in windows(real)]
    emu = emulated_tables(args.regime, [int(s) for s in args.seeds.split(",")], assets)
    print(f"regime {args.regime}; emulator: median over seeds {args.seeds} (each seed)")
    print(f"{'statistic':52} {'real year':>10} {'real 30-day range':>20} {'emulator':>10}  seeds")
    for key in year:
        lo = min(w.get(key, float("nan")) for w in wins)
        hi = max(w.get(key, float("nan")) for w in wins)
        vals = [e[key] for e in emu if key in e]
        med = statistics.median(vals) if vals else float("nan")
        mark = "" if not vals or lo <= med <= hi else "  <-- outside"
        each = " ".join(f"{v:.4g}" for v in vals)
        print(f"{key:52} {year[key]:10.4g} {lo:9.4g} .. {hi:<9.4g} {med:10.4g}  {each}{mark}")
    for key, (lo, hi) in real_book_ranges(SHARED).items():
        vals = [e[key] for e in emu]
        med = statistics.median(vals)
        mark = "" if lo <= med <= hi else "  <-- outside"
        each = " ".join(f"{v:.4g}" for v in vals)
        print(f"{key:52} {'':10} {lo:9.4g} .. {hi:<9.4g} {med:10.4g}  {each}{mark}")


if __name__ == "__main__":
    main()
