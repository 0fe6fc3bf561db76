"""Many order books as padded arrays, so walks run for many pairs in one numpy call.

Why: the engine needs the same four walks (ask/bid of each leg) for thousands of pairs, and a
bisection over notional per pair for the slippage limit. Building one padded (books x levels)
array per side once, then indexing rows, keeps the per-pair work free of Python loops. The
only loop is the one that converts each ``OrderBook`` to canonical arrays, once per book.

The walk here is the same arithmetic as ``costs.walk_book`` (a test checks they agree).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scanner.domain import OrderBook
from strategies.costs import Side, as_levels, side_slippage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SideTable:
    """One side (asks or bids) of B books, padded to L levels.

    ``cum_notional`` is padded with +inf so a padded level never counts as consumed;
    ``depth`` is each book's total notional on this side (0 for an empty side).
    """

    price: np.ndarray  # (B, L), nan padded
    cum_notional: np.ndarray  # (B, L), +inf padded
    cum_qty: np.ndarray  # (B, L), +inf padded
    n_levels: np.ndarray  # (B,)
    depth: np.ndarray  # (B,)
    total_qty: np.ndarray  # (B,)

    @classmethod
    def build(cls, sides: Sequence[np.ndarray]) -> SideTable:
        n_books = len(sides)
        width = max((s.shape[0] for s in sides), default=0) or 1
        price = np.full((n_books, width), np.nan)
        cum_n = np.full((n_books, width), np.inf)
        cum_q = np.full((n_books, width), np.inf)
        n_levels = np.zeros(n_books, dtype=np.int64)
        for i, lv in enumerate(sides):
            n = lv.shape[0]
            n_levels[i] = n
            if n:
                price[i, :n] = lv[:, 0]
                cum_n[i, :n] = np.cumsum(lv[:, 0] * lv[:, 1])
                cum_q[i, :n] = np.cumsum(lv[:, 1])
        last = np.maximum(n_levels - 1, 0)
        rows = np.arange(n_books)
        depth = np.where(n_levels > 0, cum_n[rows, last], 0.0)
        total_qty = np.where(n_levels > 0, cum_q[rows, last], 0.0)
        return cls(price, cum_n, cum_q, n_levels, depth, total_qty)

    def notional_where(self, mask: np.ndarray) -> np.ndarray:
        """Per book, the USD notional of the levels selected by the (B, L) ``mask``."""
        cum = np.where(np.isfinite(self.cum_notional), self.cum_notional, np.nan)
        level = np.diff(cum, axis=1, prepend=0.0)
        return np.where(mask & ~np.isnan(level), level, 0.0).sum(axis=1)

    def walk(self, rows: np.ndarray, notional_usd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vwap, filled notional) of taking ``notional_usd[i]`` from book ``rows[i]``.

        Same conventions as ``costs.walk_book``: a too-thin book is taken whole, notional 0
        gives the best price, an empty side gives nan.
        """
        rows = np.asarray(rows, dtype=np.int64)
        want = np.broadcast_to(np.asarray(notional_usd, dtype=float), rows.shape)
        cum_n = self.cum_notional[rows]
        k = (cum_n < want[:, None]).sum(axis=1)
        n_lv = self.n_levels[rows]
        full = k >= n_lv
        kk = np.minimum(k, np.maximum(n_lv - 1, 0))
        prev = np.maximum(kk - 1, 0)
        has_prev = kk > 0
        idx = np.arange(rows.size)
        prev_n = np.where(has_prev, cum_n[idx, prev], 0.0)
        prev_q = np.where(has_prev, self.cum_qty[rows, prev], 0.0)
        p_k = self.price[rows, kk]
        with np.errstate(divide="ignore", invalid="ignore"):
            partial_vwap = want / (prev_q + (want - prev_n) / p_k)
            full_vwap = self.depth[rows] / self.total_qty[rows]
        vwap = np.where(full, full_vwap, partial_vwap)
        vwap = np.where((want <= 0) & (n_lv > 0), self.price[rows, 0], vwap)
        vwap = np.where(n_lv == 0, np.nan, vwap)
        filled = np.where(full, self.depth[rows], np.maximum(want, 0.0))
        return vwap, filled


