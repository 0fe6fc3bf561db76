"""Telegram Bot API ``sendMessage`` with MarkdownV2.

The channel's URL is the bot's base URL including its token (``https://api.telegram.org/
bot<token>``, or a local Bot API server); the chat id comes from its own variable. MarkdownV2
rejects the whole message (400 "can't parse entities") if any of ``_*[]()~`>#+-=|{}.!`` or
``\\`` appears unescaped outside an entity, so every piece of text goes through ``escape``.
Text <= 4096 characters (counted after parsing; we check the escaped text, which is longer,
and cut only at line ends). 429 answers carry ``parameters.retry_after`` (seconds).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from scanner.alerts.http import json_body, post
from scanner.alerts.message import Message, PermanentError, facts, headline

TEXT_MAX = 4096
RESERVED = set("_*[]()~`>#+-=|{}.!\\")


def escape(text: str) -> str:
    """Backslash before every MarkdownV2 reserved character (and before a backslash)."""
    return "".join(f"\\{ch}" if ch in RESERVED else ch for ch in text)


def escape_clipped(text: str, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters, never between a backslash and the
    character it escapes; "…" marks a cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    size = 0
    for ch in text:
        piece = f"\\{ch}" if ch in RESERVED else ch
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def render_text(msg: Message) -> str:
    """Bold headline, then one ``label: value`` line per fact, within 4096 characters: the
    headline is clipped if it alone is too long, later lines are dropped whole."""
    lines = [f"*{escape_clipped(headline(msg), TEXT_MAX - 2)}*"]
    size = len(lines[0])
    for k, v in facts(msg):
        line = escape_clipped(f"{k}: {v}", TEXT_MAX)
        if size + 1 + len(line) > TEXT_MAX:
            break
        lines.append(line)
        size += 1 + len(line)
    return "\n".join(lines)


def render(msg: Message, chat_id: str) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "text": render_text(msg),
        "parse_mode": "MarkdownV2",
        "link_preview_options": {"is_disabled": True},
    }


def retry_after(response: httpx.Response) -> float | None:
    body = json_body(response)
    params = body.get("parameters") if isinstance(body, dict) else None
    if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
        return max(0.0, float(params["retry_after"]))
    return None


class TelegramChannel:
    kind = "telegram"

    def __init__(self, label: str, base_url: str, chat_id: str) -> None:
        self.label = label
        self._base_url = base_url.rstrip("/")
        self._chat_id = chat_id

    def __repr__(self) -> str:
        return f"TelegramChannel({self.label!r}, url=***)"

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        body = json.dumps(render(msg, self._chat_id)).encode()
        response = await post(
            client,
            f"{self._base_url}/sendMessage",
            content=body,
            retry_after=retry_after,
            secrets=(self._base_url, self._chat_id),
        )
        answer = json_body(response)
        if not (isinstance(answer, dict) and answer.get("ok") is True):
            raise PermanentError("Telegram answered 2xx without ok: true")
