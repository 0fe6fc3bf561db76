"""24 h volume on every funding quote, for all six venues.

Two layers: the pure ``usd_volume`` against real (or documented) ticker payloads, which pins
what each venue's field means (OKX's ccxt ``baseVolume`` is contracts, not coins); and each
adapter against the emulator, whose market model knows the true volume of every listing.
The extra tickers call failing must cost only the volume, never the quotes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import ccxt.async_support as ccxt_async
import pytest
from venue_fixtures import load_fixture

from emulator import Emulator, FaultSpec
from scanner.settings import Settings
from scanner.venues.base import VenueUnavailable
from scanner.venues.bybit import parse_ticker
from scanner.venues.capabilities import VolumeSpec
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venue
from scanner.venues.specs import ccxt_venue_ids, spec_of, venue_ids
from scanner.venues.volume import lenient_volume, raw_ticker_records, usd_volume

VENUES = venue_ids()
TICKER_VENUES = ("binanceusdm", "okx", "bitget", "gate")
"""Written out (the venues whose funding payload has no volume): checked against the specs."""
TICKER_PATHS = {
    "binanceusdm": "/fapi/v1/ticker/24hr",
    "okx": "/api/v5/market/tickers",
    "bitget": "/api/v2/mix/market/tickers",
    "gate": "/api/v4/futures/usdt/tickers",
}
# Gate prints volume_24h_quote as an integer string: 0.5 USD on a >= 50 000 USD volume.
REL = {"gate": 1e-5}


# --- what each venue's field means -------------------------------------------------------


def spec(venue: str) -> VolumeSpec:
    quirks = spec_of(venue).quirks
    assert quirks is not None, venue
    found = quirks.volume
    assert found is not None, venue
    return found


def test_gate_real_ticker_quote_volume_is_usdt() -> None:
    """Real BTC_USDT body: volume_24h is contracts (x 0.0001 BTC), volume_24h_quote USDT."""
    row = load_fixture("gate", "api_v4_futures_usdt_tickers_BTC_USDT.json")[0]
    ticker = ccxt_async.gate().parse_ticker(row)
    usd = usd_volume(spec("gate"), ticker)
    assert usd == 4_911_337_664.0
    # base coin x last agrees within the day's price range; contracts x last would be 10^4 off
    assert usd == pytest.approx(float(row["volume_24h_base"]) * float(row["last"]), rel=0.02)


def test_okx_swap_volume_is_base_coin_times_last_not_ccxt_base_volume() -> None:
    """OKX documents, for swaps, ``vol24h`` in contracts and ``volCcy24h`` in the base coin;
    this row's numbers are a real BTC-USDT-SWAP WS ticker (ctVal 0.01: 12214388 contracts =
    122143.88 BTC). ccxt maps ``vol24h`` to ``baseVolume`` and leaves ``quoteVolume`` None."""
    row = {
        "instType": "SWAP",
        "instId": "BTC-USDT-SWAP",
        "last": "31807.4",
        "volCcy24h": "122143.88",
        "vol24h": "12214388",
        "ts": "1654033232461",
    }
    ex = ccxt_async.okx()
    ex.markets_by_id = {}
    ticker = ex.parse_ticker(row)
    assert ticker["quoteVolume"] is None and ticker["baseVolume"] == 12214388.0
    usd = usd_volume(spec("okx"), ticker)
    assert usd == pytest.approx(122143.88 * 31807.4, rel=1e-12)


def test_bitget_docs_ticker_quote_volume_is_read() -> None:
    row = dict(load_fixture("bitget", "docs_example_api_v2_mix_market_ticker.json")["data"][0])
    row["quoteVolume"] = "8274870921.80485"
    ticker = ccxt_async.bitget().parse_ticker(row)
    usd = usd_volume(spec("bitget"), ticker)
    assert usd == pytest.approx(8274870921.80485)


def test_hyperliquid_volume_rides_on_the_funding_record() -> None:
    ctx = load_fixture("hyperliquid", "ws_allDexsAssetCtxs.json")["data"]["ctxs"][0][1][0]
    assert spec("hyperliquid").source == "funding"
    assert usd_volume(spec("hyperliquid"), {"info": ctx}) == pytest.approx(1_516_669_192.1953897)


def test_bybit_ticker_turnover_is_the_quote_volume() -> None:
    body = load_fixture("bybit", "v5_market_tickers_linear_BTCUSDT.json")
    rows = load_fixture("bybit", "v5_market_instruments-info_linear.json")["result"]["list"]
    inst = spec_of("bybit").parse_row(next(r for r in rows if r["symbol"] == "BTCUSDT"))
    quote = parse_ticker(body["result"]["list"][0], inst, 0)
    assert quote is not None and quote.volume_24h_usd == 4216771708.8491


@pytest.mark.parametrize("raw", [None, "", "abc", "-5", "NaN", True, [1]])
def test_unreadable_volume_is_none_not_an_error(raw: object) -> None:
    assert lenient_volume(raw) is None


def test_base_unit_volume_without_a_price_is_unknown() -> None:
    assert usd_volume(spec("okx"), {"info": {"volCcy24h": "5"}}) is None


def test_every_venue_says_where_volume_comes_from() -> None:
    """Bybit reads turnover24h itself; every ccxt venue's spec says where volume comes from."""
    assert all(spec(v) is not None for v in ccxt_venue_ids())
    assert {v for v in ccxt_venue_ids() if spec(v).source == "tickers"} == set(TICKER_VENUES)