@dataclass(frozen=True, slots=True)
class BookTable:
    """Asks and bids of B books in canonical units, with their mids and best prices.

    ``depth_band`` holds, per side, the USD notional within the configured band of mid (used
    by the liquidity component of confidence).
    """

    asks: SideTable
    bids: SideTable
    mid: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    ts_ms: np.ndarray
    ask_band: np.ndarray
    bid_band: np.ndarray

    @classmethod
    def build(cls, books: Sequence[OrderBook], band_frac: float) -> BookTable:
        asks = [as_levels(b.canonical_side("asks")) for b in books]
        bids = [as_levels(b.canonical_side("bids")) for b in books]
        asks = [a[np.argsort(a[:, 0], kind="stable")] for a in asks]
        bids = [b[np.argsort(-b[:, 0], kind="stable")] for b in bids]
        best_ask = np.array([a[0, 0] if a.shape[0] else np.nan for a in asks])
        best_bid = np.array([b[0, 0] if b.shape[0] else np.nan for b in bids])
        crossed = best_bid >= best_ask
        for book in (b for b, bad in zip(books, crossed, strict=True) if bad):
            log.warning("ignoring crossed book %s %s", book.venue, book.venue_symbol)
        # a crossed or one-sided book has no usable mid: the engine treats it as missing
        mid = np.where(crossed, np.nan, (best_ask + best_bid) / 2.0)
        ask_table, bid_table = SideTable.build(asks), SideTable.build(bids)
        ask_band = ask_table.notional_where(ask_table.price <= (mid * (1 + band_frac))[:, None])
        bid_band = bid_table.notional_where(bid_table.price >= (mid * (1 - band_frac))[:, None])
        ask_band = np.where(np.isnan(mid), np.nan, ask_band)
        bid_band = np.where(np.isnan(mid), np.nan, bid_band)
        ts = np.array([float(b.ts_ms) for b in books])
        return cls(ask_table, bid_table, mid, best_bid, best_ask, ts, ask_band, bid_band)

    def slippage(self, side: Side, rows: np.ndarray, notional_usd: np.ndarray) -> np.ndarray:
        """Slippage fraction of a ``side`` order per row; nan where ``rows`` is -1 (no book)."""
        rows = np.asarray(rows, dtype=np.int64)
        ok = rows >= 0
        safe = np.where(ok, rows, 0)
        if self.mid.size == 0:
            return np.full(rows.shape, np.nan)
        table = self.asks if side == "buy" else self.bids
        vwap, _ = table.walk(safe, notional_usd)
        return np.where(ok, side_slippage(vwap, self.mid[safe], side), np.nan)

    def gather(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``values[rows]`` with nan where ``rows`` is -1."""
        rows = np.asarray(rows, dtype=np.int64)
        if values.size == 0:
            return np.full(rows.shape, np.nan)
        return np.where(rows >= 0, values[np.where(rows >= 0, rows, 0)], np.nan)

    def pair_slippage(self, la: np.ndarray, sb: np.ndarray, notional: np.ndarray) -> np.ndarray:
        """Round-trip slippage of long on book ``la`` / short on book ``sb``, per pair:
        entry buys la's asks and sells sb's bids, exit sells la's bids and buys sb's asks."""
        return (
            self.slippage("buy", la, notional) + self.slippage("sell", sb, notional)
            + self.slippage("sell", la, notional) + self.slippage("buy", sb, notional)
        )  # fmt: skip

    def max_pair_notional(
        self, la: np.ndarray, sb: np.ndarray, hi: np.ndarray, limit: float, iterations: int = 60
    ) -> np.ndarray:
        """Largest notional in [0, hi] whose round-trip slippage is <= ``limit``, per pair.

        Bisection, vectorised over pairs: the round trip is a sum of four walks, each
        non-decreasing in size, so there is no closed form but the search is monotone.
        60 halvings bring the bracket to hi * 2**-60. nan where ``hi`` is nan (no book).
        """
        ok = ~np.isnan(hi)
        la, sb, top = la[ok], sb[ok], hi[ok]
        fits_all = self.pair_slippage(la, sb, top) <= limit
        fits_any = self.pair_slippage(la, sb, np.zeros_like(top)) <= limit
        lo, up = np.zeros_like(top), top.copy()
        for _ in range(iterations):
            mid = (lo + up) / 2.0
            good = self.pair_slippage(la, sb, mid) <= limit
            lo, up = np.where(good, mid, lo), np.where(good, up, mid)
        out = np.full(hi.shape, np.nan)
        out[ok] = np.where(fits_all, top, np.where(fits_any, lo, 0.0))
        return out
