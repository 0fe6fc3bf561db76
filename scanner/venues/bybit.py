"""Bybit V5 public market data as a ``Venue`` (direct httpx client, not ccxt).

Why direct: Bybit is the venue we trade on, so we want its exact semantics (per-symbol
intervals, dated futures mixed into ``category=linear``, cursor pagination) under our
control. Parsing is split into pure ``parse_*`` functions (one per message, raw kept on the
domain object) so golden tests feed them recorded payloads without any HTTP.

Interval per symbol: tickers carry ``fundingIntervalHour`` (hours, string) since ~2024; older
payloads (the 2023 TESTNET fixture) lack it, and then the instrument's ``fundingInterval``
(instruments-info, **minutes**) is used. Dated futures report ``fundingRate: ""`` and are
skipped: they never pay funding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import AsyncIterator, Iterable, Mapping
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.domain import FundingQuote, FundingSettlement, Instrument, OrderBook, funding_quote
from scanner.settings import VenueSettings
from scanner.symbols import instrument_from_bybit
from scanner.venues.base import (
    BadSymbol,
    InstrumentsAndQuotes,
    MalformedResponse,
    hours_from,
    result_or_error,
    settlement_time_ms,
    to_float,
    to_int,
)
from scanner.venues.bybit_http import HOSTS, BybitCredentials, BybitHttp
from scanner.venues.volume import lenient_volume

if TYPE_CHECKING:
    from scanner.domain import Levels

log = logging.getLogger(__name__)

VENUE = "bybit"
INSTRUMENTS_PAGE = 1000
HISTORY_PAGE = 200
MAX_PAGES = 50
"""Guard against a venue that keeps returning a cursor forever."""


# --- pure parsing --------------------------------------------------------------------------


def _rows(result: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    rows = result.get("list")
    if not isinstance(rows, list):
        raise MalformedResponse(VENUE, f"{where}: result.list missing or not a list")
    return [r for r in rows if isinstance(r, dict)]


def parse_instrument(row: Mapping[str, Any]) -> Instrument:
    """One instruments-info row; the interval comes from ``fundingInterval`` (minutes)."""
    inst = instrument_from_bybit(dict(row), category="linear")
    interval_h = hours_from(row.get("fundingInterval"), "min")
    if interval_h is not None and inst.funding_interval_h != interval_h:
        inst = dataclasses.replace(inst, funding_interval_h=interval_h)
    return inst


def parse_instruments(result: Mapping[str, Any], category: str = "linear") -> list[Instrument]:
    """Every row of one instruments-info page; rows that cannot be mapped are logged, skipped."""
    out = []
    for row in _rows(result, "instruments-info"):
        try:
            if category == "spot":
                out.append(instrument_from_bybit(dict(row), category="spot"))
            else:
                out.append(parse_instrument(row))
        except (ValueError, KeyError) as exc:
            log.warning("bybit: skipping %s instrument %s: %s", category, row.get("symbol"), exc)
    return out


def parse_ticker(row: Mapping[str, Any], instrument: Instrument, ts_ms: int) -> FundingQuote | None:
    """A linear ticker -> live funding quote, or None for a contract that pays no funding.

    A field that is not a number raises ``MalformedResponse`` naming the symbol."""
    try:
        return _ticker(row, instrument, ts_ms)
    except (ValueError, TypeError) as exc:
        raise MalformedResponse(VENUE, f"ticker {instrument.venue_symbol}: {exc}") from None


def _ticker(row: Mapping[str, Any], instrument: Instrument, ts_ms: int) -> FundingQuote | None:
    rate = to_float(row.get("fundingRate"))
    next_ms = to_int(row.get("nextFundingTime"))
    if rate is None or not next_ms or not instrument.is_perpetual:
        return None
    interval_h = hours_from(row.get("fundingIntervalHour"), "h") or instrument.funding_interval_h
    if interval_h is None:
        raise MalformedResponse(VENUE, f"{instrument.venue_symbol}: no funding interval known")
    bid, bid_qty, ask, ask_qty = _top_of_book(row) or (None, None, None, None)
    return FundingQuote(
        venue=VENUE,
        venue_symbol=instrument.venue_symbol,
        canonical=instrument.canonical,
        rate_per_interval=rate,
        interval_h=interval_h,
        ts_ms=ts_ms,
        next_funding_ms=next_ms,
        mark_price=to_float(row.get("markPrice")),
        index_price=to_float(row.get("indexPrice")),
        multiplier=float(instrument.multiplier),
        raw=row,  # the body's own row (parsed for this call only), as ccxt venues keep info
        volume_24h_usd=lenient_volume(row.get("turnover24h")),  # quote-coin notional, 24 h
        bid_price=bid,
        bid_qty=bid_qty,
        ask_price=ask,
        ask_qty=ask_qty,
    )


def _top_of_book(row: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    """``bid1Price/bid1Size/ask1Price/ask1Size`` of a ticker, when all four are positive and
    the book is not crossed (else None: a half-known top prices nothing)."""
    got = [lenient_volume(row.get(k)) for k in ("bid1Price", "bid1Size", "ask1Price", "ask1Size")]
    values = [v for v in got if v is not None and v > 0]
    if len(values) != 4 or values[0] > values[2]:
        return None
    bid, bid_qty, ask, ask_qty = values
    return bid, bid_qty, ask, ask_qty


NOT_PLAIN: Any = object()
"""``plain_ticker``'s answer for a row it leaves to the checked ``parse_ticker``."""
_INF = math.inf


