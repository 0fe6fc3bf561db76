"""The LLM second opinion, minus the network: what the model is told, what it may answer, and
what its answer is worth.

Why pure: the rule that keeps a silent, slow or confused model from pushing a trade through
(fail closed: anything but a schema-valid reply is an abstain, and only a valid ``approve``
passes a gate) must be provable without a server. ``scanner.llm`` does the HTTP; this module
decides.

- ``opportunity_facts``: the whitelisted facts of one ranked row (legs, rates with their
  intervals, APRs, costs, break-even, confidence components, history statistics, basis and
  depth). Built from named columns only, so no setting, secret or database URL can reach a
  prompt.
- ``VERDICT_SCHEMA`` / ``Verdict``: the one reply shape, as JSON schema for the server and as a
  pydantic model that validates what came back.
- ``parse_reply``: reply text -> ``LlmVerdict``, tolerant of prose or code fences around the
  JSON, strict about the values.
- ``cache_key`` (per ``scanner.domain.pair_key`` and time bucket), ``budget_refusal`` (per run
  and per UTC day, from counts), ``gate_allows``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scanner.domain import pair_key
from scanner.units import HOURS_PER_YEAR, MS_PER_DAY, MS_PER_MIN

VERDICT_COLUMNS: tuple[str, ...] = ("llm_decision", "llm_confidence", "llm_reasons")
"""What ``scan`` adds to each shown row (JSON, CSV, table)."""
Decision = Literal["approve", "reject", "abstain"]
DECISIONS: tuple[str, ...] = ("approve", "reject", "abstain")
MAX_ITEMS = 5
MAX_ITEM_CHARS = 300

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": list(DECISIONS)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {
            "type": "array",
            "items": {"type": "string", "maxLength": MAX_ITEM_CHARS},
            "minItems": 1,
            "maxItems": MAX_ITEMS,
        },
        "risks": {
            "type": "array",
            "items": {"type": "string", "maxLength": MAX_ITEM_CHARS},
            "maxItems": MAX_ITEMS,
        },
    },
    "required": ["decision", "confidence", "reasons", "risks"],
    "additionalProperties": False,
}
"""Sent to the server (``json_schema``, or ``json_object`` + ``schema`` for llama.cpp) and
quoted in the prompt; ``Verdict`` enforces the same limits on what comes back."""

Item = Annotated[str, Field(min_length=1, max_length=MAX_ITEM_CHARS)]


class Verdict(BaseModel):
    """A model's reply, validated. Extra keys are ignored; wrong values are not."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    decision: Decision
    confidence: Annotated[float, Field(ge=0, le=1, strict=True)]
    reasons: Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]
    risks: Annotated[list[Item], Field(max_length=MAX_ITEMS)]


@dataclass(frozen=True, slots=True)
class LlmVerdict:
    """What fundscan makes of one question to the model.

    ``valid`` is True only for a schema-valid model reply (fresh or cached); every failure is
    an abstain with ``valid`` False and the cause in ``error``. ``source`` says where it came
    from: ``model``, ``cache``, or why no model answered (``error``, ``budget``, ``deadline``).
    """

    decision: Decision
    confidence: float | None
    reasons: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    valid: bool = False
    error: str | None = None
    source: str = "model"

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "risks": list(self.risks),
        }

    def cached(self) -> LlmVerdict:
        return LlmVerdict(
            self.decision, self.confidence, self.reasons, self.risks, self.valid, None, "cache"
        )


def abstain(error: str, source: str = "error") -> LlmVerdict:
    """The fail-closed answer: no decision, the cause recorded as its one reason."""
    return LlmVerdict("abstain", None, (error,), (), valid=False, error=error, source=source)


def gate_allows(verdict: LlmVerdict | None, min_confidence: float = 0.0) -> bool:
    """Gate mode: only a schema-valid ``approve`` (with enough confidence) lets an order out.

    None (no verdict at all), any abstain, any reject and any failure say no.
    """
    return (
        verdict is not None
        and verdict.valid
        and verdict.decision == "approve"
        and verdict.confidence is not None
        and verdict.confidence >= min_confidence
    )


# -- reading a reply --------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def extract_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (inside a code fence or surrounded by prose).

    Returns None when there is none. Tolerant on purpose: a server without structured output
    may wrap the object in words; the values are still validated strictly afterwards.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in (i for i, ch in enumerate(candidate) if ch == "{"):
            try:
                obj, _end = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "reply"
    return f"{where}: {err['msg']}"


