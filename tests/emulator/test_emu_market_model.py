"""The market model: settlement timing on a stepped clock, determinism, caps, correlation."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import numpy as np
import pytest
from emu_helpers import HOUR_MS, START_MS, running

from emulator import Emulator
from emulator.clock import ClockError, EmuClock
from emulator.model import MarketModel

# START_MS is 08:26:40 UTC: the next 1 h boundary is 09:00, 4 h 12:00, 8 h 16:00.
CASES = [
    ("ACEUSDT", 1, START_MS - START_MS % HOUR_MS + HOUR_MS),
    ("0GUSDT", 4, START_MS - START_MS % (4 * HOUR_MS) + 4 * HOUR_MS),
    ("BTCUSDT", 8, START_MS - START_MS % (8 * HOUR_MS) + 8 * HOUR_MS),
]


def _history(c: httpx.Client, symbol: str) -> list[dict[str, str]]:
    body = c.get(f"/bybit/v5/market/funding/history?category=linear&symbol={symbol}").json()
    return list(body["result"]["list"])


def _ticker(c: httpx.Client, symbol: str) -> dict[str, str]:
    body = c.get(f"/bybit/v5/market/tickers?category=linear&symbol={symbol}").json()
    return dict(body["result"]["list"][0])


@pytest.mark.parametrize("symbol,interval_h,boundary", CASES, ids=[c[0] for c in CASES])
def test_settlement_happens_exactly_at_the_boundary(
    symbol: str, interval_h: int, boundary: int
) -> None:
    settled: list[tuple[Any, ...]] = []
    with running(seed=21) as emu, httpx.Client(base_url=emu.url) as c:
        emu.market.add_settlement_listener(
            lambda *args: settled.append(args) if args[:2] == ("bybit", symbol) else None
        )
        assert emu.market.interval_h("bybit", symbol) == interval_h
        assert int(_ticker(c, symbol)["nextFundingTime"]) == boundary
        rows_before = _history(c, symbol)

        emu.clock.step(boundary - 1 - emu.clock.now_ms())  # one ms before the boundary
        assert _history(c, symbol) == rows_before
        assert settled == []
        live = _ticker(c, symbol)["fundingRate"]

        emu.clock.step(1)  # exactly on the boundary
        rows_after = _history(c, symbol)
        assert len(rows_after) == len(rows_before) + 1
        assert rows_after[1:] == rows_before
        assert rows_after[0] == {
            "symbol": symbol,
            "fundingRate": live,
            "fundingRateTimestamp": str(boundary),
        }
        assert int(_ticker(c, symbol)["nextFundingTime"]) == boundary + interval_h * HOUR_MS
        assert len(settled) == 1
        venue, sym, rate, mark, t = settled[0]
        assert (venue, sym, t) == ("bybit", symbol, boundary)
        assert rate == pytest.approx(float(live), abs=1e-8) and mark > 0


def test_history_row_count_follows_the_interval() -> None:
    with running(seed=2, history_days=2) as emu:
        for symbol, interval_h, _ in CASES:
            rows = emu.market.history("bybit", symbol)
            hist_start = emu.market.history_start_ms
            expected = (
                (START_MS // (interval_h * HOUR_MS))
                - (-(-hist_start // (interval_h * HOUR_MS)))
                + 1
            )
            assert len(rows) == expected
            assert all(t % (interval_h * HOUR_MS) == 0 for t, _ in rows)


def test_every_listener_sees_all_venues_settle_on_an_8h_boundary() -> None:
    seen: set[str] = set()
    with running(seed=4) as emu:
        emu.market.add_settlement_listener(lambda v, s, r, m, t: seen.add(v))
        emu.clock.step(8 * HOUR_MS)
    assert seen == {"bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid"}


BODIES = [
    "/bybit/v5/market/tickers?category=linear",
    "/bybit/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=50",
    "/binanceusdm/fapi/v1/premiumIndex",
    "/okx/api/v5/public/funding-rate?instId=ANY",
    "/gate/api/v4/futures/usdt/contracts",
]


def _bodies(seed: int, step_ms: int) -> list[bytes]:
    with running(seed=seed) as emu, httpx.Client(base_url=emu.url) as c:
        emu.clock.step(step_ms)
        return [c.get(p).content for p in BODIES]


def test_same_seed_same_market_other_seed_other_market() -> None:
    a = _bodies(seed=8, step_ms=5 * HOUR_MS + 1234)
    assert a == _bodies(seed=8, step_ms=5 * HOUR_MS + 1234)
    assert all(x != y for x, y in zip(a, _bodies(seed=9, step_ms=5 * HOUR_MS + 1234), strict=True))


def test_how_the_clock_is_driven_does_not_change_the_market() -> None:
    """Ten steps of 30 min or one of 5 h: the same rates and history."""
    with running(seed=12) as one, running(seed=12) as many:
        one.clock.step(5 * HOUR_MS)
        for _ in range(10):
            many.clock.step(HOUR_MS // 2)
        for venue, symbol in (("bybit", "BTCUSDT"), ("hyperliquid", "ETH"), ("gate", "BTC_USDT")):
            assert one.market.funding_rate(venue, symbol) == many.market.funding_rate(venue, symbol)
            assert one.market.history(venue, symbol) == many.market.history(venue, symbol)


def test_rates_stay_inside_each_symbols_cap() -> None:
    clock = EmuClock(start_ms=START_MS, stepped=True)
    market = MarketModel(clock, seed=1, history_days=10)
    caps = np.array([x.cap for x in market.listings])
    floors = np.array([x.floor for x in market.listings])
    for t in range(market.history_start_ms, START_MS, HOUR_MS):
        rates = market.funding_rates(t)
        assert np.all(rates <= caps + 1e-15) and np.all(rates >= floors - 1e-15)
    hl = market.listing("hyperliquid", "BTC")
    assert (hl.cap, hl.interval_h) == (0.04, 1)
    btc = market.listing("bybit", "BTCUSDT")
    assert btc.cap == float(btc.raw["upperFundingRate"]) and btc.floor == float(
        btc.raw["lowerFundingRate"]
    )


def _model(history_days: float = 30) -> MarketModel:
    return MarketModel(EmuClock(start_ms=START_MS, stepped=True), seed=3, history_days=history_days)


def test_same_asset_is_correlated_across_venues_more_than_across_assets() -> None:
    m = _model()
    lo = m.history_start_ms

    def series(venue: str, symbol: str) -> np.ndarray:
        return m.hourly_rates(venue, symbol, lo, START_MS)

    btc = [series("bybit", "BTCUSDT"), series("okx", "BTC-USDT-SWAP"), series("hyperliquid", "BTC")]
    eth = [series("bybit", "ETHUSDT"), series("okx", "ETH-USDT-SWAP"), series("hyperliquid", "ETH")]
    same = [np.corrcoef(a, b)[0, 1] for a, b in itertools.combinations(btc, 2)]
    same += [np.corrcoef(a, b)[0, 1] for a, b in itertools.combinations(eth, 2)]
    cross = [np.corrcoef(a, b)[0, 1] for a in btc for b in eth]
    # Issue 10: the real cross-venue correlation of majors' rates is 0.39-0.48 over a year and
    # 0.21-0.74 over 30-day windows (the old floor of 0.4 for every pair was the inflated
    # market's 0.72); another asset stays less correlated than the same asset elsewhere.
    assert 0.21 <= float(np.median(same)) <= 0.74
    assert max(abs(c) for c in cross) < float(np.median(same))


def test_pairs_have_small_persistent_offsets() -> None:
    """Issue 10: real per-pair offsets (|mean differential| over the period) are small but not
    zero: median 2.2 % APR over a year, at most 9.8 % (0.08-0.78 over 30-day windows). The old
    test asked for sign-persistent differentials on >= 5 assets, which only the inflated
    market (median offset 11.8 %, max 224 %) had."""
    m = _model()
    lo = m.history_start_ms
    by_asset: dict[str, list[tuple[str, str]]] = {}
    for x in m.listings:
        venue_ok = x.venue in ("bybit", "okx", "hyperliquid", "gate")
        if x.perpetual and venue_ok and x.asset in m.major_assets:
            by_asset.setdefault(x.asset, []).append((x.venue, x.symbol))
    offsets = []
    for listings in by_asset.values():
        for (va, sa), (vb, sb) in itertools.combinations(listings, 2):
            if va != vb:
                d = m.hourly_rates(va, sa, lo, START_MS) - m.hourly_rates(vb, sb, lo, START_MS)
                offsets.append(abs(float(np.mean(d))) * 8760)
    assert len(offsets) > 100
    assert 0.01 < float(np.median(offsets)) < 0.045
    assert max(offsets) < 0.78


def test_predicted_rates_drift_until_the_settlement() -> None:
    """Issue 10: the live rate is a forecast of the coming settlement, not the settled rate
    itself (so the confidence's prediction component can be below 1): hours before an 8 h
    settlement it differs for many listings, in the last minute it is the settled rate, and
    it is no more extreme than what settles."""
    m = _model(history_days=1)
    boundary = START_MS - START_MS % (8 * HOUR_MS) + 8 * HOUR_MS
    perp8 = np.array([x.perpetual and x.interval_h == 8 for x in m.listings])
    settled = m._rates_at_hour(boundary // HOUR_MS)[perp8]
    early = m.funding_rates(boundary - 4 * HOUR_MS)[perp8]
    late = m.funding_rates(boundary - 30_000)[perp8]
    assert np.mean(early != settled) > 0.3
    assert np.array_equal(late, settled)
    assert np.mean(np.abs(early - settled)) > 0
    q = np.quantile(np.abs(settled), 0.99)
    assert np.quantile(np.abs(early), 0.99) < 1.5 * q


def test_clock_rules() -> None:
    with pytest.raises(ClockError, match="stepped"):
        EmuClock(speed=10).step(1)
    with pytest.raises(ClockError, match="backwards"):
        EmuClock(stepped=True).step(-1)
    with pytest.raises(ClockError, match="speed"):
        EmuClock(speed=0)


async def test_async_context_manager_and_advance() -> None:
    async with Emulator(seed=1, stepped=True, start_ms=START_MS) as emu:
        assert emu.venue_url("okx") == f"{emu.url}/okx"
        assert await emu.advance(HOUR_MS) == START_MS + HOUR_MS
        async with httpx.AsyncClient() as c:
            r = await c.get(f"{emu.url}/bybit/v5/market/time")
        assert r.json()["result"]["timeSecond"] == str((START_MS + HOUR_MS) // 1000)
    with pytest.raises(ValueError, match="unknown venue"):
        emu.venue_url("kraken")


def test_accelerated_clock_runs_faster_than_real_time() -> None:
    """One real second is one emulated hour at speed 3600 (a frozen clock, or one that ignores
    the speed, fails); the real time is injected so the check is exact, not a timing race."""
    real_s = [100.0]
    clock = EmuClock(start_ms=START_MS, speed=3600.0, real_s=lambda: real_s[0])
    assert clock.now_ms() == START_MS
    real_s[0] += 1.0
    assert clock.now_ms() == START_MS + HOUR_MS
    real_s[0] += 0.25
    assert clock.now_ms() == START_MS + HOUR_MS + HOUR_MS // 4


def test_accelerated_clock_moves_on_real_time_by_default() -> None:
    import time

    clock = EmuClock(start_ms=START_MS, speed=3600.0)
    before = time.monotonic()
    time.sleep(0.01)
    elapsed_real_ms = (time.monotonic() - before) * 1000
    assert clock.now_ms() - START_MS >= 3600 * elapsed_real_ms * 0.99  # at least 36 s emulated


def test_accelerated_clock_settles_in_the_background() -> None:
    """No one steps the clock: the server's ticker lets the model settle on its own."""
    import threading

    boundary = START_MS - START_MS % HOUR_MS + HOUR_MS
    fired = threading.Event()
    hits: list[int] = []

    def listener(venue: str, symbol: str, rate: float, mark: float, t: int) -> None:
        if (venue, symbol) == ("hyperliquid", "BTC"):
            hits.append(t)
            fired.set()

    emu = Emulator(seed=1, speed=100.0, start_ms=boundary - 30_000)  # 0.3 s of real time
    emu.market.add_settlement_listener(listener)
    with emu.run_in_thread():
        assert fired.wait(timeout=30)
    assert hits[0] == boundary


def test_emulator_data_ships_inside_the_package() -> None:
    """``fundscan demo`` must run on a fresh clone without ../shared."""
    import tomllib
    from pathlib import Path

    import emulator
    from emulator.universe import DATA_DIR
    from emulator.venues import VENUES

    package = Path(emulator.__file__).resolve().parent
    assert DATA_DIR.is_relative_to(package)
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "emulator*" in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    globs = pyproject["tool"]["setuptools"]["package-data"]["emulator"]
    assert "data/*.json" in globs
    assert sorted(package.glob("data/*.json")) == sorted(DATA_DIR.glob("*.json"))
    assert len(list(DATA_DIR.glob("*.json"))) >= 6
    assert set(VENUES) == {"bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid"}
