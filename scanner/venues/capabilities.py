"""Venue quirks as data: how each ccxt venue gives us funding, intervals, history and books.

Why data and not ``if venue == ...`` branches: a new venue should be a new ``VenueQuirks`` in
its spec (``scanner/venues/specs/<venue>.py``) plus, at worst, a tiny parser. This module
defines the record; the values live in the specs. Every fact below is checked against ccxt
4.5.90's source
(``ccxt/async_support/<venue>.py``) and docs/exchange-api-facts.md (B.2, C.2, C.3):

* binanceusdm - bulk ``premiumIndex`` has no interval; ``fetch_funding_intervals``
  (``/fapi/v1/fundingInfo``) lists only *adjusted* symbols, all others are 8 h.
* okx - bulk ``funding-rate?instId=ANY``; interval = ``nextFundingTime - fundingTime``.
* bitget - the default bulk call (tickers) has neither interval nor next time; the
  ``current-fund-rate`` method has both (``fundingRateInterval`` hours, ``nextUpdate``).
  It answers one ``productType`` per call (USDT-, USDC-, COIN-FUTURES: three calls). Its
  history endpoint pages by page number, not by time (``paginate``).
* gate - contracts list carries ``funding_interval`` in **seconds**; ccxt turns
  ``funding_next_apply`` seconds into ms for us.
* hyperliquid - ``metaAndAssetCtxs``; funding is hourly, always.

24 h volume (``VolumeSpec``): Hyperliquid's funding payload carries ``dayNtlVlm`` (USD
notional). The other four need one extra bulk ``fetch_tickers`` call, and ccxt's unified
``quoteVolume`` is not USD everywhere:

* binanceusdm - ``/fapi/v1/ticker/24hr``; ``quoteVolume`` is the USDT notional.
* okx - ``/api/v5/market/tickers?instType=SWAP``; ccxt sets ``quoteVolume`` None for
  derivatives and ``baseVolume`` to ``vol24h``, which is in *contracts*. ``volCcy24h`` is the
  base-coin amount (linear and inverse), so USD = ``volCcy24h`` x ``last``.
* gate - ``/api/v4/futures/usdt/tickers``; ``quoteVolume`` = ``volume_24h_quote`` (USDT),
  ``volume_24h`` would be contracts.
* bitget - ``/api/v2/mix/market/tickers?productType=...``; ``quoteVolume`` is the quote-coin
  notional (USDT/USDC for linear products); one call per product type, like funding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

IntervalSource = Literal["funding_info", "time_gap", "info_seconds", "info_hours", "fixed"]


@dataclass(frozen=True)
class VolumeSpec:
    """Where a venue's 24 h volume comes from and how to turn it into USD notional.

    ``source``: ``"funding"`` reads the unified funding-rate structure already fetched;
    ``"tickers"`` makes one ``fetch_tickers(None, params)`` call per entry of ``calls``.
    ``field``: a unified key (``quoteVolume``) or ``info.<raw key>`` of that record.
    ``unit``: ``"quote"`` - the field is already quote-currency notional; ``"base"`` - it is a
    base-coin amount, multiplied by the record's unified ``last`` price.
    """

    source: Literal["funding", "tickers"]
    field: str
    unit: Literal["quote", "base"] = "quote"
    calls: tuple[Mapping[str, Any], ...] = ({},)


@dataclass(frozen=True)
class TopOfBookSpec:
    """Where a venue's best bid/ask (with sizes) for every listing comes from, in one bulk call.

    ``source``: ``"tickers"`` reads the records of the tickers call the volume already makes
    (OKX ``bidPx/bidSz``, Bitget ``bidPr/bidSz``, Gate ``highest_bid/highest_size``);
    ``"bids_asks"`` makes one ``fetch_bids_asks`` call (Binance ``/fapi/v1/ticker/bookTicker``,
    weight 5 for every symbol). Fields as in ``VolumeSpec`` (``bid`` or ``info.<raw key>``);
    sizes in the venue's book units (contracts where its book counts contracts).
    """

    source: Literal["tickers", "bids_asks"]
    bid: str = "bid"
    bid_qty: str = "bidVolume"
    ask: str = "ask"
    ask_qty: str = "askVolume"


@dataclass(frozen=True)
class RawTickersSpec:
    """Read the bulk tickers from the venue's own rows instead of ccxt's unified tickers.

    Why: the tickers call only feeds volume and top of book, a handful of fields per row, and
    ccxt's per-ticker parse (``parse_ticker`` -> ``safe_ticker``: timestamps, derived fields,
    Precise arithmetic) was the largest CPU cost of an OKX scan (~0.4 ms a row, 166 rows).
    The request still goes through ccxt: ``method`` is its implicit raw API method (same
    transport, throttle, response hook and error handling), only the parse is ours.

    ``params``: the request (replaces ``VolumeSpec.calls``); ``rows``: path to the row list in
    the body (empty: the body is the list); ``id_field``: the venue symbol of a row;
    ``unified``: the unified keys the volume and top-of-book specs read outside ``info.`` ->
    the raw field that holds them (OKX: ``last`` is the row's ``last``), or the fields ccxt
    tries in turn (the first one present and not empty, as its ``safe_string_2``). Each row
    becomes ``{"info": row, **unified}``. ``nan_as_zero``: unified keys whose text ``"nan"``
    reads as ``"0"``, as ccxt's own parse turns it (Gate's volumes), so the volume filter
    sees the same number either way.
    """

    method: str
    params: Mapping[str, Any]
    rows: tuple[str, ...]
    id_field: str
    unified: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    nan_as_zero: frozenset[str] = frozenset()
    calls: tuple[Mapping[str, Any], ...] = ()
    """Several requests instead of one (Bitget: one per product type), each with its entry
    as the parameters instead of ``params``, all at once; their rows are read in order, a
    later row of a symbol replacing an earlier one (as the merged ``fetch_tickers`` calls)."""


BookRequest = Callable[[Mapping[str, Any], int], "dict[str, Any] | None"]
BookReader = Callable[[Any, Any], "tuple[Any, int | None]"]


@dataclass(frozen=True)
class RawBookSpec:
    """Read an order book's levels from the venue's body instead of ccxt's parse.

    Why: ccxt's ``parse_order_book`` reads each level through ``safe_float``/``safe_integer``
    into a list and sorts both sides (~0.1 ms a book of 2 x 50 levels, ~110 books a steady
    scan), and the adapter then copied those lists into arrays. The request still goes
    through ccxt (``method``: its implicit raw API method: same transport, throttle, response
    hook and error handling) with the parameters its ``fetch_order_book`` sends.

    ``request(market, limit)``: those parameters for a ccxt market, in ccxt's order; None where
    this venue's ``fetch_order_book`` would send something else (another endpoint, a market
    type we do not read): ccxt's own call is made then. ``book(exchange, body)``: the node
    holding the sides and the timestamp (ms or None), read as ccxt's ``fetch_order_book``
    reads them (its ``safe_*`` helpers, so a body missing a part reads the same).
    ``bids``/``asks``: the sides' keys in that node; ``price``/``amount``: a level's keys.
    """

    method: str
    request: BookRequest
    book: BookReader
    bids: str = "bids"
    asks: str = "asks"
    price: int | str = 0
    amount: int | str = 1


@dataclass(frozen=True)
class RawFundingSpec:
    """One bulk funding (or funding-interval) request sent through ccxt's implicit raw method,
    its rows parsed by ccxt's own ``parse_funding_rates``.

    Why: ccxt's ``fetch_funding_rates`` waits for the markets before it sends anything (it
    loads them when none are loaded), so a one-shot paid the instrument round trip and then
    the quote round trip. The request does not depend on the markets, only its parse does:
    sent raw, it goes out with the instrument request, and the rows are parsed once the
    markets are in. ``method`` and ``params`` are exactly what ccxt's fetch method sends
    (ccxt 4.5.90 source), ``rows`` the path to the row list it hands to the parse (empty: the
    body is the list), so the structures are the same as ccxt's.

    ``reader``: the venue's row reader of ``scanner.venues.funding_rows`` (``RowReader``):
    the fields the adapter reads, as ccxt's parse gives them, at a fraction of its CPU; None
    (or a body it hands back) is parsed by ccxt's ``parse_funding_rates``.
    """

    method: str
    params: Mapping[str, Any]
    rows: tuple[str, ...] = ()
    reader: Callable[[Any, dict[str, Any], dict[Any, Any]], dict[str, Any]] | None = None


@dataclass(frozen=True)
class VenueQuirks:
    """Everything venue-specific the generic ccxt adapter needs to know."""

    interval_source: IntervalSource
    interval_field: str | None = None
    """Field of the raw funding payload holding the interval (info_seconds / info_hours)."""
    default_interval_h: float | None = None
    """Interval for symbols the interval source does not list (Binance: 8 h)."""
    fixed_interval_h: float | None = None
    funding_calls: tuple[Mapping[str, Any], ...] = ({},)
    """``params`` for each bulk ``fetch_funding_rates`` call that together cover the universe."""
    history_page: int = 100
    history_params: Mapping[str, Any] = field(default_factory=dict)
    history_by_time: bool = True
    """False: the history endpoint ignores since/until and pages by number (Bitget)."""
    book_depths: tuple[int, ...] | None = None
    """Depths the book endpoint accepts; a request is rounded up to the next one."""
    instrument_from_index: bool = False
    """Hyperliquid: the symbols parser needs the asset's index in the universe."""
    volume: VolumeSpec | None = None
    """Where 24 h volume comes from (None: the venue's quotes carry no volume)."""
    top_of_book: TopOfBookSpec | None = None
    """Where every listing's best bid/ask comes from (None: only candidates' books price)."""
    raw_tickers: RawTickersSpec | None = None
    """The tickers call read from the venue's rows (None: ccxt's unified ``fetch_tickers``)."""
    raw_bids_asks: RawTickersSpec | None = None
    """The book tickers call (``TopOfBookSpec("bids_asks")``) read from the venue's rows
    (None: ccxt's unified ``fetch_bids_asks``)."""
    raw_funding: tuple[RawFundingSpec, ...] = ()
    """The funding calls sent raw (replace ``funding_calls``; empty: ccxt's
    ``fetch_funding_rates`` per ``funding_calls`` entry)."""
    raw_intervals: RawFundingSpec | None = None
    """The ``funding_info`` interval list sent raw (None: ccxt's ``fetch_funding_intervals``)."""
    raw_book: RawBookSpec | None = None
    """Order books read from the venue's levels (None: ccxt's ``fetch_order_book``)."""

    @property
    def wants_tickers(self) -> bool:
        """A bulk tickers call is part of the quote round (for volume or top of book)."""
        volume, top = self.volume, self.top_of_book
        return (volume is not None and volume.source == "tickers") or (
            top is not None and top.source == "tickers"
        )

    @property
    def wants_bids_asks(self) -> bool:
        """A book tickers call is part of the quote round (top of book from it)."""
        return self.top_of_book is not None and self.top_of_book.source == "bids_asks"

    @property
    def quotes_without_markets(self) -> bool:
        """Every quote request of the venue is sent raw, so none waits for the markets: a
        venue whose instruments are due sends them with the instrument request."""
        return (
            bool(self.raw_funding)
            and (not self.wants_tickers or self.raw_tickers is not None)
            and (not self.wants_bids_asks or self.raw_bids_asks is not None)
            and (self.interval_source != "funding_info" or self.raw_intervals is not None)
        )

    def book_limit(self, depth: int) -> int:
        if not self.book_depths:
            return depth
        for allowed in self.book_depths:
            if allowed >= depth:
                return allowed
        return self.book_depths[-1]
