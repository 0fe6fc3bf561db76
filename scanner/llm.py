"""HTTP client for any OpenAI-compatible ``POST {base_url}/chat/completions`` endpoint.

Why hand the network to httpx and not the ``openai`` package: we need three things the SDK
hides or fights - the raw response body (stored for audit, and read to recognise a refused
``response_format`` that llama.cpp reports as HTTP 500), request bodies that are not OpenAI's
own (llama.cpp's ``json_object`` + ``schema``), and retries driven by our injected clock. httpx
is already the project's HTTP client, so this adds no dependency.

Structured output is negotiated per server, most constrained first, and remembered:

1. ``json_schema`` (OpenAI, vLLM, recent llama.cpp builds);
2. ``json_object`` with a ``schema`` (llama.cpp's server constrains decoding with it; others
   treat it as plain JSON mode);
3. plain prompt (the schema is in the prompt; ``strategies.llm_verdict`` extracts the JSON).

A refusal is recognised from the body (it names ``response_format``/``json_schema``), whatever
the status: llama.cpp answers 500, others 400 or 422. Refusals move down the list at once and
are not retries.

Retries (tenacity, clock-driven sleeps): 429 honouring ``Retry-After``, 5xx, timeouts and
dropped connections, with exponential backoff; never for ``insufficient_quota`` or other 4xx;
never past the caller's deadline. No error message carries the API key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.settings import LlmSettings
from scanner.units import MS_PER_S

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("json_schema", "json_object", "plain")
_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=8.0, jitter=0.25)
"""0.5 s, 1 s, 2 s ... capped at 8 s, plus up to 0.25 s of jitter."""
_REFUSAL_WORDS = ("response_format", "json_schema", "response format")
_ERROR_BODY_CHARS = 200


class LlmError(Exception):
    """The model gave no usable answer; the message is safe to show and store.

    ``attempts`` is how many requests were made (set by ``LlmClient.chat``).
    """

    attempts: int = 1


class LlmTemporaryError(LlmError):
    """Worth retrying after ``retry_after_s`` (429, 5xx, timeout, dropped connection)."""

    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LlmQuotaError(LlmError):
    """The account is out of quota (``insufficient_quota``): asking again will not help."""


class LlmRequestError(LlmError):
    """The server refused the request (401, 404, other 4xx) or answered nonsense."""


class FormatRefused(LlmError):
    """The server does not take this ``response_format``."""


@dataclass(frozen=True, slots=True)
class ChatReply:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    raw: str
    response_format: str
    attempts: int


def response_format_body(fmt: str, schema: Mapping[str, Any]) -> dict[str, Any] | None:
    if fmt == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": dict(schema), "strict": True},
        }
    if fmt == "json_object":
        return {"type": "json_object", "schema": dict(schema)}
    return None


def _retry_after_s(headers: Mapping[str, str], now_ms: int) -> float:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); 0 when absent or unreadable."""
    value = headers.get("retry-after")
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - now_ms / MS_PER_S)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:_ERROR_BODY_CHARS]


def classify_error(status: int, body: str, headers: Mapping[str, str], now_ms: int) -> LlmError:
    """The exception for a non-2xx reply (pure: status, body and headers in, error out)."""
    lowered = body.lower()
    where = f"HTTP {status}: {_snippet(body)}"
    if status == 429:
        if "insufficient_quota" in lowered:
            return LlmQuotaError(f"quota exhausted (insufficient_quota), not retried; {where}")
        return LlmTemporaryError(f"rate limited; {where}", _retry_after_s(headers, now_ms))
    if status in (400, 422, 500, 501) and any(w in lowered for w in _REFUSAL_WORDS):
        return FormatRefused(f"response_format refused; {where}")
    if status >= 500:
        return LlmTemporaryError(f"server error; {where}", _retry_after_s(headers, now_ms))
    return LlmRequestError(f"request refused, not retried; {where}")