_PLAIN_FIELDS = itemgetter(
    "nextFundingTime", "fundingRate", "fundingIntervalHour", "markPrice", "indexPrice",
    "bid1Price", "bid1Size", "ask1Price", "ask1Size", "turnover24h",
)  # fmt: skip
"""The fields of a ticker ``plain_ticker`` reads, in one C call (KeyError if one is absent)."""


def plain_ticker(row: dict[str, Any], inst: Instrument, ts_ms: int) -> FundingQuote | None | Any:
    """``parse_ticker``'s quote (or its None) for a row of what Bybit sends - every field it
    reads present as text, the numbers readable by ``float``, the funding time as digits - at
    a fraction of its CPU; NOT_PLAIN for anything else, which ``parse_ticker`` then reads (or
    names what was wrong).

    Why: ~800 rows a scan, ~17 % of a quotes-only cycle's CPU (py-spy 19:10), most of it in
    the helpers' calls and their type dispatch, not in the reading. On such a row each helper
    takes its branch for text, whose expression is used here: ``to_float`` is ``float`` and
    refuses what is not finite (NOT_PLAIN here), ``to_int`` of ASCII digits is ``int``,
    ``lenient_volume`` is ``float`` with None for what is negative or not finite, and
    ``hours_from`` is None for what is not positive. Tests compare both on the emulator's and
    recorded bodies and on hypothesis rows.
    """
    try:
        texts = _PLAIN_FIELDS(row)
        "".join(texts)  # raises TypeError unless every one is text (float() takes more)
        next_text, *numbers = texts
        rate, hours, mark, index, bid, bid_qty, ask, ask_qty, volume = map(float, numbers)
    except (KeyError, TypeError, ValueError):
        return NOT_PLAIN
    if not (next_text.isascii() and next_text.isdigit()):
        return NOT_PLAIN
    if not (-_INF < rate < _INF and -_INF < hours < _INF and -_INF < mark < _INF):
        return NOT_PLAIN
    if not -_INF < index < _INF:
        return NOT_PLAIN
    next_ms = int(next_text)
    if not next_ms or not inst.is_perpetual:
        return None
    interval_h = hours if hours > 0 else inst.funding_interval_h
    if interval_h is None:
        return NOT_PLAIN  # parse_ticker names the missing interval
    # a top of book only with all four positive and finite, the bid not above the ask
    top = 0.0 < bid <= ask < _INF and 0.0 < bid_qty < _INF and 0.0 < ask_qty < _INF
    return funding_quote(
        VENUE, inst.venue_symbol, inst.canonical, rate, interval_h, ts_ms, next_ms, mark,
        index, float(inst.multiplier), False, row, volume if 0.0 <= volume < _INF else None,
        bid if top else None, bid_qty if top else None, ask if top else None,
        ask_qty if top else None,
    )  # fmt: skip


