"""A lean HTTP/1.1 client for the scanner's hot requests: aiohttp's bytes, aiohttp's errors.

Why: a steady scan sends ~150 requests at once (every venue's quote calls and ~140 order
books), and on a 2-core machine the scanner's CPU for them is most of the cycle. Through
aiohttp's ``ClientSession`` a request costs ~300 us of CPU before any venue code runs (its
request and response objects, timers, tracing hooks, the connector's bookkeeping); the same
request over a kept-alive socket with the C parser aiohttp itself uses underneath (llhttp,
through ``httptools``) costs ~50 us (140 concurrent 2 kB books to the emulator, client
``time.process_time``).

What a caller gets is what aiohttp would have given it, for the requests this client takes
(``takes``: GET or POST over a session with no cookies, no proxy, no tracing, no middleware,
HTTP/1.1):

- the same request bytes: the headers in aiohttp 3.14's order (``Host`` first, then the
  caller's, then the defaults it adds when absent, then the body's length and type), the
  path and query verbatim;
- the same response: status, reason, headers (case-insensitive, repeats kept), the body
  decoded as aiohttp decodes it (gzip, deflate); cookies a venue sets go into the session's
  jar as aiohttp puts them, and from then on the session has cookies, so its requests go
  back through aiohttp, which sends them;
- the same failures, as aiohttp's exception classes with aiohttp's messages (callers map
  those to their own errors): a connection that closes before the answer, an answer cut
  short, a connect or read timeout, the total timeout; and aiohttp's one retry of an
  idempotent request whose connection dropped before any answer came.

Connections are kept per origin, one request at a time each, reused while the server keeps
them alive, closed after ``keepalive_s`` idle as aiohttp's connector closes them.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import ssl as ssl_module
import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, cast

import aiohttp
import aiohttp.abc
import httptools
import yarl
from aiohttp import http_exceptions
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict, CIMultiDictProxy

GET_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""aiohttp sends no ``Content-Length`` for these when they carry no body."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""aiohttp resends these once when the connection drops before an answer."""
DEFAULTS = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"))
"""The headers aiohttp adds when absent (it adds ``br``/``zstd`` only with those decoders
installed: ``takes`` checks that it would not)."""

KEEPALIVE_S = 15.0
"""aiohttp's connector default: idle connections older than this are not reused."""

Timeouts = aiohttp.ClientTimeout


@dataclass(frozen=True)
class Reply:
    """One answer: status, reason, headers, the body decoded."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    body: bytes

    def text(self) -> str:
        """The body as aiohttp's ``text(errors="replace")`` decodes it: the charset the
        content type names (if Python knows it), else UTF-8."""
        return self.body.decode(charset_of(self.headers.get("Content-Type", "")), "replace")


def charset_of(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"')
            try:
                codecs.lookup(name)
            except LookupError:
                return "utf-8"
            return name
    return "utf-8"


def takes(session: Any, method: str) -> bool:
    """This client sends ``method`` on ``session``'s behalf exactly as the session would."""
    if method not in ("GET", "POST") or not isinstance(session, aiohttp.ClientSession):
        return False
    static = _STATIC.get(session)
    if static is None:
        static = _STATIC[session] = _mirrorable(session)
    # what can change on a live session: closed, its default headers, its cookies
    return static and not session.closed and not session.headers and not len(session.cookie_jar)


_STATIC: weakref.WeakKeyDictionary[aiohttp.ClientSession, bool] = weakref.WeakKeyDictionary()
"""``_mirrorable`` per session: those settings are fixed when a session is made (a check of
all of them on every request cost ~60 us)."""


def _mirrorable(session: aiohttp.ClientSession) -> bool:
    connector = session.connector
    return (
        isinstance(connector, aiohttp.TCPConnector)
        and not connector.force_close
        and not session.skip_auto_headers
        and not session.trace_configs
        and not getattr(session, "_middlewares", ())
        and getattr(session, "_base_url", None) is None
        and session.auth is None
        and not session.trust_env
        and session.auto_decompress
        and session.version == aiohttp.HttpVersion11
        and not session.raise_for_status
        and aiohttp.client_reqrep._gen_default_accept_encoding() == DEFAULTS[1][1]
    )


