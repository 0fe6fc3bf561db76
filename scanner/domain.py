"""Frozen value objects shared by every layer.

Why a separate module: venue adapters parse raw payloads *into* these objects, storage maps
them to rows, and the engine reads them; none of those layers should know about each other.
So this module imports nothing from the project and nothing that does I/O (no ccxt, no httpx).

Units are in the names: ``*_ms`` is UTC epoch milliseconds, ``*_h`` hours, ``rate_per_interval``
is a fraction paid once per ``interval_h`` (positive: longs pay shorts), ``apr`` a fraction per
year. Prices and sizes are in *venue* units; ``Instrument.multiplier`` and
``Instrument.contract_size`` convert them to canonical units (see ``to_canonical_*``).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from scanner.units import HOURS_PER_YEAR

# Venue ids are strings spelled as ccxt spells the exchange class; the registry of venues is
# ``scanner.venues.specs`` (``venue_ids()``), which this module must not import.


class Kind(StrEnum):
    """What a contract is. Only PERPETUAL enters the funding engine."""

    PERPETUAL = "perpetual"
    DATED = "dated"
    SPOT = "spot"


_PERPETUAL, _DATED, _SPOT = Kind.PERPETUAL, Kind.DATED, Kind.SPOT
"""The members as module constants: ``Kind.SPOT`` is looked up through the enum's metaclass
(~0.2 us each time), ``is_perpetual`` is asked thousands of times a scan, and ``canonical_id``
runs once for every instrument made."""


def canonical_id(
    base: str, quote: str, settle: str, kind: Kind = Kind.PERPETUAL, expiry_ms: int | None = None
) -> str:
    """ccxt-style id: ``PEPE/USDT:USDT`` (perp), ``PEPE/USDT`` (spot), ``BTC/USDT:USDT-261225``
    (dated, so a future can never share an id with the perpetual of the same asset)."""
    if kind is _SPOT:
        return f"{base}/{quote}"
    if kind is _DATED and expiry_ms is not None:
        day = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).strftime("%y%m%d")
        return f"{base}/{quote}:{settle}-{day}"
    return f"{base}/{quote}:{settle}"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract on one venue, mapped to its canonical asset.

    ``multiplier``: canonical base units per venue base unit (``1000PEPEUSDT`` -> 1000,
    ``kPEPE`` -> 1000). A venue price divided by it is a canonical price.
    ``contract_size``: venue base units per contract (OKX ``ctVal``, Gate
    ``quanto_multiplier``; 1 where quantities are already in base units).
    ``tick``/``lot``/``min_qty`` are venue units and are what orders are rounded to.
    """

    venue: str
    venue_symbol: str
    base: str
    quote: str
    settle: str
    kind: Kind
    multiplier: Decimal = Decimal(1)
    contract_size: Decimal = Decimal(1)
    tick: Decimal | None = None
    lot: Decimal | None = None
    min_qty: Decimal | None = None
    funding_interval_h: float | None = None
    funding_cap: float | None = None
    funding_floor: float | None = None
    expiry_ms: int | None = None
    active: bool = True
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    _canonical: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # formatted once: a steady scan asks for the id ~3,000 times (every quote, the book
        # targets' index), ~1 us a read when formatted each time
        canonical = canonical_id(self.base, self.quote, self.settle, self.kind, self.expiry_ms)
        object.__setattr__(self, "_canonical", canonical)

    @property
    def canonical(self) -> str:
        return self._canonical

    @property
    def is_perpetual(self) -> bool:
        return self.kind is _PERPETUAL

    def to_canonical_price(self, venue_price: float) -> float:
        return venue_price / float(self.multiplier)

    def to_canonical_qty(self, venue_qty: float) -> float:
        """Venue quantity (contracts or base units) -> canonical base units."""
        return venue_qty * float(self.contract_size) * float(self.multiplier)


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """The funding rate a venue shows *now* for its coming settlement (or a settled one).

    ``is_settled`` False: the live/predicted rate for ``next_funding_ms``. True: a rate that
    was actually paid at ``funding_time_ms``. Never read a settled rate as the coming one.
    """

    venue: str
    venue_symbol: str
    canonical: str
    rate_per_interval: float
    interval_h: float
    ts_ms: int
    next_funding_ms: int | None = None
    mark_price: float | None = None
    index_price: float | None = None
    multiplier: float = 1.0
    is_settled: bool = False
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    volume_24h_usd: float | None = None
    """Quote-currency (USD/USDT/USDC) notional traded over the last 24 h; None when the venue
    did not say (or its volume call failed). A liquidity filter input, never a money amount."""
    bid_price: float | None = None
    bid_qty: float | None = None
    ask_price: float | None = None
    ask_qty: float | None = None
    """Top of book from the venue's bulk ticker call, in venue units (the price of the venue's
    symbol; the quantity as its book counts it: contracts on OKX and Gate, base units elsewhere).
    None when the venue's bulk endpoints do not carry it (Hyperliquid) or the call failed. It
    prices every row at least by its spread; candidates also get their full book walked."""

    @property
    def has_top_of_book(self) -> bool:
        """Both sides known, with positive prices and sizes."""
        values = (self.bid_price, self.bid_qty, self.ask_price, self.ask_qty)
        return all(v is not None and v > 0 for v in values)

    @property
    def rate_per_h(self) -> float:
        return self.rate_per_interval / self.interval_h

    @property
    def apr(self) -> float:
        return self.rate_per_h * HOURS_PER_YEAR


