"""The emulated funding market against the real one (issue 10), read over HTTP like a client.

For three seeds of the default (normal) regime, the settled funding of the real recordings' 21
majors on Binance, Bybit and Hyperliquid is fetched from the emulator's public endpoints over
30 days of history, and the books of the real books' assets (Bybit majors, Gate small caps);
every statistic of ``emulator.fidelity.funding_table`` (median over the
seeds) must lie within the range the real recordings show over their 30-day windows (books:
over the real books of the group). That includes the share of BTC's and ETH's settlements
exactly at the baseline per venue: the shared data has BTC there in 7 % (Binance) / 10 % (Bybit)
of 2025-26 settlements, unlike the 78 % of the report quoted in the issue, so the model gives
BTC and ETH quantile tables of their own (``calibration.TOP_ASSETS``).
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from emu_helpers import SHARED, START_MS

from emulator import Emulator
from emulator.calibration import REGIME_YEARS, TOP_ASSETS, real_major_series, supervik_series
from emulator.fidelity import (
    WINDOW_DAYS,
    book_rows,
    emulated_books,
    emulated_series,
    flat,
    funding_table,
    real_book_ranges,
    windows,
)

SEEDS = (1, 2, 3)
HEADLINE = (
    "median_abs_diff_bps",
    "p90_abs_diff_bps",
    "share_above_20_apr",
    "share_above_50_apr",
    "share_above_100_apr",
)
NOT_COMPARED = ("pair_hours",)
TOP_AT_BASELINE = [
    f"{asset}_at_baseline[{venue}]"
    for asset in ("btc", "eth")
    for venue in ("binanceusdm", "bybit")
]


@pytest.fixture(scope="module")
def real() -> tuple[list[str], dict[str, tuple[float, float]]]:
    series = real_major_series(SHARED)
    tables = [flat(t) for t in windows(series)]
    keys = set().union(*tables)
    ranges = {
        k: (min(t[k] for t in tables if k in t), max(t[k] for t in tables if k in t)) for k in keys
    }
    return sorted({a for _, a in series}), ranges


def test_the_real_table_is_the_issue_table() -> None:
    """The definitions reproduce the issue's one-year figures from the shared data."""
    t = funding_table(real_major_series(SHARED))
    assert t["median_abs_diff_bps"] == pytest.approx(0.51, abs=0.01)
    assert t["p90_abs_diff_bps"] == pytest.approx(1.8, abs=0.1)
    assert t["share_above_20_apr"] == pytest.approx(0.097, abs=0.01)
    assert t["share_above_50_apr"] == pytest.approx(0.010, abs=0.003)
    assert all(0.14 <= v <= 0.23 for v in t["share_equal"].values())
    assert all(0.39 <= v <= 0.48 for v in t["correlation"].values())
    assert t["offset_median_apr"] == pytest.approx(0.022, abs=0.002)
    assert t["offset_max_apr"] == pytest.approx(0.098, abs=0.002)


def test_the_emulated_market_lands_within_the_real_ranges(
    real: tuple[list[str], dict[str, tuple[float, float]]],
) -> None:
    assets, ranges = real
    ranges = {**ranges, **real_book_ranges(SHARED)}
    tables = []
    for seed in SEEDS:
        emu = Emulator(seed=seed, stepped=True, start_ms=START_MS, history_days=WINDOW_DAYS)
        with emu.run_in_thread():
            series = emulated_series(emu.url, assets, emu.market.history_start_ms)
            books = book_rows(emulated_books(emu.url))
        assert {v for v, _ in series} == {"binanceusdm", "bybit", "hyperliquid"}
        tables.append(flat(funding_table(series)) | books)
    outside = []
    for key, (lo, hi) in sorted(ranges.items()):
        if key.startswith(NOT_COMPARED) or key not in tables[0]:
            continue
        value = statistics.median(t[key] for t in tables)
        if not lo <= value <= hi:
            outside.append(f"{key}: emulator {value:.4g}, real {lo:.4g}..{hi:.4g}")
    assert outside == []
    assert len([k for k in tables[0] if not k.startswith(NOT_COMPARED)]) >= 28
    # the BTC/ETH baseline rows were compared above (present on both sides), not skipped
    assert all(k in ranges and k in tables[0] for k in TOP_AT_BASELINE)


@pytest.mark.parametrize("regime", ["calm", "hot"])
def test_regimes_land_within_their_years(regime: str) -> None:
    """``--regime calm`` is 2023-like and ``hot`` 2021-like: the differential rows of one seed
    lie within that year's real 30-day ranges (BTC and ETH on six venues, supervik's data)."""
    year = REGIME_YEARS[regime]
    real = [flat(t) for t in windows(supervik_series(SHARED, year))]
    emu = Emulator(seed=1, stepped=True, start_ms=START_MS, history_days=WINDOW_DAYS, regime=regime)
    with emu.run_in_thread():
        table = flat(
            funding_table(
                emulated_series(
                    emu.url, ["BTC", "ETH", "SOL", "XRP", "DOGE"], emu.market.history_start_ms
                )
            )
        )
    for key in HEADLINE:
        lo, hi = min(t[key] for t in real), max(t[key] for t in real)
        assert lo <= table[key] <= hi, (key, table[key], lo, hi)


def test_regimes_are_ordered() -> None:
    """A calm market has fewer wide differentials than a normal one, a hot one more."""
    shares = {}
    for regime in ("calm", "normal", "hot"):
        emu = Emulator(
            seed=2, stepped=True, start_ms=START_MS, history_days=WINDOW_DAYS, regime=regime
        )
        with emu.run_in_thread():
            series = emulated_series(
                emu.url, ["BTC", "ETH", "SOL", "XRP", "DOGE"], emu.market.history_start_ms
            )
        shares[regime] = funding_table(series)["share_above_20_apr"]
    assert shares["calm"] < shares["normal"] < shares["hot"]


def test_btc_and_eth_sit_at_the_baseline_less_often_than_the_other_majors() -> None:
    """On the 8-hourly venues the real BTC/ETH settle at the baseline far less often than the
    other recorded majors (2025-26, Binance and Bybit), and so do the emulated ones over 90 days
    on every 8-hourly venue, OKX (which has no recordings of its own) included."""
    series = real_major_series(SHARED)

    def share(rates: list[np.ndarray]) -> float:
        return float(np.mean(np.round(np.concatenate(rates) * 8e12) == round(1e-4 * 1e12)))

    for venue in ("binanceusdm", "bybit"):
        top = share([r for (v, a), (_, r) in series.items() if v == venue and a in TOP_ASSETS])
        rest = share([r for (v, a), (_, r) in series.items() if v == venue and a not in TOP_ASSETS])
        assert top < rest / 2, (venue, top, rest)
    emu = Emulator(seed=1, stepped=True, start_ms=START_MS, history_days=90)
    m = emu.market
    for venue in ("binanceusdm", "bybit", "okx"):
        tiers: dict[bool, list[np.ndarray]] = {True: [], False: []}
        for x in m.venue_listings(venue):
            if x.perpetual and x.interval_h == 8 and x.asset in m.major_assets:
                rates = m.hourly_rates(venue, x.symbol, m.history_start_ms, START_MS)
                tiers[x.asset in TOP_ASSETS].append(rates)
        assert len(tiers[True]) >= 2 and len(tiers[False]) >= 10, venue
        assert share(tiers[True]) < share(tiers[False]) / 2, (venue, share(tiers[True]))
