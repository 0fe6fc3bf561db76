"""Domain value objects: canonical ids, unit conversions, immutability."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from scanner.domain import FundingQuote, Instrument, Kind, OrderBook, canonical_id


def test_canonical_ids_separate_perp_spot_and_dated() -> None:
    assert canonical_id("PEPE", "USDT", "USDT") == "PEPE/USDT:USDT"
    assert canonical_id("PEPE", "USDT", "USDT", Kind.SPOT) == "PEPE/USDT"
    # 2026-12-25 08:00 UTC
    assert (
        canonical_id("BTC", "USDT", "USDT", Kind.DATED, 1_798_185_600_000) == "BTC/USDT:USDT-261225"
    )


def test_multiplier_and_contract_size_rescale_to_canonical_units() -> None:
    inst = Instrument(
        "okx", "PEPE-USDT-SWAP", "PEPE", "USDT", "USDT", Kind.PERPETUAL,
        multiplier=Decimal(1), contract_size=Decimal("10000000"),
    )  # fmt: skip
    assert inst.to_canonical_qty(3) == 30_000_000
    k = Instrument("hyperliquid", "kPEPE", "PEPE", "USDC", "USDC", Kind.PERPETUAL, Decimal(1000))
    assert k.to_canonical_price(0.012) == pytest.approx(0.000012)
    assert k.to_canonical_qty(2) == 2000


def test_quote_per_hour_and_apr_use_its_own_interval() -> None:
    q4 = FundingQuote("bybit", "XUSDT", "X/USDT:USDT", 0.0004, 4.0, ts_ms=0)
    q8 = FundingQuote("okx", "X-USDT-SWAP", "X/USDT:USDT", 0.0008, 8.0, ts_ms=0)
    assert q4.rate_per_h == q8.rate_per_h == pytest.approx(0.0001)
    assert q4.apr == pytest.approx(0.0001 * 8760)


def test_book_canonical_side_rescales_price_and_size() -> None:
    book = OrderBook(
        "bybit", "1000PEPEUSDT", "PEPE/USDT:USDT",
        bids=[(0.0100, 5.0)], asks=[(0.0101, 7.0)], ts_ms=0, multiplier=1000.0,
    )  # fmt: skip
    assert book.mid == pytest.approx(0.01005)
    ((price, qty),) = book.canonical_side("asks")
    assert price == pytest.approx(0.0000101) and qty == pytest.approx(7000.0)


def test_value_objects_are_frozen() -> None:
    q = FundingQuote("bybit", "XUSDT", "X/USDT:USDT", 0.0001, 8.0, ts_ms=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.rate_per_interval = 1.0  # type: ignore[misc]


def test_pair_key_separates_orientation_and_carry() -> None:
    from scanner.domain import pair_key

    a = pair_key("BTC/USDT:USDT", "bybit", "okx")
    assert a == "BTC/USDT:USDT|long=bybit|short=okx"
    assert a != pair_key("BTC/USDT:USDT", "okx", "bybit")
    assert pair_key("BTC/USDT:USDT", "bybit", "bybit", "carry") == (
        "BTC/USDT:USDT|long=bybit-spot|short=bybit"
    )
    assert pair_key("ETH/USDT:USDT", "bybit", "okx") != a
