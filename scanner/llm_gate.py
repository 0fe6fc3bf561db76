"""``llm.mode: gate`` for the executor: no opening order goes out unless the model approves.

Why here and not in the executor: the executor knows orders, not models. It asks an
``OrderGate`` (``strategies.execution``'s view: "may this pair open?") before it stores or
sends anything that adds exposure; this module answers by asking the model about the pair's
opportunity row and applying ``strategies.llm_verdict.gate_allows``. Closing and reducing
orders never ask: the gate can stop a trade, never a way out of one.

Which facts the model reads: the scan row the pair was picked from (auto-execution passes it),
or, for ``fundscan execute open`` by hand, the newest stored row of the same pair no older
than ``max(engine.stale_after_s, 2 x schedule.scan_every_s)``. No such row: no order (run
``fundscan scan`` first). A verdict the current scan already obtained for the row
(``remember``) is used as is, so ``fundscan run`` asks once per pair and scan, within
``llm.scan_budget_s``.

Every failure says no: no server, HTTP errors, timeouts, 429s past the retries, quota, replies
that are not a schema-valid object, budgets spent, abstain, reject, an approve below
``llm.gate_min_confidence``, and any error in this module's own plumbing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.executor import GateAnswer
from scanner.llm_advisor import gate_check
from scanner.settings import Settings
from scanner.units import MS_PER_S
from storage.db import Database
from storage.queries import Queries
from strategies.llm_verdict import LlmVerdict, abstain, gate_allows

log = logging.getLogger(__name__)


def describe(verdict: LlmVerdict) -> str:
    conf = "" if verdict.confidence is None else f" {verdict.confidence:.2f}"
    why = verdict.error or (verdict.reasons[0] if verdict.reasons else "")
    return f"{verdict.decision}{conf}" + (f": {why}" if why else "")


class LlmGate:
    """The executor's ``OrderGate`` when ``llm.mode`` is ``gate``."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.known: dict[str, LlmVerdict] = {}

    def remember(self, verdicts: Mapping[str, LlmVerdict]) -> None:
        """Verdicts this scan already obtained, by ``pair_key`` (replaces the previous scan's)."""
        self.known = dict(verdicts)

    def freshness_s(self) -> float:
        return max(self.settings.engine.stale_after_s, 2 * self.settings.schedule.scan_every_s)

    async def review(self, pair_key: str, opportunity: Mapping[str, Any] | None) -> GateAnswer:
        try:
            verdict = await self._verdict(pair_key, opportunity)
        except Exception as exc:  # fail closed: no verdict, no order
            log.error("llm gate failed: %s: %s", type(exc).__name__, exc)
            verdict = abstain(f"llm gate unavailable: {type(exc).__name__}: {exc}")
        allowed = gate_allows(verdict, self.settings.llm.gate_min_confidence)
        if not allowed and verdict.decision == "approve":
            need = self.settings.llm.gate_min_confidence
            return GateAnswer(False, f"{describe(verdict)} (below gate_min_confidence {need:g})")
        return GateAnswer(allowed, describe(verdict))

    async def _verdict(self, pair_key: str, row: Mapping[str, Any] | None) -> LlmVerdict:
        if pair_key in self.known:
            return self.known[pair_key]
        if row is None:
            since_ms = self.clock.now_ms() - round(self.freshness_s() * MS_PER_S)
            row = Queries(self.db).latest_opportunity(pair_key, since_ms)
        if row is None:
            return abstain(
                f"no scanned opportunity for {pair_key} in the last {self.freshness_s():g} s "
                "(run fundscan scan first)",
                source="gate",
            )
        _allowed, verdict = await gate_check(self.settings, self.db, row, clock=self.clock)
        return verdict
