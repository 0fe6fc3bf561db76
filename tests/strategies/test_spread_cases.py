"""Hand-computed cases for the spread engine (docs/design.md section 4).

Every expected number below was worked out with the arithmetic in its comment, from the rates,
intervals, fees and books of the case, never by calling the engine. Shared settings unless a
case says otherwise: notional N = 10 000 USD, horizon H = 72 h, max slippage 30 bp, default
VIP0 taker fees (bybit 5.5 bp, binanceusdm/okx/gate 5 bp, bitget 6 bp, hyperliquid 4.5 bp,
bybit-spot 10 bp). net_apr = (d*H - cost)/H*8760; breakeven_h = cost/d.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd
import pytest

from scanner.domain import FundingQuote, OrderBook
from scanner.venues.specs import default_fee_table
from strategies.costs import FeeSchedule
from strategies.spread import (
    EngineParams,
    compute_opportunities,
    quotes_frame,
    top_of_book_books,
)

FEES = FeeSchedule.from_table(default_fee_table())
"""The registry's default fees, handed to the engine as the pipeline does."""

NOW = 1_750_000_000_000
H_MS = 3_600_000
DEEP = 1e6


def q(venue: str, sym: str, canonical: str, rate: float, interval_h: float, next_h: float = 1.0):
    return FundingQuote(
        venue, sym, canonical, rate, interval_h, NOW, next_funding_ms=int(NOW + next_h * H_MS)
    )


def flat_book(venue: str, sym: str, canonical: str, mult: float = 1.0, size: float = 1.0):
    """One deep level each side at mid 100 -/+ 1 bp: each walk costs exactly 0.0001."""
    return OrderBook(venue, sym, canonical, [(99.99, DEEP)], [(100.01, DEEP)], NOW, mult, size)


def run(quotes, books=None, spot=None, top_only=frozenset(), **params: Any) -> pd.DataFrame:
    p = EngineParams(min_net_apr=-math.inf, **params)
    return compute_opportunities(
        quotes_frame(quotes), books or {}, FEES, p, NOW, spot_books=spot, top_only=top_only
    )


def one(frame: pd.DataFrame, long_venue: str, short_venue: str) -> dict[str, Any]:
    rows = frame[(frame["long_venue"] == long_venue) & (frame["short_venue"] == short_venue)]
    assert len(rows) == 1, frame[["long_venue", "short_venue"]]
    return rows.iloc[0].to_dict()


def check(row: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        got = row[key]
        if isinstance(want, bool) or want is None or isinstance(want, str):
            assert got == want, key
        elif isinstance(want, float) and math.isnan(want):
            assert pd.isna(got), key
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), key


BTC = "BTC/USDT:USDT"


def case_1h_vs_8h():
    # long bybit 0.0001/8h = 1.25e-5/h; short hyperliquid 0.0001/1h = 1e-4/h
    # d = 1e-4 - 1.25e-5 = 8.75e-5; gross = 8.75e-5*8760 = 0.7665
    # fee = 2*(0.00055+0.00045) = 0.002; no books -> cost = fees only
    # net = (8.75e-5*72 - 0.002)/72*8760 = 0.0043/72*8760 = 0.5231666666666667
    # breakeven = 0.002/8.75e-5 = 22.857142857142858
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0001, 8), q("hyperliquid", "BTC", BTC, 0.0001, 1)]
    row = one(run(quotes), "bybit", "hyperliquid")
    check(row, {"diff_per_h": 8.75e-5, "gross_apr": 0.7665, "fee_frac": 0.002,
                "slippage_frac": math.nan, "cost_frac": 0.002, "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": 0.5231666666666667,
                "breakeven_h": 22.857142857142858, "interval_mismatch": True,
                "book_missing": True, "executable": False, "settle_mismatch": False})  # fmt: skip


