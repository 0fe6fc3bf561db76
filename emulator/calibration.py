"""Constants of the emulated market, and the code that derived them from real data.

Why constants in code: the emulator must run on a fresh clone without ``../shared``; the
estimators stay here so a test can re-derive every constant from the real files and fail if
someone edits a number without the data to back it.

Funding (issue 10): quantile functions of real settled rates per venue and tier (BTC/ETH,
the other majors, small caps), the score
correlation across venues, two AR speeds and the persistent-offset spread, from the real
multi-venue recordings (``derive_funding``; stored in ``data/calibration.json``).

Books, ticks, volumes (issue 10): spread and depth lines by liquidity tier fitted on the real
books of ``../shared/data/real-books`` (``derive_books``), tick/price of the one consistent
snapshot (``derive_ticks``) and each venue's volume scale (``derive_volumes``).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

# --- books (the tier lines are in data/calibration.json, see ``derive_books``)
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
BASELINE_8H = 1e-4
"""The interest-rate baseline of funding: 0.01 % per 8 h."""
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
"""Constants derived from ``../shared/data`` by :func:`derive_all` (``python -m
emulator.calibration ../shared/data`` rewrites it; a test re-derives and compares)."""


@lru_cache(maxsize=1)
def stored() -> dict[str, Any]:
    return dict(json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")))


def funding_constants() -> dict[str, Any]:
    return dict(stored()["funding"])


def book_constants() -> dict[str, Any]:
    return dict(stored()["books"])


def tick_constants() -> dict[str, Any]:
    return dict(stored()["ticks"])


def volume_constants() -> dict[str, Any]:
    return dict(stored()["volumes"])


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


# ============================================================================ real multi-venue
# funding (issue 10). Readers of ../shared/data/multi-venue-funding and the derivations of the
# funding model's constants (stored in data/calibration.json; see ``derive_funding``).

VENUE_FILES = {"binanceusdm": "binance", "bybit": "bybit", "hyperliquid": "hyperliquid"}
"""Emulator venue id -> file of the zushen recordings (settled funding, 2025-08 to 2026-08)."""


def _hour(ms: np.ndarray) -> np.ndarray:
    """Nearest hour index of settlement stamps (venues jitter them by milliseconds)."""
    return np.asarray((ms + HOUR_MS // 2) // HOUR_MS, dtype=np.int64)


def real_major_series(shared: Path) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """``{(venue, asset): (hour index, rate per hour)}`` of the 21 majors recorded on Binance,
    Bybit (USDT-settled listings) and Hyperliquid (pyarrow reads the parquet files)."""
    import pyarrow.parquet as pq

    out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    base = shared / "multi-venue-funding" / "zushen"
    frames = {v: pq.read_table(base / f"{f}.parquet").to_pandas() for v, f in VENUE_FILES.items()}
    majors = {s.removesuffix("USDT") for s in frames["binanceusdm"]["venue_symbol"]}
    majors = {m for m in majors if not m.endswith("USDC")}
    for venue, df in frames.items():
        df = df[df["rate_raw"].notna() & (df["interval_hours"] > 0)]
        if venue != "hyperliquid":
            df = df[df["venue_symbol"].str.endswith("USDT")]
            assets = df["venue_symbol"].str.removesuffix("USDT")
        else:
            assets = df["venue_symbol"]
        df = df.assign(asset=assets)
        df = df[df["asset"].isin(majors)]
        for asset, g in df.groupby("asset"):
            ms = g["settlement_ts"].astype("int64").to_numpy() // 1000
            hours = _hour(ms)
            rph = (g["rate_raw"] / g["interval_hours"]).to_numpy(float)
            order = np.argsort(hours, kind="stable")
            hours, rph = hours[order], rph[order]
            keep = np.concatenate([[True], np.diff(hours) > 0])
            out[(venue, str(asset))] = (hours[keep], rph[keep])
    return out


QUANTILE_P = np.concatenate(
    [[0.0005, 0.001, 0.0025], np.linspace(0.005, 0.995, 199), [0.9975, 0.999, 0.9995]]
)
"""Probabilities at which the funding quantile functions are stored (dense where the baseline
mass sits, so a rate at the baseline comes out exactly at it)."""
TOP_ASSETS = ("BTC", "ETH")
"""The top liquidity tier, whose own quantile tables (``<venue>_top``) keep their real share of
settlements exactly at the baseline: 6-12 % on Binance and Bybit in 2025-26, against 25-41 % for
the other majors (the venue-wide table gave BTC two to four times its real share)."""
REGIME_YEARS = {"calm": "2023", "hot": "2021"}
"""Which recorded year each non-default regime reproduces (``normal`` is 2025-08..2026-08)."""


def _normal_scores(values: np.ndarray) -> np.ndarray:
    """Gaussian scores of ``values`` by mid-rank (ties, e.g. the baseline, share one score)."""
    from statistics import NormalDist

    order = np.sort(values)
    lo = np.searchsorted(order, values, "left")
    hi = np.searchsorted(order, values, "right")
    u = np.clip((lo + hi) / 2 / len(values), 1e-6, 1 - 1e-6)
    inv = NormalDist().inv_cdf
    return np.array([inv(float(p)) for p in u])


def _read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def small_cap_rates_8h(shared: Path, majors: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """8 h-equivalent rates of small caps: (Binance USD-M alt series in funding-history, the
    Hyperliquid snapshot polling of non-major coins)."""
    cex = []
    for path in funding_series_paths(shared / "funding-history"):
        base = path.name.removeprefix("binance_usdm_").split("USD")[0]
        if not path.name.startswith("binance_usdm_") or split_base(base) in majors:
            continue
        hours, rates = read_series(path)
        step = np.round(np.diff(hours))
        ok = step > 0
        cex.append(rates[1:][ok] / step[ok] * 8)
    hl = [
        float(r[2]) * 8
        for r in _read_rows(
            shared / "funding-history" / "hyperliquid_funding_snapshots_2026-02.csv"
        )
        if split_base(r[1]) not in majors
    ]
    return np.concatenate(cex), np.array(hl)


def split_base(base: str) -> str:
    """``1000RATS`` / ``kPEPE`` -> ``RATS`` / ``PEPE`` (the calibration's own copy of the
    universe's rule, so this module stays importable without the universe)."""
    import re

    m = re.match(r"^10{2,}([A-Z].*)$", base)
    if m:
        return m.group(1)
    if len(base) > 1 and base[0] == "k" and base[1:].isupper():
        return base[1:]
    return base


def _solve_phis(lag1_h: float, lag8_h: float, rho: float) -> tuple[float, float]:
    """(phi_common, phi_idio) per hour with ``rho*pc + (1-rho)*pi = lag1_h`` and
    ``rho*pc**8 + (1-rho)*pi**8 = lag8_h`` (bisection on pc; pi follows)."""

    def idio(pc: float) -> float:
        return min(max((lag1_h - rho * pc) / (1 - rho), 0.0), 0.999999)

    lo, hi = lag1_h, 0.999999
    for _ in range(100):
        mid = (lo + hi) / 2
        pi = idio(mid)
        if rho * mid**8 + (1 - rho) * pi**8 < lag8_h:
            lo = mid
        else:
            hi = mid
    return lo, idio(lo)


def supervik_rates(shared: Path, year: str, venues: str = "b*") -> np.ndarray:
    """BTC and ETH 8 h rates on Binance and Bybit (``venues`` glob) in ``year``."""
    out = []
    base = shared / "multi-venue-funding" / "supervik"
    for path in sorted(base.glob(f"*-USDT_{venues}_*funding_history.csv")):
        out += [float(r[2]) for r in _read_rows(path) if r[1].startswith(year)]
    return np.array(out)


def real_share_above(
    series: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], apr: float
) -> float:
    """Share of real pair-hours (same asset, two venues, common settlement hours) whose
    per-hour differential is above ``apr`` gross APR."""
    d = []
    for asset in sorted({a for _, a in series}):
        keys = sorted(k for k in series if k[1] == asset)
        for k1, k2 in itertools.combinations(keys, 2):
            (h1, r1), (h2, r2) = series[k1], series[k2]
            _, i1, i2 = np.intersect1d(h1, h2, return_indices=True)
            d.append(np.abs(r1[i1] - r2[i2]) * 8760)
    return float(np.mean(np.concatenate(d) > apr))


