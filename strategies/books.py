"""Many order books as padded arrays, so walks run for many pairs in one numpy call.

Why: the engine needs the same four walks (ask/bid of each leg) for thousands of pairs, and the
largest notional within the slippage limit per pair. ``BookTable.build`` turns every book's
level arrays into one flat array (``numpy.concatenate``: books hold (n, 2) arrays), rescales
them to canonical units and pads them with ``kernels.pad_side``: no per-book numpy calls
beyond the concatenation, no per-level Python. The arithmetic lives in ``strategies.kernels``;
these classes only hold the arrays and name the sides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scanner.domain import OrderBook
from strategies import kernels
from strategies.costs import Side, as_levels

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SideTable:
    """One side (asks or bids) of B books, padded to L levels (``kernels.SideArrays``).

    ``depth`` is each book's total notional on this side (0 for an empty side).
    """

    arrays: kernels.SideArrays
    depth: np.ndarray  # (B,)
    total_qty: np.ndarray  # (B,)

    @property
    def price(self) -> np.ndarray:
        return self.arrays.price

    @property
    def cum_notional(self) -> np.ndarray:
        return self.arrays.cum_notional

    @property
    def n_levels(self) -> np.ndarray:
        return self.arrays.n_levels

    @classmethod
    def of(cls, arrays: kernels.SideArrays) -> SideTable:
        depth, total_qty = kernels.side_depth(arrays)
        return cls(arrays, depth, total_qty)

    @classmethod
    def build(cls, sides: Sequence[np.ndarray], descending: bool = False) -> SideTable:
        """From one (n, 2) array of (price, qty) per book; asks unless ``descending``."""
        levels = [as_levels(s) for s in sides]
        book_id = np.repeat(np.arange(len(levels)), [lv.shape[0] for lv in levels])
        flat = np.concatenate(levels) if levels else np.empty((0, 2))
        return cls.of(kernels.pad_side(book_id, flat[:, 0], flat[:, 1], len(levels), descending))

    def walk(self, rows: np.ndarray, notional_usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vwap, filled notional) of taking ``notional_usd[i]`` from book ``rows[i]``."""
        return kernels.walk(self.arrays, rows, notional_usd)


