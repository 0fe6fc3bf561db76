"""Bybit transport behaviour over httpx.MockTransport: time sync, limits, retries, error tree,
and the never-blindly-retried order create. Sleeps are recorded, not slept."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from venue_fixtures import load_fixture

from scanner.clock import FakeClock
from scanner.venues.base import (
    AuthError,
    BadRequest,
    MalformedResponse,
    RateLimited,
    VenueTimeout,
    VenueUnavailable,
)
from scanner.venues.bybit_http import BybitCredentials, BybitHttp
from scanner.venues.bybit_trading import BybitTrading, OrderRequest, round_down

KEY, SECRET = "test-key-123", "test-secret-456"
NOW = 1_700_000_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


def ok(result: dict | None = None, **headers: str) -> httpx.Response:
    body = {"retCode": 0, "retMsg": "OK", "result": result or {}, "retExtInfo": {}, "time": 1}
    return httpx.Response(200, json=body, headers=headers)


def err(code: int, msg: str = "error", **headers: str) -> httpx.Response:
    body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1}
    return httpx.Response(200, json=body, headers=headers)


class MovingClock(FakeClock):
    """A FakeClock the transport moves while a request travels; also callable (wall ms) for
    clients that take the clock as a function."""

    def __call__(self) -> float:
        return float(self.now_ms())


class Script:
    """Answers requests per path from queued responses (last one repeats)."""

    def __init__(self) -> None:
        self.queues: dict[str, list[Handler | httpx.Response]] = {}
        self.seen: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.server_ms = NOW

    def on(self, path: str, *answers: Handler | httpx.Response) -> Script:
        self.queues[path] = list(answers)
        return self

    def count(self, path: str) -> int:
        return sum(1 for r in self.seen if r.url.path.endswith(path))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path.removeprefix("/bybit")
        if path == "/v5/market/time" and path not in self.queues:
            return httpx.Response(
                200, json={"retCode": 0, "result": {}, "time": int(self.server_ms)}
            )
        queue = self.queues[path]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request) if callable(answer) else answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, *, keys: bool = True, retries: int = 3, clock_ms: float = NOW) -> BybitHttp:
        creds = BybitCredentials(SecretStr(KEY), SecretStr(SECRET)) if keys else None
        return BybitHttp(
            "http://venue.test/bybit",
            credentials=creds,
            transport=httpx.MockTransport(self),
            retries=retries,
            clock=FakeClock(int(clock_ms)),
            sleep=self.sleep,
        )


async def test_timestamp_follows_server_clock_and_is_never_ahead():
    """The local clock moves while requests travel: the offset must be taken from the clock
    read *after* the time reply (reading it before the request stamps us ahead of Bybit by
    the time request's outbound transit, which Bybit rejects with 10002)."""
    clock = MovingClock(int(NOW))
    skew_ms = 7_000  # Bybit's clock is 7 s ahead of ours
    out_ms = {"/v5/market/time": 1_500, "/v5/position/list": 100}  # request transit
    back_ms = 800  # reply transit
    received: list[tuple[int, int]] = []  # (X-BAPI-TIMESTAMP, Bybit's clock on receipt)
    syncs: list[int] = []

    def venue(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/bybit")
        clock.advance(out_ms[path] / 1000)
        server_now = clock.now_ms() + skew_ms
        if path == "/v5/market/time":
            syncs.append(server_now)
            reply = httpx.Response(200, json={"retCode": 0, "result": {}, "time": server_now})
        else:
            received.append((int(request.headers["X-BAPI-TIMESTAMP"]), server_now))
            reply = ok({"list": []})
        clock.advance(back_ms / 1000)
        return reply

    http = BybitHttp(
        "http://venue.test/bybit",
        credentials=BybitCredentials(SecretStr(KEY), SecretStr(SECRET)),
        transport=httpx.MockTransport(venue),
        clock=clock,
    )
    await http.signed_get("/v5/position/list", {"category": "linear"})
    await http.signed_get("/v5/position/list", {"category": "linear"})
    assert len(received) == 2 and len(syncs) == 1  # one sync serves both calls
    for sent, server_now in received:
        assert sent <= server_now  # never ahead of the server
        assert sent >= server_now - 1000  # and well inside recv_window
    await http.close()


async def test_timestamp_rejection_resyncs_and_retries():
    script = Script().on("/v5/position/list", err(10002, "invalid timestamp"), ok({"list": []}))
    http = script.client()
    await http.signed_get("/v5/position/list", {"category": "linear"})
    assert script.count("/v5/market/time") == 2
    await http.close()


async def test_10006_waits_for_reset_header_then_succeeds():
    reset = str(int(NOW + 1500))
    script = Script().on(
        "/v5/market/tickers",
        err(10006, "Too many visits", **{"X-Bapi-Limit-Reset-Timestamp": reset}),
        ok({"list": []}),
    )
    http = script.client()
    await http.get("/v5/market/tickers", {"category": "linear"})
    assert script.count("/v5/market/tickers") == 2
    assert script.sleeps and script.sleeps[0] >= 1.5
    await http.close()


async def test_10006_exhausted_retries_raise_rate_limited():
    reset = str(int(NOW + 2000))
    script = Script().on(
        "/v5/market/tickers",
        err(10006, "Too many visits", **{"X-Bapi-Limit-Reset-Timestamp": reset}),
    )
    http = script.client(retries=1)
    with pytest.raises(RateLimited) as info:
        await http.get("/v5/market/tickers", {"category": "linear"})
    assert info.value.code == 10006 and info.value.retry_after_s == pytest.approx(2.0)
    await http.close()


async def test_403_is_a_ban_never_hot_retried_and_blocks_later_calls():
    script = Script().on("/v5/market/tickers", httpx.Response(403, text="access too frequent"))
    http = script.client(retries=3)
    with pytest.raises(RateLimited) as info:
        await http.get("/v5/market/tickers", {"category": "linear"})
    assert info.value.ban and info.value.retry_after_s >= 600
    assert script.count("/v5/market/tickers") == 1
    with pytest.raises(RateLimited):
        await http.get("/v5/market/tickers", {"category": "linear"})
    assert script.count("/v5/market/tickers") == 1  # the second call never left the process
    await http.close()


async def test_a_bybit_ban_lifts_after_ten_minutes_by_the_injected_clock():
    script = Script().on(
        "/v5/market/tickers", httpx.Response(403, text="access too frequent"), ok({"list": []})
    )
    clock = FakeClock(int(NOW))
    http = BybitHttp(
        "http://venue.test/bybit",
        transport=httpx.MockTransport(script),
        retries=0,
        clock=clock,
        sleep=script.sleep,
    )
    with pytest.raises(RateLimited):
        await http.get("/v5/market/tickers", {"category": "linear"})
    clock.advance(599)
    with pytest.raises(RateLimited, match="not sending"):
        await http.get("/v5/market/tickers", {"category": "linear"})
    assert script.count("/v5/market/tickers") == 1
    clock.advance(2)
    assert await http.get("/v5/market/tickers", {"category": "linear"}) == {"list": []}
    assert script.count("/v5/market/tickers") == 2
    await http.close()


async def test_429_and_5xx_are_retried():
    script = Script().on(
        "/v5/market/tickers",
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(502),
        ok({"list": []}),
    )
    http = script.client()
    assert await http.get("/v5/market/tickers") == {"list": []}
    assert script.count("/v5/market/tickers") == 3
    await http.close()


async def test_persistent_5xx_is_venue_unavailable():
    script = Script().on("/v5/market/tickers", httpx.Response(503))
    http = script.client(retries=2)
    with pytest.raises(VenueUnavailable):
        await http.get("/v5/market/tickers")
    assert script.count("/v5/market/tickers") == 3
    await http.close()


async def test_timeout_is_venue_timeout():
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    script = Script().on("/v5/market/tickers", boom)
    http = script.client(retries=1)
    with pytest.raises(VenueTimeout):
        await http.get("/v5/market/tickers")
    assert script.count("/v5/market/tickers") == 2
    await http.close()


async def test_malformed_json_is_permanent_and_not_retried():
    script = Script().on(
        "/v5/market/tickers", httpx.Response(200, text='{"retCode":0,"result":{"li')
    )
    http = script.client(retries=3)
    with pytest.raises(MalformedResponse):
        await http.get("/v5/market/tickers")
    assert script.count("/v5/market/tickers") == 1
    await http.close()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_retCode_10020_not_unified_account.json", BadRequest),
        ("error_retCode_110007_insufficient_balance.json", BadRequest),
        ("error_retCode_12201_invalid_param.json", BadRequest),
        ("error_retCode_5004_server_timeout.json", VenueUnavailable),
    ],
)
async def test_recorded_error_bodies_map_to_the_tree(name, kind):
    body = load_fixture("bybit", name)
    script = Script().on("/v5/order/realtime", httpx.Response(200, json=body))
    http = script.client(retries=0)
    with pytest.raises(kind) as info:
        await http.signed_get("/v5/order/realtime", {"category": "linear"})
    assert info.value.code == body["retCode"]
    assert body["retMsg"] in str(info.value)
    await http.close()


