"""``LeanHttp`` against aiohttp's own client on the same loopback server: the same request
bytes, the same answers, the same exceptions, the same retry, and connections kept as
aiohttp's connector keeps them.

The server is a raw asyncio protocol, so the bytes each client sent are recorded exactly as
they arrived (header order and case included) and answers can be cut, delayed or malformed
at will. Every comparison runs the same script through both clients; the tests that matter
most also run on uvloop, the loop ``fundscan run`` uses."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import trustme
import uvloop
import yarl

from scanner.venues.lean_http import LeanHttp, Reply, takes

JSON = b'{"bids": [["1", "2"]], "asks": []}'
TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=2.0, sock_read=2.0)


def answer(body: bytes = JSON, *, status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


Script = Callable[[bytes, asyncio.Transport], Awaitable[None]]


class Wire(asyncio.Protocol):
    """One server connection: splits requests by their end (headers + Content-Length) and
    hands each, as raw bytes, to the script."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.server.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            request = head + b"\r\n\r\n" + rest[:length]
            self.buf = rest[length:]
            self.server.seen.append(request)
            asyncio.ensure_future(self.server.script(request, self.transport))  # type: ignore[arg-type]


class Server:
    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.connections = 0
        self.script: Script = ok

    def root(self, port: int, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{port}"


async def ok(request: bytes, transport: asyncio.Transport) -> None:
    transport.write(answer())


@asynccontextmanager
async def serving(tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server()
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Wire(server), "127.0.0.1", 0, ssl=tls)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield server, server.root(port, "https" if tls else "http")
    finally:
        srv.close()


async def outcome(call: Awaitable[Reply | tuple[int, str, Any, bytes]]) -> Any:
    try:
        got = await call
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return (type(exc), str(exc))
    if isinstance(got, Reply):
        return (got.status, got.reason, list(got.headers.items()), got.body)
    return got


async def via_aiohttp(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    timeout: aiohttp.ClientTimeout = TIMEOUT,
) -> tuple[int, str, Any, bytes]:
    async with session.request(
        method, yarl.URL(url, encoded=True), headers=headers, data=body, timeout=timeout
    ) as resp:
        return (resp.status, resp.reason or "", list(resp.headers.items()), await resp.read())


REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("GET", "/x", {}, None),
    ("GET", "/v5/market/orderbook?symbol=BTCUSDT&x=a%2Cb%3Ac%20d", {"Accept": "*/*"}, None),
    (
        "GET",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=50",
        {"User-Agent": "python-requests/2.34.2", "Accept-Encoding": "gzip, deflate"},
        None,
    ),
    ("GET", "/h", {"host": "venue.example", "X-Gate-Size-Decimal": "1", "accept": "a/b"}, None),
    ("POST", "/info", {"Content-Type": "application/json"}, b'{"type": "l2Book"}'),
    ("POST", "/raw", {}, b"\x00\x01binary"),
    ("POST", "/empty", {}, None),
    ("POST", "/len", {"Content-Length": "2", "X-A": "tab\tok"}, b"ab"),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r[0]} {r[1][:20]}")
async def test_sends_the_bytes_aiohttp_sends(request_: Any) -> None:
    method, target, headers, body = request_
    async with serving() as (server, root), aiohttp.ClientSession() as session:
        http = LeanHttp()
        try:
            assert takes(session, method)
            want = await outcome(via_aiohttp(session, method, root + target, headers, body))
            got = await outcome(
                http.request(method, yarl.URL(root + target, encoded=True), headers, body, TIMEOUT)
            )
        finally:
            await http.close()
    assert got == want and want[0] == 200
    assert server.seen[1] == server.seen[0], server.seen


async def test_refuses_header_injection_as_aiohttp_does() -> None:
    async with serving() as (server, root), aiohttp.ClientSession() as session:
        http = LeanHttp()
        try:
            for headers in ({"X-A": "a\r\nX-B: b"}, {"X-A": "a\x00"}, {"X\nY": "a"}):
                want = await outcome(via_aiohttp(session, "GET", root + "/", headers, None))
                got = await outcome(
                    http.request("GET", yarl.URL(root + "/"), headers, None, TIMEOUT)
                )
                assert got == want and want[0] is ValueError, headers
        finally:
            await http.close()
    assert server.seen == []


def gzipped(body: bytes) -> bytes:
    return answer(gzip.compress(body), headers=("Content-Encoding: gzip",))


