"""Constants of the emulated market, and the code that derived them from real data.

Why constants in code: the emulator must run on a fresh clone without ``../shared``; the
estimators stay here so a test can re-derive every constant from the real files and fail if
someone edits a number without the data to back it.

Funding: each regular series in ``../shared/data/funding-history`` (the ten Binance USD-M CSVs
and the 8-hourly BTC CSV; the Hyperliquid snapshot CSV is irregular polling and is skipped) is
turned into a per-hour rate ``rate / interval_h`` (interval = time to the previous settlement),
then fitted as an AR(1) at its native step: mean, stationary standard deviation and
mean-reversion speed ``kappa = -ln(phi) / step_h``. The constants are medians over the series.

Books: from the five real books (Bybit orderbook.200 BTCUSDT, Binance depth SUSHIUSDT, Gate
RDNT_USDT, OKX UNI-USD-SWAP, Hyperliquid DYDX l2Book): median relative spread, median relative
gap between adjacent levels, and median USD depth within ``DEPTH_BAND_REL`` (25 bps) of mid
per side (contract sizes applied; for the inverse OKX book a contract is worth ctVal = 10 USD).
Depth near mid, not notional per level, is what the size of each synthetic level is derived
from: slippage of a market order depends on how much sits close to mid, and real books differ
by orders of magnitude in how many levels share that band (tick-spaced BTC vs sparse alts).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import numpy as np

# --- funding (per hour), medians over 11 series; re-derived by tests/emulator/test_calibration
FUNDING_MEAN_PER_H = 1.103e-05
FUNDING_SD_PER_H = 4.045e-05
FUNDING_KAPPA_PER_H = 0.154
# Share of the stationary variance that is common to an asset across venues. Not estimable from
# these files (no same-asset, same-period pairs); chosen so cross-venue correlation is ~0.7.
COMMON_VARIANCE_SHARE = 0.7

# --- books
BOOK_SPREAD_REL = 6.63e-04
BOOK_LEVEL_GAP_REL = 9.47e-04
BOOK_DEPTH_25BPS_USD = 22_949.0
DEPTH_BAND_REL = 25e-4

# --- 24 h traded volume (USD notional) of a listing: VOLUME_24H_MEDIAN_USD * liquidity**2,
# times a seeded log-normal factor. ``liquidity`` is sqrt(open interest / median OI) (see
# universe._liquidity), so liquidity**2 makes volume proportional to open interest; on the 25
# recorded Hyperliquid ctxs with a Gate OI, log(dayNtlVlm) against log(liquidity) has slope 2.2.
# The scale is the real Gate BTC_USDT ticker (volume_24h_quote 4 911 337 664 USDT) divided by
# BTC's liquidity**2 (25.15**2): what the median-OI asset trades. Re-derived by a test.
VOLUME_24H_MEDIAN_USD = 7.767e06
# Invented: spread of log volume around that line. The young 2023 Hyperliquid venue scatters
# 1.6; 0.7 keeps BTC the most traded while letting same-size alts differ by ~2x.
VOLUME_LOG_SD = 0.7

HOUR_MS = 3_600_000


def _parse_time(text: str) -> float:
    """Return epoch hours for the CSV time formats in funding-history."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d/%m/%y %H:%M"):
        try:
            dt = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return dt.timestamp() / 3600.0
    raise ValueError(f"unrecognised time {text!r}")


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(epoch hours ascending, rate per settlement) from one funding-history CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    pairs = sorted((_parse_time(r[0]), float(r[1])) for r in rows if len(r) >= 2)
    hours = np.array([p[0] for p in pairs])
    rates = np.array([p[1] for p in pairs])
    return hours, rates


def fit_series(hours: np.ndarray, rates: np.ndarray) -> tuple[float, float, float]:
    """(mean per h, sd per h, kappa per h) of one settlement series."""
    step = np.round(np.diff(hours))
    valid = step > 0
    per_h = rates[1:][valid] / step[valid]
    native_step = float(np.median(step[valid]))
    x0, x1 = per_h[:-1], per_h[1:]
    phi = float(np.corrcoef(x0, x1)[0, 1])
    phi = min(max(phi, 1e-6), 0.999999)
    return float(np.mean(per_h)), float(np.std(per_h)), -math.log(phi) / native_step


def calibrate_funding(paths: Iterable[Path]) -> tuple[float, float, float]:
    fits = [fit_series(*read_series(p)) for p in paths]
    return (
        median(f[0] for f in fits),
        median(f[1] for f in fits),
        median(f[2] for f in fits),
    )


def funding_series_paths(history_dir: Path) -> list[Path]:
    """The regular series used for calibration (see module docstring)."""
    return sorted(p for p in history_dir.glob("*.csv") if not p.name.startswith("hyperliquid"))


Side = Sequence[tuple[float, float]]


def book_stats(bids: Side, asks: Side, contract_size: float = 1.0) -> tuple[float, float, float]:
    """(relative spread, median relative level gap, mean per-side USD depth within 25 bps)."""
    mid = (bids[0][0] + asks[0][0]) / 2
    spread = (asks[0][0] - bids[0][0]) / mid
    gaps = [
        abs(a[0] - b[0]) / mid
        for side in (bids, asks)
        for a, b in zip(side, side[1:], strict=False)
    ]
    lo, hi = mid * (1 - DEPTH_BAND_REL), mid * (1 + DEPTH_BAND_REL)
    bid_usd = sum(p * q * contract_size for p, q in bids if p >= lo)
    ask_usd = sum(p * q * contract_size for p, q in asks if p <= hi)
    return spread, median(gaps), (bid_usd + ask_usd) / 2


def volume_scale(quote_volume_usd: float, liquidity: float) -> float:
    """USD volume of a liquidity-1 (median open interest) asset, from one real ticker."""
    return quote_volume_usd / liquidity**2
