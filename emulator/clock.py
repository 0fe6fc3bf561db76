"""The emulator's clock: real time, accelerated, or stepped by a test.

Why one object: settlements must happen exactly at UTC interval boundaries whatever drives
time, so every reader (HTTP handlers, the market model, the private Bybit module) asks this
clock and nothing else. Observers are told after each ``step`` so a stepped test sees funding
settle synchronously, without waiting for a background task.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ClockError(RuntimeError):
    pass


class EmuClock:
    """``now_ms = start_ms + elapsed_real_ms * speed`` unless ``stepped`` (then only ``step``)."""

    def __init__(
        self,
        start_ms: int | None = None,
        speed: float = 1.0,
        stepped: bool = False,
        real_s: Callable[[], float] = time.monotonic,
    ):
        """``real_s``: the real elapsed-seconds source the speed multiplies (a test injects a
        controlled one to check the acceleration exactly)."""
        if speed <= 0:
            raise ClockError(f"clock speed must be > 0, got {speed}")
        self.start_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self.speed = float(speed)
        self.stepped = stepped
        self._real_s = real_s
        self._t_ms = self.start_ms
        self._t0 = real_s()
        self._observers: list[Callable[[int], None]] = []

    def now_ms(self) -> int:
        if self.stepped:
            return self._t_ms
        return self.start_ms + int((self._real_s() - self._t0) * 1000 * self.speed)

    def step(self, ms: int) -> int:
        """Move a stepped clock forward by ``ms`` and notify observers; returns the new time."""
        if not self.stepped:
            raise ClockError("clock.step() needs a stepped clock (Emulator(stepped=True))")
        if ms < 0:
            raise ClockError(f"clock.step(ms) cannot go backwards (ms={ms})")
        self._t_ms += int(ms)
        self._notify()
        return self._t_ms

    def add_observer(self, fn: Callable[[int], None]) -> None:
        self._observers.append(fn)

    def _notify(self) -> None:
        now = self.now_ms()
        for fn in list(self._observers):
            fn(now)

    def tick(self) -> None:
        """For real/accelerated clocks: let observers catch up (called by a background task)."""
        self._notify()
