"""Bybit V5 failures -> the venue error tree (docs/exchange-api-facts.md A.5, A.6).

Why a table: Bybit answers business errors with HTTP 200 and a ``retCode``; which of them are
worth retrying (server busy, rate limit, clock skew) and which are final (auth, parameters,
trading rules) is knowledge, kept here in one place and tested against recorded error bodies.
Rate-limit waits come from ``X-Bapi-Limit-Reset-Timestamp`` (ms) or ``Retry-After`` (s).
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.venues.base import (
    AuthError,
    BadRequest,
    BadSymbol,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

TEMPORARY_CODES = frozenset({10000, 10016, 5004, 10429})
RATE_LIMIT_CODES = frozenset({10006, 10018})
AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10009, 10010, 33004})
TIMESTAMP_CODE = 10002
"""Timestamp outside recv_window: temporary, the client re-syncs its clock and retries."""
SYMBOL_CODES = frozenset({10029, 110023, 110126})


def reset_wait_s(headers: Mapping[str, str], now_ms: float, default_s: float = 1.0) -> float:
    """Seconds until the venue's limit resets, from its headers; ``default_s`` if it says not."""
    reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
    try:
        if reset is not None:
            return max(0.0, (float(reset) - now_ms) / 1000.0)
    except ValueError:
        pass
    retry_after = headers.get("Retry-After")
    try:
        return float(retry_after) if retry_after is not None else default_s
    except ValueError:
        return default_s


def error_for_status(
    venue: str, where: str, status: int, headers: Mapping[str, str], now_ms: float
) -> VenueError | None:
    """The error for a non-200 HTTP status (None for 200).

    403 and 429 reach here only without a ban gate: ``BybitHttp`` classifies them first by
    Bybit's spec (``scanner/venues/specs/bybit.py``: 403 is an IP ban of >= 10 minutes).
    """
    if status == 200:
        return None
    if status == 429:
        wait = reset_wait_s(headers, now_ms)
        return RateLimited(venue, f"{where}: HTTP 429", retry_after_s=wait, code=429)
    if status >= 500:
        return VenueUnavailable(venue, f"{where}: HTTP {status}", code=status)
    if status == 401:
        return AuthError(venue, f"{where}: HTTP 401 (key or auth headers)", code=401)
    return BadRequest(venue, f"{where}: HTTP {status}", code=status)


def error_for_code(
    venue: str, where: str, code: int | None, msg: str, headers: Mapping[str, str], now_ms: float
) -> VenueError:
    """The error for a non-zero ``retCode``. Trading-rule codes (110xxx ...) are BadRequest."""
    text = f"{where}: {msg or 'error'}"
    if code in RATE_LIMIT_CODES:
        return RateLimited(venue, text, retry_after_s=reset_wait_s(headers, now_ms), code=code)
    if code in TEMPORARY_CODES or code == TIMESTAMP_CODE:
        return VenueUnavailable(venue, text, code=code)
    if code in AUTH_CODES:
        return AuthError(venue, text, code=code)
    if code in SYMBOL_CODES or (code == 10001 and "symbol" in msg.lower()):
        return BadSymbol(venue, text, code=code)
    return BadRequest(venue, text, code=code)
