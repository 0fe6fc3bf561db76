"""``LeanCall`` sends a ccxt implicit endpoint as ccxt's own method sends it: the same bytes
on the wire (a recording server), the same result or the same exception for every kind of
answer (statuses, error bodies, bodies that are not JSON, a hang-up, a hang), and through the
adapter the same book or the same venue error for every fault the emulator injects.

The reference is the same exchange sending through ccxt's ``fetch2``/``fetch``: setting
ccxt's own ``maxRetriesOnFailure`` option to its default (0) changes nothing in what ccxt
sends, but makes ``LeanCall`` hand the call to ccxt's implicit method."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from emulator import Emulator, FaultSpec
from scanner.clock import FakeClock
from scanner.settings import Settings
from scanner.venues.base import VenueError
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_lean import LeanCall
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venue
from scanner.venues.specs import ccxt_venue_ids, spec_of
from tests.venues.venue_fixtures import serving

CCXT_VENUES = ccxt_venue_ids()

MARKET = {
    "id": "BTC-USDT",
    "settleId": "usdt",
    "settle": "USDT",
    "swap": True,
    "contract": True,
    "spot": False,
    "baseId": "0",
    "baseName": "BTC",
    "linear": True,
}
"""Enough of a ccxt market for every venue's book request parameters."""

BOOK = {"code": "0", "bids": [["2", "1"]], "asks": [["3", "1"]], "data": {"ts": "1"}}

ANSWERS = (
    "ok",
    "gzip",
    "list",
    "403",
    "418",
    "429",
    "500",
    "503",
    "400 error body",
    "200 error body",
    "not json",
    "empty",
    "truncated",
    "hang up",
    "slow",
)


