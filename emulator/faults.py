"""Injected faults: what can go wrong between a client and a venue, on demand.

A fault is a :class:`FaultSpec` attached to ``(venue, endpoint glob)``. Whether a matching
request is hit is decided by a per-rule random stream seeded from ``(plan seed, venue, glob)``,
so a test with the same seed and the same request sequence sees the same faults.

Kinds (``kind``):
  latency       sleep ``latency_ms`` +- ``jitter_ms`` then answer normally
  rate_limit    HTTP 429; on Bybit HTTP 200 with retCode 10006 and X-Bapi-Limit* headers
                (``http_status=429`` forces the plain 429 on Bybit too)
  server_error  HTTP ``http_status`` (default 503)
  timeout       hang ``hang_s`` (default 30 s, longer than any sane client timeout)
  reset         close the connection without an answer
  malformed     HTTP 200 with a body that is not JSON
  truncated     HTTP 200 with the real body cut in half
  empty_fields  the real body with every key named in ``fields`` set to ""
  ban           HTTP 403 (IP ban)
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import zlib
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = (
    "latency",
    "rate_limit",
    "server_error",
    "timeout",
    "reset",
    "malformed",
    "truncated",
    "empty_fields",
    "ban",
)
BEFORE = {"rate_limit", "server_error", "timeout", "reset", "ban"}
AFTER = {"malformed", "truncated", "empty_fields"}


MAX_DELAY_S = 3600.0
"""Longest latency or hang a rule may ask for; a test never needs more than minutes."""


class FaultConfigError(ValueError):
    """A fault spec that cannot be applied; the message names the rule and the field."""


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    probability: float = 1.0
    count: int | None = None  # stop after this many hits (None: forever)
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    http_status: int | None = None
    hang_s: float = 30.0
    fields: tuple[str, ...] = ("fundingRate",)
    retry_after_s: float | None = None
    """``ban``/``rate_limit``: send ``Retry-After: <seconds>`` (Binance does with 418/429)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultConfigError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultConfigError(
                f"{self.kind}: probability must be in [0, 1], got {self.probability}"
            )
        if self.count is not None and self.count < 0:
            raise FaultConfigError(f"{self.kind}: count must be >= 0, got {self.count}")
        times = (self.latency_ms, self.jitter_ms, self.hang_s)
        if not all(math.isfinite(t) and 0 <= t <= MAX_DELAY_S * 1000 for t in times[:2]) or not (
            math.isfinite(self.hang_s) and 0 <= self.hang_s <= MAX_DELAY_S
        ):
            raise FaultConfigError(
                f"{self.kind}: latency_ms, jitter_ms and hang_s must be finite, >= 0 and at "
                f"most {MAX_DELAY_S:g} s"
            )
        if self.http_status is not None and not 100 <= self.http_status <= 599:
            raise FaultConfigError(
                f"{self.kind}: http_status {self.http_status} is not an HTTP status"
            )
        if self.retry_after_s is not None and not 0 <= self.retry_after_s < 10**9:
            raise FaultConfigError(f"{self.kind}: retry_after_s must be >= 0 seconds")
        if isinstance(self.fields, str) or not all(isinstance(f, str) for f in self.fields):
            raise FaultConfigError(f"{self.kind}: fields must be a list of key names")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "fault") -> FaultSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise FaultConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed {sorted(known)}"
            )
        if "kind" not in data:
            raise FaultConfigError(f"{where}: 'kind' is required")
        values = dict(data)
        if "fields" in values:
            if not isinstance(values["fields"], list | tuple):
                raise FaultConfigError(f"{where}: fields must be a list of key names")
            values["fields"] = tuple(values["fields"])
        try:
            return cls(**values)
        except FaultConfigError as exc:
            raise FaultConfigError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise FaultConfigError(f"{where}: {exc}") from None


@dataclass
class _Rule:
    venue: str
    endpoint: str
    spec: FaultSpec
    rng: random.Random
    hits: int = 0


