"""Bybit private endpoints through our signed client against the emulator, which verifies
signatures, timestamps and recv_window exactly as Bybit does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from emulator import Emulator, FaultSpec
from emulator.bybit_account import BybitAccount
from scanner.venues.base import AuthError
from scanner.venues.bybit_http import BybitCredentials, BybitHttp
from scanner.venues.bybit_trading import BybitTrading, OrderRequest

KEY, SECRET = "emu-key-1", "emu-secret-1"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    account = BybitAccount(api_key=KEY, api_secret=SECRET)
    async with Emulator(seed=4, stepped=True, bybit_accounts=[account]) as emulator:
        yield emulator


def trading_for(emu: Emulator, secret: str = SECRET, timeout_s: float = 5.0) -> BybitTrading:
    creds = BybitCredentials(SecretStr(KEY), SecretStr(secret))
    http = BybitHttp(emu.venue_url("bybit"), credentials=creds, timeout_s=timeout_s, retries=1)
    return BybitTrading(http)


async def test_account_reads(emu: Emulator):
    trading = trading_for(emu)
    try:
        wallet = await trading.wallet_balance(("USDT",))
        assert wallet.coins["USDT"].wallet_balance == Decimal("100000")
        fees = await trading.fee_rate("BTCUSDT")
        assert (fees.taker, fees.maker) == (Decimal("0.00055"), Decimal("0.0002"))
        flat = await trading.positions("BTCUSDT")
        assert all(p.size == 0 and p.side == "" and p.signed_size == 0 for p in flat)
    finally:
        await trading.http.close()


async def test_market_order_fills_and_a_repeat_is_recovered_not_doubled(emu: Emulator):
    trading = trading_for(emu)
    order = OrderRequest("BTCUSDT", "Buy", Decimal("0.010"), order_link_id="fs-e2e-1")
    try:
        await trading.set_leverage("BTCUSDT", Decimal(3))
        await trading.set_leverage("BTCUSDT", Decimal(3))  # 110043 "not modified" is success
        ack = await trading.place_order(order)
        assert ack.order_link_id == "fs-e2e-1" and not ack.recovered
        again = await trading.place_order(order)  # duplicate orderLinkId -> looked up
        assert again.order_id == ack.order_id and again.recovered
        found = await trading.find_order("BTCUSDT", "fs-e2e-1")
        assert found is not None and found.status == "Filled"
        positions = [p for p in await trading.positions("BTCUSDT") if p.size > 0]
        assert len(positions) == 1 and positions[0].signed_size == Decimal("0.010")
        fills = await trading.executions("BTCUSDT", order_link_id="fs-e2e-1")
        assert sum((f.exec_qty or Decimal(0)) for f in fills) == Decimal("0.010")
    finally:
        await trading.http.close()


async def test_limit_order_cancel(emu: Emulator):
    trading = trading_for(emu)
    mark = Decimal(str(emu.market.mark_price("bybit", "BTCUSDT")))
    price = (mark * Decimal("0.5")).quantize(Decimal("0.1"))
    order = OrderRequest(
        "BTCUSDT", "Buy", Decimal("0.001"), "fs-e2e-2", order_type="Limit", price=price
    )
    try:
        await trading.place_order(order)
        assert [o.order_link_id for o in await trading.open_orders("BTCUSDT")] == ["fs-e2e-2"]
        await trading.cancel_order("BTCUSDT", "fs-e2e-2")
        assert await trading.open_orders("BTCUSDT") == []
    finally:
        await trading.http.close()


async def test_create_that_timed_out_is_looked_up_then_resent_once(emu: Emulator):
    # The create hangs far beyond the client's timeout, and the timeout is far above what a
    # loaded CI machine needs for the other calls (0.3 s made the time sync time out instead).
    emu.faults.set("bybit", "/v5/order/create", FaultSpec(kind="timeout", hang_s=20.0, count=1))
    trading = trading_for(emu, timeout_s=4.0)
    order = OrderRequest("BTCUSDT", "Sell", Decimal("0.002"), order_link_id="fs-e2e-3")
    try:
        ack = await trading.place_order(order)
        assert not ack.recovered  # the emulated timeout dropped the request before the book
        orders = [
            o for o in await trading.order_history("BTCUSDT") if o.order_link_id == "fs-e2e-3"
        ]
        assert len(orders) == 1
    finally:
        await trading.http.close()


async def test_wrong_secret_is_auth_error(emu: Emulator):
    trading = trading_for(emu, secret="not-the-secret")
    try:
        with pytest.raises(AuthError):
            await trading.wallet_balance()
    finally:
        await trading.http.close()
