"""The spread engine: one moment's funding quotes -> ranked, cost-aware opportunities.

The money math is docs/design.md section 4. Sign convention: a positive rate means longs pay
shorts. For a pair "long a, short b" the funding earned per hour per unit notional is
``d = r_b/h_b - r_a/h_a`` (rates per interval, intervals in hours, never assumed 8 h); only
``d > 0`` is an opportunity. Everything is vectorised over pairs: quotes are self-merged on
the base asset and every column is numpy arithmetic on gathered arrays, through the public
array kernels of ``strategies.kernels`` (the backtester uses the same ones); books become
padded arrays in one pass (``books.BookTable``).

Decisions documented here (callers rely on them):

- Which quotes enter (``quotes_frame``): live quotes (``is_settled`` False) whose canonical id
  has the perpetual form ``BASE/QUOTE:SETTLE`` (ccxt dated futures carry a ``-YYMMDD`` suffix,
  spot has no ``:SETTLE``), and, when an ``instruments`` mapping is given, whose instrument is
  ``Kind.PERPETUAL``. Inverse perps (settled in the base coin, ``BTC/USD:BTC``) are left out:
  their books count USD contracts and their margin moves with the coin, so their numbers are
  not comparable with linear legs. One row per venue x canonical (the newest ``ts_ms`` wins).
- Pairs match on the base asset, so ``PEPE/USDT:USDT`` pairs with ``PEPE/USDC:USDC``
  (``settle_mismatch`` True). Prices are compared only after ``OrderBook.canonical_side``
  rescales multipliers (1000PEPE, kPEPE, OKX ctVal, Gate quanto). ``symbol`` is the canonical
  of the short (perp) leg; ``long_canonical``/``short_canonical`` name both.
- Costs: ``fee_frac = 2 (f_a + f_b)`` taker fees; ``slippage_frac`` is the sum of four book
  walks for ``notional_usd``, each relative to its own book's mid: entry buys a's asks and
  sells b's bids, exit (estimated on today's book) sells a's bids and buys b's asks.
- Every listing is priced at least by its top of book: ``top_of_book_books`` turns the quotes'
  bulk-ticker best bid/ask (with sizes) into one-level books, used for every leg without a full
  book (``top_only``: ``book_top_only`` True). A one-level book whose size covers the notional
  on all four walks prices the pair exactly (a full walk would stop at that level too); its
  ``max_notional_within_slippage_usd`` is nan (the depth behind the top is unknown).
- ``cost_measured``: every walk covered the notional. Then ``net_apr`` is exact and
  ``net_apr_upper`` nan. Otherwise the cost is a lower bound and the figure is an upper bound:
  ``net_apr`` is nan and ``net_apr_upper`` holds it; such rows rank after every measured row.
  That happens when a leg has no book at all (``book_missing``: ``slippage_frac`` nan, cost =
  fees only), when a full book is too thin for the notional (``book_thin``: the slippage of
  taking the whole visible book), or when a top of book alone is smaller than the notional
  (the depth behind it is unknown). None of these is ``executable``, which also needs the
  legs' canonical prices (mark / multiplier; a spot leg's mid) within ``max_price_gap_frac``
  of each other (``price_mismatch``: two tokens sharing a ticker), and the total slippage
  within ``max_slippage_bps``. ``max_notional_usd``: the largest notional all four walks can
  fill; ``max_notional_within_slippage_usd``: the largest whose total slippage stays within
  ``max_slippage_bps`` (exact from the cumulative depth, ``kernels.max_notional_within``).
- Settlement alignment, per unit notional, assuming the current rates are the ones settled:
  ``funding_to_next_long = -r_a`` (what the long pays at T_a), ``funding_to_next_short = +r_b``
  (what the short receives at T_b); ``first_cycle_h = (max(T_a, T_b) - now)`` in hours, and
  ``collected_first_cycle = n_b r_b - n_a r_a`` where ``n_v = floor((max(T_a,T_b) - T_v) / h_v)
  + 1`` counts leg v's settlements in (now, max(T_a, T_b)]. ``interval_mismatch`` flags
  different intervals. Unknown next settlement times give nan.
- Same-venue carry: spot long + perp short on the venue of the spot book (Bybit in practice).
  ``spot_books`` maps the spot canonical id (``PEPE/USDT``) to that venue's spot book; the
  long venue is ``"<venue>-spot"`` (fee key too), its rate 0 and interval nan; a carry row
  exists only where a spot book was given.
- Basis: ``(best_bid_b - best_ask_a) / mean(mid_a, mid_b)`` in canonical prices; nan
  without both books. ``confidence`` parameter: the history frame described in
  ``strategies.confidence`` (None: the history components and the total are None).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from scanner.domain import (
    OPPORTUNITY_COLUMNS,
    OPPORTUNITY_SCHEMA,
    ColumnSpec,
    FundingQuote,
    Instrument,
    Kind,
    Opportunity,
    OrderBook,
    pair_key,
)
from scanner.gcpause import gc_paused
from scanner.units import MS_PER_H
from strategies import confidence as conf
from strategies import kernels
from strategies.books import BookTable, BookTableCache
from strategies.columns import LegText, none_for_nan_dicts, nullable_int, text_choice, text_constant
from strategies.costs import BPS, FeeSchedule
from strategies.pairs import matching_pairs, same_group_pairs

log = logging.getLogger(__name__)

_BOOK_TABLES = BookTableCache()  # the same books twice (a replay) are converted once
_PERP = re.compile(r"^(?P<base>[^/:\s]+)/(?P<quote>[^/:\s]+):(?P<settle>[A-Za-z0-9]+)$")

QUOTE_COLUMNS: tuple[str, ...] = (
    "venue", "venue_symbol", "canonical", "base", "quote", "settle", "rate_per_interval",
    "interval_h", "rate_per_h", "next_funding_ms", "ts_ms", "mark_price", "index_price",
    "multiplier",
)  # fmt: skip
OUTPUT_COLUMNS: tuple[str, ...] = OPPORTUNITY_COLUMNS
"""The engine's columns are the opportunity schema's (``scanner.domain.Opportunity``)."""


@dataclass(frozen=True, slots=True)
class EngineParams:
    """Knobs of one scan; the CLI builds it from ``settings.engine`` (``from_settings``)."""

    notional_usd: float = 10_000.0
    horizon_h: float = 72.0
    max_slippage_bps: float = 30.0
    min_net_apr: float = 0.0
    include_carry: bool = True
    lookback_h: float = 7 * 24.0
    persistence_points: int = 24
    min_history_points: int = conf.MIN_POINTS_DEFAULT
    stale_after_s: float = 120.0
    depth_band_bps: float = 10.0
    confidence_weights: conf.ConfidenceWeights = field(default_factory=conf.ConfidenceWeights)
    max_price_gap_frac: float = 0.05

    def __post_init__(self) -> None:
        for name in ("notional_usd", "horizon_h", "max_slippage_bps", "stale_after_s",
                     "depth_band_bps", "lookback_h", "max_price_gap_frac"):  # fmt: skip
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"EngineParams.{name} must be a finite number > 0; got {value!r}")
        if self.persistence_points < 2:
            raise ValueError(
                f"EngineParams.persistence_points must be >= 2; got {self.persistence_points}"
            )
        if self.min_history_points < 2:
            raise ValueError(
                f"EngineParams.min_history_points must be >= 2; got {self.min_history_points}"
            )

    @classmethod
    def from_settings(cls, engine: Any) -> EngineParams:
        """From ``settings.engine`` (duck-typed: strategies never import scanner.settings)."""
        names = ("notional_usd", "horizon_h", "max_slippage_bps", "min_net_apr", "include_carry",
                 "lookback_h", "persistence_points", "stale_after_s", "depth_band_bps",
                 "max_price_gap_frac")  # fmt: skip
        values = {n: getattr(engine, n) for n in names}
        values["min_history_points"] = getattr(
            engine, "min_history_points", conf.MIN_POINTS_DEFAULT
        )
        weights = conf.ConfidenceWeights.from_any(engine.confidence_weights)
        return cls(**values, confidence_weights=weights)


def perp_parts(canonical: str) -> tuple[str, str, str] | None:
    """(base, quote, settle) of a linear perpetual's canonical id, else None (dated, spot,
    inverse: the contracts that never enter the engine)."""
    match = _PERP.match(canonical)
    if match is None:
        return None  # dated future or spot: never enters
    if match["settle"] == match["base"]:
        return None  # inverse (coin-margined): USD-sized contracts, margin in the coin itself
    return match["base"], match["quote"], match["settle"]


def _tradable(
    quotes: Sequence[FundingQuote], instruments: Mapping[tuple[str, str], Instrument] | None
) -> np.ndarray:
    """Per quote: False where its instrument is known and dated or inactive."""
    if instruments is None:
        return np.ones(len(quotes), dtype=bool)
    out = np.ones(len(quotes), dtype=bool)
    for i, q in enumerate(quotes):
        inst = instruments.get((q.venue, q.venue_symbol))
        if inst is not None and (inst.kind is not Kind.PERPETUAL or not inst.active):
            out[i] = False  # dated, or delisting / not trading: a trade that cannot be opened
    return out


_QUOTE_FIELDS: tuple[str, ...] = (
    "venue", "venue_symbol", "canonical", "rate_per_interval", "interval_h", "next_funding_ms",
    "ts_ms", "mark_price", "index_price", "multiplier", "is_settled",
)  # fmt: skip


def _fields(quotes: Sequence[FundingQuote]) -> dict[str, list[Any]]:
    """The attributes the frame needs, one list per attribute (no tuple per quote)."""
    return {name: list(map(attrgetter(name), quotes)) for name in _QUOTE_FIELDS}


def quotes_frame(
    quotes: Sequence[FundingQuote],
    instruments: Mapping[tuple[str, str], Instrument] | None = None,
) -> pd.DataFrame:
    """One row per venue x canonical perpetual, columns ``QUOTE_COLUMNS``.

    ``instruments`` (optional, keyed by (venue, venue_symbol)) lets a venue's own contract
    type exclude dated futures whose canonical id looks perpetual, and drops contracts the
    venue marks inactive (delisting, settling): they cannot be opened, and their funding is
    often extreme, so they would otherwise top the ranking. Column-wise: one pass over the
    quotes, one regex match per distinct canonical id; the newest quote per venue x canonical
    (the last one on equal ``ts_ms``) is found with one lexsort, and the frame is built once.
    """
    col = _fields(quotes)
    canonical = _Codes(col["canonical"])  # a few hundred distinct ids among thousands
    parts = [perp_parts(c) for c in canonical.values]  # per distinct id
    rate = np.array(col["rate_per_interval"], dtype=float)
    interval = np.array(col["interval_h"], dtype=float)
    keep = np.array([p is not None for p in parts], dtype=bool)[canonical.codes]
    keep &= ~np.array(col["is_settled"], dtype=bool) & _tradable(quotes, instruments)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(rate) & (interval > 0)
    for i in np.flatnonzero(keep & ~usable):
        q = quotes[int(i)]
        log.warning(
            "dropping %s %s: rate %r / interval_h %r not usable",
            q.venue, q.venue_symbol, q.rate_per_interval, q.interval_h,
        )  # fmt: skip
    keep &= usable
    venue = _Codes(col["venue"])
    ts = np.array(col["ts_ms"], dtype=np.int64)
    idx = _newest_per_venue_and_canonical(np.flatnonzero(keep), venue.codes, canonical.codes, ts)
    c_idx = canonical.codes[idx]
    split = [p or ("", "", "") for p in parts]
    base, quote, settle = (
        LegText(np.array([p[i] for p in split], dtype=object)).take(c_idx) for i in range(3)
    )
    return pd.DataFrame(
        {
            "venue": LegText(venue.values).take(venue.codes[idx]),
            "venue_symbol": np.array(col["venue_symbol"], dtype=object)[idx],
            "canonical": LegText(canonical.values).take(c_idx),
            "base": base, "quote": quote, "settle": settle,
            "rate_per_interval": rate[idx], "interval_h": interval[idx],
            "rate_per_h": kernels.rate_per_h(rate[idx], interval[idx]),
            "next_funding_ms": np.array(col["next_funding_ms"], dtype=float)[idx],
            "ts_ms": ts[idx],
            "mark_price": np.array(col["mark_price"], dtype=float)[idx],
            "index_price": np.array(col["index_price"], dtype=float)[idx],
            "multiplier": np.array(col["multiplier"], dtype=float)[idx],
        },
        columns=list(QUOTE_COLUMNS),
    )  # fmt: skip


class _Codes:
    """Distinct values in code-point order (as pandas sorts strings) and each item's code."""

    def __init__(self, items: Sequence[Any]) -> None:
        values = sorted(set(items))
        code = {v: i for i, v in enumerate(values)}
        self.values = np.array(values, dtype=object)
        self.codes = np.array([code[v] for v in items], dtype=np.int64)