def case_4h_vs_8h_with_books():
    # long binanceusdm 0.0002/8h = 2.5e-5/h; short bitget 0.0003/4h = 7.5e-5/h; d = 5e-5
    # gross = 5e-5*8760 = 0.438; fee = 2*(0.0005+0.0006) = 0.0022
    # four walks on +-1bp books: 4*0.0001 = 0.0004; cost = 0.0026
    # net = (0.0036-0.0026)/72*8760 = 0.12166666666666667; breakeven = 0.0026/5e-5 = 52
    # basis = (99.99-100.01)/100 = -0.0002; max notional = min(100.01e6, 99.99e6) = 99.99e6
    quotes = [q("binanceusdm", "BTCUSDT", BTC, 0.0002, 8), q("bitget", "BTCUSDT", BTC, 0.0003, 4)]
    books = {(v, "BTCUSDT"): flat_book(v, "BTCUSDT", BTC) for v in ("binanceusdm", "bitget")}
    row = one(run(quotes, books), "binanceusdm", "bitget")
    check(row, {"diff_per_h": 5e-5, "gross_apr": 0.438, "fee_frac": 0.0022,
                "slippage_frac": 0.0004, "cost_frac": 0.0026, "net_apr": 0.12166666666666667,
                "breakeven_h": 52.0, "basis_frac": -0.0002, "max_notional_usd": 99.99e6,
                "max_notional_within_slippage_usd": 99.99e6, "executable": True,
                "book_thin": False, "interval_mismatch": True})  # fmt: skip


def case_equal_intervals():
    # long okx 0.0001/8h, short gate 0.0004/8h: d = 0.0003/8 = 3.75e-5; gross = 0.3285
    # fee = 2*(0.0005+0.0005) = 0.002; net = (0.0027-0.002)/72*8760 = 0.08516666666666667
    # breakeven = 0.002/3.75e-5 = 53.333333333333336
    quotes = [q("okx", "BTC-USDT-SWAP", BTC, 0.0001, 8), q("gate", "BTC_USDT", BTC, 0.0004, 8)]
    row = one(run(quotes), "okx", "gate")
    check(row, {"diff_per_h": 3.75e-5, "gross_apr": 0.3285, "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": 0.08516666666666667,
                "breakeven_h": 53.333333333333336, "interval_mismatch": False})  # fmt: skip


def case_negative_rates():
    # long bybit -0.0003/8h = -3.75e-5/h (the long RECEIVES); short okx -0.0001/8h = -1.25e-5/h
    # d = -1.25e-5 - (-3.75e-5) = 2.5e-5; gross = 0.219; fee = 2*(0.00055+0.0005) = 0.0021
    # net = (0.0018-0.0021)/72*8760 = -0.0365; breakeven = 0.0021/2.5e-5 = 84
    # funding_to_next_long = -r_a = +0.0003; funding_to_next_short = r_b = -0.0001
    quotes = [q("bybit", "BTCUSDT", BTC, -0.0003, 8), q("okx", "BTC-USDT-SWAP", BTC, -0.0001, 8)]
    row = one(run(quotes), "bybit", "okx")
    check(row, {"diff_per_h": 2.5e-5, "gross_apr": 0.219, "fee_frac": 0.0021,
                "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": -0.0365, "breakeven_h": 84.0,
                "funding_to_next_long": 0.0003,
                "funding_to_next_short": -0.0001})  # fmt: skip


