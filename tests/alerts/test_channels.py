"""Every channel against its local sink over real HTTP: format validity, retry hints, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _sinks import ChatSinks, markdown_v2_error

from scanner.alerts.channels import Channel, ChannelConfigError, build_channels
from scanner.alerts.message import Message
from scanner.alerts.sender import DeliveryPolicy, deliver
from scanner.alerts.telegram import escape, render_text
from scanner.clock import FakeClock
from scanner.settings import AlertSettings

ROW: dict[str, Any] = {
    "symbol": "1000PEPE/USDT:USDT",
    "pair_type": "cross",
    "long_venue": "okx",
    "short_venue": "bybit",
    "long_symbol": "PEPE-USDT-SWAP",
    "short_symbol": "1000PEPEUSDT",
    "long_rate": -0.0001,
    "long_interval_h": 8.0,
    "short_rate": 0.00025,
    "short_interval_h": 4.0,
    "gross_apr": 0.657,
    "cost_frac": 0.0025,
    "net_apr": 0.35,
    "breakeven_h": 13.3,
    "confidence": 0.71,
    "notional_usd": 10000.0,
    "long_next_funding_ms": 1_700_006_400_000,
    "short_next_funding_ms": 1_700_002_800_000,
    "interval_mismatch": True,
    "executable": True,
}
MSG = Message("opportunity", ROW, "new pair above threshold (x.y-z!)", "k")
KINDS = ("slack", "discord", "telegram", "webhook", "apprise")
POLICY = DeliveryPolicy(max_attempts=3, backoff_s=0.5, timeout_s=1.0)


def settings(*kinds: str) -> AlertSettings:
    spec = {
        "slack": {"kind": "slack", "url_env": "T_SLACK_URL"},
        "discord": {"kind": "discord", "url_env": "T_DISCORD_URL"},
        "telegram": {
            "kind": "telegram",
            "url_env": "T_TELEGRAM_URL",
            "chat_id_env": "T_TELEGRAM_CHAT",
        },
        "webhook": {
            "kind": "webhook",
            "url_env": "T_WEBHOOK_URL",
            "secret_env": "T_WEBHOOK_SECRET",
        },
        "apprise": {"kind": "apprise", "url_env": "T_APPRISE_URL"},
    }
    return AlertSettings.model_validate({"channels": [spec[k] for k in kinds]})


@pytest.fixture
def sinks() -> Iterator[ChatSinks]:
    with ChatSinks(slow_s=2.0).running() as s:
        yield s


def channel(sinks: ChatSinks, kind: str) -> Channel:
    return build_channels(settings(kind), sinks.env.get)[0]


async def send(sinks: ChatSinks, kind: str, clock: FakeClock | None = None) -> Any:
    async with httpx.AsyncClient(timeout=POLICY.timeout_s) as client:
        return await deliver(channel(sinks, kind), client, MSG, POLICY, clock or FakeClock())


@pytest.mark.parametrize("kind", KINDS)
async def test_each_channel_delivers_a_message_its_platform_accepts(
    sinks: ChatSinks, kind: str
) -> None:
    outcome = await send(sinks, kind)
    assert (outcome.status, outcome.attempts) == ("sent", 1), outcome
    assert sinks.rejected[kind] == [] and len(sinks.accepted[kind]) == 1
    body = sinks.accepted[kind][0]
    text = str(body).replace("\\", "")  # Telegram's escapes
    assert "1000PEPE/USDT:USDT" in text
    assert ("35.0%" in text) != (kind == "webhook")  # webhook: the raw row, net_apr 0.35


async def test_webhook_body_is_the_scan_json_row_signed(sinks: ChatSinks) -> None:
    clock = FakeClock(1_700_000_123_000)
    await send(sinks, "webhook", clock)
    assert sinks.accepted["webhook"] == [
        {"event": "opportunity", "opportunity": ROW, "sent_ms": 1_700_000_123_000}
    ]  # the sink checked X-Fundscan-Signature over the exact bytes


def test_telegram_sink_refuses_an_unescaped_dot_or_dash_like_telegram() -> None:
    assert markdown_v2_error("net APR 35.0%") is not None
    assert markdown_v2_error("okx-bybit") is not None
    assert markdown_v2_error("net APR 35\\.0%") is None
    assert markdown_v2_error("*bold") is not None


def test_telegram_text_escapes_every_reserved_character() -> None:
    nasty = "_*[]()~`>#+-=|{}.!\\ ok"
    assert markdown_v2_error(escape(nasty)) is None
    msg = Message("opportunity", {**ROW, "symbol": nasty}, nasty)
    assert markdown_v2_error(render_text(msg)) is None


async def test_a_telegram_message_with_a_raw_dot_is_rejected_and_not_retried(
    sinks: ChatSinks,
) -> None:
    async with httpx.AsyncClient() as client:
        bot = f"{sinks.env['T_TELEGRAM_URL']}/sendMessage"
        raw = await client.post(
            bot, json={"chat_id": "-100123", "text": "APR 35.0%", "parse_mode": "MarkdownV2"}
        )
    assert raw.status_code == 400 and "reserved" in raw.json()["description"]


@pytest.mark.parametrize(
    ("kind", "hint_s"), [("slack", 3.0), ("discord", 0.25), ("telegram", 2.0), ("webhook", 3.0)]
)
async def test_429_waits_the_platforms_own_hint_then_delivers_once(
    sinks: ChatSinks, kind: str, hint_s: float
) -> None:
    sinks.script(kind, ["429"])
    clock = FakeClock()
    outcome = await send(sinks, kind, clock)
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert clock.monotonic_ms() == hint_s * 1000  # Discord: body's 0.25, not the header's 1
    assert len(sinks.accepted[kind]) == 1 and sinks.received[kind] == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_5xx_is_retried_with_backoff_then_succeeds(sinks: ChatSinks, kind: str) -> None:
    sinks.script(kind, ["500", "500"])
    clock = FakeClock()
    outcome = await send(sinks, kind, clock)
    assert (outcome.status, outcome.attempts) == ("sent", 3)
    if kind != "apprise":  # Apprise retries nothing itself; ours waited 0.5 + 1.0
        assert clock.monotonic_ms() == 1500
    assert len(sinks.accepted[kind]) == 1


async def test_5xx_forever_gives_up_after_max_attempts(sinks: ChatSinks) -> None:
    sinks.script("slack", ["500"] * 5)
    outcome = await send(sinks, "slack")
    assert outcome.status == "failed" and outcome.attempts == 3 and not outcome.permanent
    assert "gave up after 3 attempts: HTTP 500" in (outcome.detail or "")
    assert sinks.received["slack"] == 3 and sinks.accepted["slack"] == []


@pytest.mark.parametrize("kind", ["slack", "discord", "telegram", "webhook"])
async def test_404_is_permanent_and_not_retried(sinks: ChatSinks, kind: str) -> None:
    sinks.script(kind, ["404"])
    outcome = await send(sinks, kind)
    assert outcome.status == "failed" and outcome.permanent and outcome.attempts == 1
    assert sinks.received[kind] == 1
    secret_parts = ("slacksecret", "discordsecret", "SECRET-bot-token", "webhooksecret")
    assert not any(s in (outcome.detail or "") for s in secret_parts)


async def test_a_slow_response_times_out_and_is_retried(sinks: ChatSinks) -> None:
    sinks.script("discord", ["slow"])
    outcome = await send(sinks, "discord")
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert len(sinks.accepted["discord"]) == 1  # the slow answer was never accepted


async def test_long_text_stays_within_each_platforms_limits(sinks: ChatSinks) -> None:
    huge = Message("opportunity", {**ROW, "symbol": "X" * 5000}, "r." * 3000)
    async with httpx.AsyncClient() as client:
        for kind in ("slack", "discord", "telegram"):
            outcome = await deliver(channel(sinks, kind), client, huge, POLICY, FakeClock())
            assert outcome.status == "sent", (kind, outcome, sinks.rejected[kind])


def test_a_missing_variable_is_a_clear_error_naming_the_key() -> None:
    with pytest.raises(ChannelConfigError, match=r"alerts.channels\[0\].url_env: .*T_SLACK_URL"):
        build_channels(settings("slack"), {}.get)
    env = {"T_TELEGRAM_URL": "http://127.0.0.1:1/botX"}
    with pytest.raises(ChannelConfigError, match="chat_id_env: .*T_TELEGRAM_CHAT"):
        build_channels(settings("telegram"), env.get)
    with pytest.raises(ChannelConfigError, match="not an http"):
        build_channels(settings("slack"), {"T_SLACK_URL": "hooks.slack.com/x"}.get)


def test_channel_reprs_never_show_the_url(sinks: ChatSinks) -> None:
    for kind in KINDS:
        shown = repr(channel(sinks, kind))
        assert "secret" not in shown.lower() and "127.0.0.1" not in shown
