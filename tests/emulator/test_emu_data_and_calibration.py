"""The shipped data is the shared data, and the calibrated constants follow from it."""

from __future__ import annotations

import json
from statistics import median

import pytest
from emu_helpers import FIXTURES, fixture

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


def test_book_constants_rederive_from_the_real_books() -> None:
    stats = []
    b = fixture("bybit/ws_v5_public_linear_orderbook200_snapshot_BTCUSDT.json")["data"]
    stats.append(cal.book_stats(_levels(b["b"]), _levels(b["a"])))
    b = fixture("binance/fapi_v1_depth_SUSHIUSDT_limit1000.json")
    stats.append(cal.book_stats(_levels(b["bids"]), _levels(b["asks"])))
    b = fixture("gate/api_v4_futures_usdt_order_book_RDNT_USDT.json")
    quanto = next(
        float(c["quanto_multiplier"])
        for c in fixture("gate/api_v4_futures_usdt_contracts.json")
        if c["name"] == "RDNT_USDT"
    )
    side = lambda rows: [(float(x["p"]), float(x["s"])) for x in rows]  # noqa: E731
    stats.append(cal.book_stats(side(b["bids"]), side(b["asks"]), quanto))
    b = fixture("okx/ws_v5_public_books_snapshot_UNI-USD-SWAP.json")["data"][0]
    bids, asks = _levels(b["bids"]), _levels(b["asks"])
    mid = (bids[0][0] + asks[0][0]) / 2
    stats.append(cal.book_stats(bids, asks, 10.0 / mid))  # inverse: ctVal 10 USD per contract
    b = fixture("hyperliquid/info_l2Book_DYDX.json")["levels"]
    hl = lambda rows: [(float(x["px"]), float(x["sz"])) for x in rows]  # noqa: E731
    stats.append(cal.book_stats(hl(b[0]), hl(b[1])))
    assert median(s[0] for s in stats) == pytest.approx(cal.BOOK_SPREAD_REL, rel=0.01)
    assert median(s[1] for s in stats) == pytest.approx(cal.BOOK_LEVEL_GAP_REL, rel=0.01)
    assert median(s[2] for s in stats) == pytest.approx(cal.BOOK_DEPTH_25BPS_USD, rel=0.01)


def test_emulated_books_have_the_calibrated_shape() -> None:
    from emu_helpers import START_MS

    from emulator.clock import EmuClock
    from emulator.model import MarketModel

    m = MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=1)
    bids, asks = m.book("binanceusdm", "ETHUSDT", 200)
    spread, gap, _ = cal.book_stats(bids, asks)
    assert spread == pytest.approx(cal.BOOK_SPREAD_REL, rel=0.1)
    assert gap == pytest.approx(cal.BOOK_LEVEL_GAP_REL, rel=0.1)
    # depth near mid: the median over Gate's assets is the real books' median ...
    depths = [
        cal.book_stats(*m.book("gate", x.symbol, 50), x.contract_size)[2]
        for x in m.venue_listings("gate")[::5]
    ]
    assert median(depths) == pytest.approx(cal.BOOK_DEPTH_25BPS_USD, rel=0.5)
    # ... while BTC is an order of magnitude deeper (the real Bybit BTCUSDT book: ~7.5M USD)
    btc = cal.book_stats(*m.book("bybit", "BTCUSDT", 200))[2]
    assert btc > 10 * cal.BOOK_DEPTH_25BPS_USD


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