def case_multi_level_walk():
    # long gate 0.0001/8h, short bybit 0.0005/8h: d = 0.0004/8 = 5e-5; fee = 2*(0.0005+0.00055)
    # = 0.0021. Gate asks [(100.02,50),(100.04,100)], bids [(99.98,50),(99.96,100)], mid 100.
    # buy 10000: 50 @100.02 = 5001, then 4999/100.04 = 49.97001199520192 -> vwap =
    #   10000/99.97001199520192 = 100.02999700029997 -> 0.00029997000299975
    # sell 10000: 50 @99.98 = 4999, then 5001/99.96 = 50.03001200480192 -> vwap =
    #   10000/100.03001200480192 = 99.96999699969996 -> 0.00030003000300038
    # bybit flat book: 2*0.0001. slippage = 0.000800000006000134; cost = 0.002900000006000134
    # net = (0.0036-0.002900000006000134)/72*8760 = 0.08516666593665038
    # breakeven = 0.002900000006000134/5e-5 = 58.00000012000268
    # max notional = min(gate asks 5001+10004 = 15005, gate bids 4999+9996 = 14995) = 14995
    # within 30 bp: total at 14995 is below 0.003 (< 0.0002 + two sides <= 4 bp) -> 14995
    gate = OrderBook("gate", "BTC_USDT", BTC, [(99.98, 50), (99.96, 100)],
                     [(100.02, 50), (100.04, 100)], NOW)  # fmt: skip
    quotes = [q("gate", "BTC_USDT", BTC, 0.0001, 8), q("bybit", "BTCUSDT", BTC, 0.0005, 8)]
    books = {("gate", "BTC_USDT"): gate, ("bybit", "BTCUSDT"): flat_book("bybit", "BTCUSDT", BTC)}
    row = one(run(quotes, books), "gate", "bybit")
    check(row, {"slippage_frac": 0.000800000006000134, "cost_frac": 0.002900000006000134,
                "net_apr": 0.08516666593665038, "breakeven_h": 58.00000012000268,
                "max_notional_usd": 14995.0, "max_notional_within_slippage_usd": 14995.0,
                "executable": True, "book_thin": False})  # fmt: skip


def case_thin_book():
    # long bybit 0.0001/8h, short okx 0.0003/8h: d = 0.0002/8 = 2.5e-5; fee = 0.0021
    # bybit book one level each side, 30 units: asks 100.01*30 = 3000.3, bids 99.99*30 = 2999.7
    # N = 10000 does not fit -> whole-book walk (vwap = the level): 0.0001 each side of bybit,
    # plus okx flat 2*0.0001 -> slippage 0.0004 (a lower bound); cost = 0.0025
    # net = (0.0018-0.0025)/72*8760 = -0.08516666666666667; breakeven = 0.0025/2.5e-5 = 100
    # max notional = 2999.7; not executable
    bybit = OrderBook("bybit", "BTCUSDT", BTC, [(99.99, 30)], [(100.01, 30)], NOW)
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0001, 8), q("okx", "BTC-USDT-SWAP", BTC, 0.0003, 8)]
    books = {("bybit", "BTCUSDT"): bybit, ("okx", "BTC-USDT-SWAP"): flat_book("okx", "x", BTC)}
    row = one(run(quotes, books), "bybit", "okx")
    check(row, {"slippage_frac": 0.0004, "cost_frac": 0.0025, "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": -0.08516666666666667,
                "breakeven_h": 100.0, "max_notional_usd": 2999.7,
                "max_notional_within_slippage_usd": 2999.7, "book_thin": True,
                "book_missing": False, "executable": False})  # fmt: skip


def case_slippage_limit():
    # max_slippage_bps = 5. long binanceusdm: asks [(100.01,10),(100.11,1e6)], bids [(99.99,1e6)];
    # short okx flat. Fixed part: binance bid + okx bid + okx ask = 3 bp, so binance's ask walk
    # may cost 2 bp: limit price L = 100.02, crossed inside level 2 (p = 100.11) where
    # C1 = 1000.1, Q1 = 10: N = L*(Q1*p - C1)/(p - L) = 100.02*(1001.1-1000.1)/0.09
    #   = 1111.3333333333333
    # At N = 10000: 10 @100.01 then 8999.9/100.11 = 89.90010988 -> vwap = 10000/99.90010988
    #   = 100.0999900009999 -> 0.000999900009998944; slippage = +0.0003 = 0.001299900009998944
    # > 5 bp -> not executable. d = 0.0003/8 = 3.75e-5 (0.0001 vs 0.0004 on 8h);
    # fee = 0.002; cost = 0.003299900009998944; breakeven = cost/d = 87.99733359997184
    binance = OrderBook("binanceusdm", "BTCUSDT", BTC, [(99.99, DEEP)],
                        [(100.01, 10), (100.11, DEEP)], NOW)  # fmt: skip
    quotes = [q("binanceusdm", "BTCUSDT", BTC, 0.0001, 8), q("okx", "BTC-SWAP", BTC, 0.0004, 8)]
    books = {("binanceusdm", "BTCUSDT"): binance, ("okx", "BTC-SWAP"): flat_book("okx", "x", BTC)}
    row = one(run(quotes, books, max_slippage_bps=5.0), "binanceusdm", "okx")
    check(row, {"slippage_frac": 0.001299900009998944, "cost_frac": 0.003299900009998944,
                "breakeven_h": 87.99733359997184,
                "max_notional_within_slippage_usd": 1111.3333333333333,
                "book_thin": False, "executable": False})  # fmt: skip


