"""Books read from the venues' levels (``RawBookSpec``) are ccxt's books, sent as ccxt sends
them: against the emulator's real bodies for every ccxt venue, and on bodies ccxt's parse
has to repair (out of order, unreadable levels), where the adapter hands the body to it."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import ccxt.async_support as ccxt_async
import numpy as np
import pytest

from emulator import Emulator
from scanner.settings import Settings
from scanner.venues.book_levels import sorted_side
from scanner.venues.ccxt_venue import CcxtVenue, _ccxt_side, book_sides
from scanner.venues.registry import build_venue
from scanner.venues.specs import ccxt_venue_ids, spec_of

CCXT_VENUES = ccxt_venue_ids()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=1, stepped=True) as emulator:
        yield emulator


def test_every_ccxt_venue_reads_its_books_raw():
    assert [v for v in CCXT_VENUES if spec_of(v).quirks.raw_book is None] == []


def requests_since(emu: Emulator, start: int) -> list[tuple[Any, ...]]:
    log = emu.logs()["requests"][start:]
    return [(r["venue"], r["method"], r["path"], r["query"], r["status"]) for r in log]


def sample(instruments: list, n: int = 40) -> list:
    """Every k-th perpetual, with the first of each settle coin (linear, inverse, USDC)."""
    perps = sorted((i for i in instruments if i.is_perpetual), key=lambda i: i.venue_symbol)
    firsts = {i.settle: i for i in reversed(perps)}
    picked = {i.venue_symbol: i for i in perps[:: max(1, len(perps) // n)]}
    picked.update({i.venue_symbol: i for i in firsts.values()})
    return list(picked.values())


@pytest.mark.parametrize("depth", [5, 50])
@pytest.mark.parametrize("venue", CCXT_VENUES)
async def test_raw_books_are_ccxts_books_sent_as_ccxt_sends_them(
    emu: Emulator, venue: str, depth: int
):
    settings = Settings().with_base_url(emu.url)
    raw = build_venue(venue, settings, retries=0)
    plain = build_venue(venue, settings, retries=0)
    assert isinstance(raw, CcxtVenue) and isinstance(plain, CcxtVenue)
    plain.quirks = replace(plain.quirks, raw_book=None)  # ccxt's fetch_order_book and parse
    try:
        instruments = await raw.load_instruments()
        await plain.load_instruments()
        picked = sample(instruments)
        for inst in picked:
            start = len(emu.logs()["requests"])
            got = await raw.fetch_book(inst, depth)
            sent = requests_since(emu, start)
            start = len(emu.logs()["requests"])
            want = await plain.fetch_book(inst, depth)
            assert sent == requests_since(emu, start), inst.venue_symbol
            assert got == want, inst.venue_symbol
            assert len(got.bids) and len(got.asks) and got.ts_ms == want.ts_ms
    finally:
        await raw.close()
        await plain.close()


def reference(ex: Any, raw: Any, body: Any, depth: int) -> Any:
    """ccxt's parse of the same body and the adapter's copy into arrays, or its error."""
    try:
        node, ts = raw.book(ex, body)
        parsed = ex.parse_order_book(
            node, "X/USDT:USDT", ts, raw.bids, raw.asks, raw.price, raw.amount
        )
        return _ccxt_side(parsed["bids"], depth), _ccxt_side(parsed["asks"], depth), ts
    except Exception as exc:
        return type(exc)


def read(ex: Any, raw: Any, body: Any, depth: int) -> Any:
    try:
        return book_sides(ex, raw, body, "X/USDT:USDT", depth)
    except Exception as exc:
        return type(exc)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    sides = zip(a[:2], b[:2], strict=True)
    return all(np.array_equal(x, y, equal_nan=True) for x, y in sides) and a[2] == b[2]


ODD_SIDES = {
    "in order": ([["3", "1"], ["2", "0.5"], ["2", "7"]], [["4", "1"], ["4", "2"], ["9", "1e-3"]]),
    "bids out of order": ([["2", "1"], ["3", "1"]], [["4", "1"]]),
    "asks out of order": ([["3", "1"]], [["5", "1"], ["4", "1"]]),
    "numbers, not text": ([[3, 1.5], [2.5, 2]], [[4, True]]),
    "a nan price": ([["nan", "1"], ["2", "1"]], [["4", "1"]]),
    "a lone nan price": ([["nan", "1"]], [["4", "1"]]),
    "a nan size": ([["3", "nan"]], [["4", "1"]]),
    "infinite prices": ([["inf", "1"], ["2", "1"]], [["4", "1"], ["inf", "2"]]),
    "a level of one number": ([["3"]], [["4", "1"]]),
    "an empty price": ([["", "1"]], [["4", "1"]]),
    "a null size": ([["3", None]], [["4", "1"]]),
    "extra elements": ([["3", "1", "0", "12"]], [["4", "1", "0", "3"]]),
    "a level that is text": (["31"], [["4", "1"]]),
    "a side that is a dict": ({"a": ["3", "1"]}, [["4", "1"]]),
    "empty sides": ([], []),
    "deeper than asked": (
        [[str(10 - i), "1"] for i in range(8)],
        [[str(11 + i), "1"] for i in range(8)],
    ),
}


def body_of(bids: Any, asks: Any, keys: tuple[Any, Any] | None) -> dict[str, Any]:
    """A Binance-like body (``T``) that is also Gate-like (``current``); ``keys``: each list
    level as a dict with these keys (Gate's ``p``/``s``), None: levels as they are."""

    def side(levels: Any) -> Any:
        if keys is None or not isinstance(levels, list):
            return levels
        return [dict(zip(keys, lv, strict=False)) if isinstance(lv, list) else lv for lv in levels]

    return {
        "T": 1_700_000_000_000,
        "current": 1_700_000_000,
        "bids": side(bids),
        "asks": side(asks),
    }


@pytest.mark.parametrize("case", sorted(ODD_SIDES))
async def test_odd_sides_read_as_ccxts_parse_reads_them(case: str):
    """On list levels (Binance's body) and dict levels (Gate's): the same arrays, or the same
    error, as ccxt's parse followed by the adapter's copy."""
    bids, asks = ODD_SIDES[case]
    binance, gate = ccxt_async.binanceusdm(), ccxt_async.gate()
    try:
        for ex, venue, keys in ((binance, "binanceusdm", None), (gate, "gate", ("p", "s"))):
            raw = spec_of(venue).quirks.raw_book
            assert raw is not None
            body = body_of(bids, asks, keys)
            for depth in (3, 50):
                got, want = read(ex, raw, body, depth), reference(ex, raw, body, depth)
                assert same(got, want), (venue, depth, got, want)
    finally:
        await binance.close()
        await gate.close()


def test_a_side_in_order_is_read_directly_and_one_out_of_order_is_left_to_ccxt():
    assert sorted_side([["3", "1"], ["2", "2"]], 0, 1, descending=True) is not None
    assert sorted_side([["2", "1"], ["3", "2"]], 0, 1, descending=True) is None
    assert sorted_side([["nan", "1"]], 0, 1, descending=False) is None
    got = sorted_side([{"px": "1.5", "sz": "2"}], "px", "sz", descending=False)
    assert got is not None and got.tolist() == [[1.5, 2.0]] and not math.isnan(got[0, 0])
