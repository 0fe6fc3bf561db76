"""Generic JSON webhook: ``{"event", "opportunity", "sent_ms"}``, optionally signed.

A digest is ``{"event": "digest", "opportunities": [rows], "min_net_apr", "min_confidence",
"every_min", "sent_ms"}``: each row the same fields as one row of ``scan --json``.

With ``secret_env`` set, ``X-Fundscan-Signature: sha256=<hex>`` is the HMAC-SHA256 of the
exact body bytes under that secret, so a receiver can verify the sender before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from scanner.alerts.http import post
from scanner.alerts.message import Message

SIGNATURE_HEADER = "X-Fundscan-Signature"


def render(msg: Message, sent_ms: int) -> dict[str, Any]:
    if msg.event == "digest":
        return {"event": msg.event, **dict(msg.row), "sent_ms": sent_ms}
    return {"event": msg.event, "opportunity": dict(msg.row), "sent_ms": sent_ms}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    kind = "webhook"

    def __init__(self, label: str, url: str, secret: str | None = None) -> None:
        self.label = label
        self._url = url
        self._secret = secret

    def __repr__(self) -> str:
        return f"WebhookChannel({self.label!r}, url=***)"

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        body = json.dumps(render(msg, sent_ms), separators=(",", ":")).encode()
        headers = {SIGNATURE_HEADER: signature(self._secret, body)} if self._secret else {}
        await post(client, self._url, content=body, headers=headers)