def _flat_side(
    sides: list[np.ndarray], price_div: np.ndarray, qty_mul: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``pad_sides``' arguments for one side of every book: (book index per level, canonical
    price, canonical quantity, descending).

    Every side is already an (n, 2) float64 array (``OrderBook`` holds its levels so): one
    ``numpy.concatenate``, no per-level Python; each book's divisor and factor are repeated
    over its levels (the same operations as ``OrderBook.canonical_side``).
    """
    counts = np.fromiter(map(len, sides), dtype=np.int64, count=len(sides))
    levels = np.concatenate(sides) if sides else np.empty((0, 2))
    book_id = np.repeat(np.arange(len(sides)), counts)
    price = levels[:, 0] / np.repeat(price_div, counts)
    qty = levels[:, 1] * np.repeat(qty_mul, counts)
    return book_id, price, qty, descending


@dataclass(frozen=True, slots=True)
class BookTable:
    """Asks and bids of B books in canonical units, with their mids and best prices.

    ``ask_band``/``bid_band`` hold the USD notional within the configured band of mid (used by
    the liquidity component of confidence).
    """

    asks: SideTable
    bids: SideTable
    mid: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    ts_ms: np.ndarray
    ask_band: np.ndarray
    bid_band: np.ndarray
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Answers derived from these books alone (stacked sides, per-book slippage, solved pair
    notionals), kept for the next snapshot that uses the same table (a replay: see
    ``BookTableCache``). Entries are replaced whole, never edited in place."""

    @classmethod
    def build(cls, books: Sequence[OrderBook], band_frac: float) -> BookTable:
        n = len(books)
        mult = np.array([b.multiplier for b in books], dtype=float)
        qty_mul = np.array([b.contract_size for b in books], dtype=float) * mult
        flat = [
            _flat_side([b.asks for b in books], mult, qty_mul, False),
            _flat_side([b.bids for b in books], mult, qty_mul, True),
        ]
        stacked = kernels.pad_sides(flat, n)  # asks and bids, as the solver reads them
        ask_table, bid_table = (SideTable.of(side) for side in stacked.sides)
        best_ask = np.where(ask_table.n_levels > 0, ask_table.price[:, 0], np.nan)
        best_bid = np.where(bid_table.n_levels > 0, bid_table.price[:, 0], np.nan)
        with np.errstate(invalid="ignore"):
            crossed = best_bid >= best_ask
        for i in np.flatnonzero(crossed):
            log.warning(
                "ignoring crossed book %s %s", books[int(i)].venue, books[int(i)].venue_symbol
            )
        # a crossed or one-sided book has no usable mid: the engine treats it as missing
        mid = np.where(crossed, np.nan, (best_ask + best_bid) / 2.0)
        ask_band = kernels.band_notional(ask_table.arrays, mid * (1 + band_frac), buy=True)
        bid_band = kernels.band_notional(bid_table.arrays, mid * (1 - band_frac), buy=False)
        ask_band = np.where(np.isnan(mid), np.nan, ask_band)
        bid_band = np.where(np.isnan(mid), np.nan, bid_band)
        ts = np.array([b.ts_ms for b in books], dtype=float).reshape(n)
        table = cls(ask_table, bid_table, mid, best_bid, best_ask, ts, ask_band, bid_band)
        table.memo["stacked"] = stacked
        return table

    def slippage(self, side: Side, rows: np.ndarray, notional_usd: np.ndarray) -> np.ndarray:
        """Slippage fraction of a ``side`` order per row; nan where ``rows`` is -1 (no book)."""
        rows = np.asarray(rows, dtype=np.int64)
        ok = rows >= 0
        safe = np.where(ok, rows, 0)
        if self.mid.size == 0:
            return np.full(rows.shape, np.nan)
        table = self.asks if side == "buy" else self.bids
        vwap, _ = table.walk(safe, notional_usd)
        return np.where(ok, kernels.side_slippage(vwap, self.mid[safe], side), np.nan)

    def gather(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``values[rows]`` with nan where ``rows`` is -1."""
        rows = np.asarray(rows, dtype=np.int64)
        if values.size == 0:
            return np.full(rows.shape, np.nan)
        return np.where(rows >= 0, values[np.where(rows >= 0, rows, 0)], np.nan)

    def round_trip_walks(self, la: np.ndarray, sb: np.ndarray) -> list[kernels.Walk]:
        """The four walks of long on book ``la`` / short on book ``sb`` (rows >= 0): entry buys
        la's asks and sells sb's bids, exit sells la's bids and buys sb's asks."""
        a, b = self.asks.arrays, self.bids.arrays
        return [
            kernels.Walk(a, la, self.mid[la], True), kernels.Walk(b, sb, self.mid[sb], False),
            kernels.Walk(b, la, self.mid[la], False), kernels.Walk(a, sb, self.mid[sb], True),
        ]  # fmt: skip

    def pair_slippage(self, la: np.ndarray, sb: np.ndarray, notional: np.ndarray) -> np.ndarray:
        """Round-trip slippage of long on book ``la`` / short on book ``sb``, per pair."""
        return kernels.total_slippage(self.round_trip_walks(la, sb), notional)

    def book_slippage(self, side: Side, notional_usd: float) -> np.ndarray:
        """Slippage fraction of a ``side`` order of ``notional_usd`` on every book (memoised)."""
        key = ("slippage", side, notional_usd)
        found = self.memo.get(key)
        if found is None:
            every = np.arange(self.mid.size)
            found = self.slippage(side, every, np.full(every.size, notional_usd))
            self.memo[key] = found
        return found  # type: ignore[no-any-return]

    def max_pair_notional(
        self, la: np.ndarray, sb: np.ndarray, hi: np.ndarray, limit: float
    ) -> np.ndarray:
        """Largest notional in [0, hi] whose round-trip slippage is <= ``limit``, per pair.

        ``kernels.max_notional_within`` over the four walks: exact from the cumulative depth
        (no bisection). nan where ``hi`` is nan (no book). A pair solved before on this table
        with the same ``hi`` and ``limit`` is looked up, not solved again: the answer depends
        on the books alone, and a replay asks for the same pairs snapshot after snapshot.
        """
        ok = ~np.isnan(hi)
        out = np.full(hi.shape, np.nan)
        if ok.any():
            out[ok] = self._solved_pairs(la[ok], sb[ok], hi[ok], float(limit))
        return out

    def _solved_pairs(
        self, la: np.ndarray, sb: np.ndarray, hi: np.ndarray, limit: float
    ) -> np.ndarray:
        keys = la.astype(np.int64) * max(self.mid.size, 1) + sb
        known = self.memo.get(("max_notional", limit))
        out = np.empty(keys.size)
        hit = np.zeros(keys.size, dtype=bool)
        if known is not None:
            k_keys, k_hi, k_values = known
            pos = np.minimum(np.searchsorted(k_keys, keys), k_keys.size - 1)
            hit = (k_keys[pos] == keys) & (k_hi[pos] == hi)
            out[hit] = k_values[pos[hit]]
        miss = ~hit
        if miss.any():
            if "stacked" not in self.memo:
                self.memo["stacked"] = kernels.stack_sides([self.asks.arrays, self.bids.arrays])
            walks = self.round_trip_walks(la[miss], sb[miss])
            out[miss] = kernels.max_notional_within(
                walks, hi[miss], limit, stacked=self.memo["stacked"]
            )
            self.memo[("max_notional", limit)] = _merged(known, keys[miss], hi[miss], out[miss])
        return out


def _merged(
    known: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    keys: np.ndarray,
    hi: np.ndarray,
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``known`` (keys sorted) with the new answers added; a new answer replaces an old one."""
    if known is not None:
        keys = np.concatenate([known[0], keys])
        hi = np.concatenate([known[1], hi])
        values = np.concatenate([known[2], values])
    order = np.lexsort((np.arange(keys.size), keys))  # by key, the newest last
    keys, hi, values = keys[order], hi[order], values[order]
    last = np.ones(keys.size, dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return keys[last], hi[last], values[last]


class BookTableCache:
    """The last ``BookTable`` built, reused while the same book objects come back.

    Why: a replay ranks hundreds of snapshots against books that do not change between them
    (book history is sparse), and padding thousands of book sides and solving every pair's
    notional again would be most of a snapshot. ``OrderBook`` is frozen (its level arrays
    read-only), so the same objects in the same order mean the same table; anything else
    rebuilds. One entry: a live scan's books are new every time.
    """

    def __init__(self) -> None:
        # one tuple, replaced whole: a concurrent reader sees an old or a new entry, never a mix
        self._entry: tuple[tuple[OrderBook, ...], float, BookTable] | None = None

    def build(self, books: Sequence[OrderBook], band_frac: float) -> BookTable:
        entry = self._entry
        if entry is not None:
            old_books, old_band, table = entry
            same = (
                band_frac == old_band and len(books) == len(old_books)
                and all(a is b for a, b in zip(books, old_books, strict=True))
            )  # fmt: skip
            if same:
                return table
        table = BookTable.build(books, band_frac)
        self._entry = (tuple(books), band_frac, table)
        return table
