"""The HTTP transport under our own venue clients (Bybit): httpx's API over aiohttp's pool.

Why: httpx's own pool (httpcore on anyio) costs ~3 ms of CPU per request when a scan sends a
round of ~44 Bybit books at once - every request scans the pool and asks each idle
connection's socket whether it has expired through anyio's attribute tables. The same round
over aiohttp's connector (the one ccxt already uses for every other venue) costs ~0.6 ms a
request (measured: 146 ms vs 25 ms of CPU for 44 concurrent book requests to the emulator).
``httpx-aiohttp`` (by an httpx maintainer) is that transport; our client code, its exact-bytes
signing and its tests with ``httpx.MockTransport`` stay as they are.

A request can also skip httpx's own objects (``AiohttpPoolTransport.send``): the same
request on the same pool, without building httpx's URL, Request, Headers and Response and
streaming the body through them (~0.15 ms of CPU a request; a steady scan sends ~40 Bybit
books). ``BybitHttp`` sends that way when it owns the transport; tests that inject an
``httpx.MockTransport`` keep speaking httpx.

Under ``send``, the session's requests go out through ``scanner.venues.lean_http`` where it
mirrors the session exactly (the same bytes, answers and aiohttp exceptions, ~50 instead of
~300 us of CPU a request); the session sends the rest.

One correction on top: the library maps every aiohttp connection error (a reset, a server
that hung up) to ``httpx.ConnectTimeout``. A reset is not a timeout - callers report it as
"venue unavailable", not "timed out" - so connection errors that were not timeouts become
``httpx.ReadError`` (a ``TransportError``), also when they happen while the body is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import httpx
import yarl
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions
from multidict import CIMultiDictProxy

from scanner.venues.lean_http import LeanHttp, takes

Reply = tuple[int, "CIMultiDictProxy[str]", bytes]
"""HTTP status, response headers (case-insensitive), body (decoded as httpx decoded it)."""


@contextmanager
def _timeouts_only_when_timed_out() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, TimeoutError):
            raise
        raise httpx.ReadError(f"{type(cause).__name__}: {cause}") from cause


class _Body(httpx.AsyncByteStream):
    """The response body stream, with the same error correction while it is read."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _timeouts_only_when_timed_out():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class AiohttpPoolTransport(AiohttpTransport):
    """``httpx_aiohttp.AiohttpTransport`` whose timeouts are only real timeouts."""

    _lean_http: LeanHttp | None = None

    def _lean(self, session: aiohttp.ClientSession) -> LeanHttp:
        """The lean connections beside the session's pool, with its limits."""
        if self._lean_http is None:
            self._lean_http = LeanHttp.beside(session, self.ssl_context)
        return self._lean_http

    async def aclose(self) -> None:
        if self._lean_http is not None:
            await self._lean_http.close()
            self._lean_http = None
        await super().aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _timeouts_only_when_timed_out():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
    ) -> Reply:
        """The request ``handle_async_request`` would send for an httpx request of these
        parts on this transport's session: ``url`` verbatim (already encoded), ``headers``
        (the caller merges its client's defaults, as httpx does), the timeouts mapped the
        same way, no redirects; and the same errors (httpx's exceptions, corrected as
        above), also while the body is read. The body comes back decoded, as httpx decoded
        it (the client asks for ``gzip, deflate``, which aiohttp decodes the same)."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        limits = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        with _timeouts_only_when_timed_out(), map_aiohttp_exceptions():
            if takes(self.client, method):  # the session's request, sent lean (lean_http)
                lean = self._lean(self.client)
                reply = await lean.request(
                    method, yarl.URL(url, encoded=True), headers, content, limits
                )
                return reply.status, reply.headers, reply.body
            async with self.client.request(
                method,
                yarl.URL(url, encoded=True),
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=False,
                timeout=limits,
            ) as response:
                return response.status, response.headers, await response.read()
