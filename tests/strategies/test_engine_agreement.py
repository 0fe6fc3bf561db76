"""The vectorised engine against the per-pair Python loop of benchmarks/bench_spread.py.

The loop computes every column pair by pair with the scalar helpers of strategies.costs (and a
scalar bisection for the slippage-limited notional); the engine must agree to rtol 1e-9 on a
seeded universe with 1/2/4/8 h intervals, multipliers, contract sizes, thin books and carry.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd

from scanner.venues.specs import default_fee_table
from strategies.costs import FeeSchedule
from strategies.spread import EngineParams, compute_opportunities, quotes_frame

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_spread.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_spread", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_agrees_with_the_per_pair_loop() -> None:
    bench = _bench()
    quotes, books, spot = bench.synthetic_market(seed=3, n_instruments=25)
    fees, params = (
        FeeSchedule.from_table(default_fee_table()),
        EngineParams(notional_usd=80_000.0, min_net_apr=-math.inf),
    )
    vec = compute_opportunities(quotes_frame(quotes), books, fees, params, bench.NOW,
                                spot_books=spot)  # fmt: skip
    ref = bench.loop_engine(quotes, books, spot, fees, params)
    comps = pd.DataFrame(list(vec["confidence_components"]))
    vec = pd.concat([vec.drop(columns="confidence_components"), comps], axis=1)
    key = ["long_venue", "short_venue", "symbol"]
    vec = vec.sort_values(key).reset_index(drop=True)
    assert len(ref) > 100 and vec[key].equals(ref[key])
    assert (vec["pair_type"] == "carry").any() and vec["book_thin"].any()
    interior = ref["max_notional_within_slippage_usd"] < ref["max_notional_usd"]
    assert (interior & (ref["max_notional_within_slippage_usd"] > 0)).any()  # the solver ran
    for column in bench.NUMERIC:
        np.testing.assert_allclose(vec[column].to_numpy(float), ref[column].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, err_msg=column)  # fmt: skip
    assert (vec["executable"].to_numpy() == ref["executable"].to_numpy()).all()
