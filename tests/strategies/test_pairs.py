"""strategies.pairs against the pandas self-merges it replaced (same rows, same order).

The expected side is written here with pandas ``merge`` (inner joins keep the left rows'
order, each followed by its matches in the right rows' order), independently of the code under
test; hypothesis draws labels with repeats, singletons and interleaving.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.pairs import matching_pairs, same_group_pairs

SETTINGS = settings(max_examples=150, deadline=None)
labels = st.lists(st.sampled_from(["BTC", "ETH", "PEPE", "X", "1000X"]), max_size=40)


def _merge_pairs(group: list[str]) -> tuple[np.ndarray, np.ndarray]:
    keys = pd.DataFrame({"g": pd.Series(group, dtype=object), "pos": np.arange(len(group))})
    merged = keys.merge(keys, on="g", suffixes=("_l", "_r"))
    merged = merged[merged["pos_l"] != merged["pos_r"]]
    return merged["pos_l"].to_numpy(np.int64), merged["pos_r"].to_numpy(np.int64)


@SETTINGS
@given(group=labels)
def test_same_group_pairs_are_a_self_merge_in_its_order(group: list[str]) -> None:
    got_l, got_r = same_group_pairs(np.array(group, dtype=object))
    want_l, want_r = _merge_pairs(group)
    assert got_l.tolist() == want_l.tolist() and got_r.tolist() == want_r.tolist()


keys = st.tuples(st.sampled_from(["bybit", "okx"]), st.sampled_from(["A/USDT", "B/USDT", "C/USDC"]))


@SETTINGS
@given(left=st.lists(keys, max_size=15), right=st.lists(keys, max_size=30))
def test_matching_pairs_are_an_inner_merge_in_its_order(left, right) -> None:
    got_i, got_j = matching_pairs(left, right)
    lf = pd.DataFrame({"v": [k[0] for k in left], "k": [k[1] for k in left],
                       "i": np.arange(len(left))})  # fmt: skip
    rf = pd.DataFrame({"v": [k[0] for k in right], "k": [k[1] for k in right],
                       "j": np.arange(len(right))})  # fmt: skip
    merged = lf.merge(rf, on=["v", "k"]) if left and right else pd.DataFrame({"i": [], "j": []})
    assert got_i.tolist() == merged["i"].astype(int).tolist()
    assert got_j.tolist() == merged["j"].astype(int).tolist()