@dataclass
class FaultPlan:
    """Rules in insertion order; the first matching rule of each phase applies."""

    seed: int = 0
    rules: list[_Rule] = field(default_factory=list)

    def set(self, venue: str, endpoint: str, spec: FaultSpec) -> None:
        """Add (or replace) the rule for ``venue`` (or ``*``) and an endpoint glob."""
        if not isinstance(spec, FaultSpec):
            raise FaultConfigError(
                f"{venue} {endpoint}: expected a FaultSpec, got {type(spec).__name__}"
            )
        self.rules = [
            r
            for r in self.rules
            if (r.venue, r.endpoint, r.spec.kind) != (venue, endpoint, spec.kind)
        ]
        key = zlib.crc32(f"{self.seed}|{venue}|{endpoint}|{spec.kind}".encode())
        self.rules.append(_Rule(venue, endpoint, spec, random.Random(key)))

    def check_venues(self, known: Collection[str]) -> None:
        """Every rule's venue glob must match a venue served: a rule for a misspelt venue would
        silently inject nothing."""
        for rule in self.rules:
            if not fnmatch.filter(known, rule.venue):
                raise FaultConfigError(
                    f"rule for venue {rule.venue!r} matches no venue; served: {sorted(known)}"
                )

    def clear(self) -> None:
        self.rules = []

    def pick(self, venue: str, path: str, phase: Collection[str]) -> FaultSpec | None:
        """The fault to apply to this request in this phase, consuming the rule's randomness."""
        for rule in self.rules:
            if rule.spec.kind not in phase or not self._matches(rule, venue, path):
                continue
            if rule.spec.count is not None and rule.hits >= rule.spec.count:
                continue
            if rule.rng.random() < rule.spec.probability:
                rule.hits += 1
                return rule.spec
        return None

    @staticmethod
    def _matches(rule: _Rule, venue: str, path: str) -> bool:
        return fnmatch.fnmatchcase(venue, rule.venue) and fnmatch.fnmatchcase(path, rule.endpoint)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"venue": r.venue, "endpoint": r.endpoint, "hits": r.hits, **asdict(r.spec)}
            for r in self.rules
        ]

    @classmethod
    def from_config(cls, data: Any, seed: int = 0) -> FaultPlan:
        """``{"seed": 1, "faults": [{"venue": "bybit", "endpoint": "/v5/market/*", "kind": ...}]}``
        or just the list."""
        if isinstance(data, dict):
            seed = int(data.get("seed", seed))
            unknown = set(data) - {"seed", "faults"}
            if unknown:
                raise FaultConfigError(f"faults: unknown top-level key(s) {sorted(unknown)}")
            data = data.get("faults", [])
        if not isinstance(data, list):
            raise FaultConfigError("faults: expected a list of fault rules")
        plan = cls(seed=seed)
        for n, item in enumerate(data):
            where = f"faults[{n}]"
            if not isinstance(item, dict):
                raise FaultConfigError(f"{where}: expected a mapping")
            rest = dict(item)
            venue = rest.pop("venue", "*")
            endpoint = rest.pop("endpoint", "*")
            if not isinstance(venue, str) or not isinstance(endpoint, str):
                raise FaultConfigError(f"{where}: venue and endpoint must be strings")
            plan.set(venue, endpoint, FaultSpec.from_dict(rest, where))
        return plan

    @classmethod
    def from_file(cls, path: str | Path, seed: int = 0) -> FaultPlan:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise FaultConfigError(f"{p}: cannot read fault file ({exc.strerror})") from None
        try:
            data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise FaultConfigError(
                f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}"
            ) from None
        try:
            return cls.from_config(data, seed)
        except FaultConfigError as exc:
            raise FaultConfigError(f"{p}: {exc}") from None


def blank_fields(node: Any, fields: tuple[str, ...]) -> Any:
    """Recursively set every value whose key is in ``fields`` to ``""``."""
    if isinstance(node, dict):
        return {k: ("" if k in fields else blank_fields(v, fields)) for k, v in node.items()}
    if isinstance(node, list):
        return [blank_fields(v, fields) for v in node]
    return node