# --- adapters against the emulator -------------------------------------------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=4, stepped=True).run_in_thread() as e:
        yield e


@pytest.fixture
def clean(emu: Emulator) -> Iterator[Emulator]:
    emu.faults.clear()
    yield emu
    emu.faults.clear()


def settings(emu: Emulator) -> Settings:
    return Settings(env={}).with_base_url(emu.url)


@pytest.fixture
async def adapter(clean: Emulator, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    venue = build_venue(request.param, settings(clean), retries=0)
    yield venue
    await venue.close()


@pytest.mark.parametrize("adapter", VENUES, indirect=True)
async def test_every_quote_carries_the_model_volume(adapter, clean: Emulator) -> None:
    quotes = await adapter.fetch_quotes()
    assert len(quotes) == len(clean.market.perpetual_symbols(adapter.name))
    rel = REL.get(adapter.name, 1e-8)
    for q in quotes:
        want = clean.market.volume_24h_usd(adapter.name, q.venue_symbol)
        assert q.volume_24h_usd == pytest.approx(want, rel=rel), q.venue_symbol


@pytest.mark.parametrize("adapter", TICKER_VENUES, indirect=True)
async def test_failing_tickers_call_keeps_the_quotes_without_volume(
    adapter, clean: Emulator
) -> None:
    clean.faults.set(adapter.name, TICKER_PATHS[adapter.name], FaultSpec("server_error"))
    quotes = await adapter.fetch_quotes()
    perps = clean.market.perpetual_symbols(adapter.name)
    assert len(quotes) == len(perps)
    assert all(q.volume_24h_usd is None for q in quotes)
    for q in quotes:
        want = clean.market.funding_rate(adapter.name, q.venue_symbol)
        assert q.rate_per_interval == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("adapter", TICKER_VENUES, indirect=True)
async def test_blanked_volume_fields_leave_volume_unknown(adapter, clean: Emulator) -> None:
    fields = ("quoteVolume", "volCcy24h", "volume_24h_quote")
    clean.faults.set(
        adapter.name, TICKER_PATHS[adapter.name], FaultSpec("empty_fields", fields=fields)
    )
    quotes = await adapter.fetch_quotes()
    assert len(quotes) == len(clean.market.perpetual_symbols(adapter.name))
    assert all(q.volume_24h_usd is None for q in quotes)


async def test_a_hanging_tickers_call_does_not_hold_the_quotes(clean: Emulator) -> None:
    """The tickers call hangs past the grace period: quotes come back, volume unknown."""
    clean.faults.set("gate", TICKER_PATHS["gate"], FaultSpec("timeout", hang_s=2.0))
    exchange = make_exchange("gate", clean.venue_url("gate"), {"timeout": 10_000})
    venue = CcxtVenue("gate", exchange, retries=0, volume_grace_s=0.2)
    try:
        quotes = await venue.fetch_quotes()
    finally:
        await venue.close()
    assert len(quotes) == len(clean.market.perpetual_symbols("gate"))
    assert all(q.volume_24h_usd is None for q in quotes)


async def test_a_funding_failure_is_not_masked_by_the_volume_call(clean: Emulator) -> None:
    """The tickers call succeeds, the funding call fails: fetch_quotes raises as before."""
    clean.faults.set("okx", "/api/v5/public/funding-rate", FaultSpec("server_error"))
    venue = build_venue("okx", settings(clean), retries=0)
    try:
        with pytest.raises(VenueUnavailable):
            await venue.fetch_quotes()
    finally:
        await venue.close()


# --- tickers read from the venue's rows (RawTickersSpec), not ccxt's parse_ticker ------------

RAW_TICKER_VENUES = sorted(
    v
    for v in ccxt_venue_ids()
    if (q := spec_of(v).quirks) is not None and (q.raw_tickers or q.raw_bids_asks)
)


def test_binance_okx_bitget_and_gate_tickers_are_read_raw() -> None:
    assert RAW_TICKER_VENUES == ["binanceusdm", "bitget", "gate", "okx"]


@pytest.mark.parametrize("venue", RAW_TICKER_VENUES)
async def test_raw_tickers_are_the_requests_ccxts_fetch_tickers_sends(
    clean: Emulator, venue: str
) -> None:
    quirks = spec_of(venue).quirks
    assert quirks is not None
    ours = build_venue(venue, settings(clean), retries=0)
    exchange = make_exchange(venue, clean.venue_url(venue))
    unified = CcxtVenue(venue, exchange, quirks=replace(quirks, raw_tickers=None), retries=0)
    assert isinstance(ours, CcxtVenue)
    try:
        await ours.load_instruments()
        await unified.load_instruments()
        sent = []
        for adapter in (ours, unified):
            start = len(clean.logs()["requests"])
            await adapter._tickers()
            log = clean.logs()["requests"][start:]
            sent.append(sorted((r["method"], r["path"], r["query"], r["status"]) for r in log))
    finally:
        await ours.close()
        await unified.close()
    assert sent[0] == sent[1] and len(sent[0]) == len(quirks.volume.calls if quirks.volume else ())


@pytest.mark.parametrize("venue", RAW_TICKER_VENUES)
async def test_raw_tickers_read_the_same_volume_and_top_as_ccxt_unified(
    clean: Emulator, venue: str
) -> None:
    """The raw rows and ccxt's unified tickers give every quote the same volume and top of
    book (the same request: only who parses the rows differs)."""
    quirks = spec_of(venue).quirks
    assert quirks is not None
    ours = build_venue(venue, settings(clean), retries=0)
    exchange = make_exchange(venue, clean.venue_url(venue))
    ccxt_parse = replace(quirks, raw_tickers=None, raw_bids_asks=None)
    unified = CcxtVenue(venue, exchange, quirks=ccxt_parse, retries=0)
    try:
        got = {q.venue_symbol: q for q in await ours.fetch_quotes()}
        want = {q.venue_symbol: q for q in await unified.fetch_quotes()}
    finally:
        await ours.close()
        await unified.close()
    assert set(got) == set(want) and len(got) == len(clean.market.perpetual_symbols(venue))
    fields = ("volume_24h_usd", "bid_price", "bid_qty", "ask_price", "ask_qty")
    for symbol, q in got.items():
        assert q.has_top_of_book and q.volume_24h_usd is not None, symbol
        assert [getattr(q, f) for f in fields] == [getattr(want[symbol], f) for f in fields]


@pytest.mark.parametrize(
    "volume",
    [
        {"volume_24h_quote": "nan"},  # ccxt turns Gate's "nan" into 0: filtered, not unknown
        {"quote_volume": "nan", "volume_24h_quote": "12"},
        {"quote_volume": "", "volume_24h_quote": "12.5"},
        {"quote_volume": "7", "volume_24h_quote": "12"},
        {"volume_24h_quote": 1234.5},
        {"volume_24h_quote": ""},
        {},
    ],
)
def test_gate_raw_row_reads_the_volume_ccxt_reads(volume: dict[str, object]) -> None:
    row = {**load_fixture("gate", "api_v4_futures_usdt_tickers_BTC_USDT.json")[0]}
    for name in ("quote_volume", "volume_24h_quote"):
        row.pop(name, None)
    row.update(volume)
    quirks = spec_of("gate").quirks
    assert quirks is not None and quirks.raw_tickers is not None
    raw = raw_ticker_records(quirks.raw_tickers, [row], {"BTC_USDT": "BTC/USDT:USDT"})
    ccxt_usd = usd_volume(spec("gate"), ccxt_async.gate().parse_ticker(row))
    assert usd_volume(spec("gate"), raw["BTC/USDT:USDT"]) == ccxt_usd
    if volume == {"volume_24h_quote": "nan"}:
        assert ccxt_usd == 0.0


def test_a_garbled_gate_volume_costs_only_its_row() -> None:
    """ccxt's parse raises on it (the whole tickers call would be lost: no volume and no top
    of book for any row); the raw read leaves that row's volume unknown, as OKX's does."""
    rows = [
        {**load_fixture("gate", "api_v4_futures_usdt_tickers_BTC_USDT.json")[0], **extra}
        for extra in ({"volume_24h_quote": "abc"}, {"contract": "ETH_USDT"})
    ]
    with pytest.raises(ValueError):
        ccxt_async.gate().parse_ticker(rows[0])
    quirks = spec_of("gate").quirks
    assert quirks is not None and quirks.raw_tickers is not None
    symbols = {"BTC_USDT": "BTC/USDT:USDT", "ETH_USDT": "ETH/USDT:USDT"}
    raw = raw_ticker_records(quirks.raw_tickers, rows, symbols)
    assert usd_volume(spec("gate"), raw["BTC/USDT:USDT"]) is None
    assert usd_volume(spec("gate"), raw["ETH/USDT:USDT"]) == 4_911_337_664.0


async def test_okx_tickers_body_without_rows_costs_only_volume_and_top(clean: Emulator) -> None:
    clean.faults.set("okx", TICKER_PATHS["okx"], FaultSpec("empty_fields", fields=("data",)))
    venue = build_venue("okx", settings(clean), retries=0)
    try:
        quotes = await venue.fetch_quotes()
    finally:
        await venue.close()
    assert len(quotes) == len(clean.market.perpetual_symbols("okx"))
    assert not any(q.has_top_of_book or q.volume_24h_usd is not None for q in quotes)