def _newest_per_venue_and_canonical(
    rows: np.ndarray, venue_code: np.ndarray, canonical_code: np.ndarray, ts_ms: np.ndarray
) -> np.ndarray:
    """Of ``rows``, the newest per (venue, canonical), the later row on a tie; ordered by
    canonical, then venue (the codes' order)."""
    if rows.size == 0:
        return rows
    c_code, v_code = canonical_code[rows], venue_code[rows]
    order = np.lexsort((np.arange(rows.size), ts_ms[rows], v_code, c_code))
    c_sorted, v_sorted = c_code[order], v_code[order]
    last = np.ones(rows.size, dtype=bool)  # the last of each (canonical, venue) run
    last[:-1] = (c_sorted[1:] != c_sorted[:-1]) | (v_sorted[1:] != v_sorted[:-1])
    return rows[order[last]]


def all_pairs(quotes: pd.DataFrame) -> pd.DataFrame:
    """Every ordered cross-venue pair of the same base asset: long_pos, short_pos, diff_per_h.

    Positions index ``quotes`` rows; both orientations are present, so ``diff_per_h`` of
    (a, b) is minus that of (b, a).
    """
    _require(quotes, QUOTE_COLUMNS, "quotes frame")
    long_pos, short_pos = same_group_pairs(quotes["base"].to_numpy(dtype=object))
    rph = quotes["rate_per_h"].to_numpy(dtype=float)
    return pd.DataFrame(
        {"long_pos": long_pos, "short_pos": short_pos, "diff_per_h": rph[short_pos] - rph[long_pos]}
    )


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; build it with quotes_frame()")


