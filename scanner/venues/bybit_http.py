"""Bybit V5 transport: exact-bytes signing, server-time offset, rate limits, retries.

Why hand-rolled instead of ``params=``/``json=``: Bybit verifies an HMAC over the exact query
string or body it receives. httpx re-encodes ``params`` (``,`` -> ``%2C``) and serialises
``json=`` its own way, so we build the query/body string once, sign that string and send it
verbatim (URL string / ``content=``). See docs/exchange-api-facts.md A.2.

Why a time offset: Bybit rejects a timestamp more than 1 s ahead of its clock (retCode 10002).
We take ``offset = server_time - local_time_after_the_reply``; the reply's server time is
earlier than the server's "now" when we read it, so our stamps err on the *late* side, which
recv_window absorbs. The offset is re-measured every ``resync_every_s`` (clocks drift) and
after any 10002.

Rate limits: public endpoints share the IP budget (600 requests / 5 s); private endpoints have
per-endpoint per-second budgets (A.5). On top of those static limiters we honour the
``X-Bapi-Limit-Status``/``X-Bapi-Limit-Reset-Timestamp`` headers: when the remaining budget
hits 0 the endpoint waits until the reset time. HTTP 403/429 are classified by Bybit's spec
through the shared ``BanGate``: a 403 is an IP ban, so every later request fails fast with
``RateLimited(ban=True)`` for >= 10 minutes (by the injected clock) instead of hammering it.

Retries (tenacity, exponential backoff with jitter) only for temporary errors, and never for
calls marked ``idempotent=False`` (order create): those are resolved by the caller looking the
order up by its orderLinkId.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from aiolimiter import AsyncLimiter
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.venues.ban_gate import BanGate
from scanner.venues.base import (
    AuthError,
    MalformedResponse,
    RateLimited,
    TemporaryVenueError,
    VenueError,
    VenueTimeout,
    VenueUnavailable,
    is_retryable,
    to_int,
)
from scanner.venues.bybit_errors import TIMESTAMP_CODE, error_for_code, error_for_status
from scanner.venues.http_transport import AiohttpPoolTransport
from scanner.venues.retry import send_then_retry
from scanner.venues.specs.bybit import SPEC

log = logging.getLogger(__name__)

HOSTS: Mapping[str, str] = SPEC.hosts
"""REST root per ``environment`` (mainnet/testnet/demo), from Bybit's venue spec."""

PRIVATE_LIMITS_PER_S: Mapping[str, int] = {
    "/v5/order/create": 10,
    "/v5/order/cancel": 10,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/position/set-leverage": 10,
    "/v5/account/wallet-balance": 50,
    "/v5/account/fee-rate": 5,
}
"""UTA default per-UID limits (facts A.5); unknown private paths get 10/s."""