PEPE = "PEPE/USDT:USDT"


def case_1000_multiplier():
    # long bybit 1000PEPEUSDT (multiplier 1000): venue prices per 1000 PEPE 0.011998/0.012002
    #   -> canonical 1.1998e-5/1.2002e-5, mid 1.2e-5, each walk 0.000002/0.012 = 1/6000
    # short okx PEPE-USDT-SWAP (ctVal 1e6 PEPE per contract): 0.000011999/0.000012001,
    #   mid 1.2e-5, each walk 1e-9/1.2e-5 = 1/12000; depth 1000 contracts*1e6*1.1999e-5 = 11999
    # slippage = 2/6000 + 2/12000 = 0.0005; fee = 2*(0.00055+0.0005) = 0.0021; cost = 0.0026
    # d = (0.0005-0.0001)/8 = 5e-5; net = (0.0036-0.0026)/72*8760 = 0.12166666666666667
    # basis = (1.1999e-5 - 1.2002e-5)/1.2e-5 = -0.00025 (meaningless without the rescale)
    bybit = OrderBook("bybit", "1000PEPEUSDT", PEPE, [(0.011998, 5e6)], [(0.012002, 5e6)], NOW,
                      multiplier=1000.0)  # fmt: skip
    okx = OrderBook("okx", "PEPE-USDT-SWAP", PEPE, [(0.000011999, 1000)],
                    [(0.000012001, 1000)], NOW, contract_size=1e6)  # fmt: skip
    quotes = [
        q("bybit", "1000PEPEUSDT", PEPE, 0.0001, 8),
        q("okx", "PEPE-USDT-SWAP", PEPE, 0.0005, 8),
    ]
    books = {("bybit", "1000PEPEUSDT"): bybit, ("okx", "PEPE-USDT-SWAP"): okx}
    row = one(run(quotes, books), "bybit", "okx")
    check(row, {"slippage_frac": 0.0005, "cost_frac": 0.0026, "basis_frac": -0.00025,
                "net_apr": 0.12166666666666667, "breakeven_h": 52.0,
                "max_notional_usd": 11999.0, "executable": True})  # fmt: skip


def case_kpepe_vs_gate_quanto():
    # long hyperliquid kPEPE (multiplier 1000, hourly) 0.00001/1h; short gate PEPE_USDT
    # (quanto 10000 PEPE per contract) 0.0004/8h = 5e-5/h: d = 4e-5; gross = 0.3504
    # hyperliquid 0.011999/0.012001 per 1000 -> mid 1.2e-5, each walk 0.000001/0.012 = 1/12000
    # gate 0.000011999/0.000012001 per PEPE -> each walk 1/12000; slippage = 4/12000
    # fee = 2*(0.00045+0.0005) = 0.0019; cost = 0.0022333333333333333
    # net = (0.00288-0.0022333333333333333)/72*8760 = 0.0786777777777778
    # breakeven = 0.0022333333333333333/4e-5 = 55.83333333333333
    hl = OrderBook("hyperliquid", "kPEPE", PEPE, [(0.011999, DEEP)], [(0.012001, DEEP)], NOW,
                   multiplier=1000.0)  # fmt: skip
    gate = OrderBook("gate", "PEPE_USDT", PEPE, [(0.000011999, 1e5)], [(0.000012001, 1e5)], NOW,
                     contract_size=1e4)  # fmt: skip
    quotes = [q("hyperliquid", "kPEPE", PEPE, 0.00001, 1), q("gate", "PEPE_USDT", PEPE, 0.0004, 8)]
    books = {("hyperliquid", "kPEPE"): hl, ("gate", "PEPE_USDT"): gate}
    row = one(run(quotes, books), "hyperliquid", "gate")
    check(row, {"diff_per_h": 4e-5, "gross_apr": 0.3504, "slippage_frac": 4 / 12000,
                "cost_frac": 0.0022333333333333333, "net_apr": 0.0786777777777778,
                "breakeven_h": 55.83333333333333, "interval_mismatch": True,
                "executable": True})  # fmt: skip


