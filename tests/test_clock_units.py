"""The shared clock and unit helpers."""

from __future__ import annotations

import asyncio

import pytest

from scanner.clock import Clock, FakeClock, SystemClock
from scanner.units import MS_PER_H, apr_from_rate, h_to_ms, ms_to_h


def test_units_agree_with_each_other() -> None:
    assert MS_PER_H == 3_600_000
    assert ms_to_h(h_to_ms(7.5)) == 7.5
    # 1 bp per 8 h is 10.95 % a year; per 1 h it is 87.6 %.
    assert apr_from_rate(0.0001, 8) == pytest.approx(0.1095)
    assert apr_from_rate(0.0001, 1) == pytest.approx(0.876)
    with pytest.raises(ValueError):
        apr_from_rate(0.0001, 0)


def test_fake_clock_moves_only_when_told_and_on_sleep() -> None:
    clock = FakeClock(start_ms=1_000)
    assert clock.now_ms() == 1_000
    assert clock.now_ms() == 1_000  # reading it does not move it
    clock.advance(1.5)
    assert (clock.now_ms(), clock.monotonic_ms()) == (2_500, 1_500.0)
    asyncio.run(clock.sleep(60))
    assert clock.now_ms() == 62_500
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set_ms(0)


def test_both_clocks_satisfy_the_protocol_and_the_real_one_moves() -> None:
    real = SystemClock()
    assert isinstance(real, Clock) and isinstance(FakeClock(), Clock)
    first = real.monotonic_ms()
    asyncio.run(real.sleep(0.01))
    assert real.monotonic_ms() - first >= 9.0
    assert real.now_ms() > 1_700_000_000_000