def select_book_candidates(quotes: pd.DataFrame, top_n: int) -> list[tuple[str, str]]:
    """(venue, venue_symbol) legs of the ``top_n`` best cross pairs by gross differential.

    The collector fetches books only for these. Carry pairs are not included: spot books are
    a separate fetch. Order: best pair first, each leg once.
    """
    pairs = all_pairs(quotes)
    pairs = pairs[pairs["diff_per_h"] > 0].sort_values("diff_per_h", ascending=False, kind="stable")
    pairs = pairs.head(max(top_n, 0))
    legs = np.column_stack([pairs["long_pos"], pairs["short_pos"]]).ravel()
    _, first = np.unique(legs, return_index=True)
    ordered = legs[np.sort(first)]
    venues = quotes["venue"].to_numpy()
    symbols = quotes["venue_symbol"].to_numpy()
    return [(str(venues[i]), str(symbols[i])) for i in ordered]


@dataclass(frozen=True, slots=True)
class _Legs:
    """Every leg a pair can use: the perp quotes, then one spot leg per spot book."""

    fee_venue: np.ndarray
    venue: np.ndarray
    symbol: np.ndarray
    canonical: np.ndarray
    settle: np.ndarray
    rate: np.ndarray
    interval_h: np.ndarray
    rate_per_h: np.ndarray
    next_ms: np.ndarray
    ts_ms: np.ndarray
    book_row: np.ndarray
    is_spot: np.ndarray
    top_only: np.ndarray
    """The leg's book is its top of book only (one level from the bulk ticker)."""
    price: np.ndarray
    """Canonical reference price: a perp's mark / multiplier, a spot leg's book mid."""
    text: dict[str, LegText]
    """``fee_venue``, ``venue``, ``symbol``, ``canonical`` in the output's string dtype."""