class _QuoteFields:
    """``FundingQuote``'s slots, writable: ``funding_quote`` fills them with plain attribute
    stores and then makes the object a ``FundingQuote``."""

    __slots__ = FundingQuote.__slots__


def funding_quote(
    venue: str,
    venue_symbol: str,
    canonical: str,
    rate_per_interval: float,
    interval_h: float,
    ts_ms: int,
    next_funding_ms: int | None = None,
    mark_price: float | None = None,
    index_price: float | None = None,
    multiplier: float = 1.0,
    is_settled: bool = False,
    raw: Mapping[str, Any] | None = None,
    volume_24h_usd: float | None = None,
    bid_price: float | None = None,
    bid_qty: float | None = None,
    ask_price: float | None = None,
    ask_qty: float | None = None,
) -> FundingQuote:
    """``FundingQuote(...)`` with the same arguments, ~6x cheaper: the same frozen object.

    Why: adapters build ~4,000 quotes a scan, and a frozen dataclass's ``__init__`` stores each
    of the 17 fields through ``object.__setattr__`` (~1.5 us a quote, ~7 % of a quotes-only
    cycle's CPU). Here the fields go into an object of a class with the very same slots by
    plain stores, and ``__class__`` assignment then makes it a ``FundingQuote`` (CPython allows
    it only between classes of the same layout: the same slots in the same order, else it
    raises TypeError). From then on it is indistinguishable from one built by the class:
    frozen, equal, hashed and printed alike (tests compare both field by field).
    """
    quote: Any = object.__new__(_QuoteFields)  # its slots are FundingQuote's (typed there)
    quote.venue = venue
    quote.venue_symbol = venue_symbol
    quote.canonical = canonical
    quote.rate_per_interval = rate_per_interval
    quote.interval_h = interval_h
    quote.ts_ms = ts_ms
    quote.next_funding_ms = next_funding_ms
    quote.mark_price = mark_price
    quote.index_price = index_price
    quote.multiplier = multiplier
    quote.is_settled = is_settled
    quote.raw = raw
    quote.volume_24h_usd = volume_24h_usd
    quote.bid_price = bid_price
    quote.bid_qty = bid_qty
    quote.ask_price = ask_price
    quote.ask_qty = ask_qty
    quote.__class__ = FundingQuote
    return quote  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """One settled funding payment from a venue's history endpoint."""

    venue: str
    venue_symbol: str
    canonical: str
    funding_time_ms: int
    rate_per_interval: float
    interval_h: float | None = None


Level = tuple[float, float]
"""(price, quantity) in venue units."""

if typing.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Levels = npt.NDArray[np.float64]
    """(n, 2) float64 array of (price, quantity) rows in venue units, best first, read-only."""


