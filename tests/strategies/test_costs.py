"""Fees and book walks: hand-computed walks, and the real recorded books in ../shared/data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scanner.domain import OrderBook
from scanner.venues.specs import default_fee_table
from strategies.books import BookTable, SideTable
from strategies.costs import (
    FeeSchedule,
    depth_within,
    max_notional_within,
    slippage_frac,
    walk_book,
)

FEES = FeeSchedule.from_table(default_fee_table())
"""The registry's default fees, handed to the engine as the pipeline does."""

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "exchange-fixtures"


def test_default_fees_are_vip0_fractions() -> None:
    """The registry's fee table, as the docs state VIP0 (facts B.3), written out here."""
    assert FEES.taker_of("bybit") == 0.00055
    assert FEES.maker["hyperliquid"] == 0.00015
    assert FEES.taker_of("bybit-spot") == 0.001
    assert FEES.taker_of("bitget") == 0.0006 and FEES.maker["binanceusdm"] == 0.0002
    assert set(FEES.taker) >= {"bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid"}


def test_an_empty_schedule_knows_no_venue() -> None:
    """Defaults come only from the table handed in (the pure engine reads no registry)."""
    with pytest.raises(KeyError, match="'bybit'"):
        FeeSchedule().taker_of("bybit")


def test_overrides_are_basis_points_and_none_keeps_default() -> None:
    fees = FEES.with_overrides({"bybit": (4.0, None), "okx": (None, -0.5)})
    assert fees.taker_of("bybit") == pytest.approx(0.0004)  # 4 bp
    assert fees.maker["bybit"] == 0.0002  # default kept
    assert fees.maker["okx"] == pytest.approx(-0.00005)  # -0.5 bp rebate
    assert FEES.taker_of("bybit") == 0.00055  # the default object is untouched


def test_with_live_returns_a_new_schedule() -> None:
    base = FEES
    live = base.with_live("gate", 0.0003, 0.0001)
    assert live.taker_of("gate") == 0.0003 and base.taker_of("gate") == 0.0005


def test_fee_errors_name_the_venue() -> None:
    with pytest.raises(KeyError, match="'kraken'"):
        FeeSchedule().taker_of("kraken")
    with pytest.raises(ValueError, match="'bybit'.*percentage or basis points"):
        FeeSchedule().with_live("bybit", 5.5, 0.0002)  # 5.5 is bp, not a fraction


def test_taker_array_maps_each_venue() -> None:
    arr = FEES.taker_array(np.array(["okx", "bitget", "okx"], dtype=object))
    assert arr.tolist() == [0.0005, 0.0006, 0.0005]


ASKS = np.array([[100.0, 10.0], [101.0, 10.0], [103.0, 100.0]])


def test_walk_book_by_hand() -> None:
    # 500 USD fits in level 1: vwap = 100
    assert walk_book(ASKS, 500.0) == (100.0, 500.0)
    # 1505 USD: 1000 @100 (10 units) + 505 @101 (5 units) -> vwap = 1505/15 = 100.33333333333333
    vwap, filled = walk_book(ASKS, 1505.0)
    assert vwap == pytest.approx(100.33333333333333, rel=1e-12) and filled == 1505.0
    # more than the book (1000+1010+10300 = 12310): the whole book, vwap = 12310/120
    vwap, filled = walk_book(ASKS, 50_000.0)
    assert vwap == pytest.approx(102.58333333333333, rel=1e-12) and filled == 12310.0
    assert walk_book(ASKS, 0.0) == (100.0, 0.0)
    vwap, filled = walk_book(np.empty((0, 2)), 10.0)
    assert math.isnan(vwap) and filled == 0.0


def test_slippage_and_depth_by_hand() -> None:
    # mid 99.5: buying 1505 at vwap 100.333... costs 100.33333333333333/99.5 - 1
    assert slippage_frac(ASKS, 99.5, 1505.0, "buy") == pytest.approx(0.008375209380234, rel=1e-9)
    bids = np.array([[99.0, 10.0], [98.0, 10.0]])
    # selling 990 at 99 against mid 99.5: 1 - 99/99.5 = 0.005025125628140704
    assert slippage_frac(bids, 99.5, 990.0, "sell") == pytest.approx(0.005025125628140704)
    # within 1% of mid 99.5: asks <= 100.495 -> only 100 (1000 USD); bids >= 98.505 -> 990
    assert depth_within(ASKS, 99.5, 0.01, "buy") == 1000.0
    assert depth_within(bids, 99.5, 0.01, "sell") == 990.0


def test_max_notional_within_by_hand() -> None:
    # mid 100, limit 1% -> L = 101. Level 1 vwap 100, level 2 cumulative vwap 100.5 (<=101),
    # level 3 crosses: C2 = 2010, Q2 = 20, p = 103: N = 101*(20*103-2010)/(103-101) = 2525
    n = max_notional_within(ASKS, 100.0, 0.01)
    assert n == pytest.approx(2525.0, rel=1e-12)
    assert slippage_frac(ASKS, 100.0, n, "buy") == pytest.approx(0.01, rel=1e-9)
    # a generous limit: the whole book (12310) fits
    assert max_notional_within(ASKS, 100.0, 0.5) == 12310.0
    # best level already beyond the limit: nothing fits
    assert max_notional_within(ASKS, 90.0, 0.01) == 0.0


