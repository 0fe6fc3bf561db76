"""Local stand-ins for Slack, Discord, Telegram and a generic webhook: real HTTP on 127.0.0.1.

Each validates a message the way its platform does (Telegram refuses MarkdownV2 with an
unescaped reserved character, Slack refuses over-long sections, Discord over-long embeds) and
answers in the platform's own shapes, including its 429 retry hints. Faults are scripted per
platform: ``sinks.script("discord", ["429", "ok"])``. Only *accepted* messages are recorded in
``sinks.accepted[platform]``, so "delivered exactly once" is a count.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

TELEGRAM_RESERVED = set("_*[]()~`>#+-=|{}.!")
TOKEN = "123456:SECRET-bot-token"
WEBHOOK_SECRET = "hmac-secret-value"


def markdown_v2_error(text: str) -> str | None:
    """Telegram's verdict on a MarkdownV2 text: None if it parses, else its error text.

    Bold/italic/strike/underline/spoiler markers toggle entities and must be balanced; every
    other reserved character must be preceded by a backslash.
    """
    open_marks: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or not (1 <= ord(text[i + 1]) <= 126):
                return "can't parse entities: a backslash escapes nothing"
            i += 2
            continue
        if ch in "*_~":
            mark = "__" if text.startswith("__", i) else ch
            if open_marks and open_marks[-1] == mark:
                open_marks.pop()
            else:
                open_marks.append(mark)
            i += len(mark)
            continue
        if ch == "|" and text.startswith("||", i):
            i += 2
            continue
        if ch in TELEGRAM_RESERVED:
            return (
                f"can't parse entities: Character '{ch}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        i += 1
    if open_marks:
        return f"can't parse entities: can't find end of the entity starting with {open_marks[-1]}"
    if not 1 <= len(text) <= 4096:
        return "message is too long" if text else "message text is empty"
    return None


def slack_error(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
        return "no_text"
    blocks = body.get("blocks", [])
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if len(text) > 3000 or len(block.get("fields", [])) > 10:
            return "invalid_blocks"
        if any(len(f["text"]) > 2000 for f in block.get("fields", [])):
            return "invalid_blocks"
    return None


def discord_error(body: Any) -> str | None:
    if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
        return "Cannot send an empty message"
    if len(body.get("content", "")) > 2000:
        return "content: Must be 2000 or fewer in length."
    embeds = body.get("embeds", [])
    total = 0
    for e in embeds:
        if len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096:
            return "embeds: title/description too long"
        fields = e.get("fields", [])
        if len(fields) > 25 or any(len(f["name"]) > 256 or len(f["value"]) > 1024 for f in fields):
            return "embeds: fields invalid"
        total += len(e.get("title", "")) + len(e.get("description", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
    if len(embeds) > 10 or total > 6000:
        return "embeds: Embed size exceeds maximum size of 6000"
    return None


class ChatSinks:
    """One aiohttp server with a route per platform (see the module docstring)."""

    def __init__(self, slow_s: float = 2.0) -> None:
        self.slow_s = slow_s
        self.accepted: dict[str, list[Any]] = defaultdict(list)
        self.received: dict[str, int] = defaultdict(int)
        self.rejected: dict[str, list[str]] = defaultdict(list)
        self._script: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self.url = ""

    # -- the URLs a test puts in the environment ---------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return {
            "T_SLACK_URL": f"{self.url}/slack/T000/B000/slacksecret",
            "T_DISCORD_URL": f"{self.url}/discord/api/webhooks/42/discordsecret",
            "T_TELEGRAM_URL": f"{self.url}/bot{TOKEN}",
            "T_TELEGRAM_CHAT": "-100123",
            "T_WEBHOOK_URL": f"{self.url}/hook/webhooksecret",
            "T_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "T_APPRISE_URL": f"json://{self.url.removeprefix('http://')}/apprise/apprisesecret",
        }

    def script(self, platform: str, steps: list[str]) -> None:
        """Next answers for ``platform``: "429", "500", "404", "slow", then normal ("ok")."""
        with self._lock:
            self._script[platform].extend(steps)

    def _next_step(self, platform: str) -> str:
        with self._lock:
            steps = self._script[platform]
            return steps.pop(0) if steps else "ok"

    def total_accepted(self) -> int:
        return sum(len(v) for v in self.accepted.values())

    # -- handlers ------------------------------------------------------------------------

    async def _fault(self, platform: str, step: str) -> web.Response | None:
        if step == "slow":
            await asyncio.sleep(self.slow_s)
            return None
        if step == "500":
            return web.Response(status=500, text="internal error")
        if step == "404":
            if platform == "telegram":
                return web.json_response(
                    {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
                )
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        if step == "429":
            return self._rate_limited(platform)
        return None

    def _rate_limited(self, platform: str) -> web.Response:
        if platform == "discord":
            body = {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
            return web.json_response(body, status=429, headers={"Retry-After": "1"})
        if platform == "telegram":
            body = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 2",
                "parameters": {"retry_after": 2},
            }
            return web.json_response(body, status=429)
        return web.Response(status=429, text="rate_limited", headers={"Retry-After": "3"})

    async def _handle(self, platform: str, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            self.received[platform] += 1
        fault = await self._fault(platform, self._next_step(platform))
        if fault is not None:
            return fault
        body = json.loads(raw)
        error = self._validate(platform, body, raw, request)
        if error is not None:
            with self._lock:
                self.rejected[platform].append(error)
            return self._refusal(platform, error)
        with self._lock:
            self.accepted[platform].append(body)
        if platform == "slack":
            return web.Response(text="ok")
        if platform == "discord":
            return web.Response(status=204)
        if platform == "telegram":
            return web.json_response({"ok": True, "result": {"message_id": 1}})
        return web.json_response({"received": True})

    def _validate(self, platform: str, body: Any, raw: bytes, request: web.Request) -> str | None:
        if platform == "slack":
            return slack_error(body)
        if platform == "discord":
            return discord_error(body)
        if platform == "telegram":
            if body.get("chat_id") != "-100123":
                return "Bad Request: chat not found"
            return markdown_v2_error(body.get("text", ""))
        if platform == "webhook":
            want = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
            if request.headers.get("X-Fundscan-Signature") != want:
                return "bad signature"
            digest = {"event", "opportunities", "min_net_apr", "min_confidence", "every_min"}
            want_keys = digest | {"sent_ms"} if body.get("event") == "digest" else None
            if set(body) != (want_keys or {"event", "opportunity", "sent_ms"}):
                return f"unexpected keys {sorted(body)}"
        return None

    def _refusal(self, platform: str, error: str) -> web.Response:
        if platform == "telegram":
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"},
                status=400,
            )
        return web.Response(status=400, text=error)

    def _app(self) -> web.Application:
        app = web.Application()

        def route(platform: str) -> Any:
            async def handler(request: web.Request) -> web.Response:
                return await self._handle(platform, request)

            return handler

        app.router.add_post("/slack/{rest:.*}", route("slack"))
        app.router.add_post("/discord/{rest:.*}", route("discord"))
        app.router.add_post(f"/bot{TOKEN}/sendMessage", route("telegram"))
        app.router.add_post("/hook/{rest:.*}", route("webhook"))
        app.router.add_post("/apprise/{rest:.*}", route("apprise"))
        return app

    @contextmanager
    def running(self) -> Iterator[ChatSinks]:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app())
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="chat-sinks", daemon=True)
        thread.start()
        assert ready.wait(10), "chat sinks did not start"
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