def top_of_book_books(
    quotes: Sequence[FundingQuote], contract_sizes: Mapping[tuple[str, str], float]
) -> dict[tuple[str, str], OrderBook]:
    """One-level books from the quotes' top of book (bulk tickers), keyed (venue, symbol).

    ``contract_sizes``: venue base units per contract per (venue, venue_symbol) (OKX ctVal,
    Gate quanto); 1 where absent. Quotes without a complete top of book give no book.
    """
    out: dict[tuple[str, str], OrderBook] = {}
    for q in quotes:
        if not q.has_top_of_book:
            continue
        key = (q.venue, q.venue_symbol)
        out[key] = OrderBook(
            venue=q.venue,
            venue_symbol=q.venue_symbol,
            canonical=q.canonical,
            bids=np.array([(float(q.bid_price or 0), float(q.bid_qty or 0))]),
            asks=np.array([(float(q.ask_price or 0), float(q.ask_qty or 0))]),
            ts_ms=q.ts_ms,
            multiplier=q.multiplier,
            contract_size=float(contract_sizes.get(key, 1.0)),
        )
    return out


def _build_legs(
    quotes: pd.DataFrame, books: Mapping[tuple[str, str], OrderBook],
    spot_books: Mapping[str, OrderBook], band_frac: float,
    top_only: Collection[tuple[str, str]] = frozenset(),
) -> tuple[_Legs, BookTable]:  # fmt: skip
    venue = quotes["venue"].to_numpy(dtype=object)
    symbol = quotes["venue_symbol"].to_numpy(dtype=object)
    keys = list(zip(venue.tolist(), symbol.tolist(), strict=True))
    used = list(map(books.get, keys))
    has = np.array([b is not None for b in used], dtype=bool)
    top = np.zeros(len(keys), dtype=bool)
    if top_only:
        top = np.array([k in top_only for k in keys], dtype=bool) & has
    book_list = [b for b in used if b is not None]
    perp_rows = np.where(has, np.cumsum(has) - 1, -1).astype(np.int64)
    spot_keys = list(spot_books)
    spot_list = [spot_books[k] for k in spot_keys]
    n_spot = len(spot_list)
    table = _BOOK_TABLES.build(book_list + spot_list, band_frac)
    spot_venue = np.array([b.venue for b in spot_list], dtype=object)
    spot_settle = np.array([k.split("/")[-1] for k in spot_keys], dtype=object)
    nan_spot = np.full(n_spot, np.nan)

    def cat(perp: Any, spot: Any) -> np.ndarray:
        return np.concatenate([np.asarray(perp), np.asarray(spot)])

    spot_fee_venue = np.array([f"{v}-spot" for v in spot_venue], dtype=object)
    spot_symbol = np.array([b.venue_symbol for b in spot_list], dtype=object)
    spot_canonical = np.array(spot_keys, dtype=object)
    text = {  # the quotes frame's columns are in the output's dtype already
        "fee_venue": LegText.joined(quotes["venue"], spot_fee_venue),
        "venue": LegText.joined(quotes["venue"], spot_venue),
        "symbol": LegText.joined(quotes["venue_symbol"], spot_symbol),
        "canonical": LegText.joined(quotes["canonical"], spot_canonical),
    }
    legs = _Legs(
        fee_venue=cat(venue, spot_fee_venue),
        venue=cat(venue, spot_venue),
        symbol=cat(symbol, spot_symbol),
        canonical=cat(quotes["canonical"].to_numpy(dtype=object), spot_canonical),
        settle=cat(quotes["settle"].to_numpy(dtype=object), spot_settle),
        rate=cat(quotes["rate_per_interval"].to_numpy(float), np.zeros(n_spot)),
        interval_h=cat(quotes["interval_h"].to_numpy(float), nan_spot),
        rate_per_h=cat(quotes["rate_per_h"].to_numpy(float), np.zeros(n_spot)),
        next_ms=cat(quotes["next_funding_ms"].to_numpy(float), nan_spot),
        ts_ms=cat(quotes["ts_ms"].to_numpy(float), table.ts_ms[len(book_list) :]),
        book_row=cat(perp_rows, np.arange(len(book_list), len(book_list) + n_spot)),
        is_spot=cat(np.zeros(len(quotes), bool), np.ones(n_spot, bool)),
        top_only=cat(top.reshape(-1), np.zeros(n_spot, bool)),
        price=cat(
            quotes["mark_price"].to_numpy(float) / quotes["multiplier"].to_numpy(float),
            table.mid[len(book_list) :],
        ),
        text=text,
    )
    return legs, table


