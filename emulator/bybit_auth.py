"""Bybit V5 request authentication and per-UID rate limits, as the exchange applies them.

Signing rule (Bybit guide, see shared/docs/exchange-api-facts.md A.2): HMAC-SHA256, lowercase
hex, over ``timestamp + api_key + recv_window + payload`` where payload is the query string
exactly as sent (GET) or the raw body bytes (POST). The point of emulating it byte-exactly is
to catch clients that sign one encoding and send another (httpx re-encodes ``params=``).

Accepted iff ``server_time - recv_window <= timestamp < server_time + 1000``. An accelerated
emulator (speed > 1) cannot hold a client to that window - no client clock runs 3600x - so the
server then skips the window check (``strict_window=False``); stepped and real-time keep it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from emulator.bybit_rules import BybitError

DEFAULT_RECV_WINDOW_MS = 5000
MAX_CLOCK_AHEAD_MS = 1000
RATE_WINDOW_MS = 1000

HEADER_KEY = "X-BAPI-API-KEY"
HEADER_TIMESTAMP = "X-BAPI-TIMESTAMP"
HEADER_SIGN = "X-BAPI-SIGN"
HEADER_RECV_WINDOW = "X-BAPI-RECV-WINDOW"

ENDPOINT_LIMITS: dict[str, int] = {
    # Per-UID requests per rolling second, UTA Pro defaults (facts A.5, rate-limit.mdx).
    "/v5/order/create": 10,
    "/v5/order/cancel": 10,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/position/set-leverage": 10,
    "/v5/position/switch-mode": 10,
    "/v5/account/wallet-balance": 50,
    "/v5/account/fee-rate": 5,
    # Not in the facts table; assumed (ccxt calls them once per session: UTA detection and
    # coin info during load_markets).
    "/v5/account/info": 50,
    "/v5/user/query-api": 10,
    "/v5/asset/coin/query-info": 5,
}


def sign(secret: str, timestamp: str, api_key: str, recv_window: str, payload: bytes) -> str:
    """The X-BAPI-SIGN value a client must send (lowercase hex HMAC-SHA256)."""
    message = (timestamp + api_key + recv_window).encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def authenticate(
    headers: Mapping[str, str],
    payload: bytes,
    now_ms: int,
    secret_for: Callable[[str], str | None],
    strict_window: bool = True,
) -> str:
    """Return the API key of a correctly signed, fresh request, else raise ``BybitError``.

    Checked in Bybit's order: key known (10003), timestamp inside the window (10002),
    signature (10004). ``headers`` must be case-insensitive (aiohttp's are).
    """
    api_key = headers.get(HEADER_KEY, "")
    if not api_key:
        raise BybitError(10003, f"API key is invalid. (missing header {HEADER_KEY})", 401)
    secret = secret_for(api_key)
    if secret is None:
        raise BybitError(10003, "API key is invalid.", 401)
    timestamp = _required(headers, HEADER_TIMESTAMP)
    received = headers.get(HEADER_RECV_WINDOW) or str(DEFAULT_RECV_WINDOW_MS)
    ts_ms, window_ms = _integer(timestamp, HEADER_TIMESTAMP), _integer(received, HEADER_RECV_WINDOW)
    if strict_window:
        _check_window(ts_ms, window_ms, now_ms)
    given = _required(headers, HEADER_SIGN)
    expected = sign(secret, timestamp, api_key, received, payload)
    if not hmac.compare_digest(given, expected):
        origin = f"{timestamp}***{received}{payload.decode('utf-8', 'replace')}"
        raise BybitError(10004, f"error sign! origin_string[{origin}]")
    return api_key


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "")
    if not value:
        raise BybitError(10001, f"empty value: missing header {name}", 401)
    return value


def _integer(value: str, name: str) -> int:
    if not value.isdigit():
        raise BybitError(10001, f"params error: header {name} must be integer ms, got {value!r}")
    return int(value)


def _check_window(timestamp: int, recv_window: int, now_ms: int) -> None:
    if not now_ms - recv_window <= timestamp < now_ms + MAX_CLOCK_AHEAD_MS:
        raise BybitError(
            10002,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{now_ms}],recv_window[{recv_window}]",
        )


@dataclass(frozen=True)
class LimitStatus:
    """What the X-Bapi-Limit* headers report for one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Bapi-Limit": str(self.limit),
            "X-Bapi-Limit-Status": str(self.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms),
        }


class RateLimiter:
    """Per (UID, endpoint) rolling one-second windows. Refused requests are not counted."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self._limits = dict(ENDPOINT_LIMITS if limits is None else limits)
        self._hits: dict[tuple[int, str], deque[int]] = {}

    def limit_for(self, endpoint: str) -> int:
        return self._limits.get(endpoint, 10)

    def peek(self, uid: int, endpoint: str, now_ms: int) -> LimitStatus:
        """Status without counting (for responses to requests that were refused earlier)."""
        hits = self._window(uid, endpoint, now_ms)
        limit = self.limit_for(endpoint)
        return LimitStatus(len(hits) < limit, limit, max(limit - len(hits), 0), now_ms)

    def admit(self, uid: int, endpoint: str, now_ms: int) -> LimitStatus:
        hits = self._window(uid, endpoint, now_ms)
        limit = self.limit_for(endpoint)
        if len(hits) >= limit:
            return LimitStatus(False, limit, 0, hits[0] + RATE_WINDOW_MS)
        hits.append(now_ms)
        return LimitStatus(True, limit, limit - len(hits), now_ms)

    def _window(self, uid: int, endpoint: str, now_ms: int) -> deque[int]:
        hits = self._hits.setdefault((uid, endpoint), deque())
        while hits and hits[0] <= now_ms - RATE_WINDOW_MS:
            hits.popleft()
        return hits