def request_bytes(
    method: str, url: yarl.URL, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request as aiohttp 3.14's ``ClientRequest`` writes it for a session ``takes``."""
    out = _headers(method, url, headers, body)
    parts = [f"{method} {url.raw_path_qs} HTTP/1.1"]
    for key, value in out.items():
        parts += (_text(key), _text(value))
    if _FORBIDDEN.search("".join(parts)):
        raise ValueError(
            "Forbidden control character detected in headers. Potential header injection attack."
        )
    lines = [parts[0]] + [f"{k}: {v}" for k, v in zip(parts[1::2], parts[2::2], strict=True)]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass")
    return head + body if body else head


def _headers(
    method: str, url: yarl.URL, headers: Mapping[str, str], body: bytes | None
) -> CIMultiDict[str]:
    """aiohttp's header steps in its order: ``Host``, the caller's (a ``Host`` of theirs
    replaces it in place), the defaults, the body's length and type, a POST's type."""
    out: CIMultiDict[str] = CIMultiDict()
    out["Host"] = url.host_port_subcomponent or ""
    for key, value in headers.items():
        if key.lower() == "host":
            out[key] = value
        else:
            out.add(key, value)
    for key, value in DEFAULTS:
        if key not in out:
            out[key] = value
    if "User-Agent" not in out:
        out["User-Agent"] = SERVER_SOFTWARE
    if body is not None:
        if "Content-Length" not in out:
            out["Content-Length"] = str(len(body))
        if "Content-Type" not in out:
            out["Content-Type"] = "application/octet-stream"
    elif method not in GET_METHODS and "Content-Length" not in out:
        out["Content-Length"] = "0"
    if method == "POST" and "Content-Type" not in out:
        out["Content-Type"] = "application/octet-stream"
    return out


_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""The control characters aiohttp refuses in the request line, a header name or a value
(tab allowed)."""


def _text(value: object) -> str:
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"Cannot serialize non-str key {value!r}")


class _Failed(Exception):
    """Internal: the exchange failed with ``error``; ``answered``: the answer's headers had
    come (aiohttp resends only before that)."""

    def __init__(self, error: BaseException, answered: bool) -> None:
        super().__init__(error)
        self.error = error
        self.answered = answered


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its answer parsed by llhttp."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[Reply] | None = None
        self._read_timeout_s: float | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self._reason = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._done = False
        self._read_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None:  # bytes nobody asked for (a server's parting 408): not reused
            self.close()
            return
        self._rearm()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(aiohttp.ClientPayloadError("Response upgrade is not supported"))
        except httptools.HttpParserError as exc:
            self._fail(aiohttp.ClientPayloadError(f"Response payload is not valid: {exc!r}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.transport = None
        if self._answer is None or self._answer.done():
            return
        if not self._headers_done:  # aiohttp: a reset is an OSError, a clean close not
            error: BaseException = (
                aiohttp.ClientOSError(*exc.args)
                if isinstance(exc, OSError)
                else aiohttp.ServerDisconnectedError()
            )
        else:
            cut = self._cut_short()
            if cut is None:  # a body read until the connection closes: complete
                self.on_message_complete()
                return
            message = f"Response payload is not completed: {cut!r}"
            if exc is not None:
                message = f"{message}. {exc!r}"
            error = aiohttp.ClientPayloadError(message)
        self._fail(error)

    def _cut_short(self) -> Exception | None:
        """aiohttp's parser error for a body that ended early (None: read to the close)."""
        framing = {k.lower(): v for k, v in self._headers}
        if "chunked" in framing.get("transfer-encoding", "").lower():
            return http_exceptions.TransferEncodingError(
                "Not enough data to satisfy transfer length header."
            )
        if "content-length" in framing:
            received = sum(len(b) for b in self._body)
            return http_exceptions.ContentLengthError(
                "Not enough data to satisfy content length header "
                f"(received {received} of {framing['content-length'].strip()} bytes)."
            )
        return None

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._done = True
        self._stop_timer()
        answer = self._answer
        if answer is None or answer.done():
            return
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        try:
            body = decoded(b"".join(self._body), headers.get("Content-Encoding", ""))
        except aiohttp.ClientPayloadError as exc:
            self._fail(exc)
            return
        reply = Reply(
            self._parser.get_status_code(),
            self._reason.decode("utf-8", "surrogateescape"),
            headers,
            body,
        )
        if not self._parser.should_keep_alive():
            self.close()
        answer.set_result(reply)

    # one exchange
    async def exchange(
        self, data: bytes, read_timeout_s: float | None, deadline: float | None
    ) -> Reply:
        """Send ``data``, read the answer; ``deadline``: the request's total timeout (loop
        time) as a timer of its own, not ``asyncio.timeout`` (~35 us a request more)."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._reset()
        self._read_timeout_s = read_timeout_s
        self._answer = loop.create_future()
        total = None if deadline is None else loop.call_at(deadline, self._total_timed_out)
        self.transport.write(data)
        self._rearm()
        try:
            return await self._answer
        finally:
            if total is not None:
                total.cancel()
            self._stop_timer()
            self._answer = None
            if not self._done:
                self.close()  # cancelled or failed mid-answer: the connection is unusable

    def _rearm(self) -> None:
        self._stop_timer()
        if self._read_timeout_s is not None and self._answer is not None:
            self._read_timer = asyncio.get_running_loop().call_later(
                self._read_timeout_s, self._read_timed_out
            )

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._fail(aiohttp.SocketTimeoutError("Timeout on reading data from socket"))

    def _total_timed_out(self) -> None:
        self._fail(TimeoutError())

    def _fail(self, error: BaseException) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(_Failed(error, self._headers_done))
        self.close()

    def close(self) -> None:
        self._stop_timer()
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.closed = True


class LeanHttp:
    """Kept-alive connections per origin and the requests sent over them (module doc)."""

    def __init__(
        self,
        *,
        ssl: ssl_module.SSLContext | bool | None = True,
        limit: int = 100,
        keepalive_s: float = KEEPALIVE_S,
        clock: Callable[[], float] | None = None,
        cookie_jar: aiohttp.abc.AbstractCookieJar | None = None,
    ) -> None:
        self._ssl = ssl
        self._cookie_jar = cookie_jar
        """Where cookies a venue sets go (the mirrored session's jar, as aiohttp puts them)."""
        self._limit = asyncio.Semaphore(limit) if limit else None
        self._keepalive_s = keepalive_s
        self._clock = clock
        """Seconds for the keep-alive expiry; None: the event loop's clock."""
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self.closed = False

    @classmethod
    def beside(cls, session: aiohttp.ClientSession, ssl: ssl_module.SSLContext | bool) -> LeanHttp:
        """Connections beside ``session``'s pool, with its connector's limit and keep-alive and
        its cookie jar."""
        connector = session.connector
        assert connector is not None  # takes() checked it
        keepalive_s = getattr(connector, "_keepalive_timeout", KEEPALIVE_S)
        return cls(
            ssl=ssl,
            limit=connector.limit,
            keepalive_s=keepalive_s,
            cookie_jar=session.cookie_jar,
        )

    async def request(
        self,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeouts,
    ) -> Reply:
        """Send and read one request (module doc): aiohttp's errors on failure."""
        data = request_bytes(method, url, headers, body)
        deadline = None
        if timeout.total is not None:
            deadline = asyncio.get_running_loop().time() + timeout.total
        reply = await self._send(method, url, data, timeout, deadline)
        if self._cookie_jar is not None and "Set-Cookie" in reply.headers:
            self._cookie_jar.update_cookies(cookies_of(reply.headers.getall("Set-Cookie")), url)
        return reply

    async def _send(
        self, method: str, url: yarl.URL, data: bytes, timeout: Timeouts, deadline: float | None
    ) -> Reply:
        retry = method in IDEMPOTENT
        await self._turn(deadline)
        try:
            while True:
                conn = await self._connection(url, timeout, deadline)
                self._busy.add(conn)
                try:
                    reply = await conn.exchange(data, timeout.sock_read, deadline)
                except _Failed as failed:
                    retryable = isinstance(
                        failed.error, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
                    )
                    if retry and retryable and not failed.answered:
                        retry = False
                        continue
                    raise failed.error from None
                finally:
                    self._busy.discard(conn)
                self._release(url, conn)
                return reply
        finally:
            if self._limit is not None:
                self._limit.release()

    async def _turn(self, deadline: float | None) -> None:
        """A slot under the connection limit, waiting at most until ``deadline``."""
        if self._limit is None:
            return
        if not self._limit.locked():
            await self._limit.acquire()  # free: returns without suspending
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self._limit.acquire()
        except TimeoutError:
            raise TimeoutError() from None

    def _key(self, url: yarl.URL) -> tuple[str, str, int]:
        return (url.scheme, url.raw_host or "", url.port or 0)

    async def _connection(
        self, url: yarl.URL, timeout: Timeouts, deadline: float | None
    ) -> _Connection:
        if self.closed:
            raise aiohttp.ClientConnectionError("Session is closed")
        idle = self._idle.get(self._key(url))
        now = self._now()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive_s:
                return conn
            conn.close()
        return await self._connect(url, timeout, deadline)

    async def _connect(
        self, url: yarl.URL, timeout: Timeouts, deadline: float | None
    ) -> _Connection:
        """A new connection within the connect timeouts and the request's deadline (the
        earlier of them; aiohttp's error for whichever it was)."""
        host, port = url.raw_host or "", url.port or 0
        secure = url.scheme == "https"
        loop = asyncio.get_running_loop()
        limits = [loop.time() + t for t in (timeout.sock_connect, timeout.connect) if t]
        connect_by = min(limits) if limits else None
        total_first = deadline is not None and (connect_by is None or deadline <= connect_by)
        try:
            async with asyncio.timeout_at(deadline if total_first else connect_by):
                _, conn = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._ssl_context() if secure else None,
                    server_hostname=host if secure else None,
                )
        except TimeoutError as exc:
            if total_first:
                raise TimeoutError() from exc
            raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}") from exc
        except OSError as exc:
            key = aiohttp.client_reqrep.ConnectionKey(host, port, secure, True, None, None, None)
            raise aiohttp.ClientConnectorError(key, exc) from exc
        return conn

    def _ssl_context(self) -> ssl_module.SSLContext:
        if isinstance(self._ssl, ssl_module.SSLContext):
            return self._ssl
        if self._ssl is False:
            ctx = ssl_module.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl_module.CERT_NONE
            return ctx
        return ssl_module.create_default_context()

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def _release(self, url: yarl.URL, conn: _Connection) -> None:
        if conn.closed or self.closed:
            conn.close()
            return
        conn.idle_since = self._now()
        self._idle.setdefault(self._key(url), []).append(conn)

    async def close(self) -> None:
        """Close every connection (in-flight requests fail as on a closed connection)."""
        self.closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        for conn in list(self._busy):
            conn.close()


def decoded(body: bytes, encoding: str) -> bytes:
    """The body as aiohttp's auto-decompression gives it (gzip, deflate; others as sent)."""
    coding = encoding.strip().lower()
    if not body or coding not in ("gzip", "deflate"):
        return body
    if coding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    else:  # aiohttp reads a deflate body without the zlib header as raw deflate
        wbits = zlib.MAX_WBITS if body[0] & 0xF == 8 else -zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits=wbits)
        return inflater.decompress(body) + inflater.flush()
    except zlib.error as exc:
        raise aiohttp.ClientPayloadError(f"Can not decode content-encoding: {coding}") from exc


def cookies_of(values: Sequence[str]) -> SimpleCookie:
    """``Set-Cookie`` values as aiohttp's response reads them (unparsable ones skipped)."""
    jar = SimpleCookie()
    for value in values:
        try:
            jar.load(value)
        except CookieError:
            continue
    return jar
