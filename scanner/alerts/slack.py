"""Slack incoming webhook: Block Kit with a ``text`` fallback.

Limits (Slack docs): a section's text <= 3000 chars, a message <= 50 blocks, a section's
fields <= 10 of <= 2000 chars. Success is HTTP 200 with body ``ok``; over the rate limit
(about one message per second) HTTP 429 with ``Retry-After`` seconds. mrkdwn needs ``&``,
``<`` and ``>`` escaped as entities.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from scanner.alerts.http import post
from scanner.alerts.message import Message, clip, facts, headline, plain_text

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
TEXT_MAX = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(msg: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(f"*{escape(headline(msg))}*", SECTION_TEXT_MAX),
            },
        }
    ]
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{escape(k)}*\n{escape(v)}", FIELD_TEXT_MAX)}
        for k, v in facts(msg)
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    return {"text": clip(escape(plain_text(msg)), TEXT_MAX), "blocks": blocks[:MAX_BLOCKS]}


class SlackChannel:
    kind = "slack"

    def __init__(self, label: str, url: str) -> None:
        self.label = label
        self._url = url

    def __repr__(self) -> str:
        return f"SlackChannel({self.label!r}, url=***)"

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        body = json.dumps(render(msg)).encode()
        await post(client, self._url, content=body)