async def test_signed_call_without_keys_is_auth_error():
    http = Script().on("/v5/position/list", ok()).client(keys=False)
    with pytest.raises(AuthError, match="API key"):
        await http.signed_get("/v5/position/list")
    await http.close()


async def test_limit_status_zero_waits_until_reset():
    reset = str(int(NOW + 800))
    script = Script().on(
        "/v5/order/realtime",
        ok({"list": []}, **{"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": reset}),
    )
    http = script.client()
    await http.signed_get("/v5/order/realtime", {"category": "linear"})
    assert script.sleeps == []
    await http.signed_get("/v5/order/realtime", {"category": "linear"})
    assert script.sleeps == [pytest.approx(0.8)]
    await http.close()


# --- order create: never blindly retried --------------------------------------------------

ORDER = OrderRequest(symbol="BTCUSDT", side="Buy", qty=Decimal("0.001"), order_link_id="fs-1-a")
FOUND = {"list": [{"orderId": "o-1", "orderLinkId": "fs-1-a", "symbol": "BTCUSDT", "qty": "0.001"}]}


async def test_create_timeout_resolved_by_lookup_without_resend():
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("lost reply", request=request)

    script = Script().on("/v5/order/create", timeout).on("/v5/order/realtime", ok(FOUND))
    trading = BybitTrading(script.client())
    ack = await trading.place_order(ORDER)
    assert (ack.order_id, ack.recovered) == ("o-1", True)
    assert script.count("/v5/order/create") == 1
    lookup = [r for r in script.seen if r.url.path.endswith("/v5/order/realtime")][0]
    assert "orderLinkId=fs-1-a" in lookup.url.query.decode()
    await trading.http.close()


