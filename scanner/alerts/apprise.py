"""Any service Apprise knows (ntfy, Pushover, Matrix, e-mail, Teams, ...) from one URL.

Why Apprise: it keeps the formats and auth of 100+ services so we do not. It reports only
success or failure (no retry hint), so a failure counts as temporary and is retried a bounded
number of times; a URL Apprise does not understand is a permanent error for the channel.
"""

from __future__ import annotations

import logging

import apprise
import httpx

from scanner.alerts.message import Message, PermanentError, TemporaryError, headline, plain_text

# Apprise logs failed notifications with the service URL in some plugins; ours say enough.
logging.getLogger("apprise").setLevel(logging.CRITICAL)


class AppriseChannel:
    kind = "apprise"

    def __init__(self, label: str, url: str) -> None:
        self.label = label
        self._apprise = apprise.Apprise()
        self._valid = bool(self._apprise.add(url))

    def __repr__(self) -> str:
        return f"AppriseChannel({self.label!r}, url=***)"

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        if not self._valid:
            raise PermanentError("the Apprise URL is not one Apprise understands")
        ok = await self._apprise.async_notify(body=plain_text(msg), title=headline(msg))
        if not ok:
            raise TemporaryError("Apprise reported the notification as failed")