def _carry_pairs(quotes: pd.DataFrame, legs: _Legs) -> tuple[np.ndarray, np.ndarray]:
    """(long spot leg, short perp leg) positions for every perp with a same-venue spot book:
    spot legs in their order, each with its perps in theirs."""
    n_perp = len(quotes)
    spot_keys = list(zip(legs.venue[n_perp:].tolist(), legs.canonical[n_perp:].tolist(),
                         strict=True))  # fmt: skip
    if not spot_keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    venue = legs.venue[:n_perp]
    perp = np.flatnonzero(np.isin(venue, np.array(sorted({v for v, _ in spot_keys}), object)))
    base = quotes["base"].to_numpy(dtype=object)[perp].tolist()
    quote = quotes["quote"].to_numpy(dtype=object)[perp].tolist()
    perp_keys = [(v, f"{b}/{q}") for v, b, q in zip(venue[perp].tolist(), base, quote,
                                                    strict=True)]  # fmt: skip
    spot_i, perp_j = matching_pairs(spot_keys, perp_keys)
    return n_perp + spot_i, perp[perp_j]


def _alignment(legs: _Legs, lo: np.ndarray, sh: np.ndarray, now_ms: int) -> dict[str, np.ndarray]:
    t_a, t_b = legs.next_ms[lo], legs.next_ms[sh]
    # an unknown perp settlement time makes the cycle unknown (nan propagates); a spot leg
    # never settles, so a carry pair's cycle is its perp leg's
    t_end = np.where(legs.is_spot[lo], t_b, np.maximum(t_a, t_b))
    n_a = kernels.settlements_until(t_a, t_end, legs.interval_h[lo])
    n_b = kernels.settlements_until(t_b, t_end, legs.interval_h[sh])
    n_a = np.where(legs.is_spot[lo], 0.0, n_a)
    return {
        "long_next_funding_ms": t_a,
        "short_next_funding_ms": t_b,
        "funding_to_next_long": np.where(legs.is_spot[lo], 0.0, -legs.rate[lo]),
        "funding_to_next_short": legs.rate[sh],
        "first_cycle_h": (t_end - now_ms) / MS_PER_H,
        "collected_first_cycle": n_b * legs.rate[sh] - n_a * legs.rate[lo],
    }


