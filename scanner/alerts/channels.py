"""Channels from ``alerts.channels``: secrets read from the environment, errors that name the
config key (never the value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from scanner.alerts.apprise import AppriseChannel
from scanner.alerts.discord import DiscordChannel
from scanner.alerts.message import Message
from scanner.alerts.redact import register_secret
from scanner.alerts.slack import SlackChannel
from scanner.alerts.telegram import TelegramChannel
from scanner.alerts.webhook import WebhookChannel
from scanner.settings import AlertChannel, AlertSettings


class Channel(Protocol):
    kind: str
    label: str

    async def send(self, client: httpx.AsyncClient, msg: Message, sent_ms: int) -> None:
        """Deliver one message or raise a ``DeliveryError``."""
        ...


class ChannelConfigError(Exception):
    """A channel that cannot be built (its variable is unset): a user error."""


def _http_url(value: str, where: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ChannelConfigError(f"{where}: the variable's value is not an http(s) URL")
    return value


def build_channel(cfg: AlertChannel, index: int, env: Callable[[str], str | None]) -> Channel:
    where = f"alerts.channels[{index}]"
    url = env(cfg.url_env)
    register_secret(url, env(cfg.secret_env) if cfg.secret_env else None)
    if not url:
        raise ChannelConfigError(
            f"{where}.url_env: environment variable {cfg.url_env} is not set (or empty)"
        )
    if cfg.kind == "apprise":
        return AppriseChannel(cfg.label, url)
    url = _http_url(url, f"{where}.url_env ({cfg.url_env})")
    if cfg.kind == "slack":
        return SlackChannel(cfg.label, url)
    if cfg.kind == "discord":
        return DiscordChannel(cfg.label, url)
    if cfg.kind == "telegram":
        assert cfg.chat_id_env is not None  # the settings model requires it
        chat_id = env(cfg.chat_id_env)
        if not chat_id:
            raise ChannelConfigError(
                f"{where}.chat_id_env: environment variable {cfg.chat_id_env} is not set"
            )
        return TelegramChannel(cfg.label, url, chat_id)
    secret = env(cfg.secret_env) if cfg.secret_env else None
    if cfg.secret_env and not secret:
        raise ChannelConfigError(
            f"{where}.secret_env: environment variable {cfg.secret_env} is not set"
        )
    return WebhookChannel(cfg.label, url, secret)


def build_channels(alerts: AlertSettings, env: Callable[[str], str | None]) -> list[Channel]:
    return [build_channel(c, i, env) for i, c in enumerate(alerts.channels)]
