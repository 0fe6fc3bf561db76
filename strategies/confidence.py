"""How much to trust an opportunity: five components in [0, 1] and their weighted mean.

Why components and not one number: a user deciding whether to act must see *why* a score is
low (a thin book is a different problem from a differential that flips sign every hour), so
every component is reported next to the total, and a component we cannot compute is ``None``
(nan in frames), never a guess.

Components (each in [0, 1]):

- persistence: share of the pair's last ``persistence_points`` observed differentials (hourly
  buckets in which either leg was observed, see below) that had the same sign as the current
  one; needs at least 2 observations.
- stability: x / (1 + x) with x = max(mean * sign, 0) / std of the differential over the
  lookback (sign = sign of the current differential, std with ddof=1). x/(1+x) maps the
  signal-to-noise ratio 0 -> 0, 1 -> 0.5, 3 -> 0.75 and never reaches 1; a constant non-zero
  differential of the current sign (std 0) scores 1. A mean of the opposite sign scores 0.
- liquidity: min over the legs' entry and exit sides of (USD depth within ``depth_band_bps``
  of mid) / notional, capped at 1 (computed by the engine from the books).
- freshness: 1 - age / stale_after_s of the OLDEST quote or book used, clipped to [0, 1].
- prediction: per venue series, 1 - MAE / scale between the rate a venue showed for a
  settlement (the last live observation before it) and the rate actually settled, clipped to
  [0, 1]; scale = max(mean |settled rate_per_h|, 0.0001 / 8). The floor (1 bp per 8 h, the
  common base rate) keeps near-zero funding from turning tiny errors into a score of 0. A pair
  scores the weaker of its perp legs and is ``None`` unless every perp leg has matched data.

Total: weighted mean over the components that are present (weights renormalised). If all three
history-based components (persistence, stability, prediction) are missing the total is
``None``: liquidity and freshness alone say nothing about whether the spread will last.

A minimum sample: a pair with fewer than ``min_points`` observed hourly differentials in the
lookback gets no history component and so no score; ``STATES`` says which kind of unrated it
is, so a blank never hides its reason:

- ``rated``: at least ``min_points`` observations (``history_points`` says how many).
- ``few_points``: history is stored for both legs but too little of it lies in the lookback
  (a fresh database, a new listing, a pair seen for a few hours). Run ``fundscan backfill``.
- ``no_history``: nothing at all is stored for a perp leg (history never fetched, or the venue
  has none): not "no differential", only "not known".

History input (what storage's ``quote_history_for_confidence`` must return), one row per
observation, see ``HISTORY_COLUMNS``:

==================  ======  ===============================================================
canonical           str     canonical id of the perp (``PEPE/USDT:USDT``)
venue               str     engine venue id (``bybit``)
ts_ms               int     observation time; for a settled row the settlement time
rate_per_h          float   rate_per_interval / interval_h
is_settled          bool    True: a paid rate; False: a live/predicted rate seen at ts_ms
next_funding_ms     float   for live rows, the settlement the rate is for (nan if unknown);
                            ignored for settled rows
==================  ======  ===============================================================

The differential series buckets observations per hour (last observation in a bucket wins,
settled beats live at the same instant) and forward-fills each venue series for up to 8
buckets, because an 8-hourly venue with only settlements has a value every 8th bucket. A
bucket counts as an observation of the pair only if one of its legs was observed in it (a
forward-filled value is not a new observation) and both legs have a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from scanner.units import MS_PER_H, MS_PER_MIN

HISTORY_COLUMNS: tuple[str, ...] = (
    "canonical",
    "venue",
    "ts_ms",
    "rate_per_h",
    "is_settled",
    "next_funding_ms",
)
PAIR_COLUMNS: tuple[str, ...] = (
    "pair_type",
    "long_venue",
    "long_canonical",
    "short_venue",
    "short_canonical",
    "diff_per_h",
)
COMPONENTS: tuple[str, ...] = ("persistence", "stability", "liquidity", "freshness", "prediction")
HISTORY_COMPONENTS: tuple[str, ...] = ("persistence", "stability", "prediction")

STATES: tuple[str, ...] = ("rated", "few_points", "no_history")
MIN_POINTS_DEFAULT = 8
"""Observed hourly differentials below which a pair is not rated (``engine.min_history_points``):
the persistence share over fewer than 8 points has a standard error up to 0.18, as wide as the
distance between a good and a poor score."""

BUCKET_MS = MS_PER_H
FILL_LIMIT_BUCKETS = 8
PREDICTION_SCALE_FLOOR_PER_H = 0.0001 / 8


@dataclass(frozen=True, slots=True)
class ConfidenceWeights:
    """Weights of the components; mirrors ``scanner.settings.ConfidenceWeights``.

    Calibrated on history (``strategies.confidence_calibration``, notebook 02): of the history
    share (0.5), stability ranks realised capture better than persistence, on the real BTC/ETH
    multi-venue recordings (best split 0.1/0.4, Spearman 0.39; the old 0.3/0.2 gave 0.35) and
    on the emulator with its calibrated funding (best 0.0/0.5, 0.18; 0.1/0.4 gives 0.17)."""

    persistence: float = 0.1
    stability: float = 0.4
    liquidity: float = 0.2
    freshness: float = 0.15
    prediction: float = 0.15

    @classmethod
    def from_any(cls, weights: Any) -> ConfidenceWeights:
        """From a mapping, this class, or any object with the five attributes (settings)."""
        if isinstance(weights, ConfidenceWeights):
            return weights
        if isinstance(weights, Mapping):
            unknown = set(weights) - set(COMPONENTS)
            if unknown:
                raise ValueError(f"unknown confidence weight(s): {sorted(unknown)}")
            return cls(**{k: float(v) for k, v in weights.items()})
        return cls(**{k: float(getattr(weights, k)) for k in COMPONENTS})

    def __post_init__(self) -> None:
        bad = {k: v for k, v in asdict(self).items() if not (np.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"confidence weights must be finite and >= 0; got {bad}")


def freshness_component(age_s: np.ndarray, stale_after_s: float) -> np.ndarray:
    """1 at age 0, falling linearly to 0 at ``stale_after_s``; nan where the age is unknown."""
    age = np.asarray(age_s, dtype=float)
    return np.where(np.isnan(age), np.nan, np.clip(1.0 - age / stale_after_s, 0.0, 1.0))


def liquidity_component(depth_usd: np.ndarray, notional_usd: float) -> np.ndarray:
    """Depth within the band relative to the notional, capped at 1; nan without a book."""
    depth = np.asarray(depth_usd, dtype=float)
    return np.where(np.isnan(depth), np.nan, np.clip(depth / notional_usd, 0.0, 1.0))


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; required: {list(columns)}")


def _series_key(venue: pd.Series, canonical: pd.Series) -> pd.Series:
    return venue.astype(str) + "|" + canonical.astype(str)


def _rate_matrix(window: pd.DataFrame, first_bucket: int, last_bucket: int) -> pd.DataFrame:
    """Buckets x series matrix of rate_per_h (not yet forward-filled)."""
    ordered = window.sort_values(["ts_ms", "is_settled"], kind="stable")
    ordered = ordered.assign(
        bucket=ordered["ts_ms"].to_numpy(dtype=np.int64) // BUCKET_MS,
        key=_series_key(ordered["venue"], ordered["canonical"]),
    )
    last = ordered.groupby(["bucket", "key"], sort=False)["rate_per_h"].last()
    return last.unstack("key").reindex(pd.RangeIndex(first_bucket, last_bucket + 1))


def _leg_columns(
    raw: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forward-filled rates and raw-observation mask, each with two extra columns (zeros for a
    spot leg, nan for a leg without history), and each leg's column index."""
    filled = raw.ffill(limit=FILL_LIMIT_BUCKETS).to_numpy(dtype=float)
    observed = raw.notna().to_numpy()
    n_t, n_s = filled.shape
    filled = np.hstack([filled, np.zeros((n_t, 1)), np.full((n_t, 1), np.nan)])
    observed = np.hstack([observed, np.zeros((n_t, 2), dtype=bool)])
    cols = pd.Index(raw.columns.astype(str))
    long_idx = cols.get_indexer(_series_key(pairs["long_venue"], pairs["long_canonical"]))
    short_idx = cols.get_indexer(_series_key(pairs["short_venue"], pairs["short_canonical"]))
    carry = (pairs["pair_type"] == "carry").to_numpy()
    long_idx = np.where(carry, n_s, np.where(long_idx < 0, n_s + 1, long_idx))
    short_idx = np.where(short_idx < 0, n_s + 1, short_idx)
    return filled, observed, long_idx, short_idx


