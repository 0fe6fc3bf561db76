"""Fuzzing (hypothesis) of what arrives from outside: config files, environment overrides and
every venue parser's payloads. Each may be accepted or refused, but refused only with the
project's typed errors (``ConfigError``; ``SymbolError`` / ``MalformedResponse`` for venue
data), never with a stray ``KeyError``/``TypeError``/``RecursionError``, and each case within
hypothesis' ``deadline`` (no hang, no exponential blow-up).

Example counts are small and the database of examples is off, so this stays a few seconds in
``make test``; run with ``--hypothesis-seed`` to reproduce a failure.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collector import reason
from scanner.settings import ConfigError, Settings, load_settings
from scanner.symbols import SymbolError
from scanner.venues.base import MalformedResponse
from scanner.venues.bybit import (
    parse_funding_history,
    parse_instruments,
    parse_orderbook,
    parse_tickers,
)
from scanner.venues.ccxt_venue import quote_from_unified
from scanner.venues.specs import ccxt_venue_ids, spec_of, venue_ids
from scanner.venues.specs import parse_instruments as parse_venue_instruments

FUZZ = settings(
    max_examples=25,
    deadline=timedelta(seconds=3),  # a hang or a blow-up, not a slow CI machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "exchange-fixtures"
INSTRUMENT_FIXTURES = {
    "bybit": "bybit/v5_market_instruments-info_linear.json",
    "binanceusdm": "binance/fapi_v1_exchangeInfo.json",
    "okx": "okx/api_v5_public_instruments_SWAP.json",
    "gate": "gate/api_v4_futures_usdt_contracts.json",
    "bitget": "bitget/docs_example_api_v2_mix_market_contracts.json",
    "hyperliquid": "hyperliquid/info_meta.json",
}
VENUE_ERRORS = (SymbolError, MalformedResponse)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1e400", "nan", "inf", "8h", "abc", "1000PEPE", "BTC-USDT"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# --- config files and environment overrides -------------------------------------------------


def _knobs() -> dict[str, list[str]]:
    dumped = Settings(env={}).model_dump(mode="json")
    return {s: list(v) for s, v in dumped.items() if isinstance(v, dict)}


KNOBS = _knobs()
sections = st.sampled_from(sorted(KNOBS))


@st.composite
def config_docs(draw: st.DrawFn) -> dict[str, Any]:
    """Documents shaped like config.yaml: real sections and keys, any values (and a few
    unknown keys), so validation itself is exercised, not only the first unknown key."""
    doc: dict[str, Any] = {}
    for section in draw(st.lists(sections, min_size=1, max_size=3, unique=True)):
        keys = KNOBS[section] + ["bogus_key"]
        chosen = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
        doc[section] = {k: draw(json_values) for k in chosen}
    return doc


@FUZZ
@given(doc=config_docs())
def test_generated_configs_load_or_raise_config_error(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        loaded = load_settings(path, env={})
    except ConfigError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert isinstance(loaded, Settings)


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_as_config_loads_or_raises_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        load_settings(path, env={})


@FUZZ
@given(
    section=sections,
    data=st.data(),
    value=st.one_of(st.text(max_size=30), scalars.map(json.dumps)),
)
def test_env_overrides_apply_or_raise_config_error_naming_the_variable(
    section: str, data: st.DataObject, value: str
) -> None:
    key = data.draw(st.sampled_from(KNOBS[section]))
    name = f"FUNDSCAN__{section.upper()}__{key.upper()}"
    value = value.replace("\x00", "")
    try:
        load_settings(None, env={name: value})
    except ConfigError as exc:
        assert name in str(exc), str(exc)


# --- venue payloads -----------------------------------------------------------------------


@cache
def fixture(venue: str) -> Any:
    return json.loads((FIXTURES / INSTRUMENT_FIXTURES[venue]).read_text(encoding="utf-8"))


def _rows(payload: Any) -> list[Any]:
    """The instrument rows of a fixture (whatever its envelope)."""
    node = payload
    for key in ("result", "list", "data", "symbols", "universe"):
        if isinstance(node, dict) and key in node:
            node = node[key]
    return node if isinstance(node, list) else []


def _with_rows(payload: Any, rows: list[Any]) -> Any:
    if isinstance(payload, list):
        return rows
    out = json.loads(json.dumps(payload))
    node = out
    for key in ("result", "data", "symbols", "universe"):
        if isinstance(node, dict) and key in node:
            if isinstance(node[key], list):
                node[key] = rows
                return out
            node = node[key]
    if isinstance(node, dict) and "list" in node:
        node["list"] = rows
    return out


@st.composite
def mutated_rows(draw: st.DrawFn, venue: str) -> list[Any]:
    """A few real rows of the venue with some fields replaced by junk or removed."""
    real = _rows(fixture(venue))[:50]
    rows = []
    for row in draw(st.lists(st.sampled_from(real), min_size=1, max_size=3)):
        row = json.loads(json.dumps(row))
        if isinstance(row, dict) and row:
            for key in draw(st.lists(st.sampled_from(sorted(row)), max_size=3, unique=True)):
                if draw(st.booleans()):
                    row[key] = draw(json_values)
                else:
                    del row[key]
        rows.append(row)
    return rows


def _typed_or_ok(call: Callable[[], Any]) -> None:
    try:
        call()
    except VENUE_ERRORS as exc:
        assert str(exc)


@pytest.mark.parametrize("venue", sorted(INSTRUMENT_FIXTURES))
@FUZZ
@given(data=st.data())
def test_instrument_lists_parse_or_raise_typed_errors(venue: str, data: st.DataObject) -> None:
    payload = _with_rows(fixture(venue), data.draw(mutated_rows(venue)))
    _typed_or_ok(lambda: parse_venue_instruments(venue, payload))
    junk = data.draw(json_values)
    _typed_or_ok(lambda: parse_venue_instruments(venue, junk))


def test_every_venue_has_an_instrument_fixture_to_fuzz() -> None:
    assert set(INSTRUMENT_FIXTURES) == set(venue_ids())


@cache
def _bybit_instruments() -> dict[str, Any]:
    insts = parse_instruments(fixture("bybit")["result"])
    return {i.venue_symbol: i for i in insts}


@FUZZ
@given(data=st.data())
def test_bybit_market_payloads_parse_or_raise_malformed(data: st.DataObject) -> None:
    insts = _bybit_instruments()
    inst = insts[data.draw(st.sampled_from(sorted(insts)))]
    row = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "symbol": st.just(inst.venue_symbol),
                "fundingRate": json_values,
                "nextFundingTime": json_values,
                "fundingIntervalHour": json_values,
                "markPrice": json_values,
                "turnover24h": json_values,
                "fundingRateTimestamp": json_values,
            },
        )
    )
    result = data.draw(st.sampled_from([{"list": [row]}, {"list": row}, {}, {"list": [1, "x"]}]))
    _typed_or_ok(lambda: parse_tickers(result, insts, 1_700_000_000_000))
    _typed_or_ok(lambda: parse_funding_history(result, inst))
    _typed_or_ok(lambda: parse_instruments(result))
    book = {"b": data.draw(json_values), "a": data.draw(json_values), "ts": data.draw(scalars)}
    _typed_or_ok(lambda: parse_orderbook(book, inst, 1_700_000_000_000))


@pytest.mark.parametrize("venue", sorted(ccxt_venue_ids()))
@FUZZ
@given(data=st.data())
def test_ccxt_funding_structures_map_or_are_skipped(venue: str, data: st.DataObject) -> None:
    """ccxt's unified funding-rate structure (whatever the venue put in ``info``) -> a quote
    with a finite rate and a positive interval, or None."""
    insts = parse_venue_instruments(venue, fixture(venue))
    inst = data.draw(st.sampled_from(insts))
    fr = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "symbol": json_values,
                "fundingRate": json_values,
                "timestamp": json_values,
                "fundingTimestamp": json_values,
                "markPrice": json_values,
                "interval": json_values,
                "info": st.dictionaries(st.text(max_size=16), json_values, max_size=4),
            },
        )
    )
    adjusted = {str(fr.get("symbol")): 8.0} if data.draw(st.booleans()) else {}
    quirks = spec_of(venue).quirks
    try:
        quote = quote_from_unified(quirks, inst, fr, adjusted, 1_700_000_000_000)
    except VENUE_ERRORS:
        return
    if quote is not None:
        assert math.isfinite(quote.rate_per_interval) and quote.interval_h > 0


@FUZZ
@given(message=st.text(max_size=3_000))
def test_a_failure_reason_is_one_bounded_line(message: str) -> None:
    line = reason(MalformedResponse("okx", message))
    assert "\n" not in line and len(line) <= 240


@pytest.mark.parametrize(
    ("text", "needle"),
    [("?", "is not a name"), ("\x1f", "not allowed in YAML"), ("engine:\n  1: 2\n", "not a name")],
)
def test_inputs_the_fuzzer_found_are_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    """Found by the fuzzer above: a key that is not text (TypeError deep in pydantic) and a
    control character (yaml's ReaderError, raised before the strict loader's own checks)."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_settings(path, env={})


def test_a_bad_venue_override_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="FUNDSCAN__VENUES__BYBIT"):
        load_settings(None, env={"FUNDSCAN__VENUES__BYBIT": "false"})
