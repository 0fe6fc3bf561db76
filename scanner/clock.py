"""One clock for the whole program: real in production, fake (moved by the test) in tests.

Why: cooldowns, IP bans, unwind deadlines, schedules and backtests all depend on "now". Reading
the wall clock directly in each of them made it impossible to prove that a ban lifts or that a
cooldown expires. Everything that needs the time takes a ``Clock`` in its constructor.

``now_ms()`` is UTC epoch milliseconds (wall time, for timestamps that are stored or compared
with venue times); ``monotonic_ms()`` never goes backwards (for durations and deadlines);
``sleep()`` is the async wait that a fake clock turns into an instant jump.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

from scanner.units import MS_PER_S


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:
        """UTC epoch milliseconds."""
        ...

    def monotonic_ms(self) -> float:
        """Milliseconds from an arbitrary origin that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock advances instead of waiting)."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> float:
        return time.monotonic_ns() / 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that moves only when told to (``advance``/``set``) or when someone sleeps on it.

    ``sleep`` advances the clock by the requested time and yields once to the event loop, so
    code that waits out a ban or a backoff runs instantly in tests while still seeing time pass.
    """

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = int(start_ms)
        self._mono_ms = 0.0

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic_ms(self) -> float:
        return self._mono_ms

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now_ms += round(seconds * MS_PER_S)
        self._mono_ms += seconds * MS_PER_S

    def set_ms(self, now_ms: int) -> None:
        if now_ms < self._now_ms:
            raise ValueError("a clock does not go backwards")
        self._mono_ms += now_ms - self._now_ms
        self._now_ms = int(now_ms)

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FakeClock(now_ms={self._now_ms})"


SYSTEM_CLOCK: Clock = SystemClock()