def case_usdc_vs_usdt():
    # long binanceusdm BTC/USDT:USDT 0.0001/8h = 1.25e-5/h; short hyperliquid BTC/USDC:USDC
    # 0.00003/1h: d = 1.75e-5; gross = 0.1533; fee = 2*(0.0005+0.00045) = 0.0019
    # net = (0.00126-0.0019)/72*8760 = -0.0778666666666667; breakeven = 0.0019/1.75e-5
    #   = 108.57142857142858; symbol = the short leg's canonical
    quotes = [q("binanceusdm", "BTCUSDT", BTC, 0.0001, 8),
              q("hyperliquid", "BTC", "BTC/USDC:USDC", 0.00003, 1)]  # fmt: skip
    row = one(run(quotes), "binanceusdm", "hyperliquid")
    check(row, {"diff_per_h": 1.75e-5, "gross_apr": 0.1533, "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": -0.0778666666666667,
                "breakeven_h": 108.57142857142858, "settle_mismatch": True,
                "symbol": "BTC/USDC:USDC", "long_canonical": BTC})  # fmt: skip


def case_carry():
    # Bybit spot long + Bybit perp short; perp 0.0001/8h next settlement in 3 h:
    # d = 1.25e-5; gross = 0.1095; fee = 2*(0.001 spot + 0.00055 perp) = 0.0031
    # slippage: spot ask + perp bid + spot bid + perp ask on +-1bp books = 0.0004; cost = 0.0035
    # net = (0.0009-0.0035)/72*8760 = -0.31633333333333336; breakeven = 0.0035/1.25e-5 = 280
    # alignment: spot pays nothing, perp settles once in 3 h: collected = 0.0001, first cycle 3 h
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0001, 8, next_h=3.0)]
    books = {("bybit", "BTCUSDT"): flat_book("bybit", "BTCUSDT", BTC)}
    spot = {"BTC/USDT": flat_book("bybit", "BTCUSDT", "BTC/USDT")}
    row = one(run(quotes, books, spot), "bybit-spot", "bybit")
    check(row, {"pair_type": "carry", "long_rate": 0.0, "long_interval_h": math.nan,
                "diff_per_h": 1.25e-5, "gross_apr": 0.1095, "fee_frac": 0.0031,
                "slippage_frac": 0.0004, "cost_frac": 0.0035, "net_apr": -0.31633333333333336,
                "breakeven_h": 280.0, "funding_to_next_long": 0.0, "funding_to_next_short": 0.0001,
                "first_cycle_h": 3.0, "collected_first_cycle": 0.0001,
                "interval_mismatch": False, "executable": True})  # fmt: skip


def case_settlement_alignment():
    # long hyperliquid 0.00002/1h, next in 0.25 h; short bybit 0.0004/8h, next in 6 h.
    # d = 0.00005 - 0.00002 = 3e-5; gross = 0.2628; fee = 2*(0.00045+0.00055) = 0.002
    # net = (0.00216-0.002)/72*8760 = 0.019466666666666667; breakeven = 0.002/3e-5 = 66.667
    # first cycle ends at max(0.25, 6) = 6 h; hyperliquid settles at 0.25,1.25,...,5.25:
    # n_a = floor((6-0.25)/1)+1 = 6; bybit n_b = 1. collected = 0.0004 - 6*0.00002 = 0.00028
    quotes = [q("hyperliquid", "BTC", BTC, 0.00002, 1, next_h=0.25),
              q("bybit", "BTCUSDT", BTC, 0.0004, 8, next_h=6.0)]  # fmt: skip
    row = one(run(quotes), "hyperliquid", "bybit")
    check(row, {"diff_per_h": 3e-5, "gross_apr": 0.2628, "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": 0.019466666666666667,
                "breakeven_h": 66.66666666666667, "first_cycle_h": 6.0,
                "collected_first_cycle": 0.00028, "funding_to_next_long": -0.00002,
                "long_next_funding_ms": NOW + 900_000,
                "short_next_funding_ms": NOW + 6 * H_MS})  # fmt: skip