def deflated(body: bytes, raw: bool) -> bytes:
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return answer(z.compress(body) + z.flush(), headers=("Content-Encoding: deflate",))


def chunked(body: bytes) -> bytes:
    parts = [body[:7], body[7:]]
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks


ANSWERS: dict[str, bytes] = {
    "plain": answer(headers=("Content-Type: application/json; charset=utf-8", "X-A: 1")),
    "repeated headers": answer(headers=("X-Rate: 1", "x-rate: 2", "Set-Cookie: a=1")),
    "gzip": gzipped(JSON * 50),
    "deflate": deflated(JSON * 50, raw=False),
    "raw deflate": deflated(JSON * 50, raw=True),
    "chunked": chunked(JSON),
    "429": answer(b"slow down", status="429 Too Many Requests", headers=("Retry-After: 7",)),
    "503 empty": answer(b"", status="503 Service Unavailable"),
    "204": b"HTTP/1.1 204 No Content\r\n\r\n",
    "http/1.0 close": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "connection close": answer(headers=("Connection: close",)),
    "latin-1 reason": b"HTTP/1.1 418 I\xe9m a teapot\r\nContent-Length: 0\r\n\r\n",
    "until close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
async def test_reads_every_answer_as_aiohttp_does(name: str) -> None:
    async def script(request: bytes, transport: asyncio.Transport) -> None:
        transport.write(ANSWERS[name])
        if name in ("http/1.0 close", "connection close", "until close"):
            transport.close()

    async with serving() as (server, root), aiohttp.ClientSession() as session:
        server.script = script
        http = LeanHttp()
        try:
            want = [await outcome(via_aiohttp(session, "GET", root + "/", {}, None)) for _ in "ab"]
            reused_aiohttp = server.connections
            got = [
                await outcome(http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT))
                for _ in "ab"
            ]
        finally:
            await http.close()
    assert got == want and isinstance(want[0][0], int)
    # the same connections: a kept-alive one reused, a closed one replaced
    assert server.connections - reused_aiohttp == reused_aiohttp


def test_the_text_is_decoded_as_aiohttp_decodes_it() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    def reply(content_type: str, body: bytes) -> Reply:
        return Reply(200, "OK", CIMultiDictProxy(CIMultiDict({"Content-Type": content_type})), body)

    assert reply("application/json", "é".encode()).text() == "é"
    assert reply("text/plain; charset=latin-1", b"\xe9").text() == "é"
    assert reply('text/plain; charset="nonsense"', "é".encode()).text() == "é"
    assert reply("", b"\xff").text() == "\ufffd"


async def hang_up(request: bytes, transport: asyncio.Transport) -> None:
    transport.close()


async def cut_body(request: bytes, transport: asyncio.Transport) -> None:
    transport.write(answer()[:-5])
    transport.close()


async def cut_headers(request: bytes, transport: asyncio.Transport) -> None:
    transport.write(answer()[:20])
    transport.close()


async def silent(request: bytes, transport: asyncio.Transport) -> None:
    return None


async def slow_body(request: bytes, transport: asyncio.Transport) -> None:
    whole = answer()
    transport.write(whole[:-5])
    await asyncio.sleep(0.5)
    if not transport.is_closing():
        transport.write(whole[-5:])


async def not_http(request: bytes, transport: asyncio.Transport) -> None:
    transport.write(b"SSH-2.0-OpenSSH\r\n\r\n")
    transport.close()


async def cut_chunks(request: bytes, transport: asyncio.Transport) -> None:
    transport.write(chunked(JSON)[:-9])
    transport.close()


FAILURES: dict[str, tuple[Script, aiohttp.ClientTimeout]] = {
    "hang up": (hang_up, TIMEOUT),
    "body cut short": (cut_body, TIMEOUT),
    "chunks cut short": (cut_chunks, TIMEOUT),
    "headers cut short": (cut_headers, TIMEOUT),
    "no answer, read timeout": (silent, aiohttp.ClientTimeout(sock_read=0.2)),
    "no answer, total timeout": (silent, aiohttp.ClientTimeout(total=0.2)),
    "slow body, read timeout": (slow_body, aiohttp.ClientTimeout(sock_read=0.2)),
}
OWN_MESSAGE = {"headers cut short"}
"""aiohttp's message there is the repr of its half-parsed response; the class is the same."""


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_fails_as_aiohttp_fails(name: str) -> None:
    script, timeout = FAILURES[name]
    async with serving() as (server, root), aiohttp.ClientSession() as session:
        server.script = script
        http = LeanHttp()
        try:
            want = await outcome(via_aiohttp(session, "GET", root + "/", {}, None, timeout))
            sent_aiohttp = len(server.seen)
            got = await outcome(http.request("GET", yarl.URL(root + "/"), {}, None, timeout))
        finally:
            await http.close()
    assert isinstance(want[0], type) and got[0] is want[0], (got, want)
    assert got == want or name in OWN_MESSAGE, (got, want)
    # aiohttp resends a GET once when the connection drops before any answer; so does this
    assert len(server.seen) - sent_aiohttp == sent_aiohttp