def parse_tickers(
    result: Mapping[str, Any], instruments: Mapping[str, Instrument], ts_ms: int
) -> list[FundingQuote]:
    """All tickers of one call; symbols without a known instrument are skipped (logged).

    Each row is read by ``plain_ticker`` first; a row it does not vouch for goes to the
    checked ``parse_ticker``, which gives the same quote or names what was wrong."""
    quotes = []
    unknown = 0
    for row in _rows(result, "tickers"):
        inst = instruments.get(str(row.get("symbol")))
        if inst is None:
            unknown += 1
            continue
        quote = plain_ticker(row, inst, ts_ms)
        if quote is NOT_PLAIN:
            quote = parse_ticker(row, inst, ts_ms)
        if quote is not None:
            quotes.append(quote)
    if unknown:
        log.info("bybit: %d tickers had no instrument (new listing?); skipped", unknown)
    return quotes


def parse_funding_history(
    result: Mapping[str, Any], instrument: Instrument
) -> list[FundingSettlement]:
    """One funding/history page (newest first on the wire) -> settlements, oldest first."""
    out = []
    for row in _rows(result, "funding/history"):
        try:
            ts = to_int(row.get("fundingRateTimestamp"))
            rate = to_float(row.get("fundingRate"))
        except ValueError as exc:
            raise MalformedResponse(VENUE, f"funding/history: {exc}") from None
        if ts is None or rate is None:
            raise MalformedResponse(VENUE, f"funding/history row without time or rate: {row}")
        out.append(
            FundingSettlement(
                venue=VENUE,
                venue_symbol=instrument.venue_symbol,
                canonical=instrument.canonical,
                funding_time_ms=settlement_time_ms(ts),
                rate_per_interval=rate,
                interval_h=instrument.funding_interval_h,
            )
        )
    return sorted(out, key=lambda s: s.funding_time_ms)


def _levels(raw: Any, where: str) -> Levels:
    """``[[price, size], ...]`` -> the book's (n, 2) float64 array; anything impossible raises
    MalformedResponse (the checked parse names the level)."""
    fast = _plain_levels(raw)
    return fast if fast is not None else _checked_levels(raw, where)


def _plain_levels(raw: Any) -> Levels | None:
    """What Bybit sends - lists of two decimal strings, prices > 0, sizes >= 0, all finite -
    straight into one array (~44 books x 100 levels a scan): one ``float()`` per string, the
    shape, type and range checks as C-level passes over the Python lists (``set(map(...))``,
    one ``sum`` for finiteness, ``min``), which cost less than numpy's per-call overhead on
    ~100 numbers; None at anything else, which the checked parse then names."""
    if type(raw) is not list:
        return None
    if not raw:
        return np.empty((0, 2), dtype=np.float64)
    if set(map(type, raw)) != {list} or set(map(len, raw)) != {2}:
        return None
    flat = list(chain.from_iterable(raw))
    if set(map(type, flat)) != {str}:  # bools and None are no numbers here
        return None
    try:
        numbers = list(map(float, flat))
    except ValueError:  # not a number
        return None
    total = sum(numbers)  # finite only when every number is (NaN and infinities carry)
    if total - total != 0.0 or min(numbers[0::2]) <= 0 or min(numbers[1::2]) < 0:
        return None
    return np.array(numbers, dtype=np.float64).reshape(len(raw), 2)


