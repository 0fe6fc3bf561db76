"""Bybit V5 private API over real loopback HTTP: unmodified ccxt, hand-signed requests, refusals.

The server is a minimal aiohttp app with our ``register()`` and a fake market (see
test_bybit_private_fakes.py); ccxt talks to it over TCP exactly as it would to Bybit.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from test_bybit_private_fakes import (
    KEY,
    OTHER_KEY,
    OTHER_SECRET,
    SECRET,
    FakeClock,
    FakeMarket,
    hand_sign,
    load_btc_book,
    running_emulator,
)

from emulator.bybit_auth import sign

BTC = "BTC/USDT:USDT"
FIXED_NOW = 1_790_000_000_000


def make_ccxt(base: str, secret: str = SECRET) -> Any:
    """Unmodified ccxt bybit pointed at the emulator; linear markets only, no coin info call."""
    return ccxt_async.bybit(
        {
            "apiKey": KEY,
            "secret": secret,
            "urls": {"api": {k: base for k in ("public", "private", "spot", "futures", "v2")}},
            "options": {"fetchMarkets": {"types": ["linear"]}},
            "has": {"fetchCurrencies": False},
        }
    )


async def test_ccxt_market_order_fills_and_appears_in_positions() -> None:
    async with running_emulator() as emu:
        exchange = make_ccxt(emu.base)
        try:
            created = await exchange.create_order(
                BTC, "market", "buy", 0.01, params={"clientOrderId": "fs-e2e-1"}
            )
            positions = await exchange.fetch_positions([BTC])
        finally:
            await exchange.close()
        raw = (await emu.get("/v5/position/list", "category=linear&symbol=BTCUSDT")).json()

    best_ask = D(str(load_btc_book()[1][0][0]))
    assert created["id"] and created["clientOrderId"] == "fs-e2e-1"
    (position,) = positions
    assert position["symbol"] == BTC and position["side"] == "long"
    assert position["contracts"] == pytest.approx(0.01)
    assert position["entryPrice"] == pytest.approx(float(best_ask))
    assert raw["retCode"] == 0
    (row,) = raw["result"]["list"]
    assert row["side"] == "Buy" and row["size"] == "0.01" and row["positionIdx"] == 0
    assert D(row["avgPrice"]) == best_ask


async def test_ccxt_reused_client_order_id_is_invalid_order() -> None:
    async with running_emulator() as emu:
        exchange = make_ccxt(emu.base)
        try:
            await exchange.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "x1"})
            with pytest.raises(ccxt_async.InvalidOrder, match="110072"):
                await exchange.create_order(
                    BTC, "market", "buy", 0.01, params={"clientOrderId": "x1"}
                )
        finally:
            await exchange.close()
        assert len(emu.api.state(KEY).orders) == 1


async def test_ccxt_with_a_wrong_secret_gets_an_authentication_error() -> None:
    async with running_emulator() as emu:
        exchange = make_ccxt(emu.base, secret="not-the-secret")
        try:
            with pytest.raises(ccxt_async.AuthenticationError, match="10004"):
                await exchange.fetch_positions([BTC])
        finally:
            await exchange.close()


def test_known_answer_signature() -> None:
    """Bybit's guide example string, signed by an independent tool (openssl dgst -hmac)."""
    signed = sign(
        "emulator-secret-KAT",
        "1658384314791",
        "XXXXXXXXXX",
        "5000",
        b"category=option&symbol=BTC-29JUL22-25000-C",
    )
    assert signed == "c8ac462ed0f991c50561b7ddcbe39e0933c4a62d9768b54b82e45290b38e7fa3"


async def test_hand_signed_request_verifies_and_one_changed_byte_fails() -> None:
    market = FakeMarket(clock=FakeClock(FIXED_NOW))
    async with running_emulator(market) as emu:
        query = "accountType=UNIFIED&coin=USDT"
        headers = emu.headers(query.encode())
        good = await emu.http.get(f"{emu.base}/v5/account/wallet-balance?{query}", headers=headers)
        tampered = await emu.http.get(
            f"{emu.base}/v5/account/wallet-balance?{query[:-1]}C", headers=headers
        )
        bad_sign = dict(headers, **{"X-BAPI-SIGN": "0" + headers["X-BAPI-SIGN"][1:]})
        forged = await emu.http.get(
            f"{emu.base}/v5/account/wallet-balance?{query}", headers=bad_sign
        )
    assert good.status_code == 200 and good.json()["retCode"] == 0
    assert tampered.json()["retCode"] == 10004
    assert "error sign!" in tampered.json()["retMsg"]
    assert forged.status_code == 200 and forged.json()["retCode"] == 10004


async def test_get_signature_covers_the_query_exactly_as_sent() -> None:
    """Sign the decoded form but send the %-encoded one: Bybit (and we) refuse it."""
    async with running_emulator() as emu:
        sent = "accountType=UNIFIED&coin=USDT%2CBTC"
        as_sent = await emu.get("/v5/account/wallet-balance", sent)
        headers = emu.headers(b"accountType=UNIFIED&coin=USDT,BTC")
        decoded = await emu.http.get(
            f"{emu.base}/v5/account/wallet-balance?{sent}", headers=headers
        )
    assert as_sent.json()["retCode"] == 0
    assert [c["coin"] for c in as_sent.json()["result"]["list"][0]["coin"]] == ["USDT"]
    assert decoded.json()["retCode"] == 10004


