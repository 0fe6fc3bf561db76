"""Test support for the Bybit private API: a small MarketView and a live loopback server.

No tests in this module.

Instrument rows are the real Bybit instruments-info rows recorded from mainnet; the BTCUSDT
book is the real recorded orderbook.200 snapshot. ETHUSDT gets a short synthetic book whose
levels make expected fills easy to derive by hand in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer

from emulator.bybit_account import BybitAccount
from emulator.bybit_private import BybitPrivateApi, register
from emulator.interfaces import Clock, Levels, SettlementListener

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
BYBIT_FIXTURES = SHARED / "exchange-fixtures" / "bybit"
INSTRUMENTS_FILE = BYBIT_FIXTURES / "v5_market_instruments-info_linear.json"
BOOK_FILE = BYBIT_FIXTURES / "ws_v5_public_linear_orderbook200_snapshot_BTCUSDT.json"

ETH_BIDS: Levels = [(2999.50, 1.0), (2999.00, 2.0), (2990.00, 5.0), (2800.00, 50.0)]
ETH_ASKS: Levels = [(3000.00, 1.0), (3000.50, 2.0), (3010.00, 5.0), (3200.00, 50.0)]
ETH_MARK = 2999.75


def load_instrument_rows() -> dict[str, dict[str, Any]]:
    payload = json.loads(INSTRUMENTS_FILE.read_text(encoding="utf-8"))
    return {row["symbol"]: row for row in payload["result"]["list"]}


def load_btc_book() -> tuple[Levels, Levels]:
    data = json.loads(BOOK_FILE.read_text(encoding="utf-8"))["data"]
    bids = [(float(p), float(s)) for p, s in data["b"]]
    asks = [(float(p), float(s)) for p, s in data["a"]]
    return bids, asks


@dataclass
class FakeClock:
    """Wall-clock ms unless ``fixed_ms`` is set (then tests move time by hand)."""

    fixed_ms: int | None = None

    def now_ms(self) -> int:
        return self.fixed_ms if self.fixed_ms is not None else int(time.time() * 1000)


@dataclass
class FakeMarket:
    clock: Clock = field(default_factory=FakeClock)
    rows: dict[str, dict[str, Any]] = field(default_factory=load_instrument_rows)
    books: dict[str, tuple[Levels, Levels]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    listeners: list[SettlementListener] = field(default_factory=list)

    def __post_init__(self) -> None:
        btc_bids, btc_asks = load_btc_book()
        self.books.setdefault("BTCUSDT", (btc_bids, btc_asks))
        self.marks.setdefault("BTCUSDT", (btc_bids[0][0] + btc_asks[0][0]) / 2)
        self.books.setdefault("ETHUSDT", (list(ETH_BIDS), list(ETH_ASKS)))
        self.marks.setdefault("ETHUSDT", ETH_MARK)

    def instrument(self, venue: str, venue_symbol: str) -> dict[str, Any] | None:
        return self.rows.get(venue_symbol) if venue == "bybit" else None

    def book(self, venue: str, venue_symbol: str, depth: int = 200) -> tuple[Levels, Levels]:
        bids, asks = self.books[venue_symbol]
        return bids[:depth], asks[:depth]

    def mark_price(self, venue: str, venue_symbol: str) -> float:
        return self.marks[venue_symbol]

    def funding_rate(self, venue: str, venue_symbol: str) -> float:
        return self.rates.get(venue_symbol, 0.0001)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        self.listeners.append(listener)

    def settle(self, venue: str, symbol: str, rate: float, funding_time_ms: int) -> None:
        for listener in self.listeners:
            listener(venue, symbol, rate, self.marks[symbol], funding_time_ms)


KEY = "emu-key-1"
SECRET = "emu-secret-1"
OTHER_KEY = "emu-key-2"
OTHER_SECRET = "emu-secret-2"


def hand_sign(secret: str, timestamp: str, key: str, recv_window: str, payload: bytes) -> str:
    """The test's own HMAC (independent of the server's code)."""
    message = (timestamp + key + recv_window).encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Harness:
    """A live loopback server with the private routes, plus a signing httpx client."""

    base: str
    market: FakeMarket
    api: BybitPrivateApi
    http: httpx.AsyncClient

    def headers(
        self,
        payload: bytes,
        *,
        key: str = KEY,
        secret: str = SECRET,
        timestamp: int | None = None,
        recv_window: str = "5000",
    ) -> dict[str, str]:
        ts = str(self.market.clock.now_ms() if timestamp is None else timestamp)
        return {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": ts,
            "X-BAPI-RECV-WINDOW": recv_window,
            "X-BAPI-SIGN": hand_sign(secret, ts, key, recv_window, payload),
        }

    async def get(self, path: str, query: str, **signing: Any) -> httpx.Response:
        """GET with the query string signed and sent verbatim (no httpx re-encoding)."""
        headers = self.headers(query.encode(), **signing)
        return await self.http.get(f"{self.base}{path}?{query}", headers=headers)

    async def post(self, path: str, body: dict[str, Any] | str, **signing: Any) -> httpx.Response:
        raw = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        headers = self.headers(raw.encode(), **signing)
        headers["Content-Type"] = "application/json"
        return await self.http.post(f"{self.base}{path}", content=raw.encode(), headers=headers)


async def _serve_instruments(request: web.Request) -> web.Response:
    """Public instruments-info for ccxt's load_markets (the core emulator serves the real one)."""
    return web.Response(body=INSTRUMENTS_FILE.read_bytes(), content_type="application/json")


@asynccontextmanager
async def running_emulator(market: FakeMarket | None = None) -> AsyncIterator[Harness]:
    market = market or FakeMarket()
    app = web.Application()
    app.router.add_get("/v5/market/instruments-info", _serve_instruments)
    accounts = [BybitAccount(KEY, SECRET), BybitAccount(OTHER_KEY, OTHER_SECRET)]
    api = register(app, "", market, accounts)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield Harness(str(server.make_url("")).rstrip("/"), market, api, http)
    finally:
        await server.close()