def _checked_levels(raw: Any, where: str) -> Levels:
    if not isinstance(raw, list):
        raise MalformedResponse(VENUE, f"{where}: levels are not a list")
    out = []
    for level in raw:
        if not isinstance(level, list | tuple) or len(level) < 2:
            raise MalformedResponse(VENUE, f"{where}: level {level!r} is not [price, size]")
        try:
            price, qty = to_float(level[0]), to_float(level[1])
        except (TypeError, ValueError) as exc:
            raise MalformedResponse(VENUE, f"{where}: unreadable level {level!r}") from exc
        if price is None or qty is None:
            raise MalformedResponse(VENUE, f"{where}: empty price or size in {level}")
        if not (math.isfinite(price) and math.isfinite(qty)) or price <= 0 or qty < 0:
            raise MalformedResponse(VENUE, f"{where}: impossible level {level!r}")
        out.append((price, qty))
    return np.array(out, dtype=np.float64).reshape(len(out), 2)


def parse_orderbook(
    result: Mapping[str, Any], instrument: Instrument, received_ms: int | None = None
) -> OrderBook:
    """``{s, b, a, ts}`` -> OrderBook (bids descending, asks ascending, as Bybit sends).

    ``received_ms`` (the client's server-corrected clock) stamps a book whose ``ts`` is missing;
    a book with neither is malformed rather than silently stamped with some other clock.
    """
    try:
        ts = to_int(result.get("ts")) or received_ms
    except ValueError as exc:
        raise MalformedResponse(VENUE, f"orderbook ts: {exc}") from None
    if ts is None:
        raise MalformedResponse(VENUE, "orderbook: no ts and no receive time")
    return OrderBook(
        venue=VENUE,
        venue_symbol=instrument.venue_symbol,
        canonical=instrument.canonical,
        bids=_levels(result.get("b"), "orderbook bids"),
        asks=_levels(result.get("a"), "orderbook asks"),
        ts_ms=ts,
        multiplier=float(instrument.multiplier),
        contract_size=float(instrument.contract_size),
    )


# --- the adapter ---------------------------------------------------------------------------


def base_url_for(settings: VenueSettings) -> str:
    """Explicit ``base_url`` wins (emulator); else the host of the configured environment."""
    return settings.base_url or HOSTS[settings.environment]