async def test_post_signature_covers_the_raw_body_bytes() -> None:
    """pybit sends json.dumps with spaces; that body verifies only when signed as sent."""
    order = {
        "category": "linear",
        "symbol": "ETHUSDT",
        "side": "Buy",
        "orderType": "Market",
        "qty": "0.1",
    }
    spaced = '{"category": "linear", "symbol": "ETHUSDT", "side": "Buy", "orderType": "Market", "qty": "0.1"}'  # noqa: E501
    async with running_emulator() as emu:
        accepted = await emu.post("/v5/order/create", spaced)
        headers = emu.headers(spaced.encode())
        compact = await emu.http.post(
            f"{emu.base}/v5/order/create",
            content=__import__("json").dumps(order, separators=(",", ":")).encode(),
            headers=headers,
        )
    assert accepted.json()["retCode"] == 0
    assert compact.json()["retCode"] == 10004


@pytest.mark.parametrize(
    ("offset_ms", "recv_window", "code"),
    [
        (-5000, "5000", 0),  # exactly recv_window behind: still accepted
        (-5001, "5000", 10002),
        (999, "5000", 0),  # up to 1 s ahead of the server is fine
        (1000, "5000", 10002),
        (-9000, "10000", 0),  # a wider recv_window admits older requests
    ],
)
async def test_timestamp_window(offset_ms: int, recv_window: str, code: int) -> None:
    market = FakeMarket(clock=FakeClock(FIXED_NOW))
    async with running_emulator(market) as emu:
        response = await emu.get(
            "/v5/position/list",
            "category=linear&settleCoin=USDT",
            timestamp=FIXED_NOW + offset_ms,
            recv_window=recv_window,
        )
    assert response.status_code == 200
    body = response.json()
    assert body["retCode"] == code
    if code:
        assert f"server_timestamp[{FIXED_NOW}]" in body["retMsg"]


async def test_unknown_and_missing_keys() -> None:
    async with running_emulator() as emu:
        unknown = await emu.get(
            "/v5/position/list", "category=linear&settleCoin=USDT", key="nobody", secret="x"
        )
        missing = await emu.http.get(f"{emu.base}/v5/position/list?category=linear&settleCoin=USDT")
        no_sign = emu.headers(b"category=linear&settleCoin=USDT")
        del no_sign["X-BAPI-SIGN"]
        unsigned = await emu.http.get(
            f"{emu.base}/v5/position/list?category=linear&settleCoin=USDT", headers=no_sign
        )
    assert unknown.status_code == 401 and unknown.json()["retCode"] == 10003
    assert missing.status_code == 401 and missing.json()["retCode"] == 10003
    assert "X-BAPI-API-KEY" in missing.json()["retMsg"]
    assert unsigned.status_code == 401 and "X-BAPI-SIGN" in unsigned.json()["retMsg"]


async def test_rate_limit_per_uid_per_endpoint_with_headers() -> None:
    """fee-rate allows 5 per rolling second; the 6th gets 10006 until the window rolls."""
    clock = FakeClock(FIXED_NOW)
    async with running_emulator(FakeMarket(clock=clock)) as emu:
        query = "category=linear&symbol=BTCUSDT"
        first_five = [await emu.get("/v5/account/fee-rate", query) for _ in range(5)]
        limited = await emu.get("/v5/account/fee-rate", query)
        other_endpoint = await emu.get("/v5/position/list", query)
        other_uid = await emu.get("/v5/account/fee-rate", query, key=OTHER_KEY, secret=OTHER_SECRET)
        clock.fixed_ms = FIXED_NOW + 999
        still_limited = await emu.get("/v5/account/fee-rate", query)
        clock.fixed_ms = FIXED_NOW + 1000
        rolled = await emu.get("/v5/account/fee-rate", query)

    assert [r.json()["retCode"] for r in first_five] == [0] * 5
    assert [r.headers["X-Bapi-Limit-Status"] for r in first_five] == ["4", "3", "2", "1", "0"]
    assert all(r.headers["X-Bapi-Limit"] == "5" for r in first_five)
    assert limited.status_code == 200 and limited.json()["retCode"] == 10006
    assert limited.headers["X-Bapi-Limit-Status"] == "0"
    assert limited.headers["X-Bapi-Limit-Reset-Timestamp"] == str(FIXED_NOW + 1000)
    assert other_endpoint.json()["retCode"] == 0
    assert other_endpoint.headers["X-Bapi-Limit"] == "50"
    assert other_uid.json()["retCode"] == 0
    assert still_limited.json()["retCode"] == 10006
    assert rolled.json()["retCode"] == 0


async def test_limit_headers_are_on_error_responses_too() -> None:
    async with running_emulator() as emu:
        bad = await emu.get("/v5/position/list", "category=linear")
        unknown = await emu.get("/v5/position/list", "category=linear", key="nobody", secret="x")
    assert bad.json()["retCode"] == 10001 and "symbol or settleCoin" in bad.json()["retMsg"]
    for response in (bad, unknown):
        for name in ("X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp"):
            assert response.headers[name].isdigit()


async def test_reused_order_link_id_over_raw_http() -> None:
    body = {
        "category": "linear",
        "symbol": "ETHUSDT",
        "side": "Buy",
        "orderType": "Market",
        "qty": "0.1",
        "orderLinkId": "pair-7-leg-a",
    }
    async with running_emulator() as emu:
        first = await emu.post("/v5/order/create", body)
        second = await emu.post("/v5/order/create", body)
    assert first.json()["retCode"] == 0
    assert first.json()["result"]["orderLinkId"] == "pair-7-leg-a"
    assert second.json()["retCode"] == 110072
    assert second.json()["retMsg"] == "OrderLinkedID is duplicate"
    assert second.json()["result"] == {}


def test_hand_sign_helper_matches_the_server() -> None:
    """Guards the other tests: the helper and the server implement the same rule."""
    assert hand_sign("s", "1", "k", "5000", b"a=1") == sign("s", "1", "k", "5000", b"a=1")
