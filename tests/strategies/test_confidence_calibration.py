"""Realised capture by confidence: hand-built series, then the real BTC/ETH recordings.

The real-data test is the calibration's claim itself: on the supervik recordings (Binance,
Bybit, Gate; times corrected to UTC by the importer), decisions the score rates high must have
captured more of their differential than those it rates low, and the shipped weights must rank
decisions about as well as the best split found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scanner.funding_import import read_file
from strategies import confidence_calibration as cc
from strategies.confidence import ConfidenceWeights

H = 3_600_000
D0 = 490_000 * H
SUPERVIK = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "multi-venue-funding"
SUPERVIK = SUPERVIK / "supervik"


def _settled(rows: list[tuple[str, int, float, float]], canonical: str = "X/USDT:USDT"):
    return pd.DataFrame(
        {
            "venue": [r[0] for r in rows],
            "canonical": canonical,
            "funding_time_ms": [D0 + r[1] * H for r in rows],
            "rate_per_h": [r[2] / r[3] for r in rows],
            "interval_h": [r[3] for r in rows],
        }
    )


def test_a_constant_differential_is_captured_exactly_and_an_8h_leg_pays_its_hours() -> None:
    # a: 0.0001 per 8 h; b: 0.00003 per 1 h. Known d = 3e-5 - 1.25e-5 = 1.75e-5 per hour.
    rows = [("a", h, 0.0001, 8.0) for h in range(0, 401, 8)]
    rows += [("b", h, 0.00003, 1.0) for h in range(0, 401)]
    dec = cc.decisions(_settled(rows), D0 + 48 * H, D0 + 400 * H, horizon_h=24, step_h=8,
                       lookback_h=48, min_points=8)  # fmt: skip
    long_a = dec.frame[dec.frame["long_leg"].str.startswith("a ")]
    assert len(long_a) > 0
    assert np.allclose(long_a["known_diff_per_h"], 1.75e-5)
    assert np.allclose(long_a["capture"], 1.0)
    assert (dec.frame["short_leg"].str.startswith("b ")).all()  # only d > 0 is scored


def test_capture_rises_with_confidence_on_a_persistent_and_a_flipping_pair() -> None:
    rng = np.random.default_rng(5)
    rows = [("base", h, 0.0, 1.0) for h in range(0, 801)]
    # steady: +2e-5/h above base with small noise; flip: sign changes every 6 hours
    rows += [("steady", h, 2e-5 + rng.normal(0, 2e-6), 1.0) for h in range(0, 801)]
    rows += [("flip", h, (2e-5 if (h // 6) % 2 else -2e-5) + rng.normal(0, 2e-6), 1.0)
             for h in range(0, 801)]  # fmt: skip
    dec = cc.decisions(_settled(rows), D0 + 200 * H, D0 + 800 * H, horizon_h=24, step_h=4)
    table = cc.capture_by_bucket(dec)
    filled = table[table["decisions"] > 0]
    assert filled.index[0].startswith("0.") and filled["mean_capture"].iloc[-1] > 0.8
    assert filled["mean_capture"].iloc[0] < 0.5
    steady = dec.frame["long_leg"].str.startswith("base") & dec.frame["short_leg"].str.startswith(
        "steady"
    )
    assert cc.score(dec)[steady].mean() > cc.score(dec)[~steady].mean()


@pytest.fixture(scope="module")
def real_btc_eth() -> cc.Decisions:
    parts = []
    for base in ("BTC", "ETH"):
        for venue in ("binance", "bybit", "gate"):
            (path,) = SUPERVIK.glob(f"{base}-USDT_{venue}_*.csv")
            got = read_file(path).settlements
            parts.append(
                pd.DataFrame(
                    {
                        "venue": [s.venue for s in got],
                        "canonical": [s.canonical for s in got],
                        "funding_time_ms": [s.funding_time_ms for s in got],
                        "rate_per_h": [s.rate_per_interval / (s.interval_h or 8.0) for s in got],
                        "interval_h": [s.interval_h for s in got],
                    }
                )
            )
    settled = pd.concat(parts, ignore_index=True)
    since = int(pd.Timestamp("2022-01-08", tz="UTC").value // 1_000_000)
    until = int(pd.Timestamp("2023-12-31", tz="UTC").value // 1_000_000)
    return cc.decisions(settled, since, until)


def test_on_real_recordings_high_confidence_captured_more(real_btc_eth: cc.Decisions) -> None:
    table = cc.capture_by_bucket(real_btc_eth)
    filled = table[table["decisions"] >= 100]
    assert len(filled) >= 4
    means = filled["mean_capture"].to_numpy()
    assert means[-1] > means[0] + 0.5
    assert filled["share_positive"].iloc[-1] > filled["share_positive"].iloc[0]


def test_the_shipped_weights_rank_real_decisions_near_the_best_split(
    real_btc_eth: cc.Decisions,
) -> None:
    grid = cc.calibrate_weights(real_btc_eth)
    best = grid["spearman"].iloc[0]
    shipped = ConfidenceWeights()
    row = grid[np.isclose(grid["persistence"], shipped.persistence)]
    assert float(row["spearman"].iloc[0]) >= best - 0.02
    old = grid[np.isclose(grid["persistence"], 0.3)]
    assert float(row["spearman"].iloc[0]) > float(old["spearman"].iloc[0])