def _naive_walk(levels: list[tuple[float, float]], notional: float) -> tuple[float, float]:
    """Level by level, the way one would do it on paper (independent of the numpy code)."""
    spent = qty = 0.0
    for price, size in levels:
        take = min(size, (notional - spent) / price)
        spent += take * price
        qty += take
        if spent >= notional * (1 - 1e-15):
            break
    return spent / qty, spent


def _fixture_books() -> dict[str, OrderBook]:
    binance = json.loads(
        (FIXTURES / "binance" / "fapi_v1_depth_SUSHIUSDT_limit1000.json").read_text()
    )
    bybit = json.loads(
        (FIXTURES / "bybit" / "ws_v5_public_linear_orderbook200_snapshot_BTCUSDT.json").read_text()
    )["data"]
    gate = json.loads(
        (FIXTURES / "gate" / "api_v4_futures_usdt_order_book_RDNT_USDT.json").read_text()
    )
    hl = json.loads((FIXTURES / "hyperliquid" / "info_l2Book_DYDX.json").read_text())

    def lv(rows: list[list[str]]) -> list[tuple[float, float]]:
        return [(float(p), float(s)) for p, s in rows]

    return {
        "binance": OrderBook("binanceusdm", "SUSHIUSDT", "SUSHI/USDT:USDT", lv(binance["bids"]),
                             lv(binance["asks"]), int(binance["T"])),
        "bybit": OrderBook("bybit", "BTCUSDT", "BTC/USDT:USDT", lv(bybit["b"]), lv(bybit["a"]), 0),
        # Gate sizes are contract counts; RDNT_USDT's quanto_multiplier is 1 in the contracts file
        "gate": OrderBook("gate", "RDNT_USDT", "RDNT/USDT:USDT",
                          [(float(x["p"]), float(x["s"])) for x in gate["bids"]],
                          [(float(x["p"]), float(x["s"])) for x in gate["asks"]], 0,
                          contract_size=1.0),
        "hyperliquid": OrderBook("hyperliquid", "DYDX", "DYDX/USDC:USDC",
                                 [(float(x["px"]), float(x["sz"])) for x in hl["levels"][0]],
                                 [(float(x["px"]), float(x["sz"])) for x in hl["levels"][1]], 0),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["binance", "bybit", "gate", "hyperliquid"])
def test_vectorised_walks_match_a_naive_walk_on_real_books(name: str) -> None:
    book = _fixture_books()[name]
    asks = book.canonical_side("asks")
    bids = book.canonical_side("bids")
    depth = min(sum(p * q for p, q in asks), sum(p * q for p, q in bids))
    notionals = np.array([1.0, depth * 0.01, depth * 0.3, depth * 0.99])
    table = BookTable.build([book] * notionals.size, band_frac=0.001)
    rows = np.arange(notionals.size)
    for side, levels, tab in (("buy", asks, table.asks), ("sell", bids, table.bids)):
        vw_vec, filled_vec = tab.walk(rows, notionals)
        for i, n in enumerate(notionals):
            want_vwap, want_filled = _naive_walk(levels, n)
            assert walk_book(np.array(levels), n)[0] == pytest.approx(want_vwap, rel=1e-12)
            assert vw_vec[i] == pytest.approx(want_vwap, rel=1e-12), (side, n)
            assert filled_vec[i] == pytest.approx(want_filled, rel=1e-12)
        slip = table.slippage(side, rows, notionals)  # type: ignore[arg-type]
        assert np.all(np.diff(slip) >= -1e-15), "slippage must not fall as size grows"
        band = table.ask_band if side == "buy" else table.bid_band
        mid = book.mid
        assert mid is not None
        want = depth_within(np.array(levels), mid, 0.001, side)  # type: ignore[arg-type]
        assert band[0] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", ["binance", "bybit", "gate", "hyperliquid"])
def test_max_notional_within_on_real_books(name: str) -> None:
    book = _fixture_books()[name]
    mid = book.mid
    assert mid is not None
    asks = np.array(book.canonical_side("asks"))
    half_spread = asks[0, 0] / mid - 1
    limit = half_spread + 0.002  # 20 bp beyond the touch
    n = max_notional_within(asks, mid, limit)
    depth = float((asks[:, 0] * asks[:, 1]).sum())
    if n < depth:  # the limit binds inside the book: slippage at n is exactly the limit
        assert slippage_frac(asks, mid, n, "buy") == pytest.approx(limit, rel=1e-9)
        assert slippage_frac(asks, mid, n * 1.001, "buy") > limit
    else:
        assert slippage_frac(asks, mid, depth, "buy") <= limit + 1e-15


def test_side_table_handles_empty_and_ragged_books() -> None:
    table = SideTable.build([np.array([[1.0, 2.0]]), np.empty((0, 2)), ASKS])
    vwap, filled = table.walk(np.array([0, 1, 2]), np.array([1.0, 5.0, 1505.0]))
    assert vwap[0] == 1.0 and filled[0] == 1.0
    assert math.isnan(vwap[1]) and filled[1] == 0.0
    assert vwap[2] == pytest.approx(100.33333333333333, rel=1e-12)
