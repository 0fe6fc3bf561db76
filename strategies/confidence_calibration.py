"""Does the confidence score predict what a pair really paid? Realised capture by bucket.

Why: a score is worth showing only if a high one is followed by more of the differential than
a low one. This module replays, on stored settlements, what the scanner knew at each decision
hour t (the newest settled rate of each leg with ``funding_time_ms <= t``, as the backtest does)
and what the pair then actually paid over the next ``horizon_h`` hours, and scores t with the
history components of ``strategies.confidence`` (persistence over the last
``persistence_points`` observations, stability over ``lookback_h``).

- ``capture`` = realised mean per-hour differential over ``[t, t + horizon_h)`` divided by the
  differential known at t (1 = the spread held exactly; 0 = it vanished; < 0 = it flipped).
  Only the orientation with a positive known differential is scored, as the scanner shows it;
  ratios are clipped to ``[-CAPTURE_CLIP, CAPTURE_CLIP]`` so near-zero differentials do not
  dominate a mean.
- ``capture_by_bucket`` groups decisions by score; ``calibrate_weights`` grid-searches the
  persistence/stability split that ranks decisions best (Spearman correlation of score and
  capture), which is what ``engine.confidence_weights`` should use.

Pure: frames in, frames out; the notebook reads the frames through ``storage.queries``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scanner.units import MS_PER_H
from strategies import confidence as conf

CAPTURE_CLIP = 3.0
BUCKETS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0000001)


@dataclass(frozen=True, slots=True)
class Decisions:
    """One row per (decision hour, ordered pair) with a positive known differential."""

    frame: pd.DataFrame
    """Columns: ``t_ms, long_leg, short_leg, known_diff_per_h, realised_diff_per_h, capture,
    persistence, stability, points``."""


def _known_and_paid(
    settled: pd.DataFrame, grid: np.ndarray, stale_after_h: float
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per leg (``venue canonical``): the per-hour rate known at each grid hour (newest
    settlement at or before it, up to ``stale_after_h`` old) and the per-hour rate paid in each
    hour ``[g, g + 1h)`` (a settlement at T with interval h pays for ``[T - h, T)``)."""
    df = settled[settled["rate_per_h"].notna() & settled["interval_h"].notna()].copy()
    df["leg"] = df["venue"].astype(str) + " " + df["canonical"].astype(str)
    legs = sorted(df["leg"].unique())
    col = {leg: i for i, leg in enumerate(legs)}
    known = np.full((grid.size, len(legs)), np.nan)
    paid = np.full((grid.size, len(legs)), np.nan)
    start = int(grid[0]) if grid.size else 0
    for leg, g in df.sort_values("funding_time_ms").groupby("leg"):
        j = col[leg]
        t = g["funding_time_ms"].to_numpy(np.int64)
        r = g["rate_per_h"].to_numpy(float)
        idx = np.searchsorted(t, grid, side="right") - 1
        ok = idx >= 0
        age = np.where(ok, grid - t[np.clip(idx, 0, None)], np.inf)
        known[:, j] = np.where(
            ok & (age <= stale_after_h * MS_PER_H), r[np.clip(idx, 0, None)], np.nan
        )
        n = np.rint(g["interval_h"].to_numpy(float)).astype(np.int64).clip(min=1)
        end_row = (t // MS_PER_H * MS_PER_H - start) // MS_PER_H
        for k in range(int(n.max()) if n.size else 0):
            rows = end_row - 1 - k
            use = (k < n) & (rows >= 0) & (rows < grid.size)
            paid[rows[use], j] = r[use]
    return legs, known, paid


def _rolling_components(
    diff: np.ndarray, persistence_points: int, lookback_h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, P) persistence, stability and observation count, each using hours <= t only."""
    frame = pd.DataFrame(diff)
    k = int(persistence_points)
    window = max(int(lookback_h), 2)
    n_recent = frame.notna().rolling(k, min_periods=1).sum().to_numpy()
    pos = (frame > 0).rolling(k, min_periods=1).sum().to_numpy()
    neg = (frame < 0).rolling(k, min_periods=1).sum().to_numpy()
    zero = (frame == 0).rolling(k, min_periods=1).sum().to_numpy()
    same = np.where(diff > 0, pos, np.where(diff < 0, neg, zero))
    points = frame.notna().rolling(window, min_periods=1).sum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        persistence = np.where(n_recent >= 2, same / n_recent, np.nan)
        mean = frame.rolling(window, min_periods=2).mean().to_numpy()
        std = frame.rolling(window, min_periods=2).std(ddof=1).to_numpy()
        signed = np.maximum(mean * np.sign(diff), 0.0)
        x = signed / std
        stability = np.where(std > 0, x / (1.0 + x), np.where(signed > 0, 1.0, 0.0))
    stability = np.where(np.isnan(mean) | np.isnan(diff), np.nan, stability)
    return persistence, stability, points


def decisions(
    settled: pd.DataFrame,
    since_ms: int,
    until_ms: int,
    *,
    horizon_h: int = 72,
    step_h: int = 8,
    persistence_points: int = 24,
    lookback_h: float = 168.0,
    stale_after_h: float = 24.0,
    min_points: int = conf.MIN_POINTS_DEFAULT,
) -> Decisions:
    """Every ``step_h`` hours in ``[since_ms, until_ms - horizon_h)``, every ordered pair of
    legs of one base asset with a positive known differential, scored and followed up.

    ``settled``: ``Queries.settlements`` rows (several venues/canonicals of the same base, or
    of several bases: pairs never cross bases). Rows need ``venue, canonical,
    funding_time_ms, rate_per_h, interval_h``. A decision with fewer than ``min_points``
    hourly differentials in the lookback is dropped (the scanner would not rate it).
    """
    grid = np.arange(since_ms - since_ms % MS_PER_H, until_ms, MS_PER_H, dtype=np.int64)
    legs, known, paid = _known_and_paid(settled, grid, stale_after_h)
    base = [leg.split(" ", 1)[1].partition("/")[0] for leg in legs]
    parts = []
    for i in range(len(legs)):
        for j in range(len(legs)):
            if i == j or base[i] != base[j]:
                continue
            diff = known[:, j] - known[:, i]  # long i, short j
            pers, stab, pts = _rolling_components(diff[:, None], persistence_points, lookback_h)
            realised = pd.Series(paid[:, j] - paid[:, i])
            ahead = realised[::-1].rolling(horizon_h, min_periods=horizon_h).mean()[::-1]
            ahead = ahead.shift(-1).to_numpy()  # hours (t, t + horizon]: strictly after t
            rows = np.arange(0, grid.size, step_h)
            d = diff[rows]
            keep = (d > 0) & ~np.isnan(ahead[rows]) & (pts[rows, 0] >= min_points)
            rows = rows[keep]
            if rows.size == 0:
                continue
            known_d = diff[rows]
            cap = np.clip(ahead[rows] / known_d, -CAPTURE_CLIP, CAPTURE_CLIP)
            parts.append(
                pd.DataFrame(
                    {
                        "t_ms": grid[rows],
                        "long_leg": legs[i],
                        "short_leg": legs[j],
                        "known_diff_per_h": known_d,
                        "realised_diff_per_h": ahead[rows],
                        "capture": cap,
                        "persistence": pers[rows, 0],
                        "stability": stab[rows, 0],
                        "points": pts[rows, 0],
                    }
                )
            )
    columns = ["t_ms", "long_leg", "short_leg", "known_diff_per_h", "realised_diff_per_h",
               "capture", "persistence", "stability", "points"]  # fmt: skip
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return Decisions(frame.astype({c: "float64" for c in columns[3:]}))


def score(dec: Decisions, weights: object = None) -> pd.Series:
    """The history confidence of each decision under ``weights`` (as the engine combines)."""
    comps = dec.frame[["persistence", "stability"]]
    return conf.combine(comps, weights)


def capture_by_bucket(
    dec: Decisions, weights: object = None, buckets: tuple[float, ...] = BUCKETS
) -> pd.DataFrame:
    """Per confidence bucket: decisions, mean and median capture, share that earned (> 0)."""
    s = score(dec, weights)
    cut = pd.cut(s, list(buckets), right=False, labels=[f"{a:.1f}-{min(b, 1):.1f}"
                 for a, b in zip(buckets, buckets[1:], strict=False)])  # fmt: skip
    cap = dec.frame["capture"]
    grouped = cap.groupby(cut, observed=False)
    return pd.DataFrame(
        {
            "decisions": grouped.size(),
            "mean_capture": grouped.mean(),
            "median_capture": grouped.median(),
            "share_positive": (cap > 0).groupby(cut, observed=False).mean(),
        }
    )


def calibrate_weights(dec: Decisions, steps: int = 10) -> pd.DataFrame:
    """Spearman correlation of score and capture for each persistence share of the history
    weight (persistence + stability = 0.5, the defaults' history share), best first."""
    rows = []
    cap = dec.frame["capture"]
    for k in range(steps + 1):
        p = 0.5 * k / steps
        w = {"persistence": p, "stability": 0.5 - p, "liquidity": 0.0, "freshness": 0.0,
             "prediction": 0.0}  # fmt: skip
        s = score(dec, w)
        ok = s.notna() & cap.notna()
        rho = s[ok].rank().corr(cap[ok].rank()) if ok.sum() > 2 else np.nan
        rows.append({"persistence": p, "stability": 0.5 - p, "spearman": rho, "n": int(ok.sum())})
    out = pd.DataFrame(rows)
    return out.sort_values("spearman", ascending=False, na_position="last").reset_index(drop=True)


def paid_per_hour(settled: pd.DataFrame, since_ms: int, until_ms: int) -> pd.DataFrame:
    """Hour x leg (``venue canonical``) table of the per-hour rate each leg paid in that hour
    (a settlement at T with interval h pays ``r / h`` for each hour of ``[T - h, T)``)."""
    grid = np.arange(since_ms - since_ms % MS_PER_H, until_ms, MS_PER_H, dtype=np.int64)
    legs, _, paid = _known_and_paid(settled, grid, stale_after_h=0.0)
    return pd.DataFrame(paid, index=pd.Index(grid, name="hour_ms"), columns=legs)


def half_lives(paid: pd.DataFrame, lag_h: int = 8, min_hours: int = 72) -> pd.DataFrame:
    """Persistence of each same-asset differential (short leg minus long leg, every ordered
    pair with a positive mean): the lag-``lag_h`` autocorrelation ``phi`` of its deviations
    from the mean, and the half-life ``lag_h * ln 0.5 / ln phi`` in hours (inf if phi >= 1,
    0 if phi <= 0). The lag is a whole 8 h cycle because an 8-hourly leg pays a constant rate
    for 8 hours, which would make any shorter lag look persistent."""
    legs = list(paid.columns)
    base = [leg.split(" ", 1)[1].partition("/")[0] for leg in legs]
    rows = []
    for i, a in enumerate(legs):
        for j, b in enumerate(legs):
            if i == j or base[i] != base[j]:
                continue
            d = (paid[b] - paid[a]).dropna()
            if len(d) < min_hours or d.mean() <= 0:
                continue
            dev = d - d.mean()
            phi = dev.autocorr(lag=lag_h)
            if not np.isfinite(phi):
                continue
            if phi >= 1:
                life = np.inf
            elif phi <= 0:
                life = 0.0
            else:
                life = lag_h * np.log(0.5) / np.log(phi)
            rows.append({"long_leg": a, "short_leg": b, "mean_apr": d.mean() * 8760,
                         "phi": phi, "half_life_h": life, "hours": len(d)})  # fmt: skip
    columns = ["long_leg", "short_leg", "mean_apr", "phi", "half_life_h", "hours"]
    return pd.DataFrame(rows, columns=columns)