def _costs(legs: _Legs, table: BookTable, lo: np.ndarray, sh: np.ndarray, fees: FeeSchedule,
           params: EngineParams) -> dict[str, np.ndarray]:  # fmt: skip
    """Every cost column but ``max_notional_within_slippage_usd`` (``_max_within``: it is the
    one that needs a solver, so it runs on the ranked rows only)."""
    n = params.notional_usd
    la, sb = legs.book_row[lo], legs.book_row[sh]
    slip = {side: table.book_slippage(side, n) for side in ("buy", "sell")}  # per book once
    slippage = (table.gather(slip["buy"], la) + table.gather(slip["sell"], sb)
                + table.gather(slip["sell"], la) + table.gather(slip["buy"], sb))  # fmt: skip
    missing = np.isnan(slippage)
    depth_a = np.fmin(table.gather(table.asks.depth, la), table.gather(table.bids.depth, la))
    depth_b = np.fmin(table.gather(table.bids.depth, sb), table.gather(table.asks.depth, sb))
    depth = np.where(missing, np.nan, np.fmin(depth_a, depth_b))
    top_a, top_b = legs.top_only[lo], legs.top_only[sh]
    short_a, short_b = ~missing & (depth_a < n), ~missing & (depth_b < n)
    # a full book shorter than the notional is thin; a top of book shorter is only unknown
    thin = (short_a & ~top_a) | (short_b & ~top_b)
    unknown = ((short_a & top_a) | (short_b & top_b)) & ~thin
    taker = fees.taker_array(legs.fee_venue)  # per leg, then gathered per pair
    fee = kernels.round_trip_fee_frac(taker[lo], taker[sh])
    limit = params.max_slippage_bps * BPS
    measured = ~missing & ~thin & ~unknown
    basis = kernels.basis_frac(
        table.gather(table.best_bid, sb), table.gather(table.best_ask, la),
        table.gather(table.mid, la), table.gather(table.mid, sb),
    )  # fmt: skip
    return {
        "fee_frac": fee,
        "slippage_frac": slippage,
        "cost_frac": fee + np.where(missing, 0.0, slippage),
        "basis_frac": basis,
        "book_missing": missing,
        "book_thin": thin,
        "book_top_only": ~missing & (top_a | top_b),
        "cost_measured": measured,
        "max_notional_usd": depth,
        "executable": measured & (np.nan_to_num(slippage, nan=np.inf) <= limit),
    }


def _max_within(legs: _Legs, table: BookTable, lo: np.ndarray, sh: np.ndarray,
                depth: np.ndarray, params: EngineParams) -> np.ndarray:  # fmt: skip
    """``max_notional_within_slippage_usd``: solved from the four walks up to ``depth``."""
    # a top of book knows one level: the depth within the limit is unknown, not computed
    top = legs.top_only[lo] | legs.top_only[sh]
    hi = np.where(top, np.nan, depth)
    limit = params.max_slippage_bps * BPS
    return table.max_pair_notional(legs.book_row[lo], legs.book_row[sh], hi, limit)


class _Confidence(NamedTuple):
    """Per ranked row: the components (rows x ``conf.COMPONENTS``, nan: not computed), the
    observed history points and the state (``conf.STATES``)."""

    values: np.ndarray
    history_points: np.ndarray
    state: Any


def _confidence(
    legs: _Legs,
    table: BookTable,
    lo: np.ndarray,
    sh: np.ndarray,
    diff: np.ndarray,
    carry: np.ndarray,
    history: pd.DataFrame | None,
    params: EngineParams,
    now_ms: int,
) -> _Confidence:
    la, sb = legs.book_row[lo], legs.book_row[sh]
    band = np.fmin(
        np.fmin(table.gather(table.ask_band, la), table.gather(table.bid_band, la)),
        np.fmin(table.gather(table.bid_band, sb), table.gather(table.ask_band, sb)),
    )
    # a top of book says nothing about the depth behind it: liquidity unknown, not low
    band = np.where(legs.top_only[lo] | legs.top_only[sh], np.nan, band)
    stamps = np.column_stack(
        [
            legs.ts_ms[lo],
            legs.ts_ms[sh],
            table.gather(table.ts_ms, la),
            table.gather(table.ts_ms, sb),
        ]
    )
    oldest = np.nanmin(stamps, axis=1)
    values = np.full((lo.size, len(conf.COMPONENTS)), np.nan)
    column = {name: i for i, name in enumerate(conf.COMPONENTS)}
    values[:, column["liquidity"]] = conf.liquidity_component(band, params.notional_usd)
    values[:, column["freshness"]] = conf.freshness_component(
        (now_ms - oldest) / 1000.0, params.stale_after_s
    )
    if history is None:
        return _Confidence(values, np.zeros(lo.size), text_constant("no_history", lo.size))
    pairs = pd.DataFrame(
        {"pair_type": np.where(carry, "carry", "cross"), "long_venue": legs.fee_venue[lo],
         "long_canonical": legs.canonical[lo], "short_venue": legs.venue[sh],
         "short_canonical": legs.canonical[sh], "diff_per_h": diff}
    )  # fmt: skip
    hist = conf.history_components(
        history, pairs, params.lookback_h, params.persistence_points, now_ms=now_ms,
        min_points=params.min_history_points,
    )  # fmt: skip
    for name in conf.HISTORY_COMPONENTS:
        values[:, column[name]] = hist[name].to_numpy(dtype=float)
    state = pd.Series(hist["state"].to_numpy(dtype=object), copy=False).array
    return _Confidence(values, hist["history_points"].to_numpy(dtype=float), state)


