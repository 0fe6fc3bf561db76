"""One ``Venue`` adapter over ``ccxt.async_support`` for every peer venue.

Why one class: ccxt already unifies the wire formats; what differs between venues (where the
funding interval comes from, bulk call parameters, history paging, allowed book depths) is
data in the venue's spec (``scanner/venues/specs``). This module only turns ccxt's unified
structures into scanner.domain objects and translates ccxt's exception tree into ours:

    HTTP 403/418/429 the spec lists             -> by its meaning (BanGate): IP ban, rate
                                                   limit, or a refusal that is no ban
    RateLimitExceeded / DDoSProtection          -> RateLimited
    RequestTimeout                              -> VenueTimeout
    other NetworkError (ExchangeNotAvailable..) -> VenueUnavailable
    AuthenticationError                         -> AuthError
    BadSymbol                                   -> BadSymbol
    BadRequest / InvalidOrder / NotSupported    -> BadRequest
    BadResponse, or ccxt choking on a body      -> MalformedResponse

ccxt returns an unparsable body as raw text instead of raising, so a per-response hook
(``on_rest_response``) refuses non-JSON bodies and classifies HTTP statuses first. After
an IP ban (by the venue's own meaning: Bybit 403, Binance 418) the adapter sends nothing
until it lifts: the venue's header (``Retry-After``) gives the length, else the spec's default.

24 h volume and top of book: where the quirk table says the funding payload lacks them, one
extra bulk ``fetch_tickers`` call (and, for Binance, one ``fetch_bids_asks``) runs alongside
the funding call. Every bulk call of a quote round goes out at once (``asyncio.gather``: the
funding call per product type, the interval list, the tickers), so a round costs one round
trip, not one per call. A ticker call's failure (or a hang beyond ``volume_grace_s`` after
the quotes are in) costs only what it carried: the quotes are the product, volume and top of
book are inputs, so they come back with ``volume_24h_usd=None`` and no top of book.

Coverage: every *swap* market ccxt loads for the venue (the quirk table narrows market types
and settle currencies), linear and inverse alike; the user's universe filter (settle USDT /
USDC, include/exclude) is applied downstream, not here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import ccxt.async_support as ccxt_async
import numpy as np
from ccxt.base import errors as cx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.domain import (
    FundingQuote,
    FundingSettlement,
    Instrument,
    OrderBook,
    funding_quote,
)
from scanner.venues.ban_gate import BanGate
from scanner.venues.base import (
    AuthError,
    BadRequest,
    BadSymbol,
    InstrumentsAndQuotes,
    MalformedResponse,
    PermanentVenueError,
    RateLimited,
    VenueError,
    VenueTimeout,
    VenueUnavailable,
    hours_from,
    is_retryable,
    result_or_error,
    settlement_time_ms,
    to_float,
    to_int,
)
from scanner.venues.book_levels import sorted_side
from scanner.venues.capabilities import RawBookSpec, RawFundingSpec, RawTickersSpec, VenueQuirks
from scanner.venues.ccxt_lean import LeanCall, close_lean_http
from scanner.venues.funding_rows import read_funding_rows
from scanner.venues.retry import send_then_retry
from scanner.venues.specs import spec_of
from scanner.venues.volume import (
    Top,
    raw_ticker_records,
    tops_by_symbol,
    usd_volume,
    volumes_by_symbol,
)

if TYPE_CHECKING:
    from scanner.domain import Levels

log = logging.getLogger(__name__)

T = TypeVar("T")
_HTTP_STATUS = re.compile(r" (?:GET|POST|PUT|DELETE) \S+ (\d{3}) ")


def _http_status(exc: BaseException) -> int | None:
    match = _HTTP_STATUS.search(str(exc))
    return int(match.group(1)) if match else None


def _guard_responses(exchange: ccxt_async.Exchange, gate: BanGate) -> None:
    """Classify 429/403/418/5xx by HTTP status, and refuse non-JSON bodies, per response.

    The statuses the venue's spec lists are classified by the ``gate`` (which starts a ban's
    silence when the venue means one, for as long as its header says). Otherwise ccxt runs
    the venue's body-based ``handle_errors`` first, so a 429 whose JSON body the venue's table
    does not know becomes a generic ExchangeError; and a body that is not JSON is handed back
    as raw text instead of raising. ``on_rest_response`` is ccxt's hook that
    sees each response before both; raising there is per request (no shared state, so
    concurrent calls on one instance cannot see each other's bodies).

    The JSON this hook parses to check a body is handed to ccxt's ``parse_json``, which ccxt
    calls on the same body right after the hook (no await in between, so no other request
    can come between them): every body is parsed once, not twice (a tickers body is
    ~150 kB).
    """
    inner = exchange.on_rest_response
    parse_json = exchange.parse_json
    checked: list[tuple[str, Any]] = []
    """The body the hook just parsed and its JSON, until ccxt's parse_json takes it."""

    def on_rest_response(*args: Any) -> Any:
        code, reason, url, method = args[:4]
        where = f"{exchange.id} {method} {url} {code} {reason}"
        if isinstance(code, int):
            failure = gate.classify(code, args[4] or {}, f"{method} {url}")
            if failure is not None:
                raise failure
        if code == 429:
            raise cx.RateLimitExceeded(where)
        if code in (403, 418):
            raise cx.DDoSProtection(where)
        if code in (408, 504):
            raise cx.RequestTimeout(where)
        if isinstance(code, int) and code >= 500:
            raise cx.ExchangeNotAvailable(where)
        body = inner(*args)
        checked.clear()
        if isinstance(body, str) and body:
            found = parse_json(body)
            if found is None:
                raise cx.BadResponse(f"{where}: body is not JSON: {body[:80]!r}")
            checked.append((body, found))
        return body

    def parse_json_once(text: Any) -> Any:
        if checked and checked[0][0] is text:
            return checked.pop()[1]
        return parse_json(text)

    exchange.on_rest_response = on_rest_response
    exchange.parse_json = parse_json_once


def translate_ccxt_error(venue: str, what: str, exc: BaseException) -> VenueError:
    """Map one ccxt (or parsing) exception onto the venue error tree."""
    text = f"{what}: {type(exc).__name__}: {str(exc)[:300]}"
    status = _http_status(exc)
    if isinstance(exc, cx.RateLimitExceeded | cx.DDoSProtection):
        return RateLimited(venue, text, retry_after_s=1.0, code=status)
    if isinstance(exc, cx.RequestTimeout):
        return VenueTimeout(venue, text, code=status)
    if isinstance(exc, cx.NetworkError):
        return VenueUnavailable(venue, text, code=status)
    if isinstance(exc, cx.AuthenticationError):
        return AuthError(venue, text, code=status)
    if isinstance(exc, cx.BadSymbol):
        return BadSymbol(venue, text, code=status)
    if isinstance(exc, cx.BadRequest | cx.InvalidOrder | cx.NotSupported | cx.InsufficientFunds):
        return BadRequest(venue, text, code=status)
    if isinstance(exc, cx.BadResponse):
        return MalformedResponse(venue, text, code=status)
    if status is not None and status >= 500:
        return VenueUnavailable(venue, text, code=status)
    if isinstance(exc, cx.BaseError):
        return PermanentVenueError(venue, text, code=status)
    return MalformedResponse(venue, text)


def _skip_currencies(exchange: ccxt_async.Exchange) -> None:
    """``load_markets`` without the currency list first (this instance only).

    ccxt's ``load_markets`` asks for every currency before the markets where the venue has a
    public currency endpoint (Gate ``spot/currencies``, Bitget ``spot/public/coins``): one more
    request, a round trip the markets wait for, and ~0.03 s of parsing, for data no adapter
    reads (instruments come from the markets' own rows, amounts from their lot and tick).
    Without it ccxt names currencies by its common-code table, as it does for every venue
    whose currency endpoint needs a key (Binance, OKX)."""
    exchange.has = {**exchange.has, "fetchCurrencies": False}


class CcxtVenue:
    """``Venue`` over one ccxt async exchange instance (one instance per venue)."""

    def __init__(
        self,
        venue: str,
        exchange: ccxt_async.Exchange,
        *,
        quirks: VenueQuirks | None = None,
        retries: int = 2,
        volume_grace_s: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        spec = spec_of(venue)
        self.name = venue
        self.exchange = exchange
        self.clock = clock
        self._parse_row = spec.parse_row
        found = quirks or spec.quirks
        if found is None:
            raise ValueError(f"venue {venue!r} is not a ccxt venue (its spec has no quirks)")
        self.quirks = found
        self.retries = retries
        self.volume_grace_s = volume_grace_s
        """How long the quotes wait for a still-running tickers call once they are in."""
        self._by_symbol: dict[str, Instrument] = {}
        self._symbol_by_id: dict[str, str] = {}
        self._lean: dict[str, LeanCall] = {}
        """ccxt's implicit methods of the raw requests (books, bulk quotes), sent by
        ``LeanCall``."""
        self.gate = BanGate(venue, spec.statuses, clock)
        """Nothing is sent while a ban the venue means as one holds."""
        _guard_responses(exchange, self.gate)
        _skip_currencies(exchange)

    def __repr__(self) -> str:
        return f"CcxtVenue({self.name!r})"

    # --- plumbing ------------------------------------------------------------------------

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one ccxt call with error translation; retried on temporary errors (sent once,
        the retry loop only after a retryable failure: ``send_then_retry``)."""
        return await send_then_retry(lambda: self._once(what, fn), self._retry_loop)

    def _retry_loop(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(multiplier=0.2, max=4.0, jitter=0.2),
            reraise=True,
        )

    async def _once(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        self.gate.check(what)
        try:
            result = await fn()
        except VenueError:
            raise
        except (cx.BaseError, TypeError, KeyError, AttributeError, ValueError, IndexError) as exc:
            raise translate_ccxt_error(self.name, what, exc) from exc
        return result

    # --- Venue ---------------------------------------------------------------------------

    async def load_instruments(self) -> list[Instrument]:
        markets = await self._call("load_markets", lambda: self.exchange.load_markets(True))
        parse = self._parse_row
        found: dict[str, Instrument] = {}
        for symbol, market in markets.items():
            if not market.get("swap"):
                continue
            try:
                if self.quirks.instrument_from_index:
                    inst = parse(market["info"], int(market["baseId"]))
                else:
                    inst = parse(market["info"])
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s: skipping market %s: %s", self.name, symbol, exc)
                continue
            if inst.venue != self.name:  # a spec reused under another id stamps its own
                inst = replace(inst, venue=self.name)
            found[symbol] = inst
        self._by_symbol = found
        self._symbol_by_id = {inst.venue_symbol: sym for sym, inst in found.items()}
        return list(found.values())

    async def load_instruments_and_quotes(self) -> InstrumentsAndQuotes:
        """The instrument request and the quote requests in one round where every quote
        request is raw (``VenueQuirks.quotes_without_markets``): they go out together, and
        the quotes are parsed and mapped once the markets are in. Otherwise the quotes wait
        for the instruments, as ccxt's fetch methods wait for the markets."""
        if not self.quirks.quotes_without_markets:
            instruments = await self._instruments_or_error()
            if isinstance(instruments, Exception) and not self._by_symbol:
                return InstrumentsAndQuotes(instruments, instruments)
            return InstrumentsAndQuotes(instruments, await self._quotes_or_error(None))
        # the instrument request first, so a venue's throttle queues it first
        loading = asyncio.ensure_future(self._instruments_or_error())
        sent = self._send_quote_calls()
        try:
            instruments = await loading
        except BaseException:
            loading.cancel()
            await sent.cancel()
            raise
        if isinstance(instruments, Exception) and not self._by_symbol:
            await sent.cancel()  # nothing to map them onto
            return InstrumentsAndQuotes(instruments, instruments)
        return InstrumentsAndQuotes(instruments, await self._quotes_or_error(sent))

    async def _instruments_or_error(self) -> list[Instrument] | Exception:
        return await result_or_error(self.load_instruments())

    async def _quotes_or_error(self, sent: _QuoteCalls | None) -> list[FundingQuote] | Exception:
        return await result_or_error(
            self._quotes(self._send_quote_calls() if sent is None else sent)
        )

    async def fetch_quotes(self) -> list[FundingQuote]:
        """Every bulk call of the venue at once: funding rates (one call per ``funding_calls``
        entry), the interval list (quirk), the tickers for 24 h volume and top of book
        (``VolumeSpec``/``TopOfBookSpec``) and Binance's book tickers. One round trip (after
        the instruments' when none are loaded yet; ``load_instruments_and_quotes`` sends
        both in one round)."""
        if not self._by_symbol:
            await self.load_instruments()
        return await self._quotes(self._send_quote_calls())

    def _send_quote_calls(self) -> _QuoteCalls:
        """Start every quote request of the venue (each its own task, so all go out now)."""
        quirks = self.quirks
        return _QuoteCalls(
            rates=asyncio.ensure_future(self._funding_rates()),
            adjusted=asyncio.ensure_future(self._adjusted_intervals()),
            tickers=asyncio.ensure_future(self._tickers()) if quirks.wants_tickers else None,
            bids_asks=asyncio.ensure_future(self._bids_asks()) if quirks.wants_bids_asks else None,
        )

    async def _quotes(self, sent: _QuoteCalls) -> list[FundingQuote]:
        """The quotes of the requests ``sent``, once they answered (the markets must be in:
        raw bodies are parsed here)."""
        spec, top = self.quirks.volume, self.quirks.top_of_book
        try:
            got_rates, got_adjusted = await asyncio.gather(sent.rates, sent.adjusted)
            rates = self._parsed_rates(got_rates)
            adjusted = self._parsed_intervals(got_adjusted)
            got_tickers = await self._optional("tickers", sent.tickers)
            got_bids_asks = await self._optional("book tickers", sent.bids_asks)
        except BaseException:  # failed, or cancelled: no request of the round left running
            await sent.cancel()
            raise
        records = self._records("tickers", self.quirks.raw_tickers, got_tickers)
        book_tickers = self._records("book tickers", self.quirks.raw_bids_asks, got_bids_asks)
        volumes = (
            volumes_by_symbol(spec, records or {})
            if spec is not None and spec.source == "tickers"
            else None
        )
        tops: dict[str, Top] = {}
        if top is not None:
            source = book_tickers if top.source == "bids_asks" else records
            tops = tops_by_symbol(top, source or {})
        now = self.clock.now_ms()
        quotes = []
        for symbol, fr in rates.items():
            inst = self._by_symbol.get(symbol)
            if inst is None:
                continue
            if volumes is not None:
                volume = volumes.get(symbol)
            else:
                volume = usd_volume(spec, fr) if spec is not None else None
            quote = quote_from_unified(
                self.quirks, inst, fr, adjusted, now, volume, tops.get(symbol)
            )
            if quote is not None:
                quotes.append(quote)
        return quotes

    async def _funding_rates(self) -> Any:
        """ccxt's funding-rate structures by symbol, or (``raw_funding``) the raw bodies for
        ``_parsed_rates`` to parse once the markets are in."""
        if self.quirks.raw_funding:
            return await asyncio.gather(
                *(
                    self._call("fetch_funding_rates", partial(self._raw_body, raw))
                    for raw in self.quirks.raw_funding
                )
            )
        batches = await asyncio.gather(
            *(
                self._call(
                    "fetch_funding_rates",
                    partial(self.exchange.fetch_funding_rates, None, dict(params)),
                )
                for params in self.quirks.funding_calls
            )
        )
        rates: dict[str, Mapping[str, Any]] = {}
        for batch in batches:
            rates.update(batch)
        return rates

    async def _raw_body(
        self, raw: RawFundingSpec | RawTickersSpec, params: Mapping[str, Any] | None = None
    ) -> Any:
        """One raw request as ccxt's implicit method sends it (``LeanCall``: its transport,
        throttle, response hook and errors), with ``raw.params`` or ``params``; the body as
        ccxt's JSON parse gave it."""
        return await self._lean_call(raw.method)(dict(raw.params if params is None else params))

    def _lean_call(self, method: str) -> LeanCall:
        call = self._lean.get(method)
        if call is None:
            call = self._lean[method] = LeanCall(self.exchange, method)
        return call

    def _parsed_rates(self, got: Any) -> dict[str, Mapping[str, Any]]:
        """``_funding_rates``' result as ccxt's structures by symbol (raw bodies parsed by
        ccxt's ``parse_funding_rates``, as its ``fetch_funding_rates`` parses them)."""
        if not self.quirks.raw_funding:
            return dict(got)
        rates: dict[str, Mapping[str, Any]] = {}
        for raw, body in zip(self.quirks.raw_funding, got, strict=True):
            rates.update(self._parse_funding(raw, body, "fetch_funding_rates"))
        return rates

    def _parse_funding(
        self, raw: RawFundingSpec, body: Any, what: str
    ) -> dict[str, Mapping[str, Any]]:
        """ccxt's parse of one raw funding body (its rows as ccxt's ``safe_list`` finds them:
        none when the path is missing); a row ccxt chokes on is a malformed response. The
        spec's ``reader`` reads the rows first (the same fields, ``funding_rows``); a body it
        hands back is ccxt's to parse."""
        rows = body
        for key in raw.rows:
            rows = rows.get(key) if isinstance(rows, Mapping) else None
        if raw.reader is not None and isinstance(rows, list):
            read = read_funding_rows(self.exchange, raw.reader, rows)
            if read is not None:
                return read
        try:
            parsed: dict[str, Mapping[str, Any]] = self.exchange.parse_funding_rates(
                rows if isinstance(rows, list) else []
            )
        except (cx.BaseError, TypeError, KeyError, AttributeError, ValueError, IndexError) as exc:
            raise translate_ccxt_error(self.name, what, exc) from exc
        return parsed

    async def _tickers(self) -> Any:
        """Unified ticker records of the bulk tickers call(s), all at once, or (``raw_tickers``)
        the raw body for ``_records`` to read once the instruments are in; raises VenueError."""
        raw = self.quirks.raw_tickers
        if raw is not None and raw.calls:
            return await asyncio.gather(
                *(self._call("fetch_tickers", partial(self._raw_body, raw, p)) for p in raw.calls)
            )
        if raw is not None:
            return await self._call("fetch_tickers", partial(self._raw_body, raw))
        spec = self.quirks.volume
        top = self.quirks.top_of_book
        calls = spec.calls if spec is not None and spec.source == "tickers" else ({},)
        if spec is None and top is not None:
            calls = ({},)
        batches = await asyncio.gather(
            *(
                self._call("fetch_tickers", partial(self.exchange.fetch_tickers, None, dict(p)))
                for p in calls
            )
        )
        out: dict[str, Mapping[str, Any]] = {}
        for batch in batches:
            out.update(batch)
        return out

    async def _bids_asks(self) -> Any:
        """Best bid/ask of every symbol in one call (Binance ``ticker/bookTicker``): unified
        records, or (``raw_bids_asks``) the raw body for ``_records``."""
        raw = self.quirks.raw_bids_asks
        if raw is not None:
            return await self._call("fetch_bids_asks", partial(self._raw_body, raw))
        got: dict[str, Mapping[str, Any]] = await self._call(
            "fetch_bids_asks", lambda: self.exchange.fetch_bids_asks(None)
        )
        return got

    def _records(
        self, what: str, raw: RawTickersSpec | None, got: Any
    ) -> dict[str, Mapping[str, Any]] | None:
        """An optional call's records by symbol: a raw body's rows read onto the loaded
        instruments (``raw_ticker_records``); None when the call gave nothing or its body has
        no row list (it then costs only what it carried, as a failed call)."""
        if got is None or raw is None:
            return got  # type: ignore[no-any-return]
        try:
            records: dict[str, Mapping[str, Any]] = {}
            for body in got if raw.calls else (got,):  # one body per call of ``calls``
                records.update(raw_ticker_records(raw, body, self._symbol_by_id))
            return records
        except (TypeError, KeyError, AttributeError, ValueError, IndexError) as exc:
            why = translate_ccxt_error(self.name, f"fetch {what}", exc)
            log.warning("%s: no %s, quotes kept without them: %s", self.name, what, why)
            return None

    async def _optional(self, what: str, task: asyncio.Future[Any] | None) -> Any:
        """An optional bulk call's records, or None when it failed or hangs on.

        Waits at most ``volume_grace_s`` after the quotes are in; what it carried (volume, top
        of book) is then unknown for this scan, and the quotes are kept without it.
        """
        if task is None:
            return None
        try:
            return await asyncio.wait_for(task, self.volume_grace_s)  # cancels it on timeout
        except (VenueError, TimeoutError) as exc:
            why = exc if isinstance(exc, VenueError) else f"{what} still running; not waiting"
            log.warning("%s: no %s, quotes kept without them: %s", self.name, what, why)
            return None

    async def _adjusted_intervals(self) -> Any:
        """The ``funding_info`` interval list: ccxt's structures by symbol, or
        (``raw_intervals``) the raw body for ``_parsed_intervals``; None when not needed."""
        if self.quirks.interval_source != "funding_info":
            return None
        raw = self.quirks.raw_intervals
        if raw is not None:
            return await self._call("fetch_funding_intervals", partial(self._raw_body, raw))
        return await self._call(
            "fetch_funding_intervals", lambda: self.exchange.fetch_funding_intervals()
        )

    def _parsed_intervals(self, got: Any) -> Mapping[str, float]:
        """Hours per symbol of ``_adjusted_intervals``' result (a raw body parsed by ccxt)."""
        if got is None:
            return {}
        raw = self.quirks.raw_intervals
        if raw is not None:
            got = self._parse_funding(raw, got, "fetch_funding_intervals")
        out = {}
        for symbol, fr in got.items():
            hours = _interval_h(fr)
            if hours is not None:
                out[symbol] = hours
        return out

    def _symbol_of(self, instrument: Instrument) -> str:
        symbol = self._symbol_by_id.get(instrument.venue_symbol)
        if symbol is not None:
            return symbol
        raise BadSymbol(self.name, f"{instrument.venue_symbol} is not a loaded instrument")

    async def fetch_history(
        self, instrument: Instrument, since_ms: int, until_ms: int
    ) -> list[FundingSettlement]:
        """All settled funding in ``[since_ms, until_ms]``: ``history_pages`` merged (forward
        from ``since_ms``, or by page number where the venue needs it), at most 50 pages."""
        seen: dict[int, FundingSettlement] = {}
        async for page in self.history_pages(instrument, since_ms, until_ms, max_pages=50):
            seen.update((s.funding_time_ms, s) for s in page)
        return [seen[k] for k in sorted(seen)]

    async def history_pages(
        self, instrument: Instrument, since_ms: int, until_ms: int, max_pages: int = 1000
    ) -> AsyncIterator[list[FundingSettlement]]:
        """Settled funding in ``[since_ms, until_ms]`` one venue page at a time (oldest first
        within a page), for the backfill: it stores each page before asking for the next, so
        an interrupted run keeps what it fetched. Requests go through the same retries, ban
        gate and ccxt rate limiter as every other call."""
        if not self._by_symbol:
            await self.load_instruments()
        symbol = self._symbol_of(instrument)
        q = self.quirks
        cursor = since_ms
        for _ in range(max_pages):
            params = (
                {**q.history_params, "until": until_ms}
                if q.history_by_time
                else dict(q.history_params)
            )
            since = cursor if q.history_by_time else None
            rows = await self._call(
                "fetch_funding_rate_history",
                partial(
                    self.exchange.fetch_funding_rate_history, symbol, since, q.history_page, params
                ),
            )
            page = [self._settlement(instrument, r) for r in rows]
            found = sorted(
                (s for s in page if s is not None and since_ms <= s.funding_time_ms <= until_ms),
                key=lambda s: s.funding_time_ms,
            )
            if found:
                yield found
            last = max((s.funding_time_ms for s in page if s is not None), default=None)
            if not q.history_by_time or last is None or len(rows) < q.history_page:
                return
            if last >= until_ms or last < cursor:
                return
            cursor = last + 1

    def _settlement(self, inst: Instrument, row: Mapping[str, Any]) -> FundingSettlement | None:
        ts, rate = to_int(row.get("timestamp")), to_float(row.get("fundingRate"))
        if ts is None or rate is None:
            return None
        ts = settlement_time_ms(ts)
        return FundingSettlement(
            venue=self.name,
            venue_symbol=inst.venue_symbol,
            canonical=inst.canonical,
            funding_time_ms=ts,
            rate_per_interval=rate,
            interval_h=inst.funding_interval_h or self.quirks.fixed_interval_h,
        )

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        """The book from the venue's levels (``RawBookSpec``), or ccxt's ``fetch_order_book``
        where the venue's spec has none or it does not apply to this market."""
        if not self._by_symbol:
            await self.load_instruments()
        symbol = self._symbol_of(instrument)
        limit = self.quirks.book_limit(depth)
        raw = self.quirks.raw_book
        market = (self.exchange.markets or {}).get(symbol) if raw is not None else None
        params = raw.request(market, limit) if raw is not None and market else None
        if raw is not None and params is not None:
            read = partial(self._raw_book, raw, params, symbol, depth)
            bids, asks, ts = await self._call("fetch_order_book", read)
        else:
            book = await self._call(
                "fetch_order_book", lambda: self.exchange.fetch_order_book(symbol, limit)
            )
            bids, asks = _ccxt_side(book.get("bids"), depth), _ccxt_side(book.get("asks"), depth)
            ts = to_int(book.get("timestamp"))
        return OrderBook(
            venue=self.name,
            venue_symbol=instrument.venue_symbol,
            canonical=instrument.canonical,
            bids=bids,
            asks=asks,
            ts_ms=ts or self.clock.now_ms(),
            multiplier=float(instrument.multiplier),
            contract_size=float(instrument.contract_size),
        )

    async def _raw_book(
        self, raw: RawBookSpec, params: dict[str, Any], symbol: str, depth: int
    ) -> tuple[Levels, Levels, int | None]:
        """One book request as ccxt's implicit method sends it (``LeanCall``: the same bytes,
        budget and hooks without ccxt's generic request path); its sides read by
        ``book_sides``."""
        body = await self._lean_call(raw.method)(params)
        return book_sides(self.exchange, raw, body, symbol, depth)

    async def close(self) -> None:
        await close_lean_http(self.exchange)
        await self.exchange.close()


def _interval_h(fr: Mapping[str, Any]) -> float | None:
    """ccxt's unified ``interval`` string (``"8h"``) in hours."""
    text = fr.get("interval")
    if not isinstance(text, str) or not text.endswith("h"):
        return None
    return hours_from(text[:-1], "h")


def interval_h_for(
    quirks: VenueQuirks, inst: Instrument, fr: Mapping[str, Any], adjusted: Mapping[str, float]
) -> float | None:
    """The funding interval of one unified funding-rate structure, per the venue's quirk.

    ``adjusted``: hours per ccxt symbol from a separate interval endpoint (Binance
    fundingInfo); symbols missing there get ``default_interval_h``.
    """
    info = fr.get("info") or {}
    src = quirks.interval_source
    hours: float | None = None
    if src == "fixed":
        hours = quirks.fixed_interval_h
    elif src == "funding_info":
        hours = adjusted.get(str(fr.get("symbol")), quirks.default_interval_h)
    elif src == "time_gap":
        first, second = to_int(info.get("fundingTime")), to_int(info.get("nextFundingTime"))
        if first and second and second > first:
            hours = hours_from(second - first, "ms")
    elif src == "info_seconds" and quirks.interval_field:
        hours = hours_from(info.get(quirks.interval_field), "s")
    elif src == "info_hours" and quirks.interval_field:
        hours = hours_from(info.get(quirks.interval_field), "h")
    return hours or inst.funding_interval_h or _interval_h(fr) or quirks.default_interval_h


def quote_from_unified(
    quirks: VenueQuirks,
    inst: Instrument,
    fr: Mapping[str, Any],
    adjusted: Mapping[str, float],
    now_ms: int,
    volume_24h_usd: float | None = None,
    top: Top | None = None,
) -> FundingQuote | None:
    """ccxt funding-rate structure -> FundingQuote (None when the venue shows no rate), with
    the top of book of the venue's bulk tickers when known.

    A field that is not a number (ccxt passes the venue's ``info`` through as sent) raises
    ``MalformedResponse`` naming the symbol."""
    try:
        return _quote(quirks, inst, fr, adjusted, now_ms, volume_24h_usd, top)
    except (ValueError, TypeError) as exc:
        raise MalformedResponse(inst.venue, f"funding rate {inst.venue_symbol}: {exc}") from None


def _quote(
    quirks: VenueQuirks,
    inst: Instrument,
    fr: Mapping[str, Any],
    adjusted: Mapping[str, float],
    now_ms: int,
    volume_24h_usd: float | None,
    top: Top | None,
) -> FundingQuote | None:
    rate = to_float(fr.get("fundingRate"))
    if rate is None or not inst.is_perpetual:
        return None
    interval_h = interval_h_for(quirks, inst, fr, adjusted)
    if interval_h is None:
        log.warning("%s: no funding interval for %s; skipped", inst.venue, inst.venue_symbol)
        return None
    bid, bid_qty, ask, ask_qty = top or (None, None, None, None)
    return funding_quote(  # FundingQuote(...), cheaper: ~4,000 quotes a scan
        inst.venue,
        inst.venue_symbol,
        inst.canonical,
        rate,
        interval_h,
        to_int(fr.get("timestamp")) or now_ms,
        to_int(fr.get("fundingTimestamp")) or None,
        to_float(fr.get("markPrice")),
        to_float(fr.get("indexPrice")),
        float(inst.multiplier),
        False,
        fr.get("info"),
        volume_24h_usd,
        bid,
        bid_qty,
        ask,
        ask_qty,
    )


def book_sides(
    exchange: ccxt_async.Exchange, raw: RawBookSpec, body: Any, symbol: str, depth: int
) -> tuple[Levels, Levels, int | None]:
    """Bids, asks (at most ``depth`` levels each) and the timestamp of a raw book body, as
    ccxt's ``fetch_order_book`` and the adapter's copy into arrays would give them: read
    directly where the sides are in order (``sorted_side``), else by ccxt's
    ``parse_order_book`` on the same body."""
    node, ts = raw.book(exchange, body)
    bids_raw = exchange.safe_value(node, raw.bids, [])
    asks_raw = exchange.safe_value(node, raw.asks, [])
    bids = sorted_side(bids_raw, raw.price, raw.amount, descending=True)
    asks = sorted_side(asks_raw, raw.price, raw.amount, descending=False)
    if bids is None or asks is None:
        book = exchange.parse_order_book(
            node, symbol, ts, raw.bids, raw.asks, raw.price, raw.amount
        )
        return _ccxt_side(book["bids"], depth), _ccxt_side(book["asks"], depth), ts
    return bids[:depth], asks[:depth], ts


def _ccxt_side(levels: Any, depth: int) -> Levels:
    """ccxt's parsed ``[[price, amount, (count)], ...]`` (floats) -> the book's (n, 2) array.

    Levels beyond ``depth`` are dropped (some venues send more than asked for); a third
    element (Bitget/OKX order count) is ignored. Built row by row from ccxt's floats, so a
    level that is not at least a pair raises here, as the tuple unpacking did before.
    """
    rows = [(float(p), float(a)) for p, a, *_ in (levels or [])[:depth]]
    return np.array(rows, dtype=np.float64).reshape(len(rows), 2)


@dataclass
class _QuoteCalls:
    """The quote requests of one round, in flight (``CcxtVenue._send_quote_calls``)."""

    rates: asyncio.Future[Any]
    adjusted: asyncio.Future[Any]
    tickers: asyncio.Future[Any] | None
    bids_asks: asyncio.Future[Any] | None

    async def cancel(self) -> None:
        """Stop the calls still running and wait until they have stopped."""
        calls = [c for c in (self.rates, self.adjusted, self.tickers, self.bids_asks) if c]
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