def book_levels(levels: object, where: str = "book levels") -> Levels:
    """``levels`` as an ``OrderBook`` side: a read-only (n, 2) float64 array.

    Why arrays: the engine stacks thousands of book sides into padded arrays per scan, and
    reading the floats back out of per-level Python tuples cost more than all of its
    arithmetic. Adapters parse straight into arrays; anything else (stored top levels, a
    test's list of pairs) is converted here once. An array that is already float64 and
    (n, 2) is not copied: the book takes it as given (its own view is read-only), so the
    caller must not write to it afterwards. numpy is imported here, not at module level:
    ``fundscan --help`` imports this module and must not pay for numpy.
    """
    import numpy as np

    arr = np.asarray(levels, dtype=np.float64)
    if arr.size == 0:
        arr = np.empty((0, 2), dtype=np.float64)
    elif arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{where} must be (price, qty) pairs; got an array of shape {arr.shape}")
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class OrderBook:
    """A book snapshot: bids best-first (descending), asks best-first (ascending), venue units.

    ``bids``/``asks`` are read-only (n, 2) float64 arrays of (price, qty) (``book_levels``;
    any sequence of pairs given is converted once, here). Test emptiness with ``len()``, not
    truthiness, and compare books with ``==`` (defined here: equal fields, equal levels).
    ``multiplier``/``contract_size`` travel with the book so the engine can rescale without
    looking the instrument up again.
    """

    venue: str
    venue_symbol: str
    canonical: str
    bids: Levels
    asks: Levels
    ts_ms: int
    multiplier: float = 1.0
    contract_size: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bids", book_levels(self.bids, "bids"))
        object.__setattr__(self, "asks", book_levels(self.asks, "asks"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        scalars = ("venue", "venue_symbol", "canonical", "ts_ms", "multiplier", "contract_size")
        return all(getattr(self, f) == getattr(other, f) for f in scalars) and all(
            a.shape == b.shape and bool((a == b).all())
            for a, b in ((self.bids, other.bids), (self.asks, other.asks))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable, as before

    @property
    def best_bid(self) -> float | None:
        return float(self.bids[0, 0]) if len(self.bids) else None

    @property
    def best_ask(self) -> float | None:
        return float(self.asks[0, 0]) if len(self.asks) else None

    @property
    def mid(self) -> float | None:
        if not len(self.bids) or not len(self.asks):
            return None
        return (float(self.bids[0, 0]) + float(self.asks[0, 0])) / 2.0

    def canonical_side(self, side: str) -> Levels:
        """``"bids"`` or ``"asks"`` in canonical price and base-unit quantity, (n, 2)."""
        levels = self.bids if side == "bids" else self.asks
        import numpy as np

        qty_mul = self.contract_size * self.multiplier  # the product BookTable uses too
        return np.column_stack((levels[:, 0] / self.multiplier, levels[:, 1] * qty_mul))


def _col(unit: str, doc: str, *, max_chars: int | None = None, **default: Any) -> Any:
    """A field of ``Opportunity`` carrying its schema metadata (unit, meaning, text width)."""
    return field(metadata={"unit": unit, "doc": doc, "max_chars": max_chars}, **default)


_NAN = float("nan")
_UNKNOWN = "None (or nan) when unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """One ranked row of the engine's output: THE opportunity schema.

    Why the schema is this class: the engine frame (``strategies.spread``), the
    ``opportunities`` table, the row mapping and the ``fundscan scan`` JSON/CSV all derive their
    columns from these fields (``OPPORTUNITY_SCHEMA``), so a column added here appears
    everywhere, and none can drift. Field order is the JSON/CSV order: the keys the JSON had
    before this schema existed come first, in their old order, so positional CSV readers keep
    working. Floats use nan for "unknown" (a missing book, a spot leg's interval); the fields
    with defaults are the ones a hand-built row may not know (they default to unknown, never to
    a guess). ``pair_key`` is derived from the legs (``pair_key()``) when not given, and
    checked against them when given.
    """

    symbol: str = _col("", "canonical id of the short (perp) leg: the pair's asset", max_chars=64)
    pair_type: str = _col("", "cross (two perps) or carry (spot long, perp short)", max_chars=16)
    long_venue: str = _col("", "venue of the long leg; <venue>-spot for a carry", max_chars=32)
    short_venue: str = _col("", "venue of the short leg", max_chars=32)
    long_symbol: str | None = _col("", "the venue's own symbol", max_chars=64, default=None)
    short_symbol: str | None = _col("", "the venue's own symbol", max_chars=64, default=None)
    long_canonical: str | None = _col(
        "", "canonical id of the long leg (spot for a carry)", max_chars=64, default=None
    )
    short_canonical: str | None = _col(
        "", "canonical id of the short leg", max_chars=64, default=None
    )
    long_rate: float = _col("fraction per long_interval_h", "coming funding rate of the long leg")
    long_interval_h: float = _col("h", "funding interval of the long leg (nan: spot)")
    short_rate: float = _col("fraction per short_interval_h", "coming funding rate, short leg")
    short_interval_h: float = _col("h", "funding interval of the short leg")
    diff_per_h: float = _col("fraction per h", "short rate/h minus long rate/h")
    gross_apr: float = _col("fraction per year", "diff_per_h * 8760")
    fee_frac: float = _col("fraction of notional", "taker fees, entry and exit, both legs")
    slippage_frac: float = _col(
        "fraction of notional", "VWAP slippage of four book walks (nan: no book)"
    )
    cost_frac: float = _col("fraction of notional", "fees plus slippage (round trip)")
    basis_frac: float = _col("fraction of mid", "short best bid minus long best ask, over mid")
    net_apr: float = _col("fraction per year", "(diff_per_h * horizon - cost) / horizon * 8760")
    breakeven_h: float = _col("h", "cost / diff_per_h")
    confidence: float | None = _col("fraction 0..1", f"weighted confidence; {_UNKNOWN}")
    confidence_components: Mapping[str, float | None] = _col(
        "fraction 0..1 each",
        "persistence, stability, liquidity, freshness, prediction",
        default_factory=dict,
    )
    long_next_funding_ms: int | None = _col("epoch ms", "next settlement of the long leg")
    short_next_funding_ms: int | None = _col("epoch ms", "next settlement of the short leg")
    interval_mismatch: bool = _col("", "the legs settle at different intervals")
    settle_mismatch: bool = _col("", "the legs settle in different coins (USDT/USDC)")
    price_gap_frac: float = _col("fraction of mean price", "gap of the legs' prices", default=_NAN)
    price_mismatch: bool | None = _col(
        "", "prices differ beyond max_price_gap_frac: two tokens under one ticker", default=None
    )
    executable: bool = _col("", "books deep enough, slippage within limit, one asset")
    notional_usd: float = _col("USD", "notional per leg the costs are for")
    max_notional_usd: float = _col("USD", "largest notional all four book walks can fill")
    pair_key: str = _col("", "the pair's identity (pair_key())", max_chars=200, default="")
    book_missing: bool | None = _col("", "a leg had no book: cost is fees only", default=None)
    book_thin: bool | None = _col("", "a book is shallower than notional_usd", default=None)
    max_notional_within_slippage_usd: float = _col(
        "USD", "largest notional whose slippage stays within max_slippage_bps", default=_NAN
    )
    first_cycle_h: float = _col("h", "hours until both legs have settled once", default=_NAN)
    funding_to_next_long: float = _col(
        "fraction of notional", "what the long leg pays at its next settlement", default=_NAN
    )
    funding_to_next_short: float = _col(
        "fraction of notional", "what the short leg receives at its next settlement", default=_NAN
    )
    collected_first_cycle: float = _col(
        "fraction of notional", "funding collected over the first cycle", default=_NAN
    )
    history_points: float = _col(
        "count", "observed hourly differentials in the lookback behind the score", default=_NAN
    )
    confidence_state: str | None = _col(
        "",
        "rated; few_points (below engine.min_history_points: no score); no_history (nothing "
        "stored for a leg: history not fetched)",
        max_chars=16,
        default=None,
    )
    net_apr_upper: float = _col(
        "fraction per year",
        "net APR whose cost is only a lower bound (a book missing, or not known deep enough for "
        "the notional): an upper bound, shown instead of net_apr (nan when the cost was measured)",
        default=_NAN,
    )
    cost_measured: bool | None = _col(
        "",
        "every book walk covered the notional (full books, or a top of book deep enough): "
        "net_apr is exact; else net_apr is nan and net_apr_upper holds the bound",
        default=None,
    )
    book_top_only: bool | None = _col(
        "",
        "a leg was priced by its top of book (bulk ticker) only, not its full book",
        default=None,
    )

    def __post_init__(self) -> None:
        derived = pair_key(
            self.symbol, self.long_venue, self.short_venue, self.pair_type,
            long_canonical=self.long_canonical,
        )  # fmt: skip
        if not self.pair_key:
            object.__setattr__(self, "pair_key", derived)
        elif self.pair_key != derived:
            raise ValueError(f"Opportunity.pair_key {self.pair_key!r} is not its legs' {derived!r}")


def pair_key(
    symbol: str,
    long_venue: str,
    short_venue: str,
    pair_type: str = "cross",
    *,
    long_canonical: str | None = None,
) -> str:
    """The one identity of a hedged pair: ``BTC/USDT:USDT|long=bybit-spot|short=bybit``.

    Why one function: alert cooldowns, executor positions, LLM verdict caches and stored
    opportunities must all agree on what "the same pair" is. ``symbol`` is the short (perp)
    leg's canonical id. A carry pair's long leg is the venue's spot market, spelled
    ``<venue>-spot`` (the engine already names it so; either spelling gives one key), so it can
    never collide with a cross pair on the same venue. A long leg on another canonical contract
    than the short (Bybit's USDC ``XRPPERP`` against OKX's USDT swap) is a different trade from
    the same venue's USDT leg, so its canonical id is part of the key: ``long=bybit@XRP/USDC:USDC``.
    """
    if pair_type == "carry":
        long_leg = long_venue if long_venue.endswith("-spot") else f"{long_venue}-spot"
    elif long_canonical and long_canonical != symbol:
        long_leg = f"{long_venue}@{long_canonical}"
    else:
        long_leg = long_venue
    return f"{symbol}|long={long_leg}|short={short_venue}"


_PAIR_KEY = re.compile(r"^[^|\s]+\|long=[^|\s]+\|short=[^|\s]+$")


def check_pair_key(key: str, where: str) -> str:
    """``key`` if it has the form ``pair_key()`` writes; else ValueError naming ``where``.

    Storage calls this wherever a pair is referenced (alert log, positions) so free text
    ("BTC:okx>bybit") can never become a second spelling of a pair.
    """
    if not isinstance(key, str) or not _PAIR_KEY.match(key):
        raise ValueError(
            f"{where}: {key!r} is not a pair key (build it with scanner.domain.pair_key(), "
            "e.g. 'BTC/USDT:USDT|long=okx|short=bybit')"
        )
    return key


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of the opportunity schema, as every layer sees it.

    ``dtype``: ``str``, ``float``, ``int``, ``bool`` or ``json`` (a mapping). ``nullable``:
    the value may be unknown (every float may: nan). ``optional``: unknown is spelled None in
    ``Opportunity`` (else nan, for plain floats). ``unit`` is empty for text and flags.
    ``max_chars``: the longest text a ``str`` column must hold (storage sizes it so).
    """

    name: str
    dtype: str
    unit: str
    nullable: bool
    optional: bool
    doc: str
    max_chars: int | None = None


_DTYPES: dict[Any, str] = {str: "str", float: "float", int: "int", bool: "bool"}


def _spec(f: Any, hint: Any) -> ColumnSpec:
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        (hint,) = [a for a in args if a is not type(None)]
    dtype = "json" if typing.get_origin(hint) is Mapping else _DTYPES[hint]
    meta = f.metadata
    nullable = optional or dtype == "float"
    return ColumnSpec(
        f.name, dtype, meta["unit"], nullable, optional, meta["doc"], meta["max_chars"]
    )


def _schema() -> tuple[ColumnSpec, ...]:
    hints = typing.get_type_hints(Opportunity)
    return tuple(_spec(f, hints[f.name]) for f in fields(Opportunity))


OPPORTUNITY_SCHEMA: tuple[ColumnSpec, ...] = _schema()
"""The opportunity columns in JSON/CSV order, derived from ``Opportunity``'s fields."""

OPPORTUNITY_COLUMNS: tuple[str, ...] = tuple(c.name for c in OPPORTUNITY_SCHEMA)