class Recorder:
    """Records each request (method, raw path, headers in order, body); answers per mode."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
        self.mode = "ok"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.method, request.raw_path, list(request.headers.items()), body))
        return await self.answer(request)

    async def answer(self, request: web.Request) -> web.StreamResponse:  # noqa: C901, PLR0911 - one branch per mode
        mode = self.mode
        if mode == "ok":
            return web.json_response(BOOK, headers={"X-Extra": "a"})
        if mode == "gzip":
            data = gzip.compress(json.dumps(BOOK).encode())
            return web.Response(
                body=data, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
            )
        if mode == "list":
            return web.json_response([BOOK])
        if mode in ("403", "418", "429", "500", "503"):
            return web.Response(status=int(mode), text="no", headers={"Retry-After": "7"})
        if mode == "400 error body":
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        if mode == "200 error body":
            body = {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
            return web.json_response({**body, "label": "error", "message": "invalid"})
        if mode == "not json":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if mode == "empty":
            return web.Response(text="")
        if mode == "truncated":
            return web.Response(text=json.dumps(BOOK)[:20], content_type="application/json")
        if mode == "hang up":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if mode == "slow":
            await asyncio.sleep(1.0)
            return web.json_response(BOOK)
        raise AssertionError(mode)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    async with serving(recorder.handle) as root:
        yield recorder, root


def adapter(venue: str, url: str, *, lean: bool) -> CcxtVenue:
    """The venue's adapter over an exchange pointed at ``url`` (its response guard in place);
    ``lean=False``: ccxt's option that sends every call through ccxt's own path."""
    exchange = make_exchange(venue, url, {"timeout": 300})
    if not lean:
        exchange.options["maxRetriesOnFailure"] = 0
    return CcxtVenue(venue, exchange)


async def outcome(call: Any, params: dict[str, Any]) -> Any:
    try:
        return await call(dict(params))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return (type(exc), str(exc))


def undated(headers: Any) -> Any:
    """Response headers without ``Date`` (the two calls may straddle a second)."""
    return {k: v for k, v in headers.items() if k != "Date"} if headers else headers


@pytest.mark.parametrize("venue", CCXT_VENUES)
async def test_lean_calls_are_ccxts_calls(server: tuple[Recorder, str], venue: str) -> None:
    recorder, url = server
    raw = spec_of(venue).quirks.raw_book
    assert raw is not None
    params = raw.request(MARKET, 50)
    assert params is not None
    await same_as_ccxt(recorder, venue, url, raw.method, params, ANSWERS)


async def same_as_ccxt(
    recorder: Recorder,
    venue: str,
    url: str,
    method: str,
    params: dict[str, Any],
    modes: tuple[str, ...],
) -> None:
    """``LeanCall`` and ccxt's own path send the same bytes and give the same outcome and
    last-response fields for each answer mode."""
    lean, plain = adapter(venue, url, lean=True), adapter(venue, url, lean=False)
    ours, ccxts = LeanCall(lean.exchange, method), LeanCall(plain.exchange, method)
    assert ours.applies(params) and not ccxts.applies(params)
    try:
        for mode in modes:
            recorder.mode = mode
            start = len(recorder.seen)
            got = await outcome(ours, params)
            sent = recorder.seen[start:]
            start = len(recorder.seen)
            want = await outcome(ccxts, params)
            assert sent == recorder.seen[start:], (venue, method, mode)
            assert sent, (venue, method, mode)  # aiohttp sends a GET once more after a hang-up
            assert got == want, (venue, method, mode)
            assert lean.exchange.last_http_response == plain.exchange.last_http_response
            assert undated(lean.exchange.last_response_headers) == undated(
                plain.exchange.last_response_headers
            )
            assert lean.exchange.last_request_url == plain.exchange.last_request_url
    finally:
        await lean.close()
        await plain.close()


def test_every_ccxt_venues_book_request_goes_lean() -> None:
    for venue in CCXT_VENUES:
        raw = spec_of(venue).quirks.raw_book
        assert raw is not None
        exchange = make_exchange(venue)
        params = raw.request(MARKET, 50)
        assert LeanCall(exchange, raw.method).applies(params), venue


def test_settings_the_lean_path_leaves_out_send_through_ccxt() -> None:
    raw = spec_of("okx").quirks.raw_book
    assert raw is not None
    params = raw.request(MARKET, 50)
    for change in (
        {"httpProxy": "http://127.0.0.1:1"},
        {"verbose": True},
        {"fetchHistoryCacheSize": 5},
    ):
        exchange = make_exchange("okx", None, dict(change))
        assert not LeanCall(exchange, raw.method).applies(params), change
    exchange = make_exchange("okx")
    assert not LeanCall(exchange, raw.method).applies({**params, "maxRetriesOnFailure": 2})
    assert LeanCall(exchange, "privateGetAccountBalance").endpoint is None
    assert LeanCall(exchange, "no_such_method").endpoint is None


FAULTS = {
    "rate_limit": FaultSpec("rate_limit"),
    "server_error": FaultSpec("server_error"),
    "timeout": FaultSpec("timeout", hang_s=2.0),
    "reset": FaultSpec("reset"),
    "malformed": FaultSpec("malformed"),
    "truncated": FaultSpec("truncated"),
    "empty_fields": FaultSpec("empty_fields", fields=("bids", "asks", "data", "levels")),
    "ban": FaultSpec("ban", retry_after_s=1.0),  # last: a ban silences the adapter
}

BOOK_PATHS = {
    "binanceusdm": "/fapi/v1/depth",
    "okx": "/api/v5/market/books",
    "gate": "/api/v4/futures/*/order_book",
    "bitget": "/api/v2/mix/market/merge-depth",
    "hyperliquid": "/info",
}


def venue_outcome(result: Any) -> Any:
    if isinstance(result, VenueError):
        return (type(result), str(result), result.code, getattr(result, "retry_after_s", None))
    if isinstance(result, BaseException):
        return (type(result), str(result))
    return result


@pytest.mark.parametrize("venue", CCXT_VENUES)
async def test_every_injected_fault_maps_as_through_ccxt(venue: str) -> None:
    async with Emulator(seed=1, stepped=True) as emu:
        settings = Settings().with_base_url(emu.url)
        clock = FakeClock(1_700_000_000_000)  # stamps a book whose body lost its time
        lean = build_venue(venue, settings, retries=0, clock=clock)
        plain = build_venue(venue, settings, retries=0, clock=clock)
        assert isinstance(lean, CcxtVenue) and isinstance(plain, CcxtVenue)
        plain.exchange.options["maxRetriesOnFailure"] = 0
        try:
            inst = next(i for i in await lean.load_instruments() if i.is_perpetual)
            await plain.load_instruments()
            for name, fault in FAULTS.items():
                outcomes = []
                for adapter_ in (lean, plain):
                    adapter_.exchange.timeout = 500
                    emu.faults.set(venue, BOOK_PATHS[venue], fault)
                    try:
                        got: Any = await adapter_.fetch_book(inst, 50)
                    except Exception as exc:  # noqa: BLE001 - compared below
                        got = exc
                    emu.faults.clear()
                    outcomes.append(venue_outcome(got))
                assert outcomes[0] == outcomes[1], (venue, name)
        finally:
            await lean.close()
            await plain.close()


def quote_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(venue, implicit method, params) of every raw bulk-quote request the adapters send."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for venue in CCXT_VENUES:
        quirks = spec_of(venue).quirks
        specs: list[Any] = [*quirks.raw_funding, quirks.raw_intervals]
        specs += [quirks.raw_tickers, quirks.raw_bids_asks]
        for raw in specs:
            if raw is None:
                continue
            calls = getattr(raw, "calls", None) or (raw.params,)
            out += [(venue, raw.method, dict(params)) for params in calls]
    return out


QUOTE_REQUESTS = quote_requests()


@pytest.mark.parametrize("request_", QUOTE_REQUESTS, ids=lambda r: f"{r[0]}-{r[1]}")
async def test_lean_quote_calls_are_ccxts_calls(
    server: tuple[Recorder, str], request_: tuple[str, str, dict[str, Any]]
) -> None:
    """The bulk quote requests (``CcxtVenue._raw_body``) go the lean way too, with the same
    bytes and outcomes as through ccxt."""
    venue, method, params = request_
    recorder, url = server
    modes = ("ok", "list", "429", "500", "not json", "empty", "hang up")
    await same_as_ccxt(recorder, venue, url, method, params, modes)


def test_every_venue_sends_some_quote_request_lean() -> None:
    assert {venue for venue, _, _ in QUOTE_REQUESTS} >= set(CCXT_VENUES) - {"hyperliquid"}
