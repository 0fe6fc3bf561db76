"""Every fault kind, observed by a real client (ccxt or httpx), plus plan validation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from emu_helpers import running

from emulator import Emulator, FaultConfigError, FaultPlan, FaultSpec
from scanner.venues.ccxt_factory import make_exchange


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running(seed=5) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> Iterator[None]:
    emu.faults.clear()
    yield
    emu.faults.clear()


async def _ccxt_call(
    emu: Emulator, venue: str, spec: FaultSpec, endpoint: str, timeout_ms: int = 30_000
) -> Any:
    """load_markets cleanly, then arm the fault and fetch funding rates.

    The client waits ``timeout_ms`` for the faulted call; the default is generous so that a
    loaded CI machine cannot turn a slow (760-symbol) answer into a spurious timeout.
    """
    ex = make_exchange(venue, emu.venue_url(venue), {"timeout": 30_000, "enableRateLimit": False})
    try:
        await ex.load_markets()
        ex.timeout = timeout_ms
        emu.faults.set(venue, endpoint, spec)
        return await ex.fetch_funding_rates()
    finally:
        await ex.close()


async def test_bybit_rate_limit_is_retcode_10006_with_limit_headers(emu: Emulator) -> None:
    with pytest.raises(ccxt_async.RateLimitExceeded):
        await _ccxt_call(emu, "bybit", FaultSpec("rate_limit"), "/v5/market/tickers")
    r = httpx.get(f"{emu.url}/bybit/v5/market/tickers?category=linear")
    assert r.status_code == 200
    assert r.json()["retCode"] == 10006
    assert r.headers["X-Bapi-Limit-Status"] == "0"
    assert int(r.headers["X-Bapi-Limit"]) > 0
    assert int(r.headers["X-Bapi-Limit-Reset-Timestamp"]) > emu.clock.now_ms()


async def test_http_429_rate_limit(emu: Emulator) -> None:
    with pytest.raises(ccxt_async.DDoSProtection):
        await _ccxt_call(emu, "binanceusdm", FaultSpec("rate_limit"), "/fapi/v1/premiumIndex")
    emu.faults.set("bybit", "/v5/market/time", FaultSpec("rate_limit", http_status=429))
    assert httpx.get(f"{emu.url}/bybit/v5/market/time").status_code == 429


async def test_server_error(emu: Emulator) -> None:
    with pytest.raises(ccxt_async.ExchangeNotAvailable):
        await _ccxt_call(emu, "okx", FaultSpec("server_error"), "/api/v5/public/funding-rate")
    emu.faults.set("okx", "/api/v5/public/time", FaultSpec("server_error", http_status=502))
    assert httpx.get(f"{emu.url}/okx/api/v5/public/time").status_code == 502


async def test_timeout_hangs_longer_than_the_client_waits(emu: Emulator) -> None:
    spec = FaultSpec("timeout", hang_s=2)
    with pytest.raises(ccxt_async.RequestTimeout):
        await _ccxt_call(emu, "gate", spec, "/api/v4/futures/usdt/contracts", timeout_ms=400)


async def test_latency_delays_the_answer(emu: Emulator) -> None:
    emu.faults.set("okx", "/api/v5/public/time", FaultSpec("latency", latency_ms=1500))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{emu.url}/okx/api/v5/public/time", timeout=0.3)
    emu.faults.clear()
    assert httpx.get(f"{emu.url}/okx/api/v5/public/time", timeout=5).status_code == 200


def test_fixed_latency_delays_every_venue_request() -> None:
    """``Emulator(latency_ms=...)``: the benchmark's round trip, on every venue's requests."""
    with running(seed=5, latency_ms=1500) as slow:
        for path in ("/okx/api/v5/public/time", "/bybit/v5/market/time"):
            with pytest.raises(httpx.ReadTimeout):
                httpx.get(f"{slow.url}{path}", timeout=0.3)
        assert httpx.get(f"{slow.url}/_control/state", timeout=0.3).status_code == 200


def test_fixed_latency_answers_what_the_venue_knew_when_the_request_arrived() -> None:
    """The answer is computed at arrival and held for ``latency_ms`` (a server works while
    the packets travel); computing it after the wait showed the market of 50 ms later and
    stacked the emulator's own serial CPU on top of every round trip. The clock is stepped
    an hour forward while the request is in flight: the answer still carries the old time."""
    with running(seed=5, latency_ms=600) as slow, ThreadPoolExecutor(1) as pool:
        sent_ms = slow.clock.now_ms()
        reply = pool.submit(httpx.get, f"{slow.url}/bybit/v5/market/time", timeout=10)
        for _ in range(400):  # the request reaches the emulator within ~2 s, never unbounded
            if any(e["path"] == "/v5/market/time" for e in slow.request_log):
                break
            time.sleep(0.005)
        else:
            pytest.fail("the request never reached the emulator")
        slow.clock.step(3_600_000)
        answered = reply.result(timeout=10)
    assert answered.status_code == 200
    assert int(answered.json()["result"]["timeSecond"]) == sent_ms // 1000
    assert slow.clock.now_ms() == sent_ms + 3_600_000


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_fixed_latency_must_be_finite_and_not_negative(bad: float) -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        Emulator(latency_ms=bad)


async def test_connection_reset(emu: Emulator) -> None:
    with pytest.raises(ccxt_async.NetworkError):
        await _ccxt_call(emu, "hyperliquid", FaultSpec("reset"), "/info")
    emu.faults.set("hyperliquid", "/info", FaultSpec("reset"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(f"{emu.url}/hyperliquid/info", json={"type": "meta"})


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_broken_json(emu: Emulator, kind: str) -> None:
    url = f"{emu.url}/okx/api/v5/public/funding-rate?instId=BTC-USDT-SWAP"
    whole = httpx.get(url).text
    emu.faults.set("okx", "/api/v5/public/funding-rate", FaultSpec(kind))
    r = httpx.get(url)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    if kind == "truncated":
        assert whole.startswith(r.text) and len(r.text) < len(whole)


async def test_empty_fields_reach_ccxt_as_missing_rates(emu: Emulator) -> None:
    spec = FaultSpec("empty_fields", fields=("fundingRate",))
    rates = await _ccxt_call(emu, "bybit", spec, "/v5/market/tickers")
    assert rates and all(fr["fundingRate"] is None for fr in rates.values())
    body = httpx.get(f"{emu.url}/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT").json()
    assert body["result"]["list"][0]["fundingRate"] == ""
    assert body["result"]["list"][0]["markPrice"] != ""


async def test_ip_ban_is_http_403(emu: Emulator) -> None:
    with pytest.raises(ccxt_async.ExchangeNotAvailable) as info:
        await _ccxt_call(emu, "binanceusdm", FaultSpec("ban"), "/fapi/v1/premiumIndex")
    assert "403" in str(info.value)
    assert httpx.get(f"{emu.url}/binanceusdm/fapi/v1/premiumIndex").status_code == 403


def test_count_limits_how_often_a_fault_fires(emu: Emulator) -> None:
    emu.faults.set("gate", "/api/v4/futures/*", FaultSpec("server_error", count=2))
    url = f"{emu.url}/gate/api/v4/futures/usdt/contracts/BTC_USDT"
    assert [httpx.get(url).status_code for _ in range(4)] == [503, 503, 200, 200]


def test_globs_select_venue_and_endpoint(emu: Emulator) -> None:
    emu.faults.set("*", "/api/v5/public/ti*", FaultSpec("ban"))
    assert httpx.get(f"{emu.url}/okx/api/v5/public/time").status_code == 403
    assert httpx.get(f"{emu.url}/okx/api/v5/public/instruments?instType=SWAP").status_code == 200
    assert httpx.get(f"{emu.url}/bybit/v5/market/time").status_code == 200


def _statuses(seed: int) -> list[int]:
    plan = {
        "seed": seed,
        "faults": [{"venue": "okx", "endpoint": "*", "kind": "server_error", "probability": 0.5}],
    }
    with running(seed=1, faults=plan) as e, httpx.Client(base_url=e.url) as c:
        return [c.get("/okx/api/v5/public/time").status_code for _ in range(24)]


def test_faults_are_deterministic_under_a_seed() -> None:
    first = _statuses(seed=42)
    assert first == _statuses(seed=42)
    assert 0 < first.count(503) < 24
    assert any(_statuses(seed=s) != first for s in (43, 44))


def test_control_endpoint_sets_reports_and_clears(emu: Emulator) -> None:
    rule = {"venue": "gate", "endpoint": "/api/v4/futures/usdt/tickers", "kind": "ban"}
    r = httpx.post(f"{emu.url}/_control/faults", json={"faults": [rule]})
    assert r.status_code == 200
    state = httpx.get(f"{emu.url}/_control/state").json()
    assert state["faults"][0]["kind"] == "ban"
    assert state["venues"]["gate"] == 302
    assert httpx.get(f"{emu.url}/gate/api/v4/futures/usdt/tickers").status_code == 403
    httpx.post(f"{emu.url}/_control/faults", json={"clear": True})
    assert httpx.get(f"{emu.url}/gate/api/v4/futures/usdt/tickers").status_code == 200


def test_control_endpoint_rejects_bad_specs_with_a_reason(emu: Emulator) -> None:
    r = httpx.post(f"{emu.url}/_control/faults", json=[{"venue": "okx", "kind": "explode"}])
    assert r.status_code == 400
    assert "faults[0]" in r.json()["error"] and "explode" in r.json()["error"]
    assert httpx.post(f"{emu.url}/_control/faults", content=b"{nope").status_code == 400


def test_control_advance_moves_a_stepped_clock(emu: Emulator) -> None:
    before = emu.clock.now_ms()
    r = httpx.post(f"{emu.url}/_control/advance?ms=1000")
    assert r.json()["now_ms"] == before + 1000 == emu.clock.now_ms()
    assert httpx.post(f"{emu.url}/_control/advance?ms=-5").status_code == 409
    assert httpx.post(f"{emu.url}/_control/advance?ms=abc").status_code == 400


@pytest.mark.parametrize(
    "rule,needle",
    [
        ({"kind": "nope"}, "unknown fault kind 'nope'"),
        ({"kind": "ban", "probability": 2}, "probability must be in [0, 1]"),
        ({"kind": "ban", "colour": "red"}, "unknown key(s) ['colour']"),
        ({"probability": 1}, "'kind' is required"),
        ({"kind": "server_error", "http_status": 42}, "is not an HTTP status"),
        ({"kind": "latency", "latency_ms": -1}, "must be finite, >= 0"),
        ({"kind": "empty_fields", "fields": "fundingRate"}, "fields must be a list"),
    ],
)
def test_plan_validation_names_the_rule_and_the_problem(rule: dict[str, Any], needle: str) -> None:
    with pytest.raises(FaultConfigError) as info:
        FaultPlan.from_config({"faults": [{"venue": "bybit", **rule}]})
    assert needle in str(info.value) and "faults[0]" in str(info.value)


def test_plan_from_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        "seed: 9\nfaults:\n  - venue: bybit\n    endpoint: /v5/market/*\n    kind: latency\n"
        "    latency_ms: 50\n    jitter_ms: 10\n"
    )
    plan = FaultPlan.from_file(path)
    assert plan.seed == 9
    assert plan.describe()[0]["latency_ms"] == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: [ {kind: ban, probability: -1} ]\n")
    with pytest.raises(FaultConfigError, match="bad.yaml: faults\\[0\\]"):
        FaultPlan.from_file(bad)
    with pytest.raises(FaultConfigError, match="cannot read"):
        FaultPlan.from_file(tmp_path / "missing.yaml")


def test_emulator_stops_while_a_timeout_fault_still_holds_a_request() -> None:
    with Emulator(seed=2).run_in_thread() as emu:
        emu.faults.set("okx", "*", FaultSpec("timeout", hang_s=600))
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{emu.venue_url('okx')}/api/v5/public/time", timeout=0.5)
    # leaving the block stopped the server although a handler was still sleeping
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.url}/_control/state", timeout=2)