def case_one_book_missing():
    # long bitget 0.0001/8h has a book, short okx 0.0003/8h has none: d = 2.5e-5
    # fee = 2*(0.0006+0.0005) = 0.0022; slippage unknown -> cost = fees only (lower bound)
    # net = (0.0018-0.0022)/72*8760 = -0.04866666666666667; breakeven = 0.0022/2.5e-5 = 88
    quotes = [q("bitget", "BTCUSDT", BTC, 0.0001, 8), q("okx", "BTC-SWAP", BTC, 0.0003, 8)]
    books = {("bitget", "BTCUSDT"): flat_book("bitget", "BTCUSDT", BTC)}
    row = one(run(quotes, books), "bitget", "okx")
    check(row, {"slippage_frac": math.nan, "cost_frac": 0.0022, "basis_frac": math.nan,
                "net_apr": math.nan,
                "cost_measured": False, "net_apr_upper": -0.04866666666666667, "breakeven_h": 88.0,
                "book_missing": True,
                "max_notional_usd": math.nan, "executable": False})  # fmt: skip


def _with_top(quote: FundingQuote, qty: float) -> FundingQuote:
    """The quote with a bulk-ticker top of book: 99.99 / 100.01, ``qty`` on each side."""
    return dataclasses.replace(quote, bid_price=99.99, bid_qty=qty, ask_price=100.01, ask_qty=qty)


def case_top_of_book_prices_the_row():
    # case_4h_vs_8h_with_books, but both legs priced from their bulk tickers' top of book:
    # one level 99.99 / 100.01 holding 1e6 each side covers the 10 000 USD notional on all four
    # walks, so the walk is the full walk: every number as there, measured, executable
    quotes = [_with_top(q("binanceusdm", "BTCUSDT", BTC, 0.0002, 8), 1e6),
              _with_top(q("bitget", "BTCUSDT", BTC, 0.0003, 4), 1e6)]  # fmt: skip
    tops = top_of_book_books(quotes, {})
    row = one(run(quotes, tops, top_only=set(tops)), "binanceusdm", "bitget")
    check(row, {"slippage_frac": 0.0004, "cost_frac": 0.0026, "net_apr": 0.12166666666666667,
                "net_apr_upper": math.nan, "cost_measured": True, "book_top_only": True,
                "basis_frac": -0.0002, "max_notional_usd": 99.99e6, "executable": True,
                "book_thin": False, "book_missing": False,
                "max_notional_within_slippage_usd": math.nan})  # fmt: skip


def case_top_of_book_smaller_than_the_notional():
    # the same with 50 contracts at the top: 99.99*50 = 4999.5 USD on the bids, 5000.5 on the
    # asks, less than 10 000: the walks take the visible level (slippage 4*0.0001 = 0.0004, a
    # lower bound), so 0.12166666666666667 is only an upper bound; the depth behind the top is
    # unknown, so the book is not called thin; max notional = 4999.5; not executable
    quotes = [_with_top(q("binanceusdm", "BTCUSDT", BTC, 0.0002, 8), 50.0),
              _with_top(q("bitget", "BTCUSDT", BTC, 0.0003, 4), 50.0)]  # fmt: skip
    tops = top_of_book_books(quotes, {})
    row = one(run(quotes, tops, top_only=set(tops)), "binanceusdm", "bitget")
    check(row, {"slippage_frac": 0.0004, "cost_frac": 0.0026, "net_apr": math.nan,
                "net_apr_upper": 0.12166666666666667, "cost_measured": False,
                "book_top_only": True, "book_thin": False, "book_missing": False,
                "max_notional_usd": 4999.5, "executable": False})  # fmt: skip


