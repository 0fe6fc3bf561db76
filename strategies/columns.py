"""Output columns built cheaply: the engine assembles its frame once, from per-leg values.

Why: the engine's pairs are indices into a few thousand legs, and most text columns (venue,
symbol, canonical id) repeat a leg's value. Converting an object array of ten thousand Python
strings to pandas' string dtype, column after column, cost more than the arithmetic. Here each
leg-level array is converted once (a few thousand strings) and gathered per pair with the
array's own ``take``; the frame is built in one call with the dtypes it always had (pandas
infers them from the leg values exactly as it did from the pair values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


class LegText:
    """Text values of every leg, converted to the frame's string dtype once, gathered per pair."""

    def __init__(self, values: np.ndarray) -> None:
        self._array = pd.Series(np.asarray(values, dtype=object), copy=False).array

    @classmethod
    def joined(cls, converted: Any, more: np.ndarray) -> LegText:
        """A column already in the frame's dtype (a quotes frame's), then ``more`` values
        converted here: only the few extra values are converted."""
        text = cls.__new__(cls)
        first = pd.Series(converted, copy=False)
        if first.dtype == object:  # a hand-built frame: infer as from any object array
            first = pd.Series(first.to_numpy(dtype=object), copy=False)
        if len(more) == 0:
            text._array = first.array
        else:
            rest = pd.Series(np.asarray(more, dtype=object), copy=False)
            text._array = pd.concat([first, rest], ignore_index=True).array
        return text

    def take(self, rows: np.ndarray) -> Any:
        """The values of legs ``rows`` (an extension array of the inferred string dtype)."""
        return self._array.take(np.asarray(rows, dtype=np.int64))

    def codes(self) -> np.ndarray:
        """Per leg, the rank of its value among the distinct values (code-point order)."""
        return np.asarray(pd.factorize(self._array, sort=True)[0], dtype=np.int64)


def text_choice(flag: np.ndarray, if_true: str, if_false: str) -> Any:
    """``if_true`` where ``flag`` else ``if_false``, as a string column (two values converted)."""
    return LegText(np.array([if_false, if_true], dtype=object)).take(flag.astype(np.int64))


def text_constant(value: str, n: int) -> Any:
    """``value`` ``n`` times as a string column (no rows: an empty object column, as a frame
    built from an empty object array has)."""
    if n == 0:
        return np.empty(0, dtype=object)
    return LegText(np.array([value], dtype=object)).take(np.zeros(n, dtype=np.int64))


def nullable_int(values: np.ndarray) -> Any:
    """Float values (nan: unknown) as pandas' nullable Int64, as ``astype("Int64")`` gives."""
    return pd.Series(np.asarray(values, dtype=float), copy=False).astype("Int64").array


def none_for_nan_dicts(values: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
    """One ``{name: value or None}`` per row of ``values`` (rows x names): None, not nan.

    Column-wise conversion to Python objects, then one dict display per row for the five
    confidence components (about three times faster than ``dict(zip(...))``; the row loop
    is the floor here: it allocates the dicts the caller asked for).
    """
    cols = []
    for j in range(len(names)):
        cells = values[:, j].astype(object)
        cells[np.isnan(values[:, j])] = None
        cols.append(cells.tolist())
    if len(names) != 5:
        return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]
    a, b, c, d, e = names
    return [{a: v, b: w, c: x, d: y, e: z} for v, w, x, y, z in zip(*cols, strict=True)]
