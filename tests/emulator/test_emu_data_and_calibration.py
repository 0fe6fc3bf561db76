"""The shipped data is the shared data, and the calibrated constants follow from it."""

from __future__ import annotations

import json

import pytest
from emu_helpers import FIXTURES, SHARED, fixture

from emulator import calibration as cal
from emulator.universe import DATA_DIR, bitget_v2_row, load_universe, split_multiplier

ORIGINALS = [
    "bybit/v5_market_instruments-info_linear.json",
    "bybit/v5_market_tickers_linear_BTCUSDT.json",
    "binance/fapi_v1_exchangeInfo.json",
    "binance/fapi_v1_premiumIndex_all.json",
    "okx/api_v5_public_instruments_SWAP.json",
    "okx/api_v5_public_funding-rate_XRP-USDT-SWAP.json",
    "gate/api_v4_futures_usdt_contracts.json",
    "hyperliquid/info_meta.json",
    "bitget/api_mix_v1_market_contracts_umcbl.json",
    "bitget/docs_example_api_v2_mix_market_contracts.json",
]
COPIES = {original.replace("/", "_", 1): original for original in ORIGINALS}


@pytest.mark.parametrize("name,original", sorted(COPIES.items()))
def test_shipped_copies_are_byte_identical(name: str, original: str) -> None:
    assert (DATA_DIR / name).read_bytes() == (FIXTURES / original).read_bytes()


def test_hyperliquid_trim_keeps_the_first_dex_unchanged() -> None:
    shipped = json.loads((DATA_DIR / "hyperliquid_ws_allDexsAssetCtxs_first_dex.json").read_text())
    original = fixture("hyperliquid/ws_allDexsAssetCtxs.json")
    assert shipped["data"]["ctxs"] == [original["data"]["ctxs"][0]]
    assert shipped["channel"] == original["channel"]


def test_every_shipped_json_file_is_accounted_for() -> None:
    shipped = {p.name for p in DATA_DIR.glob("*.json")}
    derived = {"calibration.json"}  # derived by emulator.calibration (tested below), not copied
    assert shipped == set(COPIES) | {"hyperliquid_ws_allDexsAssetCtxs_first_dex.json"} | derived
    readme = (DATA_DIR / "README.md").read_text()
    assert all(name in readme for name in shipped)


def _levels(rows: list[list[str]]) -> list[tuple[float, float]]:
    return [(float(r[0]), float(r[1])) for r in rows]


def test_real_books_are_read_as_recorded() -> None:
    """The book reader of the tier fit against stats computed here from the raw snapshots."""
    books = {b[0]: b for b in cal.real_books(SHARED)}
    assert len(books) == 19  # 4 Bybit, 4 Binance, 10 Gate, OKX UNI swap (no spot, no dated)
    raw = json.loads((SHARED / "real-books" / "BYBIT_BTCUSDT.json").read_text())["data"]
    want = cal.book_stats(_levels(raw["b"]), _levels(raw["a"]))
    assert books["BYBIT_BTCUSDT"][2:] == want
    assert books["BYBIT_BTCUSDT"][2] * 1e4 == pytest.approx(0.0154, abs=1e-4)  # 0.1 on 65 140
    gate = json.loads((SHARED / "real-books" / "GATEIO_FUTURES_RDNT_USDT.json").read_text())
    side = lambda rows: [(float(x["p"]), float(x["s"])) for x in rows]  # noqa: E731
    assert books["GATEIO_FUTURES_RDNT_USDT"][2:] == cal.book_stats(
        side(gate["bids"]),
        side(gate["asks"]),
        1.0,  # RDNT_USDT quanto_multiplier is 1
    )


def test_emulated_books_follow_the_liquidity_tiers() -> None:
    """Spread and depth near mid of an emulated book are its tier's (the lines fitted on the
    real books): BTC tight and millions deep, a small cap tens of bps wide and thin."""
    from emu_helpers import START_MS

    from emulator.books import book_shape
    from emulator.clock import EmuClock
    from emulator.model import MarketModel

    m = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=1)
    for venue, symbol in (
        ("bybit", "BTCUSDT"),
        ("gate", "RDNT_USDT"),
        ("binanceusdm", "SUSHIUSDT"),
    ):
        x = m.listing(venue, symbol)
        spread, _, depth = cal.book_stats(*m.book(venue, symbol, 500), x.contract_size)
        want_spread, want_depth, _ = book_shape(x)
        assert spread == pytest.approx(
            want_spread, rel=0.5, abs=2 * x.tick / m.mark_price(venue, symbol)
        )
        assert depth == pytest.approx(want_depth, rel=0.5)
    btc, small = (
        book_shape(m.listing("bybit", "BTCUSDT")),
        book_shape(m.listing("gate", "DIA_USDT")),
    )
    assert btc[0] < 1e-4 < 1e-3 < small[0]  # < 1 bp vs > 10 bps
    assert btc[1] > 1e6 > 2e4 > small[1]