async def test_a_post_is_not_resent_after_a_hang_up() -> None:
    async with serving() as (server, root), aiohttp.ClientSession() as session:
        server.script = hang_up
        http = LeanHttp()
        try:
            want = await outcome(via_aiohttp(session, "POST", root + "/", {}, b"x"))
            got = await outcome(http.request("POST", yarl.URL(root + "/"), {}, b"x", TIMEOUT))
        finally:
            await http.close()
    assert got == want and want[0] is aiohttp.ServerDisconnectedError
    assert len(server.seen) == 2  # one each


async def test_not_http_fails_as_a_payload_error() -> None:
    """Not compared with aiohttp (it raises its own parser error class, which callers do not
    map); a caller sees a ClientError subclass, a connection failure."""
    async with serving() as (server, root):
        server.script = not_http
        http = LeanHttp()
        try:
            with pytest.raises(aiohttp.ClientPayloadError):
                await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
        finally:
            await http.close()


async def test_a_refused_connection_fails_as_aiohttp_fails() -> None:
    async with serving() as (_, root):
        pass  # the port is free again
    async with aiohttp.ClientSession() as session:
        http = LeanHttp()
        try:
            want = await outcome(via_aiohttp(session, "GET", root + "/", {}, None))
            got = await outcome(http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT))
        finally:
            await http.close()
    assert got[0] is want[0] is aiohttp.ClientConnectorError


async def connections_for(request_times_s: tuple[float, ...]) -> int:
    """Connections the server saw for one request at each (injected-clock) time."""
    now = [0.0]
    async with serving() as (server, root):
        http = LeanHttp(keepalive_s=15.0, clock=lambda: now[0])
        try:
            for at in request_times_s:
                now[0] = at
                await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
        finally:
            await http.close()
    return server.connections


async def test_idle_connections_expire_after_keepalive_s() -> None:
    # 14.9 s idle: reused; 14.1 s after that: reused; 29.0 -> 29.1: reused. Then a gap:
    assert await connections_for((0.0, 14.9, 29.0, 29.1)) == 1
    assert await connections_for((0.0, 15.0, 15.5, 40.0)) == 3  # new at 0, 15.0 (15 s idle), 40.0


async def test_concurrent_requests_use_separate_connections_up_to_the_limit() -> None:
    inflight = [0, 0]  # now, most

    async def script(request: bytes, transport: asyncio.Transport) -> None:
        inflight[0] += 1
        inflight[1] = max(inflight[1], inflight[0])
        await asyncio.sleep(0.05)
        inflight[0] -= 1
        transport.write(answer())

    async with serving() as (server, root):
        server.script = script
        http = LeanHttp(limit=3)
        try:
            replies = await asyncio.gather(
                *(http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT) for _ in range(8))
            )
        finally:
            await http.close()
    assert [r.body for r in replies] == [JSON] * 8
    assert inflight[1] == 3 and server.connections == 3


async def test_a_cancelled_request_drops_its_connection() -> None:
    async with serving() as (server, root):
        server.script = silent
        http = LeanHttp()
        try:
            task = asyncio.ensure_future(
                http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
            )
            for _ in range(100):  # bounded: the request reaches the server within a few turns
                if server.seen:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            server.script = ok
            reply = await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
        finally:
            await http.close()
    assert reply.body == JSON and server.connections == 2


async def test_cookies_go_to_the_sessions_jar_and_then_aiohttp_sends() -> None:
    async def script(request: bytes, transport: asyncio.Transport) -> None:
        transport.write(answer(headers=("Set-Cookie: __cf_bm=abc; Path=/",)))

    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address (ours: 127.0.0.1)
    async with serving() as (server, root), aiohttp.ClientSession(cookie_jar=jar) as session:
        server.script = script
        http = LeanHttp.beside(session, True)  # the session's jar
        try:
            assert takes(session, "GET")
            await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
            assert not takes(session, "GET")  # the session has a cookie: it sends from now on
            await via_aiohttp(session, "GET", root + "/", {}, None)
        finally:
            await http.close()
    assert b"Cookie: __cf_bm=abc" in server.seen[-1]