def parse_reply(content: str | None, finish_reason: str | None = "stop") -> LlmVerdict:
    """Reply text -> verdict; anything but a complete, schema-valid object is an abstain."""
    if finish_reason == "length":
        return abstain("reply cut off by max_tokens (finish_reason=length)")
    if content is None or not content.strip():
        return abstain("empty reply")
    try:
        obj = json.loads(content)
    except json.JSONDecodeError:
        obj = extract_json_object(content)
    if not isinstance(obj, dict):
        return abstain(f"no JSON object in reply: {_short(content)!r}")
    try:
        v = Verdict.model_validate(obj)
    except ValidationError as exc:
        return abstain(f"invalid verdict: {_first_problem(exc)}")
    return LlmVerdict(v.decision, float(v.confidence), tuple(v.reasons), tuple(v.risks), True)


# -- what the model is told -------------------------------------------------------------------


def _num(value: Any, digits: int = 6) -> float | None:
    """A JSON-safe float rounded for reading (None for missing, NaN or infinite)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return round(x, digits) if math.isfinite(x) else None


def _flag(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def row_pair_key(row: Mapping[str, Any]) -> str:
    """The row's ``pair_key`` (the engine frame carries it; built the same way otherwise)."""
    key = row.get("pair_key")
    if isinstance(key, str) and key:
        return key
    long_canonical = row.get("long_canonical")
    return pair_key(
        str(row["symbol"]), str(row["long_venue"]), str(row["short_venue"]),
        str(row.get("pair_type") or "cross"),
        long_canonical=str(long_canonical) if long_canonical else None,
    )  # fmt: skip


def _leg(row: Mapping[str, Any], side: str) -> dict[str, Any]:
    rate = _num(row.get(f"{side}_rate"), 8)
    interval_h = _num(row.get(f"{side}_interval_h"), 4)
    spot = side == "long" and row.get("pair_type") == "carry"
    apr = None if rate is None or not interval_h else rate / interval_h * HOURS_PER_YEAR
    return {
        "venue": row.get(f"{side}_venue"),
        "market": "spot" if spot else "perpetual",
        "symbol": row.get(f"{side}_symbol"),
        "rate_per_interval": rate,
        "interval_h": interval_h,
        "rate_apr": _num(apr, 4),
        "next_funding_ms": _num(row.get(f"{side}_next_funding_ms"), 0),
    }


