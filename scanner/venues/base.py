"""The venue protocol, the venue error tree, and the numeric parsing every adapter shares.

Why one protocol: the collector, the backfiller and the engine must not care whether a venue
is spoken to by our own Bybit client or through ccxt. Every adapter returns scanner.domain
objects with canonical instruments and rates *per interval* with ``interval_h`` alongside.

Error tree (translated at the adapter boundary; nothing above it sees httpx or ccxt errors)::

    VenueError                      anything that went wrong talking to a venue
    +-- TemporaryVenueError         worth retrying later (same request may succeed)
    |   +-- RateLimited             429, Bybit 10006, an IP ban (Bybit 403, Binance 418: what
    |   |                           each status means is in the venue's spec); ``retry_after_s``
    |   |                           says how long to stay away (a ban is never hot-retried)
    |   +-- VenueTimeout            no answer in time (connect/read timeout)
    |   +-- VenueUnavailable        5xx, dropped connection, "server busy" business codes
    +-- PermanentVenueError         retrying the same request cannot help
        +-- AuthError               bad key, bad signature, permission denied
        +-- BadRequest              the venue rejected the request's parameters
        +-- BadSymbol               the venue does not know the symbol
        +-- MalformedResponse       the body is not the JSON shape we expect

Malformed JSON is *permanent* by decision: a truncated or garbled body is rare, retrying it
inside one collection usually hits the same broken proxy, and the scheduler's next collection
is the natural retry. The collector reports it as the venue's failure reason instead.

Numbers: venues send decimals as strings (``"0.0000523"``), JSON numbers, or E-notation
(KuCoin ``6.1E-5``); empty strings mean "missing". ``to_decimal``/``to_float``/``to_int``
accept all of them so no adapter hand-rolls its own parsing.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, TypeVar, runtime_checkable

from scanner.domain import FundingQuote, FundingSettlement, Instrument, OrderBook
from scanner.units import MIN_PER_H, MS_PER_H, S_PER_H


class VenueError(Exception):
    """Base of every error an adapter raises. ``venue`` and ``code`` say where and what."""

    def __init__(self, venue: str, message: str, *, code: str | int | None = None) -> None:
        self.venue = venue
        self.code = code
        self.message = message
        tag = f" (code {code})" if code is not None else ""
        super().__init__(f"{venue}: {message}{tag}")


class TemporaryVenueError(VenueError):
    """Retrying later may succeed."""


class RateLimited(TemporaryVenueError):
    """The venue asked us to slow down; wait ``retry_after_s`` seconds before asking again."""

    def __init__(
        self,
        venue: str,
        message: str,
        *,
        retry_after_s: float,
        code: str | int | None = None,
        ban: bool = False,
    ) -> None:
        super().__init__(venue, message, code=code)
        self.retry_after_s = max(0.0, retry_after_s)
        self.ban = ban


class VenueTimeout(TemporaryVenueError):
    """No (complete) answer within the timeout."""


class VenueUnavailable(TemporaryVenueError):
    """Server-side trouble: 5xx, connection dropped, maintenance, 'server busy' codes."""


class PermanentVenueError(VenueError):
    """The same request will fail again; fix configuration or the request."""


class AuthError(PermanentVenueError):
    """Missing/invalid key, bad signature, IP not whitelisted, permission denied."""


class BadRequest(PermanentVenueError):
    """Rejected parameters or a business rule (insufficient balance, invalid qty ...)."""


class BadSymbol(BadRequest):
    """The venue does not know (or no longer trades) the symbol."""


class MalformedResponse(PermanentVenueError):
    """The body was not valid JSON or lacked the fields every response of its kind has."""


def is_retryable(exc: BaseException) -> bool:
    """Temporary errors are retryable, except bans and long rate-limit waits (never hot-retry)."""
    if isinstance(exc, RateLimited):
        return not exc.ban and exc.retry_after_s <= 10.0
    return isinstance(exc, TemporaryVenueError)


@runtime_checkable
class Venue(Protocol):
    """What every venue adapter offers. All methods raise only ``VenueError`` subclasses."""

    name: str

    async def load_instruments(self) -> list[Instrument]:
        """Every contract the adapter covers (perpetuals; dated ones marked DATED)."""
        ...

    async def fetch_quotes(self) -> list[FundingQuote]:
        """The live funding quote of every perpetual, using bulk endpoints."""
        ...

    async def fetch_history(
        self, instrument: Instrument, since_ms: int, until_ms: int
    ) -> list[FundingSettlement]:
        """Settled funding in ``[since_ms, until_ms]``, oldest first."""
        ...

    async def fetch_book(self, instrument: Instrument, depth: int) -> OrderBook:
        """An order-book snapshot with at least ``depth`` levels per side when available."""
        ...

    async def close(self) -> None:
        """Release connections; the adapter is unusable afterwards."""
        ...


@dataclass(frozen=True)
class InstrumentsAndQuotes:
    """One round of instruments and quotes: each part is its result or the error in its place.

    Two outcomes and not one because the parts fail apart: a failed instrument reload keeps
    the previous list (the quotes are then mapped onto it), and quotes that fail after the
    instruments loaded still leave a fresh list worth keeping."""

    instruments: list[Instrument] | Exception
    quotes: list[FundingQuote] | Exception


T = TypeVar("T")


async def result_or_error(call: Awaitable[T]) -> T | Exception:
    """``call``'s result, or the error it raised (cancellation still propagates): the two
    parts of an ``InstrumentsAndQuotes`` round fail apart."""
    try:
        return await call
    except Exception as exc:
        return exc


@runtime_checkable
class JointQuotes(Protocol):
    """A venue that can send its instrument request and its quote requests in one round."""

    async def load_instruments_and_quotes(self) -> InstrumentsAndQuotes:
        """Instruments reloaded and quotes fetched, the quote requests sent with the instrument
        request where they do not need its answer, mapped once both answered. A failed
        reload maps the quotes onto the previously loaded list; with none, ``quotes`` holds
        the instruments' error. Raises only when cancelled."""
        ...


