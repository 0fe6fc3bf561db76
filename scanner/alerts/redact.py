"""Keep channel URLs and tokens out of every log line, including the HTTP libraries' own.

Why: httpx logs each request's full URL at INFO and httpcore traces at DEBUG; a webhook URL
*is* its credential (Slack, Discord) and Telegram's carries the bot token. Channels register
their secrets here; a filter on those loggers masks them before any handler sees the record.
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
_LOGGERS = ("httpx", "httpcore", "apprise", "scanner.alerts")


class SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        if not secrets:
            return True
        text = record.getMessage()
        if any(s in text for s in secrets):
            for s in secrets:
                text = text.replace(s, MASK)
            record.msg, record.args = text, None
        return True


SECRETS = SecretFilter()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(SECRETS)


def register_secret(*values: str | None) -> None:
    """Mask these strings in the alert and HTTP loggers from now on."""
    for value in values:
        if value:
            SECRETS.add(value)
