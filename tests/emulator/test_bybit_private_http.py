"""Response shapes against Bybit's own examples, order/execution queries, funding, settings."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from test_bybit_private_fakes import BYBIT_FIXTURES, ETH_ASKS, running_emulator

ETH_MARKET_BUY = {
    "category": "linear",
    "symbol": "ETHUSDT",
    "side": "Buy",
    "orderType": "Market",
    "qty": "2",
}


def fixture(name: str) -> Any:
    return json.loads((BYBIT_FIXTURES / name).read_text(encoding="utf-8"))


def assert_same_types(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> None:
    """Every field Bybit sends is present with the same JSON type (str stays str, int int)."""
    for name, value in theirs.items():
        assert name in ours, f"{where}: missing {name}"
        assert type(ours[name]) is type(value), f"{where}.{name}: {ours[name]!r} vs {value!r}"


async def test_envelope_and_create_shape_match_bybit() -> None:
    async with running_emulator() as emu:
        body = (await emu.post("/v5/order/create", ETH_MARKET_BUY)).json()
    docs = fixture("docs_example_v5_order_create.json")
    assert list(body) == list(docs)  # retCode, retMsg, result, retExtInfo, time
    assert set(body["result"]) == set(fixture("testnet_result_only_v5_order_create.json"))
    assert isinstance(body["time"], int) and body["retExtInfo"] == {}


async def test_position_row_shape_matches_testnet_and_docs() -> None:
    async with running_emulator() as emu:
        flat = (await emu.get("/v5/position/list", "category=linear&symbol=BTCUSDT")).json()
        await emu.post("/v5/order/create", ETH_MARKET_BUY)
        held = (await emu.get("/v5/position/list", "category=linear&settleCoin=USDT")).json()
    testnet = fixture("testnet_result_only_v5_position_list.json")
    docs_row = fixture("docs_example_v5_position_list.json")["result"]["list"][0]
    (flat_row,) = flat["result"]["list"]
    assert_same_types(flat_row, testnet["list"][0], "flat position")
    assert flat_row["side"] == "" and flat_row["size"] == "0"
    (held_row,) = held["result"]["list"]
    for name in (
        "symbol",
        "side",
        "size",
        "avgPrice",
        "positionValue",
        "leverage",
        "markPrice",
        "unrealisedPnl",
        "cumRealisedPnl",
        "positionIdx",
        "seq",
        "isReduceOnly",
    ):
        assert type(held_row[name]) is type(docs_row[name]), name
    assert held_row["side"] == "Buy" and held_row["size"] == "2"
    assert set(held["result"]) == set(testnet)


async def test_wallet_balance_shape_and_numbers() -> None:
    async with running_emulator() as emu:
        await emu.post("/v5/order/create", ETH_MARKET_BUY)
        body = (await emu.get("/v5/account/wallet-balance", "accountType=UNIFIED")).json()
        refused = (await emu.get("/v5/account/wallet-balance", "accountType=CONTRACT")).json()
    testnet = fixture("testnet_result_only_v5_account_wallet-balance.json")["list"][0]
    (account,) = body["result"]["list"]
    (usdt,) = account["coin"]
    testnet_usdt = next(c for c in testnet["coin"] if c["coin"] == "USDT")
    assert_same_types(
        {k: v for k, v in account.items() if k != "coin"},
        {k: v for k, v in testnet.items() if k != "coin"},
        "wallet",
    )
    assert_same_types(usdt, testnet_usdt, "wallet.coin[USDT]")

    equity, wallet = D(account["totalEquity"]), D(account["totalWalletBalance"])
    assert equity == wallet + D(account["totalPerpUPL"])
    assert D(account["totalAvailableBalance"]) == equity - D(account["totalInitialMargin"])
    assert D(usdt["totalPositionIM"]) > 0 and wallet < D("100000")  # fees were paid
    assert refused["retCode"] == 10001 and "accountType" in refused["retMsg"]


async def test_realtime_finds_closed_orders_by_link_id_and_lists_open_ones() -> None:
    async with running_emulator() as emu:
        await emu.post("/v5/order/create", dict(ETH_MARKET_BUY, orderLinkId="filled-1"))
        resting = {
            "category": "linear",
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "1",
            "price": "2500.00",
            "orderLinkId": "resting-1",
        }
        await emu.post("/v5/order/create", resting)
        by_link = await emu.get(
            "/v5/order/realtime", "category=linear&symbol=ETHUSDT&orderLinkId=filled-1"
        )
        open_now = await emu.get("/v5/order/realtime", "category=linear&symbol=ETHUSDT")
        closed = await emu.get("/v5/order/realtime", "category=linear&symbol=ETHUSDT&openOnly=1")
        cancel = await emu.post(
            "/v5/order/cancel",
            {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "resting-1"},
        )
        cancel_again = await emu.post(
            "/v5/order/cancel",
            {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "resting-1"},
        )
        history = await emu.get("/v5/order/history", "category=linear&symbol=ETHUSDT&limit=1")
        no_symbol = await emu.get("/v5/order/realtime", "category=linear")

    (filled,) = by_link.json()["result"]["list"]
    assert filled["orderStatus"] == "Filled" and filled["cumExecQty"] == "2"
    assert filled["leavesQty"] == "0" and filled["reduceOnly"] is False
    assert [o["orderLinkId"] for o in open_now.json()["result"]["list"]] == ["resting-1"]
    assert open_now.json()["result"]["list"][0]["orderStatus"] == "New"
    assert [o["orderLinkId"] for o in closed.json()["result"]["list"]] == ["filled-1"]
    assert cancel.json()["result"]["orderLinkId"] == "resting-1"
    assert cancel_again.json()["retCode"] == 110001
    page = history.json()["result"]
    assert len(page["list"]) == 1 and page["nextPageCursor"] == "1"
    assert no_symbol.json()["retCode"] == 10001


async def test_execution_list_records_trades_newest_first() -> None:
    async with running_emulator() as emu:
        await emu.post("/v5/order/create", dict(ETH_MARKET_BUY, qty="1.5"))
        body = (await emu.get("/v5/execution/list", "category=linear&symbol=ETHUSDT")).json()
    rows = body["result"]["list"]
    assert [r["execType"] for r in rows] == ["Trade", "Trade"]
    assert [r["seq"] for r in rows] == sorted((r["seq"] for r in rows), reverse=True)
    assert {D(r["execPrice"]) for r in rows} == {D(str(ETH_ASKS[0][0])), D(str(ETH_ASKS[1][0]))}
    for row in rows:
        assert D(row["execValue"]) == D(row["execPrice"]) * D(row["execQty"])
        assert D(row["execFee"]) == (D(row["execValue"]) * D(row["feeRate"])).quantize(D("1e-8"))
        assert row["isMaker"] is False and isinstance(row["seq"], int)
        assert row["feeCurrency"] == "USDT" and row["execTime"].isdigit()


async def test_funding_settlement_appears_as_funding_execution() -> None:
    async with running_emulator() as emu:
        await emu.post("/v5/order/create", ETH_MARKET_BUY)
        before = (await emu.get("/v5/account/wallet-balance", "accountType=UNIFIED")).json()
        mark = emu.market.marks["ETHUSDT"]
        settle_ms = emu.market.clock.now_ms()
        emu.market.settle("bybit", "ETHUSDT", 0.0001, settle_ms)
        emu.market.settle("okx", "ETHUSDT", 0.01, settle_ms)  # other venues are not ours
        after = (await emu.get("/v5/account/wallet-balance", "accountType=UNIFIED")).json()
        funding = (await emu.get("/v5/execution/list", "category=linear&execType=Funding")).json()[
            "result"
        ]["list"]
        position = (await emu.get("/v5/position/list", "category=linear&symbol=ETHUSDT")).json()

    paid = D("2") * D(str(mark)) * D("0.0001")
    (row,) = funding
    assert row["execType"] == "Funding" and row["orderType"] == "UNKNOWN"
    assert D(row["execFee"]) == paid and D(row["feeRate"]) == D("0.0001")
    assert row["side"] == "Buy" and row["execQty"] == "2" and row["execTime"] == str(settle_ms)
    wallet_before = D(before["result"]["list"][0]["totalWalletBalance"])
    wallet_after = D(after["result"]["list"][0]["totalWalletBalance"])
    assert wallet_before - wallet_after == paid
    cum = D(position["result"]["list"][0]["cumRealisedPnl"])
    trade_fees = sum(D(o.cum_exec_fee) for o in emu.api.state("emu-key-1").orders.values())
    assert cum == -trade_fees - paid
    other = emu.api.state("emu-key-2")
    assert other.executions == [] and other.wallet == D("100000")


async def test_leverage_and_position_mode_not_modified_codes() -> None:
    async with running_emulator() as emu:
        lev = {"category": "linear", "symbol": "ETHUSDT", "buyLeverage": "10", "sellLeverage": "10"}
        unchanged = await emu.post("/v5/position/set-leverage", lev)
        changed = await emu.post(
            "/v5/position/set-leverage", dict(lev, buyLeverage="3", sellLeverage="3")
        )
        mode = {"category": "linear", "symbol": "ETHUSDT", "mode": 0}
        same_mode = await emu.post("/v5/position/switch-mode", mode)
        hedge = await emu.post("/v5/position/switch-mode", dict(mode, mode=3))
        row = (await emu.get("/v5/position/list", "category=linear&symbol=ETHUSDT")).json()
    assert unchanged.json()["retCode"] == 110043
    assert changed.json()["retCode"] == 0 and changed.json()["result"] == {}
    assert row["result"]["list"][0]["leverage"] == "3"
    assert same_mode.json()["retCode"] == 110025
    assert hedge.json()["retCode"] == 110029 and "one-way" in hedge.json()["retMsg"]


async def test_fee_rate_and_account_detection_endpoints() -> None:
    async with running_emulator() as emu:
        fees = (await emu.get("/v5/account/fee-rate", "category=linear&symbol=ETHUSDT")).json()
        info = (await emu.get("/v5/account/info", "")).json()
        key = (await emu.get("/v5/user/query-api", "")).json()
        bad_json = await emu.post("/v5/order/create", "{not json")
    assert fees["result"]["list"] == [
        {"symbol": "ETHUSDT", "takerFeeRate": "0.00055", "makerFeeRate": "0.0002"}
    ]
    assert info["result"]["unifiedMarginStatus"] == 6
    assert key["result"]["uta"] == 1 and key["result"]["apiKey"] == "emu-key-1"
    assert bad_json.json()["retCode"] == 10001
