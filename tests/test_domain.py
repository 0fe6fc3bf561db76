"""Domain value objects: canonical ids, unit conversions, immutability."""

from __future__ import annotations

import dataclasses
import inspect
import math
import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.domain import (
    FundingQuote,
    FundingSettlement,
    Instrument,
    Kind,
    Opportunity,
    OrderBook,
    canonical_id,
    funding_quote,
)


def test_canonical_ids_separate_perp_spot_and_dated() -> None:
    assert canonical_id("PEPE", "USDT", "USDT") == "PEPE/USDT:USDT"
    assert canonical_id("PEPE", "USDT", "USDT", Kind.SPOT) == "PEPE/USDT"
    # 2026-12-25 08:00 UTC
    assert (
        canonical_id("BTC", "USDT", "USDT", Kind.DATED, 1_798_185_600_000) == "BTC/USDT:USDT-261225"
    )


def test_an_instruments_canonical_id_follows_its_fields_through_replace_and_pickle() -> None:
    """The id is formatted once, when the instrument is made: a copy made with other fields
    (``dataclasses.replace``, as adapters set an interval) gets its own, and neither equality,
    hashing nor repr sees the stored id."""
    perp = Instrument("bybit", "BTCUSDT", "BTC", "USDT", "USDT", Kind.PERPETUAL)
    assert perp.canonical == "BTC/USDT:USDT"
    dated = dataclasses.replace(perp, kind=Kind.DATED, expiry_ms=1_798_185_600_000)
    assert dated.canonical == "BTC/USDT:USDT-261225"
    assert dataclasses.replace(perp, base="ETH", quote="USDC").canonical == "ETH/USDC:USDT"
    assert dataclasses.replace(perp, kind=Kind.SPOT).canonical == "BTC/USDT"
    assert pickle.loads(pickle.dumps(dated)).canonical == dated.canonical
    twin = Instrument("bybit", "BTCUSDT", "BTC", "USDT", "USDT", Kind.PERPETUAL)
    assert twin == perp and hash(twin) == hash(perp)
    assert "_canonical" not in repr(perp)


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


def _value_objects() -> list[object]:
    """One instance of every value object the engine, storage and alerts pass around."""
    inst = Instrument("bybit", "XUSDT", "X", "USDT", "USDT", Kind.PERPETUAL)
    quote = FundingQuote("bybit", "XUSDT", "X/USDT:USDT", 0.0001, 8.0, ts_ms=0)
    settled = FundingSettlement("bybit", "XUSDT", "X/USDT:USDT", 0, 0.0001, 8.0)
    book = OrderBook("bybit", "XUSDT", "X/USDT:USDT", [(1.0, 1.0)], [(1.1, 1.0)], ts_ms=0)
    numbers = dict.fromkeys(
        (f.name for f in dataclasses.fields(Opportunity) if f.type in ("float", "float | None")),
        0.0,
    )
    opp = Opportunity(
        **numbers,
        symbol="X/USDT:USDT", pair_type="cross", long_venue="bybit", short_venue="okx",
        long_next_funding_ms=None, short_next_funding_ms=None,
        executable=True, interval_mismatch=False, settle_mismatch=False,
    )  # fmt: skip
    return [inst, quote, settled, book, opp]


@pytest.mark.parametrize("obj", _value_objects(), ids=lambda o: type(o).__name__)
def test_value_objects_are_frozen(obj: object) -> None:
    """Every field of every value object refuses assignment (not only one field of one)."""
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, f.name, getattr(obj, f.name))


def test_every_dataclass_in_the_domain_is_declared_frozen() -> None:
    import scanner.domain as domain

    classes = {
        c for c in vars(domain).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == domain.__name__
    }  # fmt: skip
    assert {type(o) for o in _value_objects()} <= classes
    assert [c.__name__ for c in classes if not c.__dataclass_params__.frozen] == []  # type: ignore[attr-defined]


def test_pair_key_separates_orientation_and_carry() -> None:
    from scanner.domain import pair_key

    a = pair_key("BTC/USDT:USDT", "bybit", "okx")
    assert a == "BTC/USDT:USDT|long=bybit|short=okx"
    assert a != pair_key("BTC/USDT:USDT", "okx", "bybit")
    assert pair_key("BTC/USDT:USDT", "bybit", "bybit", "carry") == (
        "BTC/USDT:USDT|long=bybit-spot|short=bybit"
    )
    assert pair_key("ETH/USDT:USDT", "bybit", "okx") != a