def _usage(body: Mapping[str, Any], key: str) -> int | None:
    usage = body.get("usage")
    value = usage.get(key) if isinstance(usage, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_completion(raw: str) -> tuple[str | None, str | None, int | None, int | None]:
    """(content, finish_reason, prompt_tokens, completion_tokens) of a 200 reply body."""
    try:
        body = json.loads(raw)
        choice = body["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        raise LlmRequestError(f"not a chat completion: {_snippet(raw)!r}") from None
    if content is not None and not isinstance(content, str):
        raise LlmRequestError(f"message content is not text: {_snippet(raw)!r}")
    finish = choice.get("finish_reason")
    return (
        content,
        finish if isinstance(finish, str) else None,
        _usage(body, "prompt_tokens"),
        _usage(body, "completion_tokens"),
    )


class _StopPastDeadline(stop_base):
    """Stop when the coming backoff sleep would end after the deadline (monotonic ms)."""

    def __init__(self, clock: Clock, deadline_ms: float | None) -> None:
        self.clock = clock
        self.deadline_ms = deadline_ms

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self.deadline_ms is None:
            return False
        wake_ms = self.clock.monotonic_ms() + retry_state.upcoming_sleep * MS_PER_S
        return wake_ms > self.deadline_ms


class LlmClient:
    """One OpenAI-compatible server and model; keep it for a run (the format stays learned).

    ``on_format`` is told when the negotiated format changes, so the caller can remember it
    across runs. ``transport`` is for tests that need a failing transport; they otherwise talk
    to real local servers.
    """

    def __init__(
        self,
        cfg: LlmSettings,
        api_key: SecretStr | None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        response_format: str | None = None,
        on_format: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self._format = response_format if response_format in FORMATS else FORMATS[0]
        self._on_format = on_format
        headers = {"Content-Type": "application/json"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        self._http = httpx.AsyncClient(
            base_url=cfg.base_url,
            headers=headers,
            timeout=httpx.Timeout(cfg.timeout_s),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"LlmClient(base_url={self.cfg.base_url!r}, model={self.cfg.model!r})"

    @property
    def response_format(self) -> str:
        return self._format

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LlmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _body(self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any]) -> dict:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
        }
        fmt = response_format_body(self._format, schema)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    async def _post_once(
        self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any]
    ) -> tuple[str, float]:
        started = self._clock.monotonic_ms()
        try:
            resp = await self._http.post("/chat/completions", json=self._body(messages, schema))
        except httpx.TimeoutException:
            raise LlmTemporaryError(f"timed out after {self.cfg.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise LlmTemporaryError(f"connection failed: {type(exc).__name__}: {exc}") from None
        latency_ms = self._clock.monotonic_ms() - started
        if resp.status_code >= 300:
            raise classify_error(resp.status_code, resp.text, resp.headers, self._clock.now_ms())
        return resp.text, latency_ms

    def _downgrade(self) -> bool:
        i = FORMATS.index(self._format)
        if i + 1 >= len(FORMATS):
            return False
        self._format = FORMATS[i + 1]
        log.info("llm %s refused a format; now using %s", self.cfg.base_url, self._format)
        if self._on_format is not None:
            self._on_format(self._format)
        return True

    async def _negotiated(
        self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any]
    ) -> tuple[str, float]:
        """One attempt, moving down the format list while the server refuses a format."""
        while True:
            try:
                return await self._post_once(messages, schema)
            except FormatRefused as exc:
                if not self._downgrade():
                    raise LlmRequestError(str(exc)) from None

    def _wait(self, state: RetryCallState) -> float:
        backoff = _BACKOFF(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, LlmTemporaryError):
            return max(exc.retry_after_s, backoff)
        return backoff

    async def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        schema: Mapping[str, Any],
        *,
        deadline_ms: float | None = None,
    ) -> ChatReply:
        """Ask once (with retries); ``deadline_ms`` (on the clock's monotonic scale) is never
        slept past: a retry that would start after it is not made."""

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(LlmTemporaryError),
            stop=stop_after_attempt(self.cfg.max_retries + 1)
            | _StopPastDeadline(self._clock, deadline_ms),
            wait=self._wait,
            sleep=self._clock.sleep,
            reraise=True,
        )
        n = 0
        try:
            async for attempt in retrying:
                with attempt:
                    n = attempt.retry_state.attempt_number
                    raw, latency_ms = await self._negotiated(messages, schema)
        except LlmError as exc:
            exc.attempts = max(n, 1)
            raise
        content, finish, prompt_tokens, completion_tokens = parse_completion(raw)
        return ChatReply(
            content, finish, prompt_tokens, completion_tokens, latency_ms, raw, self._format, n
        )
