"""BybitHttp over its own pool (``AiohttpPoolTransport.send``) sends what it sent through
httpx on that transport, and reads every answer - errors included - the same way.

A small HTTP server records each request as it arrives (method, path and query as sent,
headers, body) and answers from a script; the same calls go through a BybitHttp that owns
its transport (the direct path) and one given the same kind of transport (httpx's objects),
on the same fixed clock, so even signatures match."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from scanner.clock import FakeClock
from scanner.venues.bybit_http import BybitCredentials, BybitHttp
from scanner.venues.http_transport import AiohttpPoolTransport
from tests.venues.venue_fixtures import serving

NOW = 1_700_000_000_000


class Recorder:
    """An aiohttp app: records requests, answers ``/v5/...`` per ``self.mode``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.mode = "ok"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append((request.method, request.raw_path, headers, body))
        if request.path.endswith("/v5/market/time"):
            return web.json_response({"retCode": 0, "result": {}, "time": NOW})
        return await self.answer(request)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        mode = self.mode
        if mode == "ok":
            limit = {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(NOW)}
            return web.json_response({"retCode": 0, "result": {"list": [1]}}, headers=limit)
        if mode == "gzip":
            resp = web.json_response({"retCode": 0, "result": {"list": ["x" * 5000]}})
            resp.enable_compression(web.ContentCoding.gzip)
            return resp
        if mode in ("403", "429", "503"):
            return web.Response(status=int(mode), text="no", headers={"Retry-After": "7"})
        if mode == "10006":
            return web.json_response({"retCode": 10006, "retMsg": "Too many visits!"})
        if mode == "not json":
            return web.Response(text="<html>oops</html>")
        if mode == "hang up":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if mode == "slow":
            await asyncio.sleep(1.0)
            return web.json_response({"retCode": 0, "result": {}})
        raise AssertionError(mode)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    async with serving(recorder.handle) as root:
        yield recorder, f"{root}/bybit"


def clients(url: str) -> tuple[BybitHttp, BybitHttp]:
    """(direct, through httpx): same keys, clock, timeout, no retries, no waiting."""

    async def no_sleep(_: float) -> None:
        return None

    def make(**kw: Any) -> BybitHttp:
        creds = BybitCredentials(SecretStr("key"), SecretStr("secret"))
        return BybitHttp(
            url,
            credentials=creds,
            retries=0,
            timeout_s=0.3,
            clock=FakeClock(NOW),
            sleep=no_sleep,
            **kw,
        )

    return make(), make(transport=AiohttpPoolTransport())


async def outcome(call: Any) -> Any:
    try:
        return ("ok", await call)
    except Exception as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "retry_after_s", None))


CALLS = {
    "public get": lambda h: h.get("/v5/market/orderbook", {"symbol": "BTCUSDT", "x": "a,b:c d"}),
    "signed get": lambda h: h.signed_get("/v5/position/list", {"category": "linear"}),
    "signed post": lambda h: h.signed_post("/v5/order/create", {"symbol": "BTCUSDT", "qty": "1"}),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_the_direct_path_sends_the_bytes_httpx_sent(server, call: str):
    recorder, url = server
    direct, via_httpx = clients(url)
    try:
        got = await outcome(CALLS[call](direct))
        sent_direct, recorder.seen = recorder.seen, []
        want = await outcome(CALLS[call](via_httpx))
        sent_httpx = recorder.seen
    finally:
        await direct.close()
        await via_httpx.close()
    assert got == want and got[0] == "ok"
    assert sent_direct == sent_httpx and sent_direct


@pytest.mark.parametrize(
    "mode", ["ok", "gzip", "403", "429", "503", "10006", "not json", "hang up", "slow"]
)
async def test_the_direct_path_reads_every_answer_as_httpx_did(server, mode: str):
    recorder, url = server
    recorder.mode = mode
    direct, via_httpx = clients(url)
    try:
        got = [await outcome(CALLS[c](direct)) for c in sorted(CALLS)]
        want = [await outcome(CALLS[c](via_httpx)) for c in sorted(CALLS)]
        # a limit status of 0 blocks the endpoint until its reset: read from both headers
        gates = [h._limits.private.get("/v5/position/list") for h in (direct, via_httpx)]
    finally:
        await direct.close()
        await via_httpx.close()
    assert got == want
    blocked = [g.blocked_until_ms if g is not None else None for g in gates]
    assert blocked[0] == blocked[1]
