"""Golden tests: every instrument list in ../shared/data/exchange-fixtures maps to canonical ids.

Counts are asserted twice: as the number stated in PROVENANCE.md / the brief, and against an
independent count over the raw JSON, so a parser that silently drops rows fails either way.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from scanner.domain import Instrument, Kind
from scanner.symbols import (
    SymbolError,
    hyperliquid_tick,
    instrument_from_binance,
    instrument_from_bitget,
    instrument_from_bybit,
    instrument_from_gate,
    instrument_from_hyperliquid,
    instrument_from_okx,
    perpetuals,
    split_multiplier,
)
from scanner.venues.specs import parse_instruments, parse_symbol, spec_of, venue_ids, venue_symbol

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FIXTURES = DATA / "exchange-fixtures"

INSTRUMENT_LISTS = [
    ("bybit", "bybit/v5_market_instruments-info_linear.json"),
    ("bybit", "bybit/docs_example_v5_market_instruments-info_linear_perpetual.json"),
    ("bybit", "bybit/docs_example_v5_market_instruments-info_linear_prelisting.json"),
    ("binanceusdm", "binance/fapi_v1_exchangeInfo.json"),
    ("binanceusdm", "binance/binance_fapi_v1_exchangeInfo_2021-04-17.json"),
    ("okx", "okx/api_v5_public_instruments_SWAP.json"),
    ("okx", "okx/okx_api_v5_public_instruments_SWAP_2022-02-27.json"),
    ("gate", "gate/api_v4_futures_usdt_contracts.json"),
    ("bitget", "bitget/api_mix_v1_market_contracts_umcbl.json"),
    ("bitget", "bitget/docs_example_api_v2_mix_market_contracts.json"),
    ("hyperliquid", "hyperliquid/info_meta.json"),
]


@cache
def load(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


@cache
def instruments(venue: str, rel: str) -> tuple[Instrument, ...]:
    return tuple(parse_instruments(venue, load(rel)))


def by_symbol(venue: str, rel: str) -> dict[str, Instrument]:
    return {i.venue_symbol: i for i in instruments(venue, rel)}


# --- every list, every venue ---------------------------------------------------------------


@pytest.mark.parametrize(("venue", "rel"), INSTRUMENT_LISTS)
def test_every_row_maps_and_every_perpetual_round_trips(venue: str, rel: str) -> None:
    mapped = instruments(venue, rel)
    assert mapped, f"{rel} produced no instruments"
    for inst in mapped:
        assert inst.venue == venue and inst.base and inst.quote and inst.settle
        parts = parse_symbol(venue, inst.venue_symbol)
        assert (parts.base, parts.quote, parts.settle, parts.kind) == (
            inst.base,
            inst.quote,
            inst.settle,
            inst.kind,
        ), inst.venue_symbol
        assert parts.multiplier == inst.multiplier, inst.venue_symbol
        back = venue_symbol(
            venue, inst.base, inst.quote, inst.settle, inst.kind, inst.multiplier, inst.expiry_ms
        )
        assert back == inst.venue_symbol


@pytest.mark.parametrize(("venue", "rel"), INSTRUMENT_LISTS)
def test_one_perpetual_per_canonical_id_per_venue(venue: str, rel: str) -> None:
    ids = Counter(i.canonical for i in perpetuals(instruments(venue, rel), include_inactive=True))
    assert [cid for cid, n in ids.items() if n > 1] == []


# --- Bybit ---------------------------------------------------------------------------------

BYBIT = "bybit/v5_market_instruments-info_linear.json"


def test_bybit_linear_list_counts_perpetuals_and_excludes_all_40_futures() -> None:
    rows = load(BYBIT)["result"]["list"]
    raw_types = Counter(row["contractType"] for row in rows)
    mapped = instruments("bybit", BYBIT)
    kinds = Counter(i.kind for i in mapped)
    assert len(mapped) == len(rows) == 800
    assert kinds[Kind.PERPETUAL] == raw_types["LinearPerpetual"] == 760
    assert kinds[Kind.DATED] == raw_types["LinearFutures"] == 40
    perps = perpetuals(mapped)
    assert len(perps) == 760
    assert not any("-" in p.venue_symbol for p in perps)
    futures = [i for i in mapped if i.kind is Kind.DATED]
    raw_delivery = {r["symbol"]: int(r["deliveryTime"]) for r in rows}
    assert all(f.expiry_ms == raw_delivery[f.venue_symbol] for f in futures)
    assert all(f.funding_interval_h is None for f in futures)
    assert Counter(p.settle for p in perps) == {"USDT": 692, "USDC": 68}


def test_bybit_funding_interval_minutes_become_hours() -> None:
    rows = load(BYBIT)["result"]["list"]
    perps = perpetuals(instruments("bybit", BYBIT))
    raw = Counter(r["fundingInterval"] for r in rows if r["contractType"] == "LinearPerpetual")
    assert raw == {480: 352, 240: 407, 60: 1}
    assert Counter(p.funding_interval_h for p in perps) == {8.0: 352, 4.0: 407, 1.0: 1}
    assert by_symbol("bybit", BYBIT)["ACEUSDT"].funding_interval_h == 1.0


@pytest.mark.parametrize(
    ("symbol", "canonical", "multiplier"),
    [
        ("1000PEPEUSDT", "PEPE/USDT:USDT", 1000),
        ("10000SATSUSDT", "SATS/USDT:USDT", 10_000),
        ("1000000MOGUSDT", "MOG/USDT:USDT", 1_000_000),
        ("1000000BABYDOGEUSDT", "BABYDOGE/USDT:USDT", 1_000_000),
        ("1000PEPEPERP", "PEPE/USDC:USDC", 1000),
        ("SHIB1000PERP", "SHIB/USDC:USDC", 1000),
        ("SHIB1000USDT", "SHIB/USDT:USDT", 1000),
        ("ETHPERP", "ETH/USDC:USDC", 1),
        ("HPERP", "H/USDC:USDC", 1),
        ("1INCHUSDT", "1INCH/USDT:USDT", 1),
        ("0GUSDT", "0G/USDT:USDT", 1),
        ("4USDT", "4/USDT:USDT", 1),
        ("KASUSDT", "KAS/USDT:USDT", 1),
    ],
)
def test_bybit_scaled_and_tricky_names(symbol: str, canonical: str, multiplier: int) -> None:
    inst = by_symbol("bybit", BYBIT)[symbol]
    assert (inst.canonical, inst.multiplier) == (canonical, Decimal(multiplier))


def test_bybit_numbers_come_from_the_strings() -> None:
    inst = by_symbol("bybit", BYBIT)["0GUSDT"]
    assert (inst.tick, inst.lot, inst.min_qty) == (
        Decimal("0.0001"),
        Decimal("0.1"),
        Decimal("0.1"),
    )
    assert (inst.funding_cap, inst.funding_floor) == (0.005, -0.005)
    assert inst.raw is not None and inst.raw["symbol"] == "0GUSDT"
    dated = by_symbol("bybit", BYBIT)["BTCUSDT-25DEC26"]
    assert (dated.kind, dated.canonical, dated.expiry_ms) == (
        Kind.DATED,
        "BTC/USDT:USDT-261225",
        1798185600000,
    )


def test_bybit_prelisting_docs_example_is_an_inactive_perpetual() -> None:
    (inst,) = instruments(
        "bybit", "bybit/docs_example_v5_market_instruments-info_linear_prelisting.json"
    )
    assert (inst.venue_symbol, inst.kind, inst.active) == ("BIOUSDT", Kind.PERPETUAL, False)
    assert perpetuals([inst]) == [] and perpetuals([inst], include_inactive=True) == [inst]


def test_bybit_testnet_ticker_symbols_all_parse() -> None:
    body = load("bybit/bybit_v5_market_tickers_linear_TESTNET_2023-03-07_result_only.json")
    symbols = [t["symbol"] for t in body["LinearInverse"]["list"]]
    parsed = {s: parse_symbol("bybit", s) for s in symbols}
    assert len(parsed) == 218
    assert all(p.kind is Kind.PERPETUAL for p in parsed.values())
    assert Counter(p.settle for p in parsed.values()) == {"USDT": 197, "USDC": 21}
    assert all(
        venue_symbol("bybit", p.base, p.quote, p.settle, p.kind, p.multiplier) == s
        for s, p in parsed.items()
    )
    assert (parsed["10000NFTUSDT"].base, parsed["10000NFTUSDT"].multiplier) == ("NFT", 10_000)
    assert (parsed["1000BONKUSDT"].base, parsed["1000BONKUSDT"].multiplier) == ("BONK", 1000)
    assert parsed["LUNA2PERP"].canonical == "LUNA2/USDC:USDC"
    assert (parsed["1INCHUSDT"].base, parsed["1INCHUSDT"].multiplier) == ("1INCH", 1)


def test_bybit_inverse_perpetual_settles_in_the_base_coin() -> None:
    (ticker,) = load("bybit/docs_example_v5_market_tickers_inverse.json")["result"]["list"]
    parts = parse_symbol("bybit", ticker["symbol"])
    assert (parts.canonical, parts.kind) == ("BTC/USD:BTC", Kind.PERPETUAL)
    row = {
        "symbol": "BTCUSD", "contractType": "InversePerpetual", "status": "Trading",
        "baseCoin": "BTC", "quoteCoin": "USD", "settleCoin": "BTC", "fundingInterval": 480,
        "priceFilter": {"tickSize": "0.50"}, "lotSizeFilter": {"qtyStep": "1", "minOrderQty": "1"},
        "upperFundingRate": "", "lowerFundingRate": "",
    }  # fmt: skip
    inst = instrument_from_bybit(row, category="inverse")
    assert (inst.canonical, inst.funding_interval_h, inst.funding_cap) == ("BTC/USD:BTC", 8.0, None)


def test_bybit_spot_row_is_spot() -> None:
    row = {
        "symbol": "PEPEUSDT", "baseCoin": "PEPE", "quoteCoin": "USDT", "status": "Trading",
        "priceFilter": {"tickSize": "0.00000001"},
        "lotSizeFilter": {"basePrecision": "0.01", "minOrderQty": "100"},
    }  # fmt: skip
    inst = instrument_from_bybit(row, category="spot")
    assert (inst.kind, inst.canonical, inst.lot) == (Kind.SPOT, "PEPE/USDT", Decimal("0.01"))
    assert perpetuals([inst]) == []


# --- Binance -------------------------------------------------------------------------------

BINANCE = "binance/fapi_v1_exchangeInfo.json"


def test_binance_exchange_info_counts() -> None:
    rows = load(BINANCE)["symbols"]
    mapped = by_symbol("binanceusdm", BINANCE)
    raw_perp = sum(r["contractType"] == "PERPETUAL" for r in rows)
    assert (len(rows), raw_perp) == (122, 119)
    # BTCSTUSDT has contractType "" and the 2100 perpetual delivery date (ccxt: a swap).
    assert len(perpetuals(mapped.values(), include_inactive=True)) == raw_perp + 1 == 120
    assert mapped["BTCSTUSDT"].kind is Kind.PERPETUAL and not mapped["BTCSTUSDT"].active
    dated = [i for i in mapped.values() if i.kind is Kind.DATED]
    assert sorted(i.venue_symbol for i in dated) == ["BTCUSDT_210924", "ETHUSDT_210924"]
    assert mapped["BTCUSDT_210924"].expiry_ms == 1632470400000
    assert (mapped["1000SHIBUSDT"].base, mapped["1000SHIBUSDT"].multiplier) == ("SHIB", 1000)
    btc = mapped["BTCUSDT"]
    assert (btc.tick, btc.lot, btc.min_qty) == (Decimal("0.01"), Decimal("0.001"), Decimal("0.001"))
    assert btc.funding_interval_h is None  # exchangeInfo does not say; never assume 8 h
    assert Counter(i.settle for i in mapped.values()) == {"USDT": 120, "BUSD": 2}


def test_binance_premium_index_symbols_all_parse() -> None:
    symbols = [row["symbol"] for row in load("binance/fapi_v1_premiumIndex_all.json")]
    parsed = {s: parse_symbol("binanceusdm", s) for s in symbols}
    assert len(parsed) == 521
    dated = sorted(s for s, p in parsed.items() if p.kind is Kind.DATED)
    assert dated == sorted(s for s in symbols if "_" in s) and len(dated) == 4
    assert Counter(p.settle for p in parsed.values() if p.kind is Kind.PERPETUAL) == {
        "USDT": 480,
        "USDC": 35,
        "BTC": 2,
    }
    expected = {
        "1000000BOBUSDT": ("BOB/USDT:USDT", 1_000_000),
        "1MBABYDOGEUSDT": ("BABYDOGE/USDT:USDT", 1_000_000),
        "1000PEPEUSDC": ("PEPE/USDC:USDC", 1000),
        "1000XUSDT": ("X/USDT:USDT", 1000),
        "1000SATSUSDT": ("SATS/USDT:USDT", 1000),
        "ETHBTC": ("ETH/BTC:BTC", 1),
        "1INCHUSDT": ("1INCH/USDT:USDT", 1),
        "BTCDOMUSDT": ("BTCDOM/USDT:USDT", 1),
    }
    assert {s: (parsed[s].canonical, parsed[s].multiplier) for s in expected} == expected
    for s, p in parsed.items():
        assert venue_symbol("binanceusdm", p.base, p.quote, p.settle, p.kind, p.multiplier,
                            p.expiry_ms) == s  # fmt: skip


def test_binance_funding_history_file_symbols_parse() -> None:
    names = [p.name.split("_")[2] for p in (DATA / "funding-history").glob("binance_usdm_*.csv")]
    parsed = {n: parse_symbol("binanceusdm", n) for n in names}
    assert len(parsed) == 10
    assert (parsed["1000000BOBUSDT"].base, parsed["1000000BOBUSDT"].multiplier) == ("BOB", 10**6)
    assert parsed["SUIUSDC"].canonical == "SUI/USDC:USDC"


# --- OKX -----------------------------------------------------------------------------------

OKX = "okx/api_v5_public_instruments_SWAP.json"


def test_okx_swaps_linear_and_inverse() -> None:
    rows = load(OKX)["data"]
    mapped = by_symbol("okx", OKX)
    perps = perpetuals(mapped.values())
    assert len(perps) == len(rows) == 166
    inverse = [i for i in perps if i.settle == i.base]
    assert len(inverse) == sum(r["ctType"] == "inverse" for r in rows) == 40
    assert all(i.quote == "USD" and i.venue_symbol.endswith("-USD-SWAP") for i in inverse)
    assert Counter(i.settle for i in perps if i.settle != i.base) == {"USDT": 126}


@pytest.mark.parametrize(
    ("inst_id", "canonical", "contract_size"),
    [
        ("SHIB-USDT-SWAP", "SHIB/USDT:USDT", "1000000"),
        ("BABYDOGE-USDT-SWAP", "BABYDOGE/USDT:USDT", "1000000000"),
        ("BTC-USDT-SWAP", "BTC/USDT:USDT", "0.01"),
        ("YFI-USDT-SWAP", "YFI/USDT:USDT", "0.0001"),
        ("BTC-USD-SWAP", "BTC/USD:BTC", "100"),  # 100 USD a contract (inverse)
        ("1INCH-USD-SWAP", "1INCH/USD:1INCH", "10"),
    ],
)
def test_okx_ct_val_is_the_contract_size(inst_id: str, canonical: str, contract_size: str) -> None:
    inst = by_symbol("okx", OKX)[inst_id]
    assert (inst.canonical, inst.contract_size, inst.multiplier) == (
        canonical,
        Decimal(contract_size),
        Decimal(1),
    )


def test_okx_futures_row_is_dated() -> None:
    row = dict(load(OKX)["data"][0], instType="FUTURES", instId="BTC-USD-220624",
               expTime="1656057600000")  # fmt: skip
    inst = instrument_from_okx(row)
    assert (inst.kind, inst.expiry_ms, inst.canonical) == (
        Kind.DATED,
        1656057600000,
        "BTC/USD:BTC-220624",
    )
    assert perpetuals([inst]) == []


# --- Gate ----------------------------------------------------------------------------------

GATE = "gate/api_v4_futures_usdt_contracts.json"
BITGET_V2 = "bitget/docs_example_api_v2_mix_market_contracts.json"


def test_gate_contracts() -> None:
    rows = load(GATE)
    mapped = by_symbol("gate", GATE)
    assert len(perpetuals(mapped.values(), include_inactive=True)) == len(rows) == 302
    delisting = sorted(r["name"] for r in rows if r["in_delisting"])
    assert [i.venue_symbol for i in mapped.values() if not i.active] == delisting == ["COCOS_USDT"]
    assert {i.funding_interval_h for i in mapped.values()} == {8.0}  # 28800 s
    btc = mapped["BTC_USDT"]
    assert (btc.tick, btc.lot, btc.min_qty) == (Decimal("0.1"), Decimal(1), Decimal(1))


@pytest.mark.parametrize(
    ("name", "contract_size"),
    [("BTC_USDT", "0.0001"), ("PEPE_USDT", "10000000"), ("VINU_USDT", "100000000"),
     ("PYR_USDT", "9.6"), ("ACH_USDT", "11"), ("KNC_USDT", "1")],
)  # fmt: skip
def test_gate_quanto_multiplier_is_the_contract_size(name: str, contract_size: str) -> None:
    inst = by_symbol("gate", GATE)[name]
    assert (inst.contract_size, inst.multiplier) == (Decimal(contract_size), Decimal(1))
    assert inst.canonical == f"{name.split('_')[0]}/USDT:USDT"


# --- Bitget --------------------------------------------------------------------------------


def test_bitget_v1_umcbl_contracts() -> None:
    rel = "bitget/api_mix_v1_market_contracts_umcbl.json"
    mapped = instruments("bitget", rel)
    assert len(perpetuals(mapped)) == len(load(rel)["data"]) == 51
    btc = next(i for i in mapped if i.raw is not None and i.raw["symbol"] == "BTCUSDT_UMCBL")
    assert (btc.venue_symbol, btc.canonical) == ("BTCUSDT", "BTC/USDT:USDT")
    # pricePlace 1, priceEndStep 5 -> 0.5; volumePlace 3 and no sizeMultiplier -> 0.001
    assert (btc.tick, btc.lot, btc.min_qty) == (Decimal("0.5"), Decimal("0.001"), Decimal("0.001"))
    assert btc.funding_interval_h is None


def test_bitget_v2_contract_docs_example() -> None:
    (inst,) = instruments("bitget", BITGET_V2)
    assert (inst.venue_symbol, inst.canonical, inst.kind) == (
        "BTCUSDT",
        "BTC/USDT:USDT",
        Kind.PERPETUAL,
    )
    assert (inst.tick, inst.lot, inst.min_qty) == (Decimal("0.1"), Decimal("0.01"), Decimal("0.01"))
    assert (inst.funding_interval_h, inst.active) == (8.0, True)


def test_bitget_delivery_and_coin_margined_rows() -> None:
    base = load(BITGET_V2)["data"][0]
    row = dict(base, symbol="ETHUSD_231229", baseCoin="ETH", quoteCoin="USD",
               supportMarginCoins=["BTC", "ETH"], symbolType="delivery",
               deliveryTime="1703836800000")  # fmt: skip
    inst = instrument_from_bitget(row)
    assert (inst.kind, inst.canonical, inst.expiry_ms) == (
        Kind.DATED,
        "ETH/USD:ETH-231229",
        1703836800000,
    )
    assert parse_symbol("bitget", "ETHUSD_231229").canonical == "ETH/USD:ETH-231229"


# --- Hyperliquid ---------------------------------------------------------------------------

HL_META = "hyperliquid/info_meta.json"


def test_hyperliquid_meta() -> None:
    universe = load(HL_META)["universe"]
    mapped = instruments("hyperliquid", HL_META)
    assert len(perpetuals(mapped)) == len(universe) == 28
    assert {i.funding_interval_h for i in mapped} == {1.0}
    assert {i.canonical.split("/")[1] for i in mapped} == {"USDC:USDC"}
    pepe = next(i for i in mapped if i.venue_symbol == "kPEPE")
    assert (pepe.base, pepe.multiplier, pepe.canonical) == ("PEPE", Decimal(1000), "PEPE/USDC:USDC")
    btc = mapped[0]
    assert btc.raw is not None and btc.raw["asset"] == 0
    assert (btc.lot, btc.tick) == (Decimal("0.00001"), Decimal("0.1"))  # szDecimals 5
    assert [i.raw["asset"] for i in mapped if i.raw is not None] == list(range(28))


def test_hyperliquid_recorded_coin_names_all_parse() -> None:
    with (DATA / "funding-history" / "hyperliquid_funding_snapshots_2026-02.csv").open() as fh:
        names = {row["symbol"] for row in csv.DictReader(fh)}
    parsed = {n: parse_symbol("hyperliquid", n) for n in names}
    assert len(parsed) == 228
    scaled = {n: p.base for n, p in parsed.items() if p.multiplier == 1000}
    assert scaled == {"kBONK": "BONK", "kDOGS": "DOGS", "kFLOKI": "FLOKI", "kLUNC": "LUNC",
                      "kNEIRO": "NEIRO", "kPEPE": "PEPE", "kSHIB": "SHIB"}  # fmt: skip
    assert all(p.multiplier == 1 for n, p in parsed.items() if n not in scaled)
    assert parsed["KAS"].base == "KAS" and parsed["KAITO"].base == "KAITO"
    assert all(venue_symbol("hyperliquid", p.base, "USDC", "USDC", Kind.PERPETUAL, p.multiplier)
               == n for n, p in parsed.items())  # fmt: skip


@pytest.mark.parametrize(
    ("price", "sz_decimals", "tick"),
    [("1234.5", 0, "0.1"), ("0.001234", 0, "0.000001"), ("0.01234", 1, "0.00001"),
     ("123456", 0, "1"), ("12345", 0, "1"), ("2.1345", 2, "0.0001"), ("77605", 5, "1")],
)  # fmt: skip
def test_hyperliquid_tick_follows_the_documented_rule(
    price: str, sz_decimals: int, tick: str
) -> None:
    assert hyperliquid_tick(Decimal(price), sz_decimals) == Decimal(tick)


# --- the same asset across venues ------------------------------------------------------------


def test_pepe_is_one_asset_on_every_venue() -> None:
    bybit = by_symbol("bybit", BYBIT)["1000PEPEUSDT"]
    gate = by_symbol("gate", GATE)["PEPE_USDT"]
    hl = next(i for i in instruments("hyperliquid", HL_META) if i.venue_symbol == "kPEPE")
    binance = parse_symbol("binanceusdm", "1000PEPEUSDT")
    assert {bybit.base, gate.base, hl.base, binance.base} == {"PEPE"}
    assert bybit.canonical == gate.canonical == binance.canonical == "PEPE/USDT:USDT"
    # one canonical PEPE per venue unit: 1000 (Bybit), 10,000,000 per contract (Gate)
    assert bybit.to_canonical_qty(1.0) == 1000.0 and gate.to_canonical_qty(1.0) == 1e7
    assert bybit.to_canonical_price(0.01) == pytest.approx(0.00001)


# --- split_multiplier -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue_base", "expected"),
    [("1000PEPE", ("PEPE", 1000)), ("10000SATS", ("SATS", 10_000)),
     ("100000ABC", ("ABC", 100_000)), ("1000000MOG", ("MOG", 1_000_000)),
     ("1MBABYDOGE", ("BABYDOGE", 1_000_000)), ("kPEPE", ("PEPE", 1000)),
     ("SHIB1000", ("SHIB", 1000)), ("1000X", ("X", 1000)), ("KAS", ("KAS", 1)),
     ("KSM", ("KSM", 1)), ("1INCH", ("1INCH", 1)), ("0G", ("0G", 1)), ("4", ("4", 1)),
     ("10000", ("10000", 1)), ("10001INCH", ("10001INCH", 1)), ("XBT", ("BTC", 1)),
     ("AI16Z", ("AI16Z", 1)), ("LUNA2", ("LUNA2", 1))],
)  # fmt: skip
def test_split_multiplier(venue_base: str, expected: tuple[str, int]) -> None:
    assert split_multiplier(venue_base) == expected


# --- errors ---------------------------------------------------------------------------------


def _okx_row(inst_id: str) -> dict[str, Any]:
    return next(row for row in load(OKX)["data"] if row["instId"] == inst_id)


def _bybit_row(**changes: Any) -> dict[str, Any]:
    return dict(load(BYBIT)["result"]["list"][0], **changes)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: instrument_from_bybit(_bybit_row(priceFilter={"tickSize": "abc"})),
         "priceFilter.tickSize"),
        (lambda: instrument_from_bybit(_bybit_row(contractType="Option")), "contractType"),
        (lambda: instrument_from_bybit(_bybit_row(baseCoin="")), "baseCoin"),
        (lambda: instrument_from_bybit(_bybit_row(fundingInterval="8h")), "fundingInterval"),
        (lambda: instrument_from_binance(dict(load(BINANCE)["symbols"][0], filters=[])),
         "filters[PRICE_FILTER]"),
        (lambda: instrument_from_okx(dict(load(OKX)["data"][0], ctVal="")), "ctVal"),
        (lambda: instrument_from_okx(dict(_okx_row("BTC-USDT-SWAP"), ctValCcy="ETH")),
         "ctValCcy"),
        (lambda: instrument_from_gate(dict(load(GATE)[0], quanto_multiplier="x")),
         "quanto_multiplier"),
        (lambda: instrument_from_gate(dict(load(GATE)[0], name="KNC")), "name"),
        (lambda: instrument_from_bitget(dict(load(BITGET_V2)["data"][0], symbolType="option")),
         "symbolType"),
        (lambda: instrument_from_hyperliquid({"name": "BTC"}, 0), "szDecimals"),
        (lambda: instrument_from_hyperliquid({"name": "xyz:TSLA", "szDecimals": 3}, 0), "name"),
        (lambda: parse_symbol("bybit", "BTCUSDX"), "symbol"),
        (lambda: parse_symbol("kraken", "XBTUSD"), "venue"),
        (lambda: venue_symbol("hyperliquid", "PEPE", "USDC", "USDC", multiplier=10_000),
         "multiplier"),
        (lambda: venue_symbol("hyperliquid", "BTC", "USDT", "USDT"), "kind/quote/settle"),
    ],
)  # fmt: skip
def test_malformed_input_raises_symbol_error_naming_the_field(call: Any, field: str) -> None:
    with pytest.raises(SymbolError) as info:
        call()
    assert info.value.field == field
    assert field in str(info.value) and info.value.venue in str(info.value)


def test_error_names_the_symbol() -> None:
    with pytest.raises(SymbolError, match=r"bybit symbol '0GUSDT': field 'lotSizeFilter.qtyStep'"):
        instrument_from_bybit(_bybit_row(lotSizeFilter={"qtyStep": "0", "minOrderQty": "1"}))


def test_empty_strings_mean_missing() -> None:
    inst = instrument_from_bybit(
        _bybit_row(upperFundingRate="", lowerFundingRate="", lotSizeFilter={"qtyStep": ""})
    )
    assert (inst.funding_cap, inst.funding_floor, inst.lot, inst.min_qty) == (None,) * 4


@pytest.mark.parametrize("venue", venue_ids())
def test_every_registered_venue_writes_and_reads_back_a_perpetual(venue: str) -> None:
    """Each spec's symbol writer and parser are inverses for a BTC perpetual it can list."""
    written = []
    for settle in ("USDT", "USDC"):
        try:
            symbol = venue_symbol(venue, "BTC", settle, settle)
        except SymbolError:
            continue
        parts = parse_symbol(venue, symbol)
        assert (parts.base, parts.settle, parts.kind) == ("BTC", settle, Kind.PERPETUAL), symbol
        assert spec_of(venue).parse_symbol(symbol) == parts
        written.append(symbol)
    assert written, f"{venue} lists neither a USDT nor a USDC BTC perpetual"