def _persistence_stability(
    diffs: np.ndarray, observed: np.ndarray, current: np.ndarray, points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both series-based components for (T, P) differentials; only buckets where a leg was
    actually observed (``observed``) count, forward-filled ones only supply the other leg."""
    valid = ~np.isnan(diffs) & observed
    sign = np.sign(current)[None, :]
    from_end = np.cumsum(valid[::-1], axis=0)[::-1]
    recent = valid & (from_end <= points)
    n_recent = recent.sum(axis=0)
    same = (recent & (np.sign(np.where(valid, diffs, 0.0)) == sign)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        persistence = np.where(n_recent >= 2, same / n_recent, np.nan)
        n = valid.sum(axis=0)
        filled = np.where(valid, diffs, 0.0)
        mean = filled.sum(axis=0) / n
        var = (np.where(valid, diffs - mean, 0.0) ** 2).sum(axis=0) / (n - 1)
        std = np.sqrt(var)
        signed_mean = np.maximum(mean * sign[0], 0.0)
        x = signed_mean / std
        stability = np.where(std > 0, x / (1.0 + x), np.where(signed_mean > 0, 1.0, 0.0))
    stability = np.where(n >= 2, stability, np.nan)
    return persistence, stability, n


def prediction_scores(history: pd.DataFrame, start_ms: float, end_ms: float) -> pd.Series:
    """Score in [0, 1] per ``venue|canonical`` series: how well live rates predicted settlements.

    A settlement at T is matched with the last live row whose ``next_funding_ms`` is T (to the
    minute: venues jitter settlement stamps by a few seconds) and whose ``ts_ms`` precedes T.
    """
    settled = history[history["is_settled"].astype(bool)]
    settled = settled[(settled["ts_ms"] > start_ms) & (settled["ts_ms"] <= end_ms)]
    live = history[~history["is_settled"].astype(bool) & history["next_funding_ms"].notna()]
    live = live[live["ts_ms"] < live["next_funding_ms"]]
    if settled.empty or live.empty:
        return pd.Series(dtype=float)
    live = live.assign(minute=np.rint(live["next_funding_ms"].to_numpy(float) / MS_PER_MIN))
    live = live.sort_values("ts_ms", kind="stable")
    last_pred = live.groupby(["venue", "canonical", "minute"], as_index=False)["rate_per_h"].last()
    settled = settled.assign(minute=np.rint(settled["ts_ms"].to_numpy(float) / MS_PER_MIN))
    matched = settled.merge(
        last_pred, on=["venue", "canonical", "minute"], suffixes=("_settled", "_pred")
    )
    if matched.empty:
        return pd.Series(dtype=float)
    matched = matched.assign(
        key=_series_key(matched["venue"], matched["canonical"]),
        err=(matched["rate_per_h_pred"] - matched["rate_per_h_settled"]).abs(),
        mag=matched["rate_per_h_settled"].abs(),
    )
    per = matched.groupby("key")[["err", "mag"]].mean()
    scale = np.maximum(per["mag"].to_numpy(), PREDICTION_SCALE_FLOOR_PER_H)
    return pd.Series(np.clip(1.0 - per["err"].to_numpy() / scale, 0.0, 1.0), index=per.index)


def history_components(
    history: pd.DataFrame,
    pairs: pd.DataFrame,
    lookback_h: float,
    persistence_points: int,
    now_ms: int | None = None,
    min_points: int = 0,
) -> pd.DataFrame:
    """persistence, stability and prediction per row of ``pairs`` (nan where not computable),
    with ``history_points`` (observed hourly differentials in the lookback) and ``state``
    (``STATES``): below ``min_points`` observations all three components are nan (the engine
    passes ``engine.min_history_points``; 0 keeps every component that can be computed).

    ``pairs`` needs ``PAIR_COLUMNS`` (the engine's output has them); a carry pair's long leg is
    spot and pays no funding, so its differential is the perp's rate. ``now_ms`` defaults to
    the newest observation in ``history``; the lookback window is ``(now - lookback_h, now]``.
    """
    _require(history, HISTORY_COLUMNS, "confidence history")
    _require(pairs, PAIR_COLUMNS, "pairs frame")
    out = pd.DataFrame(index=pairs.index, columns=list(HISTORY_COMPONENTS), dtype=float)
    out["history_points"] = 0.0
    out["state"] = "no_history"
    history = history[history["rate_per_h"].notna()]  # e.g. a settlement of unknown interval
    if history.empty or pairs.empty:
        return out
    end_ms = float(history["ts_ms"].max()) if now_ms is None else float(now_ms)
    start_ms = end_ms - lookback_h * MS_PER_H
    ts = history["ts_ms"]
    window = history[(ts > start_ms) & (ts <= end_ms)]
    if not window.empty:
        raw = _rate_matrix(window, int(start_ms // BUCKET_MS) + 1, int(end_ms // BUCKET_MS))
        rates, seen, long_idx, short_idx = _leg_columns(raw, pairs)
        diffs = rates[:, short_idx] - rates[:, long_idx]
        observed = seen[:, short_idx] | seen[:, long_idx]
        current = pairs["diff_per_h"].to_numpy(dtype=float)
        persistence, stability, n = _persistence_stability(
            diffs, observed, current, persistence_points
        )
        out["persistence"] = persistence
        out["stability"] = stability
        out["history_points"] = n.astype(float)
    scores = prediction_scores(history, start_ms, end_ms)
    short_score = _series_key(pairs["short_venue"], pairs["short_canonical"]).map(scores)
    long_score = _series_key(pairs["long_venue"], pairs["long_canonical"]).map(scores)
    carry = pairs["pair_type"] == "carry"
    long_score = long_score.where(~carry, 1.0)  # spot leg: nothing to predict
    out["prediction"] = np.fmin(short_score.to_numpy(float), long_score.to_numpy(float))
    both = short_score.notna() & long_score.notna()
    out.loc[~both.to_numpy(), "prediction"] = np.nan
    known = set(_series_key(history["venue"], history["canonical"]))
    has_short = _series_key(pairs["short_venue"], pairs["short_canonical"]).isin(known)
    has_long = _series_key(pairs["long_venue"], pairs["long_canonical"]).isin(known) | carry
    few = (out["history_points"] < min_points).to_numpy()
    out.loc[few, list(HISTORY_COMPONENTS)] = np.nan
    out["state"] = np.where(
        ~(has_short & has_long).to_numpy(), "no_history", np.where(few, "few_points", "rated")
    )
    return out


def combine(components: pd.DataFrame, weights: Any = None) -> pd.Series:
    """Weighted mean of the present components per row; nan if no history component exists.

    ``weights`` is anything ``ConfidenceWeights.from_any`` accepts (None: the defaults).
    Columns of ``components`` not among ``COMPONENTS`` are ignored; absent ones count as nan.
    """
    frame = components.reindex(columns=list(COMPONENTS)).astype(float)
    total = combine_values(frame.to_numpy(), weights)
    return pd.Series(total, index=components.index, name="confidence")


def combine_values(values: np.ndarray, weights: Any = None) -> np.ndarray:
    """``combine`` on a (rows x ``COMPONENTS``) float array, nan where absent (the engine's)."""
    w = ConfidenceWeights() if weights is None else ConfidenceWeights.from_any(weights)
    w_vec = np.array([getattr(w, c) for c in COMPONENTS])
    present = ~np.isnan(values)
    w_present = (present * w_vec).sum(axis=1)
    weighted = (np.where(present, values, 0.0) * w_vec).sum(axis=1)
    hist_cols = [COMPONENTS.index(c) for c in HISTORY_COMPONENTS]
    has_history = present[:, hist_cols].any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(has_history & (w_present > 0), weighted / w_present, np.nan)
