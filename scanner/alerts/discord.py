"""Discord webhook: one embed per message, ``allowed_mentions`` off.

Limits (Discord "Execute Webhook"): ``content`` <= 2000 chars; an embed's title <= 256,
description <= 4096, <= 25 fields (name <= 256, value <= 1024); all embeds together <= 6000
chars. Success: 204 (or 200 with ``?wait=true``). 429 carries JSON ``retry_after`` (seconds,
float) and a ``Retry-After`` header; a 404 webhook is gone and must not be retried.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from scanner.alerts.http import header_retry_after, json_body, post
from scanner.alerts.message import Message, clip, facts, headline

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
MAX_FIELDS = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
EMBED_TOTAL_MAX = 6000
COLOURS = {"opportunity": 0x2ECC71, "closed": 0x95A5A6, "test": 0x3498DB, "digest": 0xF1C40F}


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts against the 6000 limit."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def render(msg: Message) -> dict[str, Any]:
    fields = [
        {"name": clip(k, FIELD_NAME_MAX), "value": clip(v or "-", FIELD_VALUE_MAX), "inline": True}
        for k, v in facts(msg)[:MAX_FIELDS]
    ]
    embed: dict[str, Any] = {
        "title": clip(headline(msg), TITLE_MAX),
        "color": COLOURS.get(msg.event, 0),
        "fields": fields,
    }
    while embed_size(embed) > EMBED_TOTAL_MAX and embed["fields"]:
        embed["fields"].pop()
    return {
        "content": clip(headline(msg), CONTENT_MAX),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def retry_after(response: httpx.Response) -> float | None:
    """The JSON body's ``retry_after`` (float seconds), else the ``Retry-After`` header."""
    body = json_body(response)
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        return max(0.0, float(body["retry_after"]))
    return header_retry_after(response)


class DiscordChannel:
    kind = "discord"

    def __init__(self, label: str, url: str) -> None:
        self.label = label
        self._url = url

    def __repr__(self) -> str:
        return f"DiscordChannel({self.label!r}, url=***)"

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        body = json.dumps(render(msg)).encode()
        await post(client, self._url, content=body, retry_after=retry_after)
