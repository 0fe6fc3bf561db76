"""Thin books on demand (``/_control/liquidity``): caps set, reported, lifted, refused with a
reason; the executor's partial-fill tests (tests/execution/test_leg_risk.py) trade against them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from emulator import Emulator
from emulator.liquidity import capped


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=3, stepped=True).run_in_thread() as e:
        yield e


def _post(emu: Emulator, body: object) -> httpx.Response:
    return httpx.post(f"{emu.url}/_control/liquidity", json=body, timeout=5)


def test_caps_are_set_reported_lifted_and_cleared(emu: Emulator) -> None:
    r = _post(emu, {"venue": "bybit", "symbol": "BTCUSDT", "max_qty": "0.004"})
    assert r.status_code == 200
    assert r.json()["liquidity"] == [{"venue": "bybit", "symbol": "BTCUSDT", "max_qty": "0.004"}]
    bids, asks = emu.liquidity.book("bybit", "BTCUSDT")
    assert sum(Decimal(str(q)) for _, q in bids) == Decimal("0.004")
    assert sum(Decimal(str(q)) for _, q in asks) == Decimal("0.004")
    model_bids, _ = emu.market.book("bybit", "BTCUSDT")
    assert sum(q for _, q in model_bids) > 0.004, "public books keep the model's depth"
    _post(emu, {"venue": "binanceusdm", "symbol": "ETHUSDT", "max_qty": 0})
    lifted = _post(emu, {"venue": "bybit", "symbol": "BTCUSDT", "max_qty": None}).json()
    assert lifted["liquidity"] == [{"venue": "binanceusdm", "symbol": "ETHUSDT", "max_qty": "0"}]
    assert _post(emu, {"clear": True}).json()["liquidity"] == []


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"venue": "bybit", "symbol": "NOPEUSDT", "max_qty": "1"}, "lists no symbol 'NOPEUSDT'"),
        ({"venue": "bybit", "symbol": "BTCUSDT", "max_qty": "-1"}, "finite quantity >= 0"),
        ({"venue": "bybit", "symbol": "BTCUSDT", "max_qty": "lots"}, "not a number"),
        ({"venue": "bybit", "symbol": "BTCUSDT"}, "max_qty is required"),
        ({"venue": "bybit", "symbol": "BTCUSDT", "qty": "1"}, "unknown key(s) ['qty']"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_caps_are_refused_with_a_reason(emu: Emulator, body: object, needle: str) -> None:
    r = _post(emu, body)
    assert r.status_code == 400 and needle in r.json()["error"], r.text


def test_capped_levels_add_up_to_the_cap_best_first() -> None:
    levels = [(100.0, 0.003), (101.0, 0.003), (102.0, 5.0)]
    assert capped(levels, Decimal("0.005")) == [(100.0, 0.003), (101.0, 0.002)]
    assert capped(levels, Decimal(0)) == []