def case_top_of_book_contracts_are_rescaled():
    # OKX counts contracts of ctVal 0.01 BTC: a top of 1e8 contracts is 1e6 BTC, deep enough;
    # gate's is 1e6 BTC too. Measured, as in case_top_of_book_prices_the_row (fees 5+5 bp:
    # cost = 2*(0.0005+0.0005) + 0.0004 = 0.0024; net = (0.0036-0.0024)/72*8760 = 0.146)
    quotes = [_with_top(q("okx", "BTC-USDT-SWAP", BTC, 0.0002, 8), 1e8),
              _with_top(q("gate", "BTC_USDT", BTC, 0.0003, 4), 1e6)]  # fmt: skip
    tops = top_of_book_books(quotes, {("okx", "BTC-USDT-SWAP"): 0.01})
    row = one(run(quotes, tops, top_only=set(tops)), "okx", "gate")
    check(row, {"cost_frac": 0.0024, "net_apr": 0.146, "cost_measured": True,
                "max_notional_usd": 99.99e6, "executable": True})  # fmt: skip


CASES = [
    case_1h_vs_8h, case_4h_vs_8h_with_books, case_equal_intervals, case_negative_rates,
    case_multi_level_walk, case_thin_book, case_slippage_limit, case_1000_multiplier,
    case_kpepe_vs_gate_quanto, case_usdc_vs_usdt, case_carry, case_settlement_alignment,
    case_one_book_missing, case_top_of_book_prices_the_row,
    case_top_of_book_smaller_than_the_notional, case_top_of_book_contracts_are_rescaled,
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_hand_computed_case(case) -> None:
    case()


def test_equal_per_hour_rates_are_no_opportunity() -> None:
    # 0.0002 per 4 h and 0.0004 per 8 h are both 5e-5 per hour: d = 0 either way, no row
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0002, 4), q("okx", "BTC-SWAP", BTC, 0.0004, 8)]
    assert run(quotes).empty


def test_only_positive_orientation_and_ranking() -> None:
    # three venues: rates per hour bybit 1.25e-5, okx 5e-5, gate 1e-4 (all 8h except gate 1h)
    # positive orientations: bybit->okx 3.75e-5, bybit->gate 8.75e-5, okx->gate 5e-5.
    # fees 2*(taker sum): bybit/okx 0.0021, bybit/gate 0.0021, okx/gate 0.002. No books.
    # net: bybit->gate (0.0063-0.0021)/72*8760 = 0.511; okx->gate (0.0036-0.002)/72*8760
    #   = 0.19466666666666668; bybit->okx (0.0027-0.0021)/72*8760 = 0.073
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0001, 8), q("okx", "BTC-SWAP", BTC, 0.0004, 8),
              q("gate", "BTC_USDT", BTC, 0.0001, 1)]  # fmt: skip
    frame = run(quotes)
    assert list(zip(frame["long_venue"], frame["short_venue"], strict=True)) == [
        ("bybit", "gate"),
        ("okx", "gate"),
        ("bybit", "okx"),
    ]
    # no books: every cost is a lower bound, so each figure is an upper bound, not a net APR
    assert frame["net_apr"].isna().all() and not frame["cost_measured"].any()
    assert frame["net_apr_upper"].tolist() == pytest.approx([0.511, 0.19466666666666668, 0.073])
    # min_net_apr drops the last one: 0.073 < 0.1
    kept = compute_opportunities(quotes_frame(quotes), {}, FEES, EngineParams(min_net_apr=0.1), NOW)
    assert len(kept) == 2


def test_carry_needs_a_positive_perp_rate() -> None:
    # perp rate -0.0001: a spot long + perp short would PAY funding, so no carry row
    quotes = [q("bybit", "BTCUSDT", BTC, -0.0001, 8)]
    spot = {"BTC/USDT": flat_book("bybit", "BTCUSDT", "BTC/USDT")}
    assert run(quotes, {}, spot).empty
    # and include_carry=False suppresses a positive one
    quotes = [q("bybit", "BTCUSDT", BTC, 0.0001, 8)]
    assert run(quotes, {}, spot, include_carry=False).empty
    assert len(run(quotes, {}, spot)) == 1