def compute_opportunities(
    quotes: pd.DataFrame,
    books: Mapping[tuple[str, str], OrderBook],
    fees: FeeSchedule,
    params: EngineParams,
    now_ms: int,
    confidence: pd.DataFrame | None = None,
    spot_books: Mapping[str, OrderBook] | None = None,
    top_only: Collection[tuple[str, str]] = frozenset(),
) -> pd.DataFrame:
    """Ranked opportunities (``OUTPUT_COLUMNS``): rows whose cost was measured first, best
    ``net_apr`` first; then the rest by ``net_apr_upper``; the figure shown >= ``min_net_apr``.

    ``quotes`` comes from ``quotes_frame``; ``books`` is keyed by (venue, venue_symbol);
    ``top_only``: the keys of ``books`` that are one-level top-of-book books
    (``top_of_book_books``). See the module docstring for every convention.

    How: numpy arrays per pair throughout; the rows below ``min_net_apr`` are dropped as soon
    as the figure shown is known, before the slippage-limited notional, the confidence and the
    text columns are computed; one DataFrame is built at the end.
    """
    # the cyclic GC off while a snapshot is ranked: tens of thousands of acyclic objects per
    # snapshot would trigger sweeps of every tracked object (every book level a scan holds);
    # ~6 ms of CPU per 6 x 600 snapshot, and no 300+ ms full sweep inside a scan
    with gc_paused():
        return _ranked(quotes, books, fees, params, now_ms, confidence, spot_books or {},
                       top_only)  # fmt: skip


def _ranked(
    quotes: pd.DataFrame,
    books: Mapping[tuple[str, str], OrderBook],
    fees: FeeSchedule,
    params: EngineParams,
    now_ms: int,
    confidence: pd.DataFrame | None,
    spot_books: Mapping[str, OrderBook],
    top_only: Collection[tuple[str, str]],
) -> pd.DataFrame:
    """``compute_opportunities``' body (under ``gc_paused``)."""
    _require(quotes, QUOTE_COLUMNS, "quotes frame")
    if quotes.empty:  # every pair needs a perp leg: spot books alone rank nothing
        spot_books = {}
    band = params.depth_band_bps * BPS
    legs, table = _build_legs(quotes, books, spot_books, band, top_only)
    lo, sh = same_group_pairs(quotes["base"].to_numpy(dtype=object))
    positive = legs.rate_per_h[sh] - legs.rate_per_h[lo] > 0
    lo, sh = lo[positive], sh[positive]
    carry = np.zeros(lo.size, dtype=bool)
    if params.include_carry:
        c_lo, c_sh = _carry_pairs(quotes, legs)
        keep = legs.rate_per_h[c_sh] > 0
        lo, sh = np.concatenate([lo, c_lo[keep]]), np.concatenate([sh, c_sh[keep]])
        carry = np.concatenate([carry, np.ones(int(keep.sum()), dtype=bool)])
    cols = _columns(legs, table, lo, sh, carry, fees, params, now_ms)
    measured = cols["cost_measured"]
    shown = np.where(measured, cols["net_apr"], cols["net_apr_upper"])
    order = _ranking(legs, lo, sh, shown, measured, params.min_net_apr)
    # solved in pair order (pairs of one asset are neighbours, so are their books in memory)
    kept = np.sort(order)
    cols["max_notional_within_slippage_usd"] = np.full(lo.size, np.nan)
    cols["max_notional_within_slippage_usd"][kept] = _max_within(
        legs, table, lo[kept], sh[kept], cols["max_notional_usd"][kept], params
    )
    lo, sh, carry = lo[order], sh[order], carry[order]
    cols = {name: values[order] for name, values in cols.items()}
    comps = _confidence(legs, table, lo, sh, cols["diff_per_h"], carry, confidence, params, now_ms)
    return _output_frame(legs, lo, sh, carry, cols, comps, params)


def _output_frame(legs: _Legs, lo: np.ndarray, sh: np.ndarray, carry: np.ndarray,
                  cols: dict[str, np.ndarray], comps: _Confidence,
                  params: EngineParams) -> pd.DataFrame:  # fmt: skip
    """The ranked rows as one DataFrame, columns ``OUTPUT_COLUMNS`` in order."""
    canonical, venue = legs.text["canonical"], legs.text["venue"]
    fee_venue, symbol = legs.text["fee_venue"], legs.text["symbol"]
    text = {
        "symbol": canonical.take(sh),
        "pair_type": text_choice(carry, "carry", "cross"),
        "long_venue": fee_venue.take(lo),
        "short_venue": venue.take(sh),
        "long_symbol": symbol.take(lo),
        "short_symbol": symbol.take(sh),
        "long_canonical": canonical.take(lo),
        "short_canonical": canonical.take(sh),
    }
    out: dict[str, Any] = {
        **cols,
        **text,
        "confidence": conf.combine_values(comps.values, params.confidence_weights),
        "confidence_components": none_for_nan_dicts(comps.values, conf.COMPONENTS),
        "history_points": comps.history_points,
        "confidence_state": comps.state,
        "long_next_funding_ms": nullable_int(cols["long_next_funding_ms"]),
        "short_next_funding_ms": nullable_int(cols["short_next_funding_ms"]),
        "pair_key": _pair_keys(legs, lo, sh, carry),
    }
    return pd.DataFrame({name: out[name] for name in OUTPUT_COLUMNS}, copy=False)