_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.2)
"""0.2 s, 0.4 s, 0.8 s ... capped at 5 s, plus up to 0.2 s of jitter."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class BybitCredentials:
    """API key pair; ``SecretStr`` keeps both out of every repr and log line."""

    api_key: SecretStr
    api_secret: SecretStr


def build_query(params: Mapping[str, Any]) -> str:
    """``key=value&...`` sorted by key, ``None`` dropped; the exact string we sign and send.

    Values are percent-encoded except for characters that are safe in a query (``,`` stays
    literal like Bybit's own examples), so what is signed is byte-identical to what is sent.
    """
    pairs = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append(f"{key}={quote(str(value), safe=',-_.~:')}")
    return "&".join(pairs)


def json_body(params: Mapping[str, Any]) -> str:
    """Compact JSON body, ``None`` dropped; the exact bytes we sign and send."""
    return json.dumps({k: v for k, v in params.items() if v is not None}, separators=(",", ":"))


def sign(secret: str, timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    """HMAC-SHA256 (lowercase hex) of ``timestamp + api_key + recv_window + payload``.

    ``payload`` is the query string (GET, without ``?``) or the raw JSON body (POST).
    """
    message = f"{timestamp_ms}{api_key}{recv_window_ms}{payload}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class _EndpointGate:
    """Static limiter plus the header-driven 'wait until reset' for one endpoint bucket."""

    limiter: AsyncLimiter
    blocked_until_ms: float = 0.0


@dataclass
class _LimitState:
    public: AsyncLimiter = field(default_factory=lambda: AsyncLimiter(600, 5))
    private: dict[str, _EndpointGate] = field(default_factory=dict)


class BybitHttp:
    """One httpx client for one Bybit host (or any base URL, e.g. the emulator's /bybit)."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: BybitCredentials | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        sleep: Sleep | None = None,
        venue: str = "bybit",
        resync_every_s: float = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self.recv_window_ms = recv_window_ms
        self.retries = retries
        self._credentials = credentials
        self._clock = clock
        self._sleep: Sleep = sleep or clock.sleep
        self._offset_ms: float | None = None
        self._synced_at_ms = 0.0
        self.resync_every_ms = resync_every_s * 1000.0
        self._limits = _LimitState()
        self.gate = BanGate(venue, SPEC.statuses, clock)
        """Bybit's 403 is an IP ban: nothing is sent until it lifts (Bybit's spec)."""
        self._pool = AiohttpPoolTransport() if transport is None else None
        """Our own transport: requests skip httpx's objects (``AiohttpPoolTransport.send``)."""
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport or self._pool)
        self._default_headers = dict(self._client.headers)
        """The client's default headers as httpx adds them, read once: reading httpx's
        ``Headers`` decodes and joins every value each time (~10 us a request)."""

    def __repr__(self) -> str:
        keyed = "with key" if self._credentials else "public only"
        return f"BybitHttp({self.base_url!r}, {keyed})"

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    @property
    def time_offset_ms(self) -> float | None:
        return self._offset_ms

    async def close(self) -> None:
        await self._client.aclose()

    # --- public API --------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Public GET returning ``result`` (retried on temporary errors)."""
        return await self._retrying(lambda: self._send("GET", path, params or {}, signed=False))

    async def signed_get(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self._retrying(lambda: self._send("GET", path, params or {}, signed=True))

    async def signed_post(
        self, path: str, body: Mapping[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """Signed POST. ``idempotent=False`` sends exactly once (order create)."""
        call = lambda: self._send("POST", path, body, signed=True)  # noqa: E731
        if not idempotent:
            return await call()
        return await self._retrying(call)

    async def sync_time(self) -> float:
        """Measure ``server - local`` ms from /v5/market/time; returns the offset."""
        result, envelope = await self._request("GET", "/v5/market/time", {}, signed=False)
        after = self._clock.now_ms()
        server_ms = to_int(envelope.get("time"))
        if server_ms is None:
            nano = to_int(result.get("timeNano"))
            server_ms = nano // 1_000_000 if nano is not None else None
        if server_ms is None:
            secs = to_int(result.get("timeSecond"))
            server_ms = secs * 1000 if secs is not None else None
        if server_ms is None:
            raise MalformedResponse(self.venue, "/v5/market/time has no time field")
        self._offset_ms = server_ms - after
        self._synced_at_ms = after
        return self._offset_ms

    def _now(self) -> float:
        return float(self.timestamp_ms())

    def timestamp_ms(self) -> int:
        """Local clock corrected by the last measured server offset."""
        return int(self._clock.now_ms() + (self._offset_ms or 0.0))

    # --- internals ---------------------------------------------------------------------

    async def _retrying(self, call: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """``call`` once, then retried on temporary errors (``send_then_retry``)."""
        return await send_then_retry(call, self._retry_loop)

    def _retry_loop(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        backoff = _BACKOFF(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return max(exc.retry_after_s, backoff)
        return backoff

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any], *, signed: bool
    ) -> dict[str, Any]:
        stale = self._clock.now_ms() - self._synced_at_ms > self.resync_every_ms
        if signed and (self._offset_ms is None or stale):
            await self.sync_time()
        try:
            result, _ = await self._request(method, path, params, signed=signed)
        except TemporaryVenueError as exc:
            if exc.code == TIMESTAMP_CODE:
                self._offset_ms = None  # re-sync before the retry
            raise
        return result

    async def _request(
        self, method: str, path: str, params: Mapping[str, Any], *, signed: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        await self._throttle(path, signed)
        url = self.base_url + path
        headers: dict[str, str] = {}
        content: str | None = None
        if method == "GET":
            payload = build_query(params)
            if payload:
                url = f"{url}?{payload}"
        else:
            payload = content = json_body(params)
            headers["Content-Type"] = "application/json"
        if signed:
            headers.update(self._auth_headers(payload))
        try:
            status, got, body = await self._roundtrip(method, url, headers, content)
        except httpx.TimeoutException as exc:
            raise VenueTimeout(
                self.venue, f"{method} {path} timed out ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise VenueUnavailable(
                self.venue, f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        self._note_limit_headers(path, signed, got)
        return self._parse(method, path, status, got, body)

    async def _roundtrip(
        self, method: str, url: str, headers: dict[str, str], content: str | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Status, headers and body of one request: straight over our pool, with the client's
        default headers and timeouts as httpx would add them; through httpx when a transport
        was injected (tests)."""
        if self._pool is None:
            resp = await self._client.request(method, url, content=content, headers=headers)
            return resp.status_code, resp.headers, resp.content
        merged = {**self._default_headers, **headers}
        data = content.encode() if content is not None else None
        return await self._pool.send(method, url, merged, data, self._client.timeout)

    def _auth_headers(self, payload: str) -> dict[str, str]:
        if self._credentials is None:
            raise AuthError(self.venue, "this call needs an API key and secret (none configured)")
        key = self._credentials.api_key.get_secret_value()
        ts = self.timestamp_ms()
        signature = sign(
            self._credentials.api_secret.get_secret_value(), ts, key, self.recv_window_ms, payload
        )
        return {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": str(ts),
            "X-BAPI-RECV-WINDOW": str(self.recv_window_ms),
            "X-BAPI-SIGN": signature,
            "X-BAPI-SIGN-TYPE": "2",
        }

    async def _throttle(self, path: str, signed: bool) -> None:
        self.gate.check(path)
        now = self._clock.now_ms()
        if not signed:
            await self._limits.public.acquire()
            return
        gate = self._gate(path)
        wait_ms = gate.blocked_until_ms - now
        if wait_ms > 0:
            if wait_ms > 10_000:
                raise RateLimited(
                    self.venue, f"{path} budget exhausted", retry_after_s=wait_ms / 1e3
                )
            await self._sleep(wait_ms / 1000.0)
        await gate.limiter.acquire()

    def _gate(self, path: str) -> _EndpointGate:
        gate = self._limits.private.get(path)
        if gate is None:
            gate = _EndpointGate(AsyncLimiter(PRIVATE_LIMITS_PER_S.get(path, 10), 1))
            self._limits.private[path] = gate
        return gate

    def _note_limit_headers(self, path: str, signed: bool, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-Bapi-Limit-Status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
        if not signed or remaining is None or reset is None:
            return
        try:
            if int(remaining) <= 0:
                self._gate(path).blocked_until_ms = float(reset)
        except ValueError:
            log.debug("ignoring unparsable rate-limit headers on %s", path)

    def _parse(
        self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        where = f"{method} {path}"
        failure: VenueError | None = self.gate.classify(status, headers, where)
        if failure is None:
            failure = error_for_status(self.venue, where, status, headers, self._now())
        if failure is not None:
            raise failure
        envelope = _json(body, self.venue, where)
        if not isinstance(envelope, dict) or "retCode" not in envelope:
            raise MalformedResponse(self.venue, f"{where}: no retCode in the response envelope")
        code = to_int(envelope.get("retCode"))
        if code != 0:
            msg = str(envelope.get("retMsg", ""))
            raise error_for_code(self.venue, where, code, msg, headers, self._now())
        result = envelope.get("result")
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise MalformedResponse(self.venue, f"{where}: result is {type(result).__name__}")
        return result, envelope


def _json(body: bytes, venue: str, where: str) -> Any:
    """A response body as JSON: orjson (a tickers body is ~570 kB, ~3x faster than ``json``),
    ``json`` for what orjson refuses but is JSON (integers beyond 64 bits)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(venue, f"{where}: body is not JSON ({exc})") from None
