"""What each platform would be sent for a message, without sending (``alerts preview``)."""

from __future__ import annotations

from typing import Any

from scanner.alerts import discord, slack, telegram, webhook
from scanner.alerts.message import Message, headline, plain_text

KINDS = ("slack", "discord", "telegram", "webhook", "apprise")


def render_for(kind: str, msg: Message, now_ms: int) -> dict[str, Any]:
    """The JSON body a channel of ``kind`` would POST (Apprise: its title and body)."""
    if kind == "slack":
        return slack.render(msg)
    if kind == "discord":
        return discord.render(msg)
    if kind == "telegram":
        return telegram.render(msg, chat_id="<chat id from chat_id_env>")
    if kind == "webhook":
        return webhook.render(msg, now_ms)
    if kind == "apprise":
        return {"title": headline(msg), "body": plain_text(msg)}
    raise ValueError(f"unknown channel kind {kind!r}")