async def test_duplicate_link_id_110072_is_resolved_by_lookup():
    script = (
        Script()
        .on("/v5/order/create", err(110072, "OrderLinkedID is duplicate"))
        .on("/v5/order/realtime", ok(FOUND))
    )
    trading = BybitTrading(script.client())
    ack = await trading.place_order(ORDER)
    assert ack.order_id == "o-1" and ack.recovered
    assert script.count("/v5/order/create") == 1
    await trading.http.close()


async def test_create_resent_only_after_lookup_says_absent():
    created = {"orderId": "o-2", "orderLinkId": "fs-1-a"}
    script = (
        Script()
        .on("/v5/order/create", err(10016, "service restarting"), ok(created))
        .on("/v5/order/realtime", ok({"list": []}))
    )
    trading = BybitTrading(script.client())
    ack = await trading.place_order(ORDER)
    assert ack.order_id == "o-2" and not ack.recovered
    paths = [
        r.url.path.removeprefix("/bybit")
        for r in script.seen
        if not r.url.path.endswith("/market/time")
    ]
    assert paths == ["/v5/order/create", "/v5/order/realtime", "/v5/order/create"]
    bodies = [json.loads(r.content) for r in script.seen if r.url.path.endswith("/create")]
    assert bodies[0] == bodies[1] and bodies[0]["orderLinkId"] == "fs-1-a"
    await trading.http.close()


async def test_business_rejection_is_not_retried_or_looked_up():
    script = Script().on("/v5/order/create", err(110007, "ab not enough for new order"))
    trading = BybitTrading(script.client())
    with pytest.raises(BadRequest):
        await trading.place_order(ORDER)
    assert script.count("/v5/order/create") == 1 and script.count("/v5/order/realtime") == 0
    await trading.http.close()


def test_order_body_is_decimal_strings_rounded_down():
    qty = round_down(Decimal("0.0019"), Decimal("0.001"))
    price = round_down(Decimal("65000.37"), Decimal("0.5"))
    req = OrderRequest("BTCUSDT", "Sell", qty, "fs-2", order_type="Limit", price=price)
    body = req.body()
    assert body["qty"] == "0.001" and body["price"] == "65000.0"


def test_order_for_instrument_rounds_at_the_send_boundary_without_e_notation():
    from scanner.domain import Instrument, Kind

    shib = Instrument(
        "bybit", "SHIB1000USDT", "SHIB", "USDT", "USDT", Kind.PERPETUAL, Decimal(1000),
        tick=Decimal("0.000001"), lot=Decimal("10"),
    )  # fmt: skip
    req = OrderRequest.for_instrument(
        shib, "Buy", Decimal("1234.5"), "fs-3", order_type="Limit", price=Decimal("0.0123456789")
    )
    body = req.body()
    assert body["qty"] == "1230" and body["price"] == "0.012345"
    tiny = OrderRequest("XUSDT", "Buy", Decimal("1E+3"), "fs-4", price=Decimal("1.2345E-7"),
                        order_type="Limit")  # fmt: skip
    assert tiny.body()["qty"] == "1000" and tiny.body()["price"] == "0.00000012345"
    with pytest.raises(ValueError, match="rounds down to 0"):
        OrderRequest.for_instrument(shib, "Sell", Decimal("9.99"), "fs-5")


async def test_secret_not_logged(caplog):
    caplog.set_level(logging.DEBUG)
    script = Script().on("/v5/position/list", ok({"list": []}))
    http = script.client()
    await http.signed_get("/v5/position/list", {"category": "linear"})
    await http.close()
    assert SECRET not in caplog.text


async def test_clock_offset_is_remeasured_after_resync_interval():
    script = Script().on("/v5/position/list", ok({"list": []}))
    clock = FakeClock(int(NOW))
    http = BybitHttp(
        "http://venue.test/bybit",
        credentials=BybitCredentials(SecretStr(KEY), SecretStr(SECRET)),
        transport=httpx.MockTransport(script),
        clock=clock,
        sleep=script.sleep,
        resync_every_s=60,
    )
    await http.signed_get("/v5/position/list")
    clock.advance(30)
    await http.signed_get("/v5/position/list")
    assert script.count("/v5/market/time") == 1
    clock.advance(31)
    await http.signed_get("/v5/position/list")
    assert script.count("/v5/market/time") == 2
    await http.close()