def test_pair_key_names_the_long_contract_when_it_is_not_the_symbol() -> None:
    """Bybit's USDC XRPPERP long against OKX's USDT swap is not the trade Bybit's XRPUSDT long
    is: both are stored in one scan, so they need two keys."""
    from scanner.domain import pair_key

    usdc_long = pair_key("XRP/USDT:USDT", "bybit", "okx", long_canonical="XRP/USDC:USDC")
    usdt_long = pair_key("XRP/USDT:USDT", "bybit", "okx", long_canonical="XRP/USDT:USDT")
    assert usdc_long == "XRP/USDT:USDT|long=bybit@XRP/USDC:USDC|short=okx"
    assert usdt_long == "XRP/USDT:USDT|long=bybit|short=okx"
    assert usdt_long == pair_key("XRP/USDT:USDT", "bybit", "okx")


def test_pair_key_of_a_carry_is_the_same_whether_or_not_the_venue_says_spot() -> None:
    from scanner.domain import pair_key

    expected = "CKB/USDT:USDT|long=bybit-spot|short=bybit"
    assert pair_key("CKB/USDT:USDT", "bybit-spot", "bybit", "carry") == expected
    assert pair_key("CKB/USDT:USDT", "bybit", "bybit", "carry", long_canonical="CKB/USDT") == (
        expected
    )


@pytest.mark.parametrize(
    "key", ["BTC:okx>bybit", "BTC/USDT:USDT|okx>bybit|1", "", "A|long=x|short=y|extra=z"]
)
def test_check_pair_key_refuses_free_text_and_names_where(key: str) -> None:
    from scanner.domain import check_pair_key

    with pytest.raises(ValueError, match=r"^record_alert: .* is not a pair key"):
        check_pair_key(key, "record_alert")


def test_check_pair_key_accepts_what_pair_key_writes() -> None:
    from scanner.domain import check_pair_key, pair_key

    for key in (
        pair_key("BTC/USDT:USDT", "okx", "bybit"),
        pair_key("XRP/USDT:USDT", "bybit", "okx", long_canonical="XRP/USDC:USDC"),
        pair_key("PEPE/USDT:USDT", "bybit", "bybit", "carry"),
    ):
        assert check_pair_key(key, "t") == key


def _opportunity(**kw: object) -> Opportunity:
    base: dict[str, object] = dict(
        symbol="XRP/USDT:USDT", pair_type="cross", long_venue="bybit", short_venue="okx",
        long_rate=-0.001, long_interval_h=8.0, short_rate=0.0004, short_interval_h=8.0,
        diff_per_h=0.000175, gross_apr=1.533, fee_frac=0.002, slippage_frac=0.001,
        cost_frac=0.003, basis_frac=0.0, net_apr=1.1, breakeven_h=17.0, confidence=None,
        long_next_funding_ms=None, short_next_funding_ms=None, interval_mismatch=False,
        settle_mismatch=True, executable=True, notional_usd=10_000.0, max_notional_usd=5e6,
    )  # fmt: skip
    base.update(kw)
    return Opportunity(**base)  # type: ignore[arg-type]


def test_opportunity_derives_its_pair_key_and_refuses_a_wrong_one() -> None:
    opp = _opportunity(long_canonical="XRP/USDC:USDC")
    assert opp.pair_key == "XRP/USDT:USDT|long=bybit@XRP/USDC:USDC|short=okx"
    assert _opportunity(pair_key=opp.pair_key, long_canonical="XRP/USDC:USDC") == opp
    with pytest.raises(ValueError, match="is not its legs'"):
        _opportunity(pair_key="XRP/USDT:USDT|long=bybit|short=okx", long_canonical="XRP/USDC:USDC")


def test_opportunity_fields_a_caller_may_not_know_default_to_unknown_not_to_a_guess() -> None:
    opp = _opportunity()
    assert opp.book_thin is None and opp.book_missing is None and opp.price_mismatch is None
    assert math.isnan(opp.first_cycle_h) and math.isnan(opp.max_notional_within_slippage_usd)


