"""The emulated Bybit account as a state machine: matching, margin, PnL, funding, refusals."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bybit_private_fakes import ETH_ASKS, ETH_BIDS, ETH_MARK, FakeClock, FakeMarket

from emulator.bybit_account import AccountState, BybitAccount
from emulator.bybit_rules import BybitError

NOW = 1_790_000_000_000
TAKER = D("0.00055")


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket(clock=FakeClock(NOW))


def make_state(market: FakeMarket, balance: str = "100000") -> AccountState:
    return AccountState(BybitAccount("key", "secret", usdt_balance=D(balance)), 100001, market)


def order(**overrides: object) -> dict[str, object]:
    params: dict[str, object] = {
        "category": "linear",
        "symbol": "ETHUSDT",
        "side": "Buy",
        "orderType": "Market",
        "qty": "1",
    }
    params.update(overrides)
    return params


def refusal(state: AccountState, **overrides: object) -> BybitError:
    with pytest.raises(BybitError) as caught:
        state.place_order(order(**overrides))
    return caught.value


def d(x: float) -> D:
    return D(str(x))


def test_market_buy_walks_the_asks_and_charges_taker_fee(market: FakeMarket) -> None:
    state = make_state(market)
    placed = state.place_order(order(qty="2.5"))
    (p1, s1), (p2, _) = ETH_ASKS[0], ETH_ASKS[1]
    fills = [(d(p1), d(s1)), (d(p2), D("2.5") - d(s1))]
    value = sum(p * q for p, q in fills)
    fee = sum((p * q * TAKER).quantize(D("0.00000001")) for p, q in fills)

    assert placed.status == "Filled"
    assert placed.cum_exec_qty == D("2.5") and placed.cum_exec_value == value
    assert [(e.exec_price, e.exec_qty) for e in state.executions] == fills
    assert all(e.exec_type == "Trade" and not e.is_maker for e in state.executions)
    assert state.wallet == D("100000") - fee
    position = state.positions["ETHUSDT"]
    assert position.size == D("2.5") and position.side == "Buy"
    assert position.avg_price == (value / D("2.5")).quantize(D("0.00000001"))
    assert position.cum_realised_pnl == -fee


def test_market_order_stops_at_the_slippage_band(market: FakeMarket) -> None:
    state = make_state(market)
    within_band = sum(d(s) for p, s in ETH_ASKS if p <= ETH_MARK * 1.05)
    placed = state.place_order(order(qty="20"))
    assert placed.status == "PartiallyFilledCanceled"
    assert placed.cum_exec_qty == within_band
    assert placed.leaves_qty == 0  # the rest was cancelled, not left resting


def test_ioc_limit_takes_only_levels_at_or_better_than_its_price(market: FakeMarket) -> None:
    state = make_state(market)
    limit = ETH_ASKS[1][0]
    placed = state.place_order(
        order(orderType="Limit", price=str(limit), qty="5", timeInForce="IOC")
    )
    assert placed.cum_exec_qty == sum(d(s) for p, s in ETH_ASKS if p <= limit)
    assert placed.status == "PartiallyFilledCanceled"
    missed = state.place_order(
        order(orderType="Limit", price="2900.00", qty="1", timeInForce="IOC")
    )
    assert missed.status == "Cancelled" and missed.cum_exec_qty == 0


def test_sell_walks_the_bids(market: FakeMarket) -> None:
    state = make_state(market)
    state.place_order(order(side="Sell", qty="1.5"))
    assert [(e.exec_price, e.exec_qty) for e in state.executions] == [
        (d(ETH_BIDS[0][0]), D("1")),
        (d(ETH_BIDS[1][0]), D("0.5")),
    ]
    assert state.positions["ETHUSDT"].side == "Sell"
    assert state.positions["ETHUSDT"].size == D("-1.5")


def test_resting_gtc_reserves_margin_and_can_be_cancelled(market: FakeMarket) -> None:
    state = make_state(market)
    before = state.totals().available
    resting = state.place_order(order(orderType="Limit", price="2900.00", qty="2"))
    assert resting.status == "New" and resting.leaves_qty == 2
    reserved = D("2") * D("2900.00") / D("10")
    assert state.totals().order_im == reserved
    assert before - state.totals().available == reserved
    with pytest.raises(BybitError) as wrong_symbol:
        state.cancel_order(resting.order_id, None, "BTCUSDT")
    assert wrong_symbol.value.ret_code == 110001
    done = state.cancel_order(resting.order_id, None, "ETHUSDT")
    assert done.status == "Cancelled" and done.cancel_type == "CancelByUser"
    assert state.totals().order_im == 0
    with pytest.raises(BybitError) as again:
        state.cancel_order(resting.order_id, None, "ETHUSDT")
    assert again.value.ret_code == 110001


def test_fok_and_post_only(market: FakeMarket) -> None:
    state = make_state(market)
    fok = state.place_order(
        order(orderType="Limit", price=str(ETH_ASKS[0][0]), qty="3", timeInForce="FOK")
    )
    assert fok.status == "Cancelled" and state.executions == []
    crossing = state.place_order(
        order(orderType="Limit", price=str(ETH_ASKS[0][0]), qty="1", timeInForce="PostOnly")
    )
    assert crossing.status == "Cancelled" and crossing.reject_reason.startswith("EC_PostOnly")
    passive = state.place_order(
        order(orderType="Limit", price="2950.00", qty="1", timeInForce="PostOnly")
    )
    assert passive.status == "New" and state.executions == []


@pytest.mark.parametrize(
    ("overrides", "code", "named"),
    [
        ({"qty": "0.015"}, 10001, "qtyStep"),
        ({"qty": "0.001"}, 10001, "qty"),
        ({"qty": "-1"}, 10001, "qty"),
        ({"qty": "abc"}, 10001, "qty"),
        ({"qty": "2001"}, 10001, "maximum"),
        ({"symbol": "NOPEUSDT"}, 10001, "symbol"),
        ({"side": "buy"}, 10001, "side"),
        ({"orderType": "Stop"}, 10001, "orderType"),
        ({"category": "spot"}, 10001, "category"),
        ({"positionIdx": 1}, 10001, "position idx"),
        ({"orderLinkId": "x" * 37}, 10001, "orderLinkId"),
        ({"orderType": "Limit"}, 10001, "price"),
        ({"orderType": "Limit", "price": "3000.005"}, 10001, "tickSize"),
        ({"orderType": "Limit", "price": "100.00", "qty": "0.01"}, 110094, "minimum order value"),
        ({"reduceOnly": "yes"}, 10001, "reduceOnly"),
    ],
)
def test_refusals_name_the_problem(
    market: FakeMarket, overrides: dict[str, object], code: int, named: str
) -> None:
    error = refusal(make_state(market), **overrides)
    assert error.ret_code == code
    assert named in error.ret_msg


def test_duplicate_order_link_id_is_refused_even_after_the_order_closed(
    market: FakeMarket,
) -> None:
    state = make_state(market)
    first = state.place_order(order(orderLinkId="pair-1-leg-a"))
    assert first.status == "Filled"
    assert refusal(state, orderLinkId="pair-1-leg-a").ret_code == 110072
    assert state.find_order(None, "pair-1-leg-a") is first
    assert len(state.executions) == 1


def test_insufficient_available_balance(market: FakeMarket) -> None:
    state = make_state(market, balance="100")
    error = refusal(state, qty="1")  # ~3000 USDT notional at 10x needs ~300 margin
    assert error.ret_code == 110007
    assert state.orders == {} and state.executions == []


def test_reduce_only_never_opens_or_grows(market: FakeMarket) -> None:
    state = make_state(market)
    assert refusal(state, reduceOnly=True).ret_code == 110017
    state.place_order(order(qty="1"))
    assert refusal(state, reduceOnly=True).ret_code == 110017  # same side as the long
    closing = state.place_order(order(side="Sell", qty="5", reduceOnly=True))
    assert closing.qty == 1 and closing.status == "Filled"
    assert state.positions["ETHUSDT"].size == 0
    assert state.positions["ETHUSDT"].side == ""


def test_round_trip_realises_pnl_net_of_both_fees(market: FakeMarket) -> None:
    state = make_state(market)
    state.place_order(order(qty="1"))
    state.place_order(order(side="Sell", qty="1"))
    buy, sell = d(ETH_ASKS[0][0]), d(ETH_BIDS[0][0])
    fees = (buy * TAKER).quantize(D("1e-8")) + (sell * TAKER).quantize(D("1e-8"))
    expected = sell - buy - fees
    assert state.positions["ETHUSDT"].cum_realised_pnl == expected
    assert state.wallet == D("100000") + expected
    assert state.executions[-1].closed_size == 1


def test_flip_from_long_to_short_reopens_at_the_fill_price(market: FakeMarket) -> None:
    state = make_state(market)
    state.place_order(order(qty="1"))
    state.place_order(
        order(side="Sell", orderType="Limit", price=str(ETH_BIDS[0][0]), qty="1", timeInForce="IOC")
    )
    state.place_order(
        order(side="Sell", orderType="Limit", price=str(ETH_BIDS[0][0]), qty="0.5")
    )  # the top bid level is still there: the emulator does not consume the model's book
    position = state.positions["ETHUSDT"]
    assert position.size == D("-0.5")
    assert position.avg_price == d(ETH_BIDS[0][0])


def test_unrealised_pnl_follows_the_mark(market: FakeMarket) -> None:
    state = make_state(market)
    state.place_order(order(qty="2"))
    entry = state.positions["ETHUSDT"].avg_price
    market.marks["ETHUSDT"] = 3100.0
    totals = state.totals()
    assert totals.unrealised_pnl == D("2") * (D("3100.0") - entry)
    assert totals.equity == totals.wallet + totals.unrealised_pnl
    assert totals.position_im == (D("2") * entry / D("10")).quantize(D("1e-8"))
    assert totals.available == totals.equity - totals.position_im - totals.order_im


@pytest.mark.parametrize(("side", "rate"), [("Buy", 0.0001), ("Sell", 0.0001), ("Buy", -0.0003)])
def test_funding_moves_money_by_size_mark_rate(market: FakeMarket, side: str, rate: float) -> None:
    state = make_state(market)
    state.place_order(order(side=side, qty="2"))
    wallet_before = state.wallet
    pnl_before = state.positions["ETHUSDT"].cum_realised_pnl
    market.marks["ETHUSDT"] = 3000.0
    state.settle_funding("ETHUSDT", d(rate), D("3000.0"), NOW + 1000)

    signed_size = D("2") if side == "Buy" else D("-2")
    paid = signed_size * D("3000.0") * d(rate)  # > 0: this account pays
    assert state.wallet == wallet_before - paid
    assert state.positions["ETHUSDT"].cum_realised_pnl == pnl_before - paid
    funding = state.executions[-1]
    assert funding.exec_type == "Funding" and funding.order_type == "UNKNOWN"
    assert funding.exec_fee == paid and funding.fee_rate == d(rate)
    assert funding.exec_qty == 2 and funding.exec_time_ms == NOW + 1000


def test_funding_ignores_flat_and_other_symbols(market: FakeMarket) -> None:
    state = make_state(market)
    state.settle_funding("ETHUSDT", D("0.001"), D("3000"), NOW)
    state.place_order(order(qty="1"))
    count = len(state.executions)
    state.settle_funding("BTCUSDT", D("0.001"), D("65000"), NOW)
    assert len(state.executions) == count and state.wallet < D("100000")


def test_set_leverage_rules(market: FakeMarket) -> None:
    state = make_state(market)
    with pytest.raises(BybitError) as same:
        state.set_leverage("ETHUSDT", "10", "10")
    assert same.value.ret_code == 110043
    with pytest.raises(BybitError) as unequal:
        state.set_leverage("ETHUSDT", "5", "6")
    assert unequal.value.ret_code == 10001 and "sellLeverage" in unequal.value.ret_msg
    with pytest.raises(BybitError) as too_high:
        state.set_leverage("ETHUSDT", "101", "101")
    assert too_high.value.ret_code == 10001 and "100" in too_high.value.ret_msg
    state.place_order(order(qty="1"))
    im_at_10 = state.totals().position_im
    state.set_leverage("ETHUSDT", "5", "5")
    assert state.totals().position_im == im_at_10 * 2


def test_account_repr_hides_the_secret() -> None:
    account = BybitAccount("visible-key", "very-secret-value")
    assert "very-secret-value" not in repr(account)
    assert "visible-key" in repr(account)


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(
        st.tuples(st.sampled_from(["Buy", "Sell"]), st.integers(min_value=1, max_value=300)),
        min_size=1,
        max_size=12,
    )
)
def test_cash_flow_identity_once_flat(trades: list[tuple[str, int]]) -> None:
    """Flat again, the wallet moved by sells - buys - fees, whatever path the position took.

    Independent of how the account averages entry prices; the only slack is the 8-decimal
    rounding of average prices and PnL (a few 1e-8 per fill).
    """
    market = FakeMarket(clock=FakeClock(NOW))
    deep = 500.0  # deep third levels inside the 5 % band: every order fills completely
    market.books["ETHUSDT"] = (
        [*ETH_BIDS[:2], (ETH_BIDS[2][0], deep)],
        [*ETH_ASKS[:2], (ETH_ASKS[2][0], deep)],
    )
    state = make_state(market)
    for side, hundredths in trades:
        state.place_order(order(side=side, qty=str(D(hundredths) / 100)))
    size = state.positions["ETHUSDT"].size
    if size != 0:
        close_side = "Sell" if size > 0 else "Buy"
        state.place_order(order(side=close_side, qty=str(abs(size)), reduceOnly=True))

    trades_done = [e for e in state.executions if e.exec_type == "Trade"]
    sells = sum((e.exec_value for e in trades_done if e.side == "Sell"), D(0))
    buys = sum((e.exec_value for e in trades_done if e.side == "Buy"), D(0))
    fees = sum((e.exec_fee for e in trades_done), D(0))
    assert state.positions["ETHUSDT"].size == 0
    slack = D("0.00000002") * len(trades_done) * (1 + max(e.exec_qty for e in trades_done))
    assert abs((state.wallet - D("100000")) - (sells - buys - fees)) <= slack
    assert state.positions["ETHUSDT"].cum_realised_pnl == state.wallet - D("100000")