def real_rate_correlations(
    series: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
) -> list[float]:
    """Pearson correlation of two venues' per-hour rates at common hours, per asset and pair."""
    out = []
    for asset in sorted({a for _, a in series}):
        keys = sorted(k for k in series if k[1] == asset)
        for k1, k2 in itertools.combinations(keys, 2):
            (h1, r1), (h2, r2) = series[k1], series[k2]
            _, i1, i2 = np.intersect1d(h1, h2, return_indices=True)
            out.append(float(np.corrcoef(r1[i1], r2[i2])[0, 1]))
    return out


def simulated_pair_stats(
    rho: float, q8: dict[str, list[float]], phi_c: float, phi_e: float, offset_sd: float
) -> tuple[float, float]:
    """(median per-asset rate correlation, share of pair-hours above 20 % APR) that the model
    gives the recorded venues' majors with a score correlation ``rho`` (the model's processes,
    21 assets x 120 days, fixed seed, at the 8-hourly settlements)."""
    from statistics import NormalDist

    rng = np.random.default_rng(12345)
    n_assets, hours = 21, 120 * 24
    zk = np.array([NormalDist().inv_cdf(float(p)) for p in QUANTILE_P])

    def ar(phi: float, shape: tuple[int, ...]) -> np.ndarray:
        x = np.empty(shape)
        x[..., 0] = rng.normal(0, 1, shape[:-1])
        innov = rng.normal(0, math.sqrt(1 - phi**2), shape)
        for t in range(1, shape[-1]):
            x[..., t] = phi * x[..., t - 1] + innov[..., t]
        return x

    common = ar(phi_c, (n_assets, hours))
    venues = list(VENUE_FILES)
    idio = ar(phi_e, (len(venues), n_assets, hours))
    offsets = rng.normal(0, offset_sd, (len(venues), n_assets, 1))
    rates = {}
    for j, v in enumerate(venues):
        z = math.sqrt(rho) * common + math.sqrt(1 - rho) * idio[j] + offsets[j]
        rates[v] = np.interp(z, zk, q8[v])[:, ::8] / 8  # per hour, at 8-hourly settlements
    pairs = list(itertools.combinations(venues, 2))
    corr = [
        float(np.corrcoef(rates[v1][a], rates[v2][a])[0, 1])
        for v1, v2 in pairs
        for a in range(n_assets)
    ]
    apr = np.concatenate([np.abs(rates[v1] - rates[v2]).ravel() * 8760 for v1, v2 in pairs])
    return float(np.median(corr)), float(np.mean(apr > 0.2))


