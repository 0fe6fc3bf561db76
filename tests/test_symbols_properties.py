"""Property tests: venue -> canonical -> venue round trips for generated names, all six venues.

Generated bases are upper-case letters plus real names that look like traps (``1INCH``,
``0G``, ``KAS``, ``LUNA2``, ``AI16Z``, ``SHIB`` which Bybit spells ``SHIB1000``). Excluded by
construction, because no venue could name them unambiguously either: a digit-led base with a
multiplier (``1000`` + ``0G`` reads as 10000 x G) and, where a venue glues base and quote
together, a base that itself ends in one of that venue's quote codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scanner.domain import Instrument, Kind, canonical_id
from scanner.symbols import (
    SymbolError,
    instrument_from_binance,
    instrument_from_bitget,
    instrument_from_bybit,
    instrument_from_gate,
    instrument_from_hyperliquid,
    instrument_from_okx,
    split_multiplier,
)
from scanner.symbols.common import venue_base
from scanner.venues.specs import all_specs, parse_symbol, venue_symbol

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "exchange-fixtures"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRICKY = ["1INCH", "0G", "2Z", "4", "KAS", "KAITO", "LUNA2", "AI16Z", "SHIB", "BABYDOGE", "PERP"]
MULTIPLIERS = [1, 1000, 10_000, 100_000, 1_000_000, 10_000_000]
GLUED_QUOTES = {
    "bybit": ("USDT", "USDC", "USD", "PERP"),
    "binanceusdm": ("USDT", "USDC", "BUSD", "BTC"),
    "bitget": ("USDT", "USDC", "USD", "PERP"),
}

# (quote, settle) per venue; None settle = the base coin (inverse contracts).
PAIRS: dict[str, list[tuple[str, str | None]]] = {
    "bybit": [("USDT", "USDT"), ("USDC", "USDC"), ("USD", None)],
    "binanceusdm": [("USDT", "USDT"), ("USDC", "USDC"), ("BTC", "BTC")],
    "okx": [("USDT", "USDT"), ("USDC", "USDC"), ("USD", None)],
    "gate": [("USDT", "USDT"), ("USD", None)],
    "bitget": [("USDT", "USDT"), ("USDC", "USDC"), ("USD", None)],
    "hyperliquid": [("USDC", "USDC")],
}


def _plain_base(venue: str, base: str, multiplier: int) -> bool:
    if split_multiplier(base) != (base, 1):
        return False  # e.g. "XBT" (an alias), never a canonical base
    if multiplier > 1 and base[0].isdigit():
        return False
    return not base.endswith(GLUED_QUOTES.get(venue, ()))


@st.composite
def perpetual_specs(draw: st.DrawFn, venue: str) -> tuple[str, str, str, int]:
    base = draw(st.one_of(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=9),
                          st.sampled_from(TRICKY)))  # fmt: skip
    allowed = [1, 1000] if venue == "hyperliquid" else MULTIPLIERS
    multiplier = draw(st.sampled_from(allowed))
    quote, settle = draw(st.sampled_from(PAIRS[venue]))
    assume(_plain_base(venue, base, multiplier))
    return base, quote, settle or base, multiplier


def _round_trip(venue: str, spec: tuple[str, str, str, int]) -> None:
    base, quote, settle, multiplier = spec
    symbol = venue_symbol(venue, base, quote, settle, Kind.PERPETUAL, multiplier)
    parts = parse_symbol(venue, symbol)
    assert (parts.base, parts.quote, parts.settle, parts.kind, parts.multiplier) == (
        base,
        quote,
        settle,
        Kind.PERPETUAL,
        multiplier,
    ), symbol
    assert parts.canonical == canonical_id(base, quote, settle)
    again = venue_symbol(venue, parts.base, parts.quote, parts.settle, parts.kind, parts.multiplier)
    assert again == symbol


@SETTINGS
@given(perpetual_specs("bybit"))
def test_bybit_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("bybit", spec)


@SETTINGS
@given(perpetual_specs("binanceusdm"))
def test_binance_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("binanceusdm", spec)


@SETTINGS
@given(perpetual_specs("okx"))
def test_okx_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("okx", spec)


@SETTINGS
@given(perpetual_specs("gate"))
def test_gate_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("gate", spec)


@SETTINGS
@given(perpetual_specs("bitget"))
def test_bitget_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("bitget", spec)


@SETTINGS
@given(perpetual_specs("hyperliquid"))
def test_hyperliquid_symbol_round_trip(spec: tuple[str, str, str, int]) -> None:
    _round_trip("hyperliquid", spec)


@SETTINGS
@given(st.sampled_from(sorted(PAIRS)), st.data())
def test_venue_base_and_split_multiplier_are_inverse(venue: str, data: st.DataObject) -> None:
    base, _, _, multiplier = data.draw(perpetual_specs(venue))
    assert split_multiplier(venue_base(venue, base, multiplier)) == (base, multiplier)


# --- dated contracts -------------------------------------------------------------------------

DATED_VENUES = [spec.id for spec in all_specs() if spec.capabilities.dated_symbols]


@SETTINGS
@given(
    st.sampled_from(DATED_VENUES),
    st.data(),
    st.datetimes(datetime(2020, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC)),
)
def test_dated_symbols_keep_their_date(venue: str, data: st.DataObject, when: datetime) -> None:
    base, quote, settle, multiplier = data.draw(perpetual_specs(venue))
    expiry_ms = int(when.timestamp() * 1000)
    symbol = venue_symbol(venue, base, quote, settle, Kind.DATED, multiplier, expiry_ms)
    parts = parse_symbol(venue, symbol)
    assert (parts.canonical, parts.kind, parts.multiplier) == (
        canonical_id(base, quote, settle, Kind.DATED, parts.expiry_ms),
        Kind.DATED,
        multiplier,
    )
    assert parts.expiry_ms is not None
    parsed = datetime.fromtimestamp(parts.expiry_ms / 1000, tz=UTC)
    month_only = venue == "bybit" and quote == "USD"  # BTCUSDH26: month letter + year
    assert (parsed.year, parsed.month) == (when.year, when.month)
    assert month_only or parsed.day == when.day
    assert venue_symbol(venue, parts.base, parts.quote, parts.settle, Kind.DATED,
                        parts.multiplier, parts.expiry_ms) == symbol  # fmt: skip


# --- whole rows: venue row -> Instrument -> venue symbol -------------------------------------


@cache
def _load(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


def _template(rel: str, path: tuple[str | int, ...]) -> dict[str, Any]:
    """A fresh shallow copy of one real row, to overwrite top-level fields in."""
    node: Any = _load(rel)
    for key in path:
        node = node[key]
    return dict(node)


def _bybit_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    row = _template("bybit/v5_market_instruments-info_linear.json", ("result", "list", 0))
    inverse = settle == base
    row.update(symbol=symbol, baseCoin=venue_base("bybit", base, mult), quoteCoin=quote,
               settleCoin=settle,
               contractType="InversePerpetual" if inverse else "LinearPerpetual")  # fmt: skip
    return instrument_from_bybit(row, "inverse" if inverse else "linear")


def _binance_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    row = _template("binance/fapi_v1_exchangeInfo.json", ("symbols", 0))
    row.update(symbol=symbol, pair=symbol, baseAsset=venue_base("binanceusdm", base, mult),
               quoteAsset=quote, marginAsset=settle)  # fmt: skip
    return instrument_from_binance(row)


def _okx_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    row = _template("okx/api_v5_public_instruments_SWAP.json", ("data", 0))
    vb = venue_base("okx", base, mult)
    row.update(instId=symbol, uly=f"{vb}-{quote}", settleCcy=settle,
               ctType="inverse" if settle == base else "linear",
               ctValCcy="USD" if settle == base else vb)  # fmt: skip
    return instrument_from_okx(row)


def _gate_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    row = _template("gate/api_v4_futures_usdt_contracts.json", (0,))
    row.update(name=symbol)
    return instrument_from_gate(row, settle=settle)


def _bitget_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    row = _template("bitget/docs_example_api_v2_mix_market_contracts.json", ("data", 0))
    vb = venue_base("bitget", base, mult)
    row.update(symbol=symbol, baseCoin=vb, quoteCoin=quote, supportMarginCoins=[settle])
    return instrument_from_bitget(row)


def _hyperliquid_row(base: str, quote: str, settle: str, mult: int, symbol: str) -> Instrument:
    return instrument_from_hyperliquid({"name": symbol, "szDecimals": 2, "maxLeverage": 3}, 7)


ROW_BUILDERS: dict[str, Callable[[str, str, str, int, str], Instrument]] = {
    "bybit": _bybit_row,
    "binanceusdm": _binance_row,
    "okx": _okx_row,
    "gate": _gate_row,
    "bitget": _bitget_row,
    "hyperliquid": _hyperliquid_row,
}


@SETTINGS
@given(st.sampled_from(sorted(ROW_BUILDERS)), st.data())
def test_rows_map_to_the_canonical_id_and_back(venue: str, data: st.DataObject) -> None:
    base, quote, settle, multiplier = data.draw(perpetual_specs(venue))
    symbol = venue_symbol(venue, base, quote, settle, Kind.PERPETUAL, multiplier)
    inst = ROW_BUILDERS[venue](base, quote, settle, multiplier, symbol)
    assert (
        inst.canonical == canonical_id(base, quote, settle) == parse_symbol(venue, symbol).canonical
    )
    assert (inst.kind, inst.multiplier, inst.venue_symbol) == (
        Kind.PERPETUAL,
        Decimal(multiplier),
        symbol,
    )
    back = venue_symbol(venue, inst.base, inst.quote, inst.settle, inst.kind, inst.multiplier)
    assert back == symbol


# --- numbers ---------------------------------------------------------------------------------


@SETTINGS
@given(
    st.decimals(min_value=Decimal("1e-10"), max_value=Decimal("1e6"), allow_nan=False, places=10),
    st.sampled_from(["string", "number"]),
)
def test_steps_are_exact_decimals_from_the_venue_text(step: Decimal, form: str) -> None:
    text = format(step.normalize(), "f")
    value: Any = text if form == "string" else float(text)
    row = _template("bybit/v5_market_instruments-info_linear.json", ("result", "list", 0))
    row.update(priceFilter={"tickSize": value})
    inst = instrument_from_bybit(row)
    # Decimal(str(x)): a JSON number is read as its shortest repr, never as binary noise
    # (Decimal(0.1) would be 0.1000000000000000055511151231257827...).
    expected = Decimal(text) if form == "string" else Decimal(repr(value))
    assert inst.tick == expected


@SETTINGS
@given(
    st.text(min_size=1, max_size=12).filter(
        lambda s: not s.strip().lstrip("-+").replace(".", "", 1).isdigit()
    )
)
def test_non_numeric_steps_raise_symbol_error(text: str) -> None:
    row = _template("gate/api_v4_futures_usdt_contracts.json", (0,))
    row.update(order_price_round=text)
    try:
        inst = instrument_from_gate(row)
    except SymbolError as exc:
        assert exc.field == "order_price_round" and exc.symbol == "KNC_USDT"
    else:  # only texts Decimal genuinely reads as a positive number may pass
        assert inst.tick is not None and inst.tick > 0 and inst.tick.is_finite()
