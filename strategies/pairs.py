"""Which legs pair up: index arrays in, index arrays out, no pandas.

Why a module of its own: the engine used to find pairs with pandas self-merges (one on the base
asset for cross pairs, one on venue and spot symbol for carry pairs), and the merges, with the
string columns they build, cost more than the arithmetic on the pairs. Here the same pairs, in
the same order, come from integer codes and ``numpy.repeat``.

Order (callers rank with stable sorts, so ties keep it): the order of a pandas inner merge of
the left rows with the right rows, i.e. left rows in their order, each followed by its matches
in their order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def same_group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered (i, j) with ``group[i] == group[j]`` and i != j: i ascending, then j.

    ``group`` is any array of hashable labels (the base asset of each quote row).
    """
    labels = np.asarray(group).tolist()
    n = len(labels)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first_seen: dict[Any, int] = {}  # codes by first appearance: only equality matters here
    code = np.array([first_seen.setdefault(v, len(first_seen)) for v in labels], dtype=np.int64)
    members = np.argsort(code, kind="stable")  # rows grouped by label, ascending within
    counts = np.bincount(code)
    starts = np.cumsum(counts) - counts
    size = counts[code]  # each row's group size: how many partners (itself included)
    first = np.repeat(np.arange(n), size)
    offset = np.arange(first.size) - np.repeat(np.cumsum(size) - size, size)
    second = members[np.repeat(starts[code], size) + offset]
    keep = first != second
    return first[keep], second[keep]


def matching_pairs(
    left: Sequence[tuple[str, str]], right: Sequence[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) for every ``left[i] == right[j]``: i ascending, then j ascending.

    Keys are compared as tuples (venue, spot symbol for a carry pair); one dict of the left
    keys, one pass over the right ones.
    """
    where: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(left):
        where.setdefault(key, []).append(i)
    found_left: list[int] = []
    found_right: list[int] = []
    for j, key in enumerate(right):
        for i in where.get(key, ()):
            found_left.append(i)
            found_right.append(j)
    i_arr = np.array(found_left, dtype=np.int64)
    j_arr = np.array(found_right, dtype=np.int64)
    order = np.lexsort((j_arr, i_arr))
    return i_arr[order], j_arr[order]