def fit_rho_to_share(
    target_above_20: float,
    q8: dict[str, list[float]],
    phi_c: float,
    phi_e: float,
    offset_sd: float,
) -> float:
    """The score correlation whose simulated share above 20 % APR is ``target_above_20``."""
    lo, hi = 0.0, 0.99
    for _ in range(14):
        mid = (lo + hi) / 2
        if simulated_pair_stats(mid, q8, phi_c, phi_e, offset_sd)[1] > target_above_20:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_rho(
    target_corr: float,
    target_above_20: float,
    q8: dict[str, list[float]],
    phi_c: float,
    phi_e: float,
    offset_sd: float,
) -> float:
    """The score correlation ``rho`` of the copula, fitted by bisection twice: once so the
    simulated rate correlation is the real one, once so the simulated share of pair-hours
    above 20 % APR is the real one; the midpoint of the two. (A Gaussian copula has no tail
    dependence, so one ``rho`` cannot hit both exactly: the first alone leaves too many wide
    differentials, the second alone too high a correlation.)"""

    def bisect(index: int, target: float, rising: bool) -> float:
        lo, hi = 0.0, 0.99
        for _ in range(14):
            mid = (lo + hi) / 2
            value = simulated_pair_stats(mid, q8, phi_c, phi_e, offset_sd)[index]
            if (value < target) == rising:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    return (bisect(0, target_corr, True) + bisect(1, target_above_20, False)) / 2


SUPERVIK_UTC_SHIFT_H = {"binance": 3, "bybit": 3, "htx": 3, "mexc": 3, "kucoin": 3, "gate": 0}
"""Hours supervik's CSVs write ahead of UTC per venue (PROVENANCE: settlements at 03/11/19 h;
KuCoin's 07/15/23 h is its 04/12/20 UTC schedule + 3 h). dYdX (hourly) is left out."""


