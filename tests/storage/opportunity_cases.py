"""A small engine frame holding every kind of row the opportunity schema must carry.

Shared by the schema tests (pure) and the storage round trip (SQLite and PostgreSQL): a
measured row, a thin book, a missing book, a price mismatch (two tokens under one ticker), a
long leg on another settle coin than the short (Bybit's USDC perp), and a carry.
"""

from __future__ import annotations

import math

import pandas as pd

from scanner.domain import FundingQuote, OrderBook
from scanner.venues.specs import default_fee_table
from strategies.costs import FeeSchedule
from strategies.spread import EngineParams, compute_opportunities, quotes_frame

NOW = 1_750_000_000_000
H_MS = 3_600_000


def _q(venue: str, sym: str, canonical: str, rate: float, mark: float) -> FundingQuote:
    return FundingQuote(
        venue, sym, canonical, rate, 8.0, NOW, next_funding_ms=NOW + H_MS, mark_price=mark
    )


def _book(venue: str, sym: str, canonical: str, mid: float, qty: float) -> OrderBook:
    bids, asks = [(mid * 0.9999, qty)], [(mid * 1.0001, qty)]
    return OrderBook(venue, sym, canonical, bids, asks, NOW)


def engine_frame() -> pd.DataFrame:
    quotes = [
        _q("bybit", "BTCUSDT", "BTC/USDT:USDT", 0.0001, 100.0),
        _q("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT", 0.0004, 100.0),
        _q("gate", "BTC_USDT", "BTC/USDT:USDT", 0.0006, 100.0),  # no book
        _q("bitget", "BTCUSDT", "BTC/USDT:USDT", 0.0005, 100.0),  # thin book
        _q("bybit", "XRPPERP", "XRP/USDC:USDC", -0.001, 2.0),
        _q("bybit", "XRPUSDT", "XRP/USDT:USDT", -0.0008, 2.0),
        _q("okx", "XRP-USDT-SWAP", "XRP/USDT:USDT", 0.0004, 2.0),
        _q("gate", "XRP_USDT", "XRP/USDT:USDT", 0.0009, 9.0),  # another token named XRP
    ]
    books = [
        _book("bybit", "BTCUSDT", "BTC/USDT:USDT", 100.0, 1e6),
        _book("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT", 100.0, 1e6),
        _book("bitget", "BTCUSDT", "BTC/USDT:USDT", 100.0, 1.0),
        _book("bybit", "XRPPERP", "XRP/USDC:USDC", 2.0, 1e8),
        _book("bybit", "XRPUSDT", "XRP/USDT:USDT", 2.0, 1e8),
        _book("okx", "XRP-USDT-SWAP", "XRP/USDT:USDT", 2.0, 1e8),
        _book("gate", "XRP_USDT", "XRP/USDT:USDT", 9.0, 1e8),
    ]
    spot = {"BTC/USDT": _book("bybit", "BTCUSDT", "BTC/USDT", 100.0, 1e6)}
    return compute_opportunities(
        quotes_frame(quotes),
        {(b.venue, b.venue_symbol): b for b in books},
        FeeSchedule.from_table(default_fee_table()),
        EngineParams(min_net_apr=-math.inf),
        NOW,
        spot_books=spot,
    )
