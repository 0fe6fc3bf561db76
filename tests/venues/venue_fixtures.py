"""Where the recorded exchange payloads live (``<repo>/../shared/data``) and how to load them;
a loopback server for tests that record what a client sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FIXTURES = DATA / "exchange-fixtures"


def load_fixture(venue: str, name: str) -> Any:
    """One recorded body, parsed as JSON."""
    return json.loads((FIXTURES / venue / name).read_text(encoding="utf-8"))


def fixture_text(venue: str, name: str) -> str:
    return (FIXTURES / venue / name).read_text(encoding="utf-8")


@asynccontextmanager
async def serving(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """``handle`` answering every method and path on a loopback port; yields its root URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
