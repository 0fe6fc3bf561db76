"""``WindowThrottler`` lets requests through when ccxt's rolling-window rule does: first come
first served, each once the costs stamped within the window plus its own come to at most the
budget. Checked against a plain model of ccxt's loop on generated request sequences, on a
clock the test moves (the throttler's waits advance it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.window_throttle import WindowThrottler

WINDOW_MS = 1000.0
RATE_LIMIT_MS = 100.0  # budget: 10 cost units a window


class Clock:
    """Seconds that move only when the test moves them; a sleeper wakes when the test
    moves the clock to its wake time (``run_until``)."""

    def __init__(self) -> None:
        self.now_s = 1_000.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return int(self.now_s * 1000)

    def monotonic_ms(self) -> float:
        return self.now_s * 1000

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now_s + seconds, woken))
        await woken

    async def run_until(self, until_s: float) -> None:
        """Wake every sleeper due by ``until_s`` at its own time, then stand at ``until_s``."""
        await _turns()
        for _ in range(1_000):  # a throttler that never lets the next one through is stuck
            if not self.sleepers:
                break
            self.sleepers.sort(key=lambda s: s[0])
            wake_s, woken = self.sleepers[0]
            if wake_s > until_s:
                break
            self.sleepers.pop(0)
            self.now_s = max(self.now_s, wake_s)
            woken.set_result(None)
            await _turns()
        else:
            raise AssertionError("the throttler keeps waiting without letting anything through")
        self.now_s = max(self.now_s, until_s)


async def _turns() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def reference(calls: list[tuple[float, float]], budget: float) -> list[float]:
    """When ccxt's ``rolling_window_loop`` lets each request through (ms): calls are
    ``(time_ms, cost)`` in order; a request goes at the first moment at or after its call
    and the previous request's turn when the window holds room for it, the window being
    the stamps newer than ``now - WINDOW_MS``."""
    stamps: list[tuple[float, float]] = []
    out: list[float] = []
    now = 0.0
    for called, cost in calls:
        now = max(now, called)
        for _ in range(len(stamps) + 1):  # each pass drops a stamp, or the request goes
            stamps = [(t, c) for t, c in stamps if t > now - WINDOW_MS]
            total: float = 0
            for _, c in stamps:
                total += c
            if total + cost <= budget:
                stamps.append((now, cost))
                out.append(now)
                break
            now = stamps[0][0] + WINDOW_MS
        else:
            raise AssertionError(f"a request of cost {cost} never fits a budget of {budget}")
    return out


def throttler(clock: Clock) -> WindowThrottler:
    config = {
        "algorithm": "rollingWindow",
        "rateLimit": RATE_LIMIT_MS,
        "windowSize": WINDOW_MS,
        "refillRate": 1 / RATE_LIMIT_MS,
    }
    return WindowThrottler(config, clock=clock)


COSTS = st.sampled_from([0.5, 1.0, 1.0, 2.0, 10 / 3, 5.0, 10.0])


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(st.tuples(st.sampled_from([0.0, 0.0, 1.0, 50.0, 400.0]), COSTS), max_size=30))
def test_requests_go_when_ccxts_rule_lets_them(calls: list[tuple[float, float]]) -> None:
    async def run() -> list[float]:
        clock = Clock()
        start_s = clock.now_s
        th = throttler(clock)
        went: dict[int, float] = {}
        waits = []
        at_s = start_s
        for n, (gap_ms, cost) in enumerate(calls):
            at_s += gap_ms / 1000
            await clock.run_until(at_s)

            async def one(waiting: Any, n: int = n) -> None:
                await waiting
                went[n] = (clock.now_s - start_s) * 1000

            waits.append(asyncio.ensure_future(one(th(cost))))  # called now, at ``at_s``
        for _ in range(10 * len(calls)):  # each wait ends with one let through (else: stuck)
            if len(went) == len(calls):
                break
            await clock.run_until(clock.now_s + 3600)
        await asyncio.gather(*waits)
        return [went[n] for n in range(len(calls))]

    got = asyncio.run(run())
    times, at = [], 0.0
    for gap_ms, cost in calls:
        at += gap_ms
        times.append((at, cost))
    want = reference(times, WINDOW_MS / RATE_LIMIT_MS)
    assert got == pytest.approx(want, abs=1e-6)
    assert got == sorted(got)  # first come, first served


def test_a_request_that_fits_goes_without_waiting_a_turn() -> None:
    async def run() -> bool:
        th = throttler(Clock())
        waiting = th(1.0)
        done = asyncio.ensure_future(_awaited(waiting))
        await asyncio.sleep(0)
        return done.done()

    assert asyncio.run(run())


async def _awaited(awaitable: Any) -> None:
    await awaitable


@pytest.mark.parametrize("venue", ["binanceusdm", "okx", "bitget", "gate", "hyperliquid"])
def test_every_budgeted_ccxt_venue_spends_it_through_the_window(venue: str) -> None:
    exchange = make_exchange(venue)
    assert isinstance(exchange.throttler, WindowThrottler)
    assert exchange.throttler.config["maxWeight"] == pytest.approx(
        exchange.throttler.config["windowSize"] / exchange.throttler.config["rateLimit"]
    )
