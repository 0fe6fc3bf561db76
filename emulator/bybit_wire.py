"""Render emulated account records in Bybit V5's JSON shapes.

Shapes follow the docs examples and testnet recordings under
shared/data/exchange-fixtures/bybit: numbers are strings, except the fields Bybit sends as
JSON ints (positionIdx, riskId, tradeMode, autoAddMargin, adlRankIndicator, seq,
triggerDirection, smpGroup) or bools (reduceOnly, isMaker, ...). Fields the emulator has no
notion of carry the value Bybit shows when unused ("" or "0").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emulator.bybit_account import AccountState
from emulator.bybit_records import MAINTENANCE_RATE, Execution, Order, Position, money


def fmt(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros ("100", "0.001", "0")."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def envelope(result: Any, now_ms: int, ret_code: int = 0, ret_msg: str = "OK") -> dict[str, Any]:
    return {
        "retCode": ret_code,
        "retMsg": ret_msg,
        "result": result,
        "retExtInfo": {},
        "time": now_ms,
    }


def order_row(order: Order) -> dict[str, Any]:
    avg = order.avg_price
    return {
        "orderId": order.order_id,
        "orderLinkId": order.order_link_id,
        "blockTradeId": "",
        "symbol": order.symbol,
        "price": fmt(order.price),
        "qty": fmt(order.qty),
        "side": order.side,
        "isLeverage": "",
        "positionIdx": 0,
        "orderStatus": order.status,
        "createType": "CreateByUser",
        "cancelType": order.cancel_type,
        "rejectReason": order.reject_reason,
        "avgPrice": fmt(avg) if avg is not None else "",
        "leavesQty": fmt(order.leaves_qty),
        "leavesValue": fmt(order.leaves_qty * order.price),
        "cumExecQty": fmt(order.cum_exec_qty),
        "cumExecValue": fmt(order.cum_exec_value),
        "cumExecFee": fmt(order.cum_exec_fee),
        "cumFeeDetail": {order.fee_currency: fmt(order.cum_exec_fee)} if order.cum_exec_qty else {},
        "timeInForce": order.time_in_force,
        "orderType": order.order_type,
        "stopOrderType": "",
        "orderIv": "",
        "marketUnit": "",
        "triggerPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "tpslMode": "",
        "ocoTriggerBy": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": fmt(order.last_price_on_created),
        "basePrice": "",
        "reduceOnly": order.reduce_only,
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
    }


def position_row(state: AccountState, position: Position) -> dict[str, Any]:
    flat = position.size == 0
    mark = state.mark(position.symbol)
    value = position.value
    im = money(value / position.leverage)
    mm = money(value * MAINTENANCE_RATE)
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": position.symbol,
        "side": position.side,
        "size": fmt(abs(position.size)),
        "avgPrice": fmt(position.avg_price),
        "positionValue": "" if flat else fmt(value),
        "tradeMode": 0,
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 0 if flat else 2,
        "leverage": fmt(position.leverage),
        "positionBalance": fmt(im),
        "markPrice": fmt(mark),
        "liqPrice": "",
        "bustPrice": "",
        "positionMM": fmt(mm),
        "positionMMByMp": fmt(mm),
        "positionIM": fmt(im),
        "positionIMByMp": fmt(im),
        "tpslMode": "Full",
        "takeProfit": "",
        "stopLoss": "",
        "trailingStop": "0",
        "unrealisedPnl": "" if flat else fmt(state.unrealised_pnl(position)),
        "curRealisedPnl": fmt(position.cur_realised_pnl),
        "cumRealisedPnl": fmt(position.cum_realised_pnl),
        "breakEvenPrice": "" if flat else fmt(position.avg_price),
        "seq": position.seq,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "",
        "createdTime": str(position.created_ms),
        "updatedTime": str(position.updated_ms),
    }


def execution_row(execution: Execution) -> dict[str, Any]:
    return {
        "symbol": execution.symbol,
        "orderId": execution.order_id,
        "orderLinkId": execution.order_link_id,
        "side": execution.side,
        "orderPrice": fmt(execution.order_price),
        "orderQty": fmt(execution.order_qty),
        "leavesQty": fmt(execution.leaves_qty),
        "createType": "CreateByUser" if execution.exec_type == "Trade" else "",
        "orderType": execution.order_type,
        "stopOrderType": "",
        "execFee": fmt(execution.exec_fee),
        "execFeeV2": "",
        "execId": execution.exec_id,
        "execPrice": fmt(execution.exec_price),
        "execQty": fmt(execution.exec_qty),
        "execType": execution.exec_type,
        "execValue": fmt(execution.exec_value),
        "execTime": str(execution.exec_time_ms),
        "feeCurrency": execution.fee_currency,
        "isMaker": execution.is_maker,
        "feeRate": fmt(execution.fee_rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": fmt(execution.mark_price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": fmt(execution.closed_size),
        "seq": execution.seq,
        "extraFees": "",
    }


def wallet_row(state: AccountState, coins: list[str] | None) -> dict[str, Any]:
    totals = state.totals()
    margin_balance = totals.equity
    initial = totals.position_im + totals.order_im
    usdt = {
        "coin": "USDT",
        "equity": fmt(totals.equity),
        "usdValue": fmt(totals.equity),
        "walletBalance": fmt(totals.wallet),
        "free": "",
        "locked": "0",
        "spotHedgingQty": "0",
        "borrowAmount": "0",
        "availableToWithdraw": "",
        "accruedInterest": "0",
        "totalOrderIM": fmt(totals.order_im),
        "totalPositionIM": fmt(totals.position_im),
        "totalPositionMM": fmt(totals.position_mm),
        "unrealisedPnl": fmt(totals.unrealised_pnl),
        "cumRealisedPnl": fmt(totals.cum_realised_pnl),
        "bonus": "0",
        "marginCollateral": True,
        "collateralSwitch": True,
        "availableToBorrow": "",
        "spotBorrow": "0",
    }
    im_rate = money(initial / margin_balance) if margin_balance > 0 else Decimal(0)
    mm_rate = money(totals.position_mm / margin_balance) if margin_balance > 0 else Decimal(0)
    return {
        "accountType": "UNIFIED",
        "accountLTV": "0",
        "accountIMRate": fmt(im_rate),
        "accountIMRateByMp": fmt(im_rate),
        "accountMMRate": fmt(mm_rate),
        "accountMMRateByMp": fmt(mm_rate),
        "totalEquity": fmt(totals.equity),
        "totalWalletBalance": fmt(totals.wallet),
        "totalMarginBalance": fmt(margin_balance),
        "totalAvailableBalance": fmt(totals.available),
        "totalPerpUPL": fmt(totals.unrealised_pnl),
        "totalInitialMargin": fmt(initial),
        "totalInitialMarginByMp": fmt(initial),
        "totalMaintenanceMargin": fmt(totals.position_mm),
        "totalMaintenanceMarginByMp": fmt(totals.position_mm),
        "coin": [usdt] if coins is None or "USDT" in coins else [],
    }


def with_spot_coins(
    row: dict[str, Any], state: AccountState, coins: list[str] | None
) -> dict[str, Any]:
    """Add a row per spot coin held (and its value to the totals), as a UTA wallet shows."""
    held = {c: q for c, q in sorted(state.coins.items()) if coins is None or c in coins}
    spot = state.spot_value()
    for name in ("totalEquity", "totalWalletBalance", "totalMarginBalance"):
        row[name] = fmt(Decimal(row[name]) + spot)
    for coin, qty in held.items():
        value = money(qty * state.mark(f"{coin}USDT"))
        row["coin"].append(
            {
                "coin": coin, "equity": fmt(qty), "usdValue": fmt(value),
                "walletBalance": fmt(qty), "free": "", "locked": "0", "spotHedgingQty": "0",
                "borrowAmount": "0", "availableToWithdraw": "", "accruedInterest": "0",
                "totalOrderIM": "0", "totalPositionIM": "0", "totalPositionMM": "0",
                "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0",
                "marginCollateral": True, "collateralSwitch": False, "availableToBorrow": "",
                "spotBorrow": "0",
            }
        )  # fmt: skip
    return row