def supervik_series(
    shared: Path, year: str
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """``{(venue, asset): (UTC hour index, rate per hour)}`` of BTC and ETH in ``year``."""
    out = {}
    for path in sorted((shared / "multi-venue-funding" / "supervik").glob("*.csv")):
        asset, rest = path.name.split("-USDT_")
        venue = rest.split("_")[0]
        if venue not in SUPERVIK_UTC_SHIFT_H:
            continue
        rows = [r for r in _read_rows(path) if r[1].startswith(year)]
        hours = np.array(
            [round(_parse_time(r[1][:19])) - SUPERVIK_UTC_SHIFT_H[venue] for r in rows],
            dtype=np.int64,
        )
        rates = np.array([float(r[2]) / 8 for r in rows])
        order = np.argsort(hours, kind="stable")
        hours, rates = hours[order], rates[order]
        keep = np.concatenate([[True], np.diff(hours) > 0])
        out[(venue, asset)] = (hours[keep], rates[keep])
    return out


def derive_funding(shared: Path) -> dict[str, object]:
    """Every constant of the funding model, from the shared real data (see model.py)."""
    series = real_major_series(shared)
    majors = {a for _, a in series}
    q8: dict[str, list[float]] = {}
    venue_wide: dict[str, list[float]] = {}  # all majors of a venue: what rho is fitted on
    pooled: dict[bool, list[np.ndarray]] = {True: [], False: []}  # 8-hourly venues, by tier
    scores: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for venue in VENUE_FILES:
        keys = [k for k in series if k[0] == venue]
        rates = np.concatenate([series[k][1] for k in keys]) * 8
        venue_wide[venue] = [float(x) for x in np.quantile(rates, QUANTILE_P)]
        q8[venue] = venue_wide[venue]
        if venue != "hyperliquid":  # 8-hourly venues: BTC/ETH apart from the other majors
            for top in (True, False):
                tier = [series[k][1] * 8 for k in keys if (k[1] in TOP_ASSETS) == top]
                pooled[top].append(np.concatenate(tier))
                name = f"{venue}_top" if top else venue
                q8[name] = [float(x) for x in np.quantile(pooled[top][-1], QUANTILE_P)]
        z = _normal_scores(rates)
        i = 0
        for k in keys:
            n = len(series[k][1])
            scores[k] = (series[k][0], z[i : i + n])
            i += n
    q8["cex"] = [float(x) for x in np.quantile(np.concatenate(pooled[False]), QUANTILE_P)]
    q8["cex_top"] = [float(x) for x in np.quantile(np.concatenate(pooled[True]), QUANTILE_P)]
    cex_small, hl_small = small_cap_rates_8h(shared, majors)
    q8["cex_small"] = [float(x) for x in np.quantile(cex_small, QUANTILE_P)]
    q8["hyperliquid_small"] = [float(x) for x in np.quantile(hl_small, QUANTILE_P)]
    # dependence, on the Gaussian scores: cross-venue correlation, time correlation, offsets
    rhos, lag1, lag8, means = [], [], [], {}
    for k, (h, z) in scores.items():
        means[k] = float(np.mean(z))
        at8 = np.isin(h + 8, h)
        lag8.append(float(np.corrcoef(z[at8], z[np.searchsorted(h, h[at8] + 8)])[0, 1]))
        if k[0] == "hyperliquid":
            lag1.append(float(np.corrcoef(z[:-1], z[1:])[0, 1]))
    deviations = []
    for asset in sorted(majors):
        keys = [k for k in scores if k[1] == asset]
        for (v1, _), (v2, _) in itertools.combinations(keys, 2):
            (h1, z1), (h2, z2) = scores[(v1, asset)], scores[(v2, asset)]
            _, i1, i2 = np.intersect1d(h1, h2, return_indices=True)
            rhos.append(float(np.corrcoef(z1[i1], z2[i2])[0, 1]))
        if len(keys) > 1:
            m = float(np.mean([means[k] for k in keys]))
            deviations += [means[k] - m for k in keys]
    score_rho = median(rhos)
    phi_common, phi_idio = _solve_phis(median(lag1), median(lag8), score_rho)
    offset_sd = float(np.std(deviations))
    target = median(real_rate_correlations(series))
    above_20 = real_share_above(series, 0.2)
    rho = fit_rho(target, above_20, venue_wide, phi_common, phi_idio, offset_sd)
    # regimes: how far BTC/ETH 8 h rates stray from the baseline, relative to the normal year
    majors_8h = np.concatenate(
        [series[(v, a)][1] * 8 for v in ("binanceusdm", "bybit") for a in ("BTC", "ETH")]
    )
    normal_dev = float(np.mean(np.abs(majors_8h - 1e-4)))
    scale = {"normal": 1.0}
    regime_q8: dict[str, dict[str, list[float]]] = {}
    regime_rho = {"normal": rho}
    for regime, year in REGIME_YEARS.items():
        scale[regime] = float(np.mean(np.abs(supervik_rates(shared, year) - 1e-4))) / normal_dev
        regime_q8[regime] = {
            venue: [
                float(x) for x in np.quantile(supervik_rates(shared, year, pattern), QUANTILE_P)
            ]
            for venue, pattern in (
                ("binanceusdm", "binance"),
                ("binanceusdm_top", "binance"),
                ("bybit", "bybit"),
                ("bybit_top", "bybit"),
                ("cex", "b*"),
                ("cex_top", "b*"),
                ("hyperliquid", "b*"),
            )
        }
        # the score correlation that gives that year's real share of pair-hours above 20 % APR
        # (BTC and ETH across six venues) with that year's quantiles
        target_year = real_share_above(supervik_series(shared, year), 0.2)
        regime_rho[regime] = fit_rho_to_share(
            target_year, regime_q8[regime], phi_common, phi_idio, offset_sd
        )
    return {
        "quantile_p": [float(p) for p in QUANTILE_P],
        "rate_8h_quantiles": q8,
        "rho": rho,
        "score_rho": score_rho,
        "rate_correlation": target,
        "share_above_20_apr": above_20,
        "phi_common_per_h": phi_common,
        "phi_idio_per_h": phi_idio,
        "offset_sd": offset_sd,
        "major_assets": sorted(majors),
        "top_assets": list(TOP_ASSETS),
        "regime_scale": scale,
        "regime_rate_8h_quantiles": regime_q8,
        "regime_rho": regime_rho,
    }


# ============================================================================ books by tier,
# ticks, volumes (issue 10)


def _fixture(shared: Path, rel: str) -> Any:
    return json.loads((shared / "exchange-fixtures" / rel).read_text(encoding="utf-8"))


def _asset_liquidity(shared: Path) -> dict[str, float]:
    """``universe._liquidity`` (open interest scale) from the shared Gate contracts."""
    from emulator import universe

    rows = _fixture(shared, "gate/api_v4_futures_usdt_contracts.json")
    gate = []
    for r in rows:
        base = r["name"].split("_", 1)[0]
        asset, _ = universe.split_multiplier(base)
        gate.append(
            universe.Listing(
                venue="gate", symbol=r["name"], asset=asset, quote="USDT", settle="USDT",
                perpetual=True, contract_size=float(r["quanto_multiplier"]), raw=r,
            )
        )  # fmt: skip
    return universe._liquidity(gate)


def real_books(shared: Path) -> list[tuple[str, str, float, float, float]]:
    """(file, asset, relative spread, median relative level gap, USD depth within 25 bps per
    side) of every real perpetual book in ``real-books`` (the dated OKX future and the OKX spot
    book are left out: neither is a perpetual the scanner compares)."""
    gate_q = {
        r["name"]: float(r["quanto_multiplier"])
        for r in _fixture(shared, "gate/api_v4_futures_usdt_contracts.json")
    }

    def levels(rows: list[list[str]]) -> list[tuple[float, float]]:
        return [(float(r[0]), float(r[1])) for r in rows]

    out = []
    for path in sorted((shared / "real-books").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        name, size = path.stem, 1.0
        if name.startswith("BYBIT_"):
            bids, asks = levels(body["data"]["b"]), levels(body["data"]["a"])
            asset = name.removeprefix("BYBIT_").removesuffix("USDT")
        elif name.startswith("BINANCE_FUTURES_"):
            bids, asks = levels(body["bids"]), levels(body["asks"])
            asset = name.removeprefix("BINANCE_FUTURES_").removesuffix("USDT")
        elif name.startswith("GATEIO_FUTURES_"):
            symbol = name.removeprefix("GATEIO_FUTURES_")
            asset = symbol.split("_")[0]
            bids = [(float(x["p"]), float(x["s"])) for x in body["bids"]]
            asks = [(float(x["p"]), float(x["s"])) for x in body["asks"]]
            size = gate_q[symbol]
        elif name.endswith("-SWAP"):  # inverse: a contract is ctVal = 10 USD
            data = body["data"][0]
            bids, asks = levels(data["bids"]), levels(data["asks"])
            asset = name.removeprefix("OKX_").split("-")[0]
            size = 10.0 / ((bids[0][0] + asks[0][0]) / 2)
        else:
            continue
        spread, gap, depth = book_stats(bids, asks, size)
        out.append((name, asset, spread, gap, depth))
    return out


def derive_books(shared: Path) -> dict[str, Any]:
    """Spread and depth by liquidity tier: least-squares lines of log10(relative spread) and
    log10(USD depth within 25 bps) against log10(open-interest liquidity) over the real books
    (books with no depth at all inside 25 bps count for the spread only), and the median ratio
    of level gap to spread."""
    liquidity = _asset_liquidity(shared)
    books = real_books(shared)
    x = np.log10([liquidity.get(b[1], 1.0) for b in books])
    spread = np.polyfit(x, np.log10([b[2] for b in books]), 1)
    has_depth = np.array([b[4] > 0 for b in books])
    depth = np.polyfit(x[has_depth], np.log10([b[4] for b in books if b[4] > 0]), 1)
    return {
        "spread_log10": [float(spread[1]), float(spread[0])],
        "depth_25bps_log10": [float(depth[1]), float(depth[0])],
        "gap_to_spread": float(median(b[3] / b[2] for b in books)),
        "liquidity_range": [float(10 ** x.min()), float(10 ** x.max())],
    }


def derive_ticks(shared: Path) -> dict[str, float]:
    """Tick / price in the one consistent snapshot (Gate's 2023 contracts: tick and mark price
    recorded together): the median, and the p99 above which a tick is stale."""
    rows = _fixture(shared, "gate/api_v4_futures_usdt_contracts.json")
    rel = np.array(
        [
            float(r["order_price_round"]) / float(r["mark_price"])
            for r in rows
            if float(r["mark_price"]) > 0
        ]
    )
    return {
        "median_rel_tick": float(np.median(rel)),
        "stale_rel_tick": float(np.quantile(rel, 0.99)),
    }


def derive_volumes(shared: Path) -> dict[str, Any]:
    """USD volume of a liquidity-1 listing per venue (volume = scale x liquidity**2 x noise):
    Bybit from its real 2026 BTCUSDT ticker (turnover24h), Hyperliquid from the real
    ``dayNtlVlm`` of the recorded ctxs of its 28 assets (the least-squares line of log volume
    against 2 log liquidity over the 25 that traded: the geometric mean of volume /
    liquidity**2; its free slope is 2.18), every other venue from the real Gate BTC_USDT
    ticker (``VOLUME_24H_MEDIAN_USD``)."""
    from emulator import universe

    liquidity = _asset_liquidity(shared)
    bybit = _fixture(shared, "bybit/v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    meta = _fixture(shared, "hyperliquid/info_meta.json")["universe"]
    ctxs = _fixture(shared, "hyperliquid/ws_allDexsAssetCtxs.json")["data"]["ctxs"][0][1]
    hl = [
        math.log(float(ctx["dayNtlVlm"]))
        - 2 * math.log(liquidity.get(universe.split_multiplier(m["name"])[0], 1.0))
        for m, ctx in zip(meta, ctxs, strict=False)
        if float(ctx["dayNtlVlm"]) > 0
    ]
    gate = _fixture(shared, "gate/api_v4_futures_usdt_tickers_BTC_USDT.json")[0]
    return {
        "bybit": float(bybit["turnover24h"]) / liquidity["BTC"] ** 2,
        "hyperliquid": math.exp(float(np.mean(hl))),
        "default": float(gate["volume_24h_quote"]) / liquidity["BTC"] ** 2,
    }


def derive_all(shared: Path) -> dict[str, Any]:
    """Everything stored in ``data/calibration.json``, derived from the shared real data."""
    return {
        "funding": derive_funding(shared),
        "books": derive_books(shared),
        "ticks": derive_ticks(shared),
        "volumes": derive_volumes(shared),
    }


if __name__ == "__main__":  # pragma: no cover - the maintainer's regeneration command
    import sys

    data = derive_all(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
    CALIBRATION_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CALIBRATION_FILE}")