@runtime_checkable
class HistoryPager(Protocol):
    """A venue that hands out settled history page by page (the backfill stores each page
    before asking for the next, so an interrupted run keeps what it fetched)."""

    def history_pages(
        self, instrument: Instrument, since_ms: int, until_ms: int, max_pages: int = 1000
    ) -> AsyncIterator[list[FundingSettlement]]:
        """Settlements in ``[since_ms, until_ms]``, one venue page per item, in any page order."""
        ...


# --- numbers -------------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal | None:
    """Exact Decimal from a venue number: ``"0.0001"``, ``6.1E-5``, ``"6.1E-5"``, 42.

    ``None`` and ``""`` mean missing. Floats go through ``repr`` (shortest round-trip text),
    so ``6.1e-05`` becomes ``Decimal("0.000061")``, not the binary expansion.
    Raises ValueError for anything else (a bool, a non-numeric string, NaN/Infinity).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


_EXACT_INT = 2**53
"""Integers up to this size are floats exactly (beyond it ``float(int)`` may overflow where
``float(Decimal)`` gives infinity)."""


def to_float(value: Any) -> float | None:
    """float from a venue number (see ``to_decimal``); None when missing.

    Text is parsed by ``float()`` directly (the same correctly rounded value as through
    Decimal, without the Decimal: book levels are parsed by the ten thousand per scan), and
    so are floats and integers up to 2**53 (ccxt's unified numbers, Gate's sizes: ~10,000 a
    scan), whose Decimal holds exactly the same number.
    """
    if value is None:
        return None  # missing (ccxt's structures hold None for every field a venue lacks)
    kind = type(value)
    if kind is float or (kind is int and -_EXACT_INT <= value <= _EXACT_INT):
        # what the Decimal gives back: a float's repr round-trips, such an int is exact
        number = float(value)
    elif isinstance(value, str) and value:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        dec = to_decimal(value)
        return None if dec is None else float(dec)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def to_int(value: Any) -> int | None:
    """int from ``"1788912000000"``, 1788912000000 or ``"1.788912E12"``; None when missing.

    A timestamp of 0 is returned as 0; callers decide whether 0 means 'none' (Binance dated
    contracts report ``nextFundingTime: 0``).
    """
    # plain digits (every timestamp on the wire) skip the Decimal: ~3,000 per scan
    if type(value) is int or value is None:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    dec = to_decimal(value)
    if dec is None:
        return None
    if dec != dec.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(dec)


_PER_HOUR = {"ms": float(MS_PER_H), "s": float(S_PER_H), "min": float(MIN_PER_H), "h": 1.0}


def hours_from(value: Any, unit: str) -> float | None:
    """A funding interval in ``unit`` ("s", "min", "h", "ms") converted to hours."""
    num = to_float(value)
    if num is None or num <= 0:
        return None
    if unit not in _PER_HOUR:
        raise ValueError(f"unknown interval unit {unit!r}")
    return num / _PER_HOUR[unit]


def settlement_time_ms(ts_ms: int) -> int:
    """A settlement timestamp rounded to the nearest whole minute.

    Venues stamp settlements with jitter: a few ms (Binance ``...000001``, Hyperliquid
    ``...600048``) up to a few seconds (Gate). Every funding interval is whole hours, so the
    nearest minute is the nominal settlement time, and one settlement gets one key in storage.
    """
    return (ts_ms + 30_000) // 60_000 * 60_000
