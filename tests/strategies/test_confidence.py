"""Confidence components and their combination: hand-computed series and a real history."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scanner.domain import FundingQuote, OrderBook
from strategies.confidence import (
    COMPONENTS,
    HISTORY_COMPONENTS,
    ConfidenceWeights,
    combine,
    freshness_component,
    history_components,
    liquidity_component,
)
from strategies.costs import FeeSchedule
from strategies.spread import EngineParams, compute_opportunities, quotes_frame

HISTORY_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "funding-history"
H = 3_600_000
OLD_WEIGHTS = ConfidenceWeights(persistence=0.3, stability=0.2, liquidity=0.2, freshness=0.15,
                                prediction=0.15)  # fmt: skip
"""The weights before calibration: the hand computations below are written with them."""
NOW = 1_750_000_000_000 - 1_750_000_000_000 % H + H // 2  # half past an hour
X = "X/USDT:USDT"


def obs(venue: str, hours_ago: float, rate_per_h: float, settled: bool = True, next_ms=None):
    return {"canonical": X, "venue": venue, "ts_ms": int(NOW - hours_ago * H),
            "rate_per_h": rate_per_h, "is_settled": settled,
            "next_funding_ms": np.nan if next_ms is None else float(next_ms)}  # fmt: skip


def pair_frame(diff: float = 1e-5, pair_type: str = "cross") -> pd.DataFrame:
    return pd.DataFrame(
        [{"pair_type": pair_type, "long_venue": "a", "long_canonical": X, "short_venue": "b",
          "short_canonical": X, "diff_per_h": diff}]
    )  # fmt: skip


def test_freshness_and_liquidity_by_hand() -> None:
    # age 60 s of stale 120 s -> 0.5; age 0 -> 1; age 500 -> 0 (clipped); unknown -> nan
    got = freshness_component(np.array([60.0, 0.0, 500.0, np.nan]), 120.0)
    assert got[:3].tolist() == [0.5, 1.0, 0.0] and math.isnan(got[3])
    # 2500 USD within the band for 10000 notional -> 0.25; deeper than N -> capped at 1
    got = liquidity_component(np.array([2500.0, 50_000.0, np.nan]), 10_000.0)
    assert got[:2].tolist() == [0.25, 1.0] and math.isnan(got[2])


def test_persistence_and_stability_by_hand() -> None:
    # hourly settlements 4..0 h ago; long a at 1e-5/h, short b at [3,3,-1,3,3]e-5/h
    # diffs = [2,2,-2,2,2]e-5, current d > 0:
    # persistence(K=24) = 4/5 = 0.8; persistence(K=3): last three [-2,2,2] -> 2/3
    # mean = 1.2e-5; deviations [0.8,0.8,-3.2,0.8,0.8]e-5; var(ddof 1) = 12.8e-10/4 = 3.2e-10
    # std = 1.7888543819998316e-05; x = 1.2e-5/std = 0.670820393249937
    # stability = x/(1+x) = 0.4014916240907944
    b_rates = [3e-5, 3e-5, -1e-5, 3e-5, 3e-5]
    rows = [obs("a", k, 1e-5) for k in range(4, -1, -1)]
    rows += [obs("b", k, r) for k, r in zip(range(4, -1, -1), b_rates, strict=True)]
    history = pd.DataFrame(rows)
    got = history_components(history, pair_frame(), lookback_h=10, persistence_points=24)
    assert got.loc[0, "persistence"] == pytest.approx(0.8)
    assert got.loc[0, "stability"] == pytest.approx(0.4014916240907944, rel=1e-12)
    assert math.isnan(got.loc[0, "prediction"])  # no live predictions in this history
    k3 = history_components(history, pair_frame(), lookback_h=10, persistence_points=3)
    assert k3.loc[0, "persistence"] == pytest.approx(2 / 3)
    # the same history seen from the opposite orientation (current d < 0): 1 of 5 agrees,
    # and a mean of the wrong sign scores stability 0
    flipped = history_components(history, pair_frame(diff=-1e-5), 10, 24)
    assert flipped.loc[0, "persistence"] == pytest.approx(0.2)
    assert flipped.loc[0, "stability"] == 0.0


def test_eight_hourly_leg_is_forward_filled_but_not_recounted() -> None:
    # a settles every 8 h (16 h ago, 8 h ago, now) at 1e-5/h; b is hourly at 3e-5/h for the
    # last 20 h (19..0 h ago). a's value is carried forward (at most 8 buckets), so buckets
    # 19..17 h ago lack a leg; buckets 16..0 h ago (17 of them, each with a new b observation)
    # all have diff 2e-5 > 0; a's forward-filled hours are not extra observations of a.
    rows = [obs("a", k, 1e-5) for k in (16, 8, 0)] + [obs("b", k, 3e-5) for k in range(20)]
    got = history_components(
        pd.DataFrame(rows), pair_frame(), lookback_h=24, persistence_points=100
    )
    assert got.loc[0, "persistence"] == 1.0
    assert got.loc[0, "stability"] == 1.0  # constant positive differential, std 0


def test_prediction_by_hand() -> None:
    # settlements at T1 = 8 h ago and T2 = now (stamped 2 s late, as venues jitter).
    # a predicted (last live row before T) 1e-5 and 2e-5; settled 1.2e-5 and 2e-5:
    #   MAE = (2e-6 + 0)/2 = 1e-6; scale = max(mean |settled| = 1.6e-5, 1.25e-5) = 1.6e-5
    #   score a = 1 - 1e-6/1.6e-5 = 0.9375 (an older live row at 9e-5 must be ignored)
    # b predicted 5e-5, settled 4e-5 at T2 only: MAE 1e-5, scale 4e-5 -> 1 - 0.25 = 0.75
    # pair = weaker leg = 0.75. A carry pair (spot long, perp a short) scores a alone: 0.9375
    t1, t2 = NOW - 8 * H, NOW
    rows = [
        obs("a", 10, 9e-5, settled=False, next_ms=t1),
        obs("a", 8.5, 1e-5, settled=False, next_ms=t1),
        {**obs("a", 8, 1.2e-5), "ts_ms": t1 + 2000},
        obs("a", 0.5, 2e-5, settled=False, next_ms=t2),
        {**obs("a", 0, 2e-5), "ts_ms": t2 + 2000},
        obs("b", 0.5, 5e-5, settled=False, next_ms=t2),
        obs("b", 0, 4e-5),
    ]
    history = pd.DataFrame(rows)
    got = history_components(history, pair_frame(), lookback_h=24, persistence_points=24)
    assert got.loc[0, "prediction"] == pytest.approx(0.75)
    carry = pair_frame(pair_type="carry")
    carry["short_venue"] = "a"
    got = history_components(history, carry, lookback_h=24, persistence_points=24)
    assert got.loc[0, "prediction"] == pytest.approx(0.9375)


def test_combine_by_hand_and_none_without_history() -> None:
    comps = pd.DataFrame(
        [
            # weights .3,.2,.2,.15 present (prediction missing): (.24+.1+.2+.075)/.85
            {"persistence": 0.8, "stability": 0.5, "liquidity": 1.0, "freshness": 0.5,
             "prediction": np.nan},
            # no history component at all -> None, however good the book and freshness
            {"persistence": np.nan, "stability": np.nan, "liquidity": 1.0, "freshness": 1.0,
             "prediction": np.nan},
            # all five: (.3*1 + .2*0 + .2*.5 + .15*1 + .15*.2)/1 = 0.58
            {"persistence": 1.0, "stability": 0.0, "liquidity": 0.5, "freshness": 1.0,
             "prediction": 0.2},
        ]
    )  # fmt: skip
    total = combine(comps, OLD_WEIGHTS)
    assert total[0] == pytest.approx(0.7235294117647059)
    assert math.isnan(total[1])
    assert total[2] == pytest.approx(0.58)
    # custom weights: only persistence counts -> 0.8, nan, 1.0
    only = combine(comps, {"persistence": 1, "stability": 0, "liquidity": 0, "freshness": 0,
                           "prediction": 0})  # fmt: skip
    assert only[0] == 0.8 and math.isnan(only[1]) and only[2] == 1.0


def test_weights_and_columns_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown confidence weight"):
        ConfidenceWeights.from_any({"persistance": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        ConfidenceWeights(stability=-1.0)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['is_settled'"):
        history_components(pd.DataFrame({"canonical": [], "venue": [], "ts_ms": [],
                                         "rate_per_h": []}), pair_frame(), 24, 24)  # fmt: skip


def test_persistence_on_a_real_binance_history() -> None:
    # Binance 1000RATSUSDT, 4-hourly settlements (1000 real rows). Pair: long Binance, short a
    # venue paying a constant 1.5e-5/h. Independently of the engine: the last 24 settlements'
    # differentials 1.5e-5 - r/4, share with the sign of the newest one.
    raw = pd.read_csv(HISTORY_DIR / "binance_usdm_1000RATSUSDT_funding.csv")
    ts = pd.to_datetime(raw["fundingTime"], format="ISO8601", utc=True)
    ts_ms = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    rate_h = raw["fundingRate"].to_numpy(float) / 4.0
    canonical = "RATS/USDT:USDT"
    history = pd.concat(
        [
            pd.DataFrame({"canonical": canonical, "venue": "binanceusdm", "ts_ms": ts_ms,
                          "rate_per_h": rate_h, "is_settled": True, "next_funding_ms": np.nan}),
            pd.DataFrame({"canonical": canonical, "venue": "okx", "ts_ms": ts_ms,
                          "rate_per_h": 1.5e-5, "is_settled": True, "next_funding_ms": np.nan}),
        ]
    )  # fmt: skip
    diffs = 1.5e-5 - rate_h
    current = diffs[-1]
    pairs = pd.DataFrame(
        [{"pair_type": "cross", "long_venue": "binanceusdm", "long_canonical": canonical,
          "short_venue": "okx", "short_canonical": canonical, "diff_per_h": current}]
    )  # fmt: skip
    got = history_components(history, pairs, lookback_h=30 * 24, persistence_points=24)
    last24 = diffs[-24:]
    assert got.loc[0, "persistence"] == pytest.approx(np.mean(np.sign(last24) == np.sign(current)))
    in_window = diffs[ts_ms.to_numpy() > ts_ms.iloc[-1] - 30 * 24 * H]
    x = max(in_window.mean() * np.sign(current), 0) / in_window.std(ddof=1)
    assert got.loc[0, "stability"] == pytest.approx(x / (1 + x))


def test_engine_reports_components_and_total() -> None:
    # one pair a->b with deep books; quotes 30 s old, books 60 s old -> freshness 0.5;
    # each side holds ~2500 USD within 10 bp of mid -> liquidity ~0.25
    quotes = [FundingQuote("a", "A", X, 1e-5, 1.0, NOW - 30_000),
              FundingQuote("b", "B", X, 3e-5, 1.0, NOW - 30_000)]  # fmt: skip
    level = 2500.0 / 100.0  # 25 units at ~100
    books = {(v, s): OrderBook(v, s, X, [(99.99, level), (99.0, 1e6)],
                               [(100.01, level), (101.0, 1e6)], NOW - 60_000)
             for v, s in (("a", "A"), ("b", "B"))}  # fmt: skip
    fees = FeeSchedule.from_overrides({"a": (5.0, 2.0), "b": (5.0, 2.0)})
    params = EngineParams(min_net_apr=-math.inf, confidence_weights=OLD_WEIGHTS)
    frame = quotes_frame(quotes)
    out = compute_opportunities(frame, books, fees, params, NOW)
    comps = out.loc[0, "confidence_components"]
    assert set(comps) == set(COMPONENTS)
    assert comps["freshness"] == pytest.approx(0.5)
    # within 10 bp: asks 100.01*25 = 2500.25, bids 99.99*25 = 2499.75 -> min/N = 0.249975
    assert comps["liquidity"] == pytest.approx(0.249975)
    assert comps["persistence"] is None and pd.isna(out.loc[0, "confidence"])
    assert out.loc[0, "confidence_state"] == "no_history"
    # with history (b above a for 5 hours): below the default minimum of 8 points, unrated
    rows = [obs("a", k, 1e-5) for k in range(5)] + [obs("b", k, 3e-5) for k in range(5)]
    hist = pd.DataFrame(rows)
    out = compute_opportunities(frame, books, fees, params, NOW, confidence=hist)
    assert out.loc[0, "confidence_state"] == "few_points"
    assert out.loc[0, "history_points"] == 5
    assert out.loc[0, "confidence_components"]["persistence"] is None
    assert pd.isna(out.loc[0, "confidence"])
    # with a minimum of 5: persistence 1, stability 1 (constant), total =
    # (.3*1 + .2*1 + .2*liq + .15*.5)/(.85)
    params = EngineParams(
        min_net_apr=-math.inf, min_history_points=5, confidence_weights=OLD_WEIGHTS
    )
    out = compute_opportunities(frame, books, fees, params, NOW, confidence=hist)
    assert out.loc[0, "confidence_state"] == "rated"
    comps = out.loc[0, "confidence_components"]
    assert comps["persistence"] == 1.0 and comps["stability"] == 1.0
    want = (0.3 + 0.2 + 0.2 * comps["liquidity"] + 0.15 * 0.5) / 0.85
    assert out.loc[0, "confidence"] == pytest.approx(want)


def test_unrated_says_whether_history_is_missing_or_too_short() -> None:
    """no_history: nothing stored for a leg; few_points: stored, but under the minimum."""
    pairs = pd.DataFrame(
        {"pair_type": ["cross", "cross"], "long_venue": ["a", "a"], "long_canonical": [X, X],
         "short_venue": ["b", "c"], "short_canonical": [X, X], "diff_per_h": [2e-5, 2e-5]}
    )  # fmt: skip
    rows = [obs("a", k, 1e-5) for k in range(10)] + [obs("b", k, 3e-5) for k in range(10)]
    hist = pd.DataFrame(rows)
    got = history_components(hist, pairs, lookback_h=24, persistence_points=24, min_points=10,
                             now_ms=NOW)  # fmt: skip
    assert got["state"].tolist() == ["rated", "no_history"]
    assert got.loc[0, "history_points"] == 10 and got.loc[0, "persistence"] == 1.0
    strict = history_components(hist, pairs, lookback_h=24, persistence_points=24,
                                min_points=11, now_ms=NOW)  # fmt: skip
    assert strict["state"].tolist() == ["few_points", "no_history"]
    assert strict.loc[0, list(HISTORY_COMPONENTS)].isna().all()
