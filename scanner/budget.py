"""One scan's time budget: ``collector.deadline_s`` split by phase, measured by the clock.

Why a budget object rather than a timeout per step: every step of a scan that waits on the
network (quotes and books, spot books, settled history, Bybit's fee rate) must end by one
deadline, and what a step may spend depends on what the steps before it used. The budget
hands each phase what is left of the scan's deadline up to that phase's share, records what
each phase used (on the injected clock), and reports it (``fundscan scan`` prints the report,
``scans.notes`` keeps it).

Phases, in order: ``collect`` (quotes, then books; at most ``COLLECT_SHARE`` of the deadline),
``store`` (instruments, quotes, books), ``enrich`` (spot books, history top-up and the fee
rate, concurrently, until the rank reserve is left) and ``rank`` (storing what enrichment
brought, the engine, storing the ranking: the rest). Storage and ranking are local and are
not interrupted; the reserve is what the network phases must leave them: a tenth of the
deadline, or up to ``RANK_RESERVE_MAX_S`` (at most ``RANK_RESERVE_MAX_SHARE``) when that is
more - ranking a whole market takes a second or two on a busy machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from scanner.clock import Clock
from scanner.units import MS_PER_S

COLLECT_SHARE = 0.65
RANK_RESERVE_SHARE = 0.1
RANK_RESERVE_MAX_S = 3.0
RANK_RESERVE_MAX_SHARE = 0.3
PHASES = ("collect", "store", "enrich", "rank")


@dataclass(frozen=True)
class PhaseTime:
    budget_s: float
    used_s: float

    @property
    def over_s(self) -> float:
        return max(0.0, self.used_s - self.budget_s)


@dataclass
class ScanBudget:
    clock: Clock
    deadline_s: float
    started_ms: float = field(init=False)
    phases: dict[str, PhaseTime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started_ms = self.clock.monotonic_ms()

    def elapsed_s(self) -> float:
        return (self.clock.monotonic_ms() - self.started_ms) / MS_PER_S

    @property
    def rank_reserve_s(self) -> float:
        d = self.deadline_s
        return max(d * RANK_RESERVE_SHARE, min(RANK_RESERVE_MAX_S, d * RANK_RESERVE_MAX_SHARE))

    def left_s(self, reserve_s: float = 0.0) -> float:
        """Seconds until the deadline minus ``reserve_s`` (never negative)."""
        return max(0.0, self.deadline_s - reserve_s - self.elapsed_s())

    def budget_of(self, phase: str) -> float:
        if phase == "collect":
            return min(self.deadline_s * COLLECT_SHARE, self.left_s(self.rank_reserve_s))
        if phase == "enrich":
            return self.left_s(self.rank_reserve_s)
        return self.left_s()

    @contextmanager
    def phase(self, name: str) -> Iterator[float]:
        """Time one phase; yields its budget in seconds."""
        budget_s = self.budget_of(name)
        t0 = self.clock.monotonic_ms()
        try:
            yield budget_s
        finally:
            used_s = (self.clock.monotonic_ms() - t0) / MS_PER_S
            self.phases[name] = PhaseTime(budget_s, used_s)

    def report(self) -> str:
        """``budget 30s: collect 2.10/19.50s, store 0.05/17.40s, ...`` (used/budget)."""
        parts = [
            f"{name} {p.used_s:.2f}/{p.budget_s:.2f}s"
            for name in PHASES
            if (p := self.phases.get(name)) is not None
        ]
        return f"budget {self.deadline_s:g}s: " + ", ".join(parts)