def test_stale_ticks_and_another_token_under_the_same_ticker() -> None:
    """Binance's 2021 ticks against 2025 prices: CTK's 0.001 on ~0.23 USDT (43 bps) becomes a
    tick like the real ones (a few bps), served in exchangeInfo; BTTUSDT of 2021 is the
    pre-redenomination BTT and keeps its own price, so the engine's price guard meets it."""
    from emu_helpers import START_MS

    from emulator.clock import EmuClock
    from emulator.model import MarketModel

    m = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=1)
    ctk = m.listing("binanceusdm", "CTKUSDT")
    recorded = next(
        float(f["tickSize"])
        for r in fixture("binance/fapi_v1_exchangeInfo.json")["symbols"]
        if r["symbol"] == "CTKUSDT"
        for f in r["filters"]
        if f["filterType"] == "PRICE_FILTER"
    )
    price = m.mark_price("binanceusdm", "CTKUSDT")
    assert recorded / price > cal.tick_constants()["stale_rel_tick"]  # the 2021 tick was stale
    assert (
        ctk.tick / m.mark_price("binanceusdm", "CTKUSDT") < cal.tick_constants()["stale_rel_tick"]
    )
    tick_row = next(f for f in ctk.raw["filters"] if f["filterType"] == "PRICE_FILTER")
    assert float(tick_row["tickSize"]) == ctk.tick
    old = m.mark_price("binanceusdm", "BTTUSDT")
    new = m.mark_price("bybit", "1000BTTUSDT") / 1000
    assert old / new > 100


def test_multiplier_prefixes() -> None:
    assert split_multiplier("1000PEPE") == ("PEPE", 1000.0)
    assert split_multiplier("1000000MOG") == ("MOG", 1_000_000.0)
    assert split_multiplier("kPEPE") == ("PEPE", 1000.0)
    assert split_multiplier("SHIB1000") == ("SHIB", 1000.0)
    assert split_multiplier("PEPE") == ("PEPE", 1.0)
    assert split_multiplier("1INCH") == ("1INCH", 1.0)
    assert split_multiplier("0G") == ("0G", 1.0)
    assert split_multiplier("BTC") == ("BTC", 1.0)


def test_cross_venue_prices_agree_after_rescaling() -> None:
    from emu_helpers import START_MS

    from emulator.clock import EmuClock
    from emulator.model import MarketModel

    m = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=1)
    pepe = m.mark_price("bybit", "1000PEPEUSDT") / 1000
    assert m.mark_price("hyperliquid", "kPEPE") / 1000 == pytest.approx(pepe, rel=0.002)
    assert m.mark_price("okx", "BTC-USDT-SWAP") == pytest.approx(
        m.mark_price("bybit", "BTCUSDT"), rel=0.002
    )


def test_bitget_v2_rows_are_built_from_the_v1_rows() -> None:
    v1 = fixture("bitget/api_mix_v1_market_contracts_umcbl.json")["data"][0]
    template = fixture("bitget/docs_example_api_v2_mix_market_contracts.json")["data"][0]
    row = bitget_v2_row(v1, template)
    assert row.keys() == template.keys()
    assert row["symbol"] == v1["symbol"].removesuffix("_UMCBL") == "BTCUSDT"
    assert (row["pricePlace"], row["volumePlace"], row["minTradeNum"]) == (
        v1["pricePlace"],
        v1["volumePlace"],
        v1["minTradeNum"],
    )
    assert row["sizeMultiplier"] == "0.001"
    assert row["fundInterval"] == template["fundInterval"]


def test_binance_intervals_come_from_the_premium_index_times() -> None:
    by_symbol = {x.symbol: x for x in load_universe()["binanceusdm"]}
    premium = {r["symbol"]: r for r in fixture("binance/fapi_v1_premiumIndex_all.json")}
    for symbol, x in by_symbol.items():
        row = premium.get(symbol)
        if row is None or not x.perpetual:
            continue
        hours_to_next = (row["nextFundingTime"] - row["time"]) / 3_600_000
        assert 0 < hours_to_next <= x.interval_h, symbol
    assert {x.interval_h for x in by_symbol.values() if x.perpetual} >= {4, 8}


def test_stored_calibration_equals_a_rederivation_from_the_shared_data() -> None:
    """Every constant in data/calibration.json follows from ../shared/data by the code."""
    from emu_helpers import SHARED

    derived = cal.derive_all(SHARED)
    stored = cal.stored()
    assert derived.keys() == stored.keys()
    _assert_close(derived, stored, "$")


def _assert_close(a: object, b: object, path: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-15), path
    else:
        assert a == b, path