async def test_sessions_it_does_not_take() -> None:
    cases: list[dict[str, Any]] = [
        {"headers": {"X-Default": "1"}},
        {"skip_auto_headers": ["User-Agent"]},
        {"trust_env": True},
        {"auto_decompress": False},
        {"version": aiohttp.HttpVersion10},
        {"raise_for_status": True},
        {"trace_configs": [aiohttp.TraceConfig()]},
        {"connector": aiohttp.TCPConnector(force_close=True)},
    ]
    for kwargs in cases:
        async with aiohttp.ClientSession(**kwargs) as session:
            assert not takes(session, "GET"), kwargs
    async with aiohttp.ClientSession() as session:
        assert takes(session, "GET") and takes(session, "POST")
        assert not takes(session, "PUT") and not takes(session, "HEAD")
    assert not takes(session, "GET")  # closed
    assert not takes(None, "GET")


@pytest.fixture(scope="module")
def certificate() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for 127.0.0.1."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_over_tls_as_aiohttp(certificate: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = certificate
    async with serving(server_ctx) as (server, root):
        connector = aiohttp.TCPConnector(ssl=client_ctx)
        async with aiohttp.ClientSession(connector=connector) as session:
            http = LeanHttp(ssl=client_ctx)
            untrusting = LeanHttp()  # the system's trust store: our CA is not in it
            try:
                want = await outcome(via_aiohttp(session, "GET", root + "/x?a=1", {}, None))
                got = await outcome(
                    http.request("GET", yarl.URL(root + "/x?a=1"), {}, None, TIMEOUT)
                )
                with pytest.raises(aiohttp.ClientConnectorError):
                    await untrusting.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
            finally:
                await http.close()
                await untrusting.close()
    assert got == want and want[0] == 200
    assert server.seen[0] == server.seen[1]


def test_on_uvloop_the_same_bytes_answers_and_failures() -> None:
    """The loop ``fundscan run`` runs on: its transports are not asyncio's classes."""

    async def main() -> None:
        await test_sends_the_bytes_aiohttp_sends(REQUESTS[4])
        await test_reads_every_answer_as_aiohttp_does("chunked")
        await test_reads_every_answer_as_aiohttp_does("connection close")
        for name in ("hang up", "body cut short", "no answer, read timeout"):
            await test_fails_as_aiohttp_fails(name)
        await test_concurrent_requests_use_separate_connections_up_to_the_limit()
        await test_a_cancelled_request_drops_its_connection()

    assert isinstance(uvloop.new_event_loop(), uvloop.Loop)
    uvloop.run(main())


async def test_the_total_timeout_covers_the_wait_for_a_free_connection() -> None:
    async with serving() as (server, root):
        server.script = silent
        http = LeanHttp(limit=1)
        try:
            first = asyncio.ensure_future(
                http.request("GET", yarl.URL(root + "/"), {}, None, aiohttp.ClientTimeout(1.0))
            )
            for _ in range(100):  # bounded: the first request reaches the server within turns
                if server.seen:
                    break
                await asyncio.sleep(0.01)
            second = await outcome(
                http.request("GET", yarl.URL(root + "/"), {}, None, aiohttp.ClientTimeout(0.2))
            )
            seen_then = len(server.seen)  # the second never had a connection to send on
            assert await outcome(first) == (TimeoutError, "")
        finally:
            await http.close()
    assert second == (TimeoutError, "") and seen_then == 1


async def test_a_connection_that_spoke_unasked_is_not_reused() -> None:
    async def script(request: bytes, transport: asyncio.Transport) -> None:
        transport.write(answer())
        await asyncio.sleep(0.01)
        transport.write(answer(b"late", status="408 Request Timeout"))  # then, unasked

    async with serving() as (server, root):
        server.script = script
        http = LeanHttp()
        try:
            first = await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
            for _ in range(100):  # bounded: the unasked answer arrives within a few turns
                await asyncio.sleep(0.01)
                if all(conn.closed for conns in http._idle.values() for conn in conns):
                    break
            second = await http.request("GET", yarl.URL(root + "/"), {}, None, TIMEOUT)
        finally:
            await http.close()
    assert first.body == second.body == JSON and first.status == second.status == 200
    assert server.connections == 2
