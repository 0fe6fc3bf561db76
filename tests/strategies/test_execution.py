"""The pure executor core: sizing, order ids, limits and the lifecycle."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from strategies.execution import (
    Exposure,
    IllegalTransition,
    LegMarket,
    Limits,
    SizingError,
    State,
    breaches,
    client_id,
    decimal_lcm,
    plan_pair,
    size_pair,
    transition,
)


def market(venue: str, lot: str, mult: str, price: str, min_qty: str = "0", min_usd: str = "5"):  # type: ignore[no-untyped-def]
    return LegMarket(venue, "X", D(lot), D(min_qty) or D(lot), D(min_usd), D(mult), D(price))


def test_lcm_of_decimal_steps() -> None:
    assert decimal_lcm(D("0.001"), D("0.01")) == D("0.01")
    assert decimal_lcm(D("0.4"), D("0.6")) == D("1.2")
    assert decimal_lcm(D("100"), D("1")) == D("100")


def test_1000pepe_and_pepe_get_equal_base_exposure_rounded_down() -> None:
    # Bybit 1000PEPEUSDT: lot 100 contracts of 1000 PEPE; Binance PEPE... as 1 PEPE lot 1
    bybit = market("bybit", "100", "1000", "0.01")  # price per 1000 PEPE
    other = market("binanceusdm", "1", "1", "0.00001")
    long_qty, short_qty = size_pair(D("1234"), bybit, other)
    assert long_qty * 1000 == short_qty  # same PEPE on both legs
    assert long_qty % 100 == 0
    assert long_qty * D("0.01") <= D("1234")  # never above the notional
    assert (long_qty + 100) * D("0.01") > D("1234")  # and the largest that fits


def test_below_minimums_is_a_clear_sizing_error() -> None:
    btc = market("bybit", "0.001", "1", "90000", min_qty="0.001")
    with pytest.raises(SizingError, match="smallest order"):
        size_pair(D("50"), btc, btc)
    pricey_min = market("bybit", "0.001", "1", "100", min_usd="500")
    with pytest.raises(SizingError, match="minimum order value"):
        size_pair(D("200"), pricey_min, pricey_min)


def test_above_the_largest_market_order_is_a_sizing_error() -> None:
    capped = LegMarket("bybit", "CHRUSDT", D(1), D(1), D(5), D(1), D("0.08"), max_qty=D(64000))
    assert size_pair(D(5000), capped, capped) == (D(62500), D(62500))
    with pytest.raises(SizingError, match="largest market order 64000"):
        size_pair(D(200_000), capped, capped)


def test_client_ids_are_deterministic_distinct_and_valid_for_bybit() -> None:
    plan = plan_pair(
        "BTC/USDT:USDT|long=bybit-spot|short=bybit", "BTC/USDT:USDT", D(900),
        market("bybit-spot", "0.001", "1", "90000"), market("bybit", "0.001", "1", "90000"), 1,
    )  # fmt: skip
    again = plan_pair(plan.pair_key, plan.base, D(900), plan.first.market, plan.second.market, 1)
    assert plan.pair_id == again.pair_id
    ids = {
        client_id(plan.pair_id, r, a, n) for r in ("long", "short") for a in "ouc" for n in (0, 1)
    }
    assert len(ids) == 12 and all(len(i) <= 36 for i in ids)
    assert plan.first.role == "long" and plan.first.side == "buy"


def test_lifecycle_allows_only_forward_moves() -> None:
    assert transition(State.PLANNED, State.OPENING) is State.OPENING
    assert transition(State.OPENING, State.BROKEN) is State.BROKEN
    with pytest.raises(IllegalTransition):
        transition(State.CLOSED, State.OPEN)
    with pytest.raises(IllegalTransition):
        transition(State.OPEN, State.PLANNED)


def test_each_limit_is_reported_by_name() -> None:
    limits = Limits(D(1000), D(3000), 2, D(100))
    calm = Exposure(0, D(0), D(0), False)
    assert breaches(limits, calm, D(1000), True) == []
    assert "max_notional_usd" in breaches(limits, calm, D(1001), True)[0]
    full = Exposure(2, D(2500), D(0), False)
    found = " ".join(breaches(limits, full, D(1000), True))
    assert "max_open_pairs" in found and "max_total_exposure_usd" in found
    assert breaches(limits, full, D(1000), False) == []  # the second leg of a counted pair
    lost = Exposure(0, D(0), D(-100), False)
    assert "max_daily_loss_usd" in breaches(limits, lost, D(10), True)[0]
    assert "kill switch" in breaches(limits, Exposure(0, D(0), D(0), True), D(10), True)[0]