def opportunity_facts(
    row: Mapping[str, Any], history: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The facts one question carries (named columns only: never a setting or a secret)."""
    comps = row.get("confidence_components") or {}
    return {
        "pair": row_pair_key(row),
        "symbol": row.get("symbol"),
        "pair_type": row.get("pair_type"),
        "long_leg": _leg(row, "long"),
        "short_leg": _leg(row, "short"),
        "gross_apr": _num(row.get("gross_apr"), 4),
        "net_apr": _num(row.get("net_apr"), 4),
        "costs_frac_of_notional": {
            "fees": _num(row.get("fee_frac")),
            "slippage": _num(row.get("slippage_frac")),
            "round_trip": _num(row.get("cost_frac")),
        },
        "breakeven_h": _num(row.get("breakeven_h"), 2),
        "confidence": _num(row.get("confidence"), 3),
        "confidence_components": {str(k): _num(v, 3) for k, v in dict(comps).items()},
        "entry_basis_frac": _num(row.get("basis_frac")),
        "price_gap_frac": _num(row.get("price_gap_frac")),
        "depth": {
            "notional_usd": _num(row.get("notional_usd"), 2),
            "max_notional_usd": _num(row.get("max_notional_usd"), 2),
            "executable": _flag(row.get("executable")),
        },
        "flags": {
            "interval_mismatch": _flag(row.get("interval_mismatch")),
            "settle_mismatch": _flag(row.get("settle_mismatch")),
            "price_mismatch": _flag(row.get("price_mismatch")),
        },
        "history": dict(history) if history else {"observations": 0},
    }


def _series_stats(frame: pd.DataFrame, venue: str, canonical: str) -> dict[str, Any]:
    s = frame[(frame["venue"] == venue) & (frame["canonical"] == canonical)]
    apr = s["rate_per_h"].astype(float) * HOURS_PER_YEAR
    if apr.empty:
        return {"observations": 0}
    return {
        "observations": int(apr.size),
        "settled": int(s["is_settled"].astype(bool).sum()),
        "mean_apr": _num(apr.mean(), 4),
        "std_apr": _num(apr.std(ddof=1), 4) if apr.size > 1 else None,
        "min_apr": _num(apr.min(), 4),
        "max_apr": _num(apr.max(), 4),
        "span_h": _num((s["ts_ms"].max() - s["ts_ms"].min()) / (MS_PER_DAY / 24), 1),
    }


def history_stats(row: Mapping[str, Any], history: pd.DataFrame | None) -> dict[str, Any]:
    """Recent funding of each perpetual leg over the confidence lookback, as APR statistics.

    ``history`` has ``strategies.confidence.HISTORY_COLUMNS``. A carry pair's long leg is spot
    (no funding), so only its short leg has a series.
    """
    if history is None or history.empty:
        return {"observations": 0}
    short = _series_stats(history, str(row["short_venue"]), str(row.get("short_canonical")))
    out: dict[str, Any] = {"short_leg": short}
    if row.get("pair_type") != "carry":
        long = _series_stats(history, str(row["long_venue"]), str(row.get("long_canonical")))
        out["long_leg"] = long
        if long.get("mean_apr") is not None and short.get("mean_apr") is not None:
            out["mean_diff_apr"] = _num(short["mean_apr"] - long["mean_apr"], 4)
    else:
        out["mean_diff_apr"] = short.get("mean_apr")
    out["observations"] = sum(int(v.get("observations", 0)) for k, v in out.items()
                              if k.endswith("_leg"))  # fmt: skip
    return out


SYSTEM_PROMPT = """You review funding-rate arbitrage opportunities between crypto perpetual \
futures venues for traps: rates that will not persist, costs that eat the spread, thin books, \
legs that may not be the same asset, stale or missing history. The strategy is long one leg, \
short the other, collecting the funding differential. Rates are fractions per funding interval \
(interval_h hours); *_apr values are fractions per year (0.12 = 12 %); costs are fractions of \
the notional. Answer "approve" only if the opportunity looks sound, "reject" if it looks like \
a trap, "abstain" if the facts are not enough. Reply with ONLY a JSON object, no other text, \
matching this JSON schema:
"""


def build_messages(facts: Mapping[str, Any]) -> list[dict[str, str]]:
    """Chat messages for one opportunity; the schema is in the prompt for every server."""
    system = SYSTEM_PROMPT + json.dumps(VERDICT_SCHEMA, separators=(",", ":"))
    user = "Opportunity facts:\n" + json.dumps(facts, separators=(",", ":"), sort_keys=False)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def estimate_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Upper-bound token estimate of a prompt (3 characters a token; real tokenisers do ~4)."""
    return sum(len(m.get("content", "")) for m in messages) // 3 + 8 * len(messages)


# -- caching and budgets ----------------------------------------------------------------------


def cache_key(key: str, now_ms: int, bucket_min: float) -> str:
    """One verdict per pair (``scanner.domain.pair_key``) per time bucket of ``bucket_min``."""
    bucket_ms = max(1, round(bucket_min * MS_PER_MIN))
    return f"{key}@{now_ms // bucket_ms * bucket_ms}"


def utc_day_start_ms(now_ms: int) -> int:
    return now_ms // MS_PER_DAY * MS_PER_DAY


@dataclass(frozen=True, slots=True)
class Usage:
    calls: int = 0
    tokens: int = 0

    def plus(self, calls: int, tokens: int) -> Usage:
        return Usage(self.calls + calls, self.tokens + tokens)


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    calls_per_run: int
    tokens_per_run: int
    calls_per_day: int
    tokens_per_day: int


def budget_refusal(
    limits: BudgetLimits, run: Usage, day: Usage, next_call_tokens: int
) -> str | None:
    """Why the next call may not be made (None: it may).

    ``next_call_tokens`` is an upper bound of what the call can cost (prompt estimate plus
    ``max_tokens``), so a budget is never overshot by the call that would cross it.
    """
    if run.calls >= limits.calls_per_run:
        return f"per-run call budget exhausted ({limits.calls_per_run} calls)"
    if day.calls >= limits.calls_per_day:
        return f"per-day call budget exhausted ({limits.calls_per_day} calls)"
    if run.tokens + next_call_tokens > limits.tokens_per_run:
        return f"per-run token budget exhausted ({run.tokens}/{limits.tokens_per_run} tokens used)"
    if day.tokens + next_call_tokens > limits.tokens_per_day:
        return f"per-day token budget exhausted ({day.tokens}/{limits.tokens_per_day} tokens used)"
    return None