def _pair_keys(legs: _Legs, lo: np.ndarray, sh: np.ndarray, carry: np.ndarray) -> list[str]:
    """``scanner.domain.pair_key`` per row: the one spelling alerts and positions use too."""
    symbol = legs.canonical[sh].tolist()
    long_venue = legs.fee_venue[lo].tolist()
    short_venue = legs.venue[sh].tolist()
    long_canonical = legs.canonical[lo].tolist()
    kinds = np.where(carry, "carry", "cross").tolist()
    return [
        pair_key(s, lv, sv, t, long_canonical=lc)
        for s, lv, sv, t, lc in zip(
            symbol, long_venue, short_venue, kinds, long_canonical, strict=True
        )  # fmt: skip
    ]


def _ranking(
    legs: _Legs, lo: np.ndarray, sh: np.ndarray, net: np.ndarray, measured: np.ndarray,
    min_net_apr: float,
) -> np.ndarray:  # fmt: skip
    """Positions of the rows with ``net >= min`` (the figure shown: net APR, or its upper bound),
    measured rows first, best first, then symbol, long venue, short venue (ascending). String
    keys are ranked once per leg, not per pair."""

    kept = np.flatnonzero(net >= min_net_apr)
    lo, sh = lo[kept], sh[kept]
    text = legs.text
    keys = (text["venue"].codes()[sh], text["fee_venue"].codes()[lo],
            text["canonical"].codes()[sh])  # fmt: skip
    return kept[np.lexsort((*keys, -net[kept], ~measured[kept]))]


def _columns(legs: _Legs, table: BookTable, lo: np.ndarray, sh: np.ndarray, carry: np.ndarray,
             fees: FeeSchedule, params: EngineParams,
             now_ms: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The numeric and flag columns of every pair, as arrays (text columns come at the end)."""
    diff = kernels.diff_per_h(legs.rate_per_h[lo], legs.rate_per_h[sh])
    costs = _costs(legs, table, lo, sh, fees, params)
    horizon = params.horizon_h
    net = kernels.net_apr(diff, costs["cost_frac"], horizon)
    cols: dict[str, Any] = {
        "long_rate": legs.rate[lo],
        "long_interval_h": legs.interval_h[lo],
        "short_rate": legs.rate[sh],
        "short_interval_h": legs.interval_h[sh],
        "diff_per_h": diff,
        "gross_apr": kernels.apr(diff),
        "net_apr": np.where(costs["cost_measured"], net, np.nan),
        "net_apr_upper": np.where(costs["cost_measured"], np.nan, net),
        "breakeven_h": kernels.breakeven_h(costs["cost_frac"], diff),
        "interval_mismatch": ~carry & (legs.interval_h[lo] != legs.interval_h[sh]),
        "settle_mismatch": legs.settle[lo] != legs.settle[sh],
        "notional_usd": np.full(lo.size, params.notional_usd),
        **costs,
        **_alignment(legs, lo, sh, now_ms),
        **_price_gap(legs, lo, sh, params.max_price_gap_frac),
    }
    # books say the same when both exist (OKX and Bitget funding payloads carry no mark)
    basis_off = np.abs(np.nan_to_num(cols["basis_frac"])) > params.max_price_gap_frac
    cols["price_mismatch"] = cols["price_mismatch"] | basis_off
    cols["executable"] = cols["executable"] & ~cols["price_mismatch"]
    return cols


def _price_gap(legs: _Legs, lo: np.ndarray, sh: np.ndarray, limit: float) -> dict[str, np.ndarray]:
    """Relative gap of the legs' canonical prices; beyond ``limit`` they are not one asset.

    Venues do list unrelated tokens under one ticker (and multipliers get mislabelled); such a
    "pair" shows a spectacular funding spread that no hedge can capture. Unknown prices give
    nan and no flag (the books, when present, are checked through ``basis_frac``).
    """
    p_lo, p_sh = legs.price[lo], legs.price[sh]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (p_sh - p_lo) / ((p_sh + p_lo) / 2.0)
    return {"price_gap_frac": gap, "price_mismatch": np.abs(np.nan_to_num(gap)) > limit}


def to_opportunities(frame: pd.DataFrame) -> list[Opportunity]:
    """Rows of ``compute_opportunities`` as ``scanner.domain.Opportunity`` objects."""
    return [
        Opportunity(**{c.name: _python(c, row[c.name]) for c in OPPORTUNITY_SCHEMA})
        for row in frame.to_dict("records")
    ]


def _python(spec: ColumnSpec, value: Any) -> Any:
    """A frame cell as the plain Python value the schema promises for it.

    Unknown (None, nan, pandas NA) is None where the field is optional, else nan (floats).
    """
    if spec.dtype == "json":
        return dict(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None if spec.optional else math.nan
    return {"str": str, "float": float, "int": int, "bool": bool}[spec.dtype](value)