def test_book_levels_are_read_only_float_arrays_whatever_was_given() -> None:
    import numpy as np

    book = OrderBook("bybit", "XUSDT", "X/USDT:USDT", [(1.0, 2.0), (0.9, 3)], [], ts_ms=0)
    assert book.bids.dtype == np.float64 and book.bids.shape == (2, 2)
    assert book.asks.shape == (0, 2) and book.best_ask is None and book.mid is None
    assert type(book.best_bid) is float and book.best_bid == 1.0
    with pytest.raises(ValueError, match="read-only"):
        book.bids[0, 0] = 5.0
    given = np.array([[1.1, 4.0]])
    other = OrderBook("bybit", "XUSDT", "X/USDT:USDT", book.bids, given, ts_ms=0)
    assert given.flags.writeable  # the caller's array is not frozen, the book's view is
    assert not other.asks.flags.writeable and other.asks.tolist() == [[1.1, 4.0]]
    with pytest.raises(ValueError, match="asks must be"):
        OrderBook("bybit", "XUSDT", "X/USDT:USDT", [], [(1.0, 2.0, 3.0)], ts_ms=0)


def test_books_compare_by_fields_and_levels() -> None:
    def book(bids: list[tuple[float, float]], ts_ms: int = 0) -> OrderBook:
        return OrderBook("okx", "X-USDT-SWAP", "X/USDT:USDT", bids, [(1.1, 1.0)], ts_ms)

    assert book([(1.0, 1.0)]) == book([(1.0, 1.0)])
    assert book([(1.0, 1.0)]) != book([(1.0, 2.0)])  # a size
    assert book([(1.0, 1.0)]) != book([(1.0, 1.0), (0.9, 1.0)])  # a level more
    assert book([(1.0, 1.0)]) != book([(1.0, 1.0)], ts_ms=1)  # a field


# --- funding_quote: the same FundingQuote, built cheaper ---------------------------------------

_OPT_FLOAT = st.one_of(st.none(), st.floats(allow_nan=False))


@given(
    text=st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=12)),
    numbers=st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False), st.integers()),
    optional=st.tuples(
        st.one_of(st.none(), st.integers()), *[_OPT_FLOAT] * 7, st.floats(allow_nan=False)
    ),
    settled=st.booleans(),
    raw=st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.text(max_size=3))),
)
def test_funding_quote_builds_the_object_the_class_builds(
    text: Any, numbers: Any, optional: Any, settled: bool, raw: Any
) -> None:
    nxt, mark, index, volume, bid, bid_qty, ask, ask_qty, multiplier = optional
    kwargs = dict(
        zip(("venue", "venue_symbol", "canonical"), text, strict=True),
        rate_per_interval=numbers[0], interval_h=numbers[1], ts_ms=numbers[2],
        next_funding_ms=nxt, mark_price=mark, index_price=index, multiplier=multiplier,
        is_settled=settled, raw=raw, volume_24h_usd=volume, bid_price=bid, bid_qty=bid_qty,
        ask_price=ask, ask_qty=ask_qty,
    )  # fmt: skip
    got, want = funding_quote(**kwargs), FundingQuote(**kwargs)
    assert type(got) is FundingQuote
    assert got == want and hash(got) == hash(want) and repr(got) == repr(want)
    for f in dataclasses.fields(FundingQuote):
        assert getattr(got, f.name) is getattr(want, f.name), f.name
    assert pickle.loads(pickle.dumps(got)) == want
    assert dataclasses.replace(got, venue="x") == dataclasses.replace(want, venue="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.rate_per_interval = 1.0  # type: ignore[misc]


def test_funding_quote_takes_the_fields_of_the_class_with_their_defaults() -> None:
    params = inspect.signature(funding_quote).parameters
    fields = dataclasses.fields(FundingQuote)
    assert list(params) == [f.name for f in fields]
    for f in fields:
        want = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert params[f.name].default == want, f.name
    assert funding_quote("v", "S", "C", 1e-4, 8.0, 1) == FundingQuote("v", "S", "C", 1e-4, 8.0, 1)