class BybitVenue:
    """``Venue`` over Bybit V5 linear (USDT and USDC) contracts."""

    name = VENUE

    def __init__(self, http: BybitHttp) -> None:
        self.http = http
        self._instruments: dict[str, Instrument] = {}

    @classmethod
    def from_settings(
        cls,
        settings: VenueSettings,
        *,
        credentials: BybitCredentials | None = None,
        retries: int = 3,
        clock: Clock = SYSTEM_CLOCK,
        **http_kwargs: Any,
    ) -> BybitVenue:
        http = BybitHttp(
            base_url_for(settings),
            credentials=credentials,
            recv_window_ms=settings.recv_window_ms,
            timeout_s=settings.timeout_s,
            retries=retries,
            clock=clock,
            **http_kwargs,
        )
        return cls(http)

    def __repr__(self) -> str:
        return f"BybitVenue({self.http!r})"

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    async def load_instruments(self) -> list[Instrument]:
        """All linear instruments, following ``nextPageCursor`` until it is empty."""
        found: list[Instrument] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = {"category": "linear", "limit": INSTRUMENTS_PAGE, "cursor": cursor}
            result = await self.http.get("/v5/market/instruments-info", params)
            found.extend(parse_instruments(result))
            cursor = str(result.get("nextPageCursor") or "") or None
            if cursor is None:
                break
        else:
            log.warning("bybit: instruments-info still paging after %d pages", MAX_PAGES)
        self._instruments = {i.venue_symbol: i for i in found}
        return found

    async def fetch_quotes(self) -> list[FundingQuote]:
        """One ``tickers?category=linear`` call for the whole universe."""
        if not self._instruments:
            await self.load_instruments()
        result = await self.http.get("/v5/market/tickers", {"category": "linear"})
        return parse_tickers(result, self._instruments, self.http.timestamp_ms())

    async def load_instruments_and_quotes(self) -> InstrumentsAndQuotes:
        """``instruments-info`` (every page) and ``tickers`` in one round: the tickers request
        does not need the list, only their parse does (``JointQuotes``). A failed reload maps
        the tickers onto the previously loaded list."""
        # the instrument request first, so the rate limiter queues it first
        loading = asyncio.ensure_future(result_or_error(self.load_instruments()))
        tickers = asyncio.ensure_future(self.http.get("/v5/market/tickers", {"category": "linear"}))
        try:
            instruments = await loading
            if isinstance(instruments, Exception) and not self._instruments:
                tickers.cancel()  # nothing to map them onto
                await asyncio.gather(tickers, return_exceptions=True)
                return InstrumentsAndQuotes(instruments, instruments)
            try:
                result = await tickers
                quotes = parse_tickers(result, self._instruments, self.http.timestamp_ms())
            except Exception as exc:
                return InstrumentsAndQuotes(instruments, exc)
        except asyncio.CancelledError:  # no request of the round left running
            for task in (loading, tickers):
                task.cancel()
            await asyncio.gather(loading, tickers, return_exceptions=True)
            raise
        return InstrumentsAndQuotes(instruments, quotes)

    async def fetch_spot_tickers(self) -> list[dict[str, Any]]:
        """Raw spot tickers (for same-venue carry: spot long vs perp short)."""
        result = await self.http.get("/v5/market/tickers", {"category": "spot"})
        return _rows(result, "spot tickers")

    async def fetch_history(
        self, instrument: Instrument, since_ms: int, until_ms: int
    ) -> list[FundingSettlement]:
        """All settled funding in ``[since_ms, until_ms]``: ``history_pages`` merged (backwards
        from ``until_ms``: next ``endTime = oldest - 1``, 200 per page)."""
        seen: dict[int, FundingSettlement] = {}
        async for page in self.history_pages(instrument, since_ms, until_ms, max_pages=MAX_PAGES):
            seen.update((s.funding_time_ms, s) for s in page)
        return [seen[k] for k in sorted(seen)]

    async def history_pages(
        self, instrument: Instrument, since_ms: int, until_ms: int, max_pages: int = 1000
    ) -> AsyncIterator[list[FundingSettlement]]:
        """Settled funding in ``[since_ms, until_ms]`` one page at a time, newest page first
        (``endTime`` walks back, 200 per page), for the backfill: it stores each page before
        asking for the next. Requests go through ``BybitHttp``'s rate limiter and retries."""
        end = until_ms
        for _ in range(max_pages):
            params = {
                "category": "linear",
                "symbol": instrument.venue_symbol,
                "endTime": end,
                "limit": HISTORY_PAGE,
            }
            page = parse_funding_history(
                await self.http.get("/v5/market/funding/history", params), instrument
            )
            found = [s for s in page if since_ms <= s.funding_time_ms <= until_ms]
            if found:
                yield found
            if len(page) < HISTORY_PAGE or page[0].funding_time_ms <= since_ms:
                return
            end = page[0].funding_time_ms - 1

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        return await self._book("linear", instrument, depth)

    async def load_spot_instruments(self) -> list[Instrument]:
        """Spot pairs, for same-venue carry (spot long, perp short). Spot is one page: Bybit
        ignores ``limit``/``cursor`` for ``category=spot``."""
        result = await self.http.get("/v5/market/instruments-info", {"category": "spot"})
        return parse_instruments(result, category="spot")

    async def fetch_spot_book(self, instrument: Instrument, depth: int) -> OrderBook:
        return await self._book("spot", instrument, depth)

    async def _book(self, category: str, instrument: Instrument, depth: int) -> OrderBook:
        limit = max(1, min(depth, 1000))
        params = {"category": category, "symbol": instrument.venue_symbol, "limit": limit}
        result = await self.http.get("/v5/market/orderbook", params)
        if not result.get("s") and not result.get("b") and not result.get("a"):
            raise BadSymbol(VENUE, f"orderbook: no {category} book for {instrument.venue_symbol}")
        return parse_orderbook(result, instrument, self.http.timestamp_ms())

    async def close(self) -> None:
        await self.http.close()


def index_by_symbol(instruments: Iterable[Instrument]) -> dict[str, Instrument]:
    return {i.venue_symbol: i for i in instruments}
