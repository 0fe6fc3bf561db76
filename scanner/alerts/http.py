"""One POST with httpx and the translation of its outcome into our three delivery errors.

Why here: every webhook platform shares "5xx/timeout = try again, 404 = give up"; only the
429 hint differs, so each platform passes its own ``retry_after`` reader. Error texts carry
the status and the platform's short reason, never the URL (it holds the token).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from scanner.alerts.message import PermanentError, RetryAfter, TemporaryError

DEFAULT_RETRY_AFTER_S = 1.0
MAX_DETAIL = 200


def header_retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the only form these platforms use), if present."""
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def short_body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:MAX_DETAIL]


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    retry_after: Callable[[httpx.Response], float | None] = header_retry_after,
    secrets: tuple[str, ...] = (),
) -> httpx.Response:
    """POST ``content`` (JSON bytes); return the 2xx response or raise a DeliveryError."""
    sent_headers = {"content-type": "application/json", **(headers or {})}
    try:
        response = await client.post(url, content=content, headers=sent_headers)
    except httpx.TimeoutException as exc:
        raise TemporaryError(f"timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise TemporaryError(_scrub(f"{type(exc).__name__}: {exc}", (url, *secrets))) from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = _scrub(f"HTTP {status}: {short_body(response)}", (url, *secrets))
    if status == 429:
        hint = retry_after(response)
        raise RetryAfter(DEFAULT_RETRY_AFTER_S if hint is None else hint, detail)
    if status >= 500 or status == 408:
        raise TemporaryError(detail)
    raise PermanentError(detail)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
