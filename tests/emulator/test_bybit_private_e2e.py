"""The private Bybit API inside the full emulator: model, server, clock and ccxt factory."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from test_bybit_private_fakes import KEY, SECRET, hand_sign

from emulator import Emulator
from emulator.bybit_account import BybitAccount
from scanner.venues.ccxt_factory import make_exchange

BTC = "BTC/USDT:USDT"
HOUR_MS = 3_600_000


async def test_ccxt_factory_order_fills_against_the_model_book() -> None:
    async with Emulator(seed=3, bybit_accounts=[BybitAccount(KEY, SECRET)]) as emu:
        exchange = make_exchange("bybit", emu.venue_url("bybit"), {"apiKey": KEY, "secret": SECRET})
        try:
            await exchange.create_order(BTC, "market", "sell", 0.01)
            positions = await exchange.fetch_positions([BTC])
            balance = await exchange.fetch_balance()
        finally:
            await exchange.close()
        executions = emu.bybit_private.state(KEY).executions

    (position,) = positions
    assert position["side"] == "short" and position["contracts"] == 0.01
    assert executions and all(e.exec_type == "Trade" for e in executions)
    assert sum(e.exec_qty for e in executions) == D("0.01")
    fees = sum(e.exec_fee for e in executions)
    # ccxt reads walletBalance as "total": the start balance minus the taker fees, nothing else
    assert balance["USDT"]["total"] == pytest.approx(float(D("100000") - fees), abs=1e-8)
    assert balance["USDT"]["used"] > 0  # ccxt sums totalPositionIM/totalOrderIM


async def signed(
    http: httpx.AsyncClient, emu: Emulator, method: str, path: str, payload: str
) -> dict[str, Any]:
    timestamp = str(emu.clock.now_ms())
    headers = {
        "X-BAPI-API-KEY": KEY,
        "X-BAPI-TIMESTAMP": timestamp,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": hand_sign(SECRET, timestamp, KEY, "5000", payload.encode()),
        "Content-Type": "application/json",
    }
    url = f"{emu.venue_url('bybit')}{path}"
    if method == "GET":
        response = await http.get(f"{url}?{payload}", headers=headers)
    else:
        response = await http.post(url, content=payload.encode(), headers=headers)
    body: dict[str, Any] = response.json()
    assert body["retCode"] == 0, body
    return body["result"]


async def test_model_settlements_book_funding_on_open_positions() -> None:
    start = 1_790_000_000_000 // (8 * HOUR_MS) * (8 * HOUR_MS) + HOUR_MS // 2
    emu = Emulator(seed=5, stepped=True, start_ms=start, bybit_accounts=[BybitAccount(KEY, SECRET)])
    async with emu, httpx.AsyncClient(timeout=10) as http:
        order = {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Market",
            "qty": "0.01",
        }
        await signed(http, emu, "POST", "/v5/order/create", json.dumps(order))
        before = await signed(http, emu, "GET", "/v5/account/wallet-balance", "accountType=UNIFIED")
        await emu.advance(8 * HOUR_MS)
        funding = await signed(
            http, emu, "GET", "/v5/execution/list", "category=linear&execType=Funding"
        )
        after = await signed(http, emu, "GET", "/v5/account/wallet-balance", "accountType=UNIFIED")

    rows = funding["list"]
    assert rows, "an 8 h advance crosses at least one BTCUSDT settlement"
    for row in rows:
        assert row["symbol"] == "BTCUSDT" and row["orderType"] == "UNKNOWN"
        expected = (D(row["execQty"]) * D(row["execPrice"]) * D(row["feeRate"])).quantize(D("1e-8"))
        assert D(row["execFee"]) == expected
        assert int(row["execTime"]) % HOUR_MS == 0  # settlements fall on interval boundaries
    paid = sum(D(r["execFee"]) for r in rows)
    wallet = lambda body: D(body["list"][0]["totalWalletBalance"])  # noqa: E731
    assert wallet(before) - wallet(after) == paid
