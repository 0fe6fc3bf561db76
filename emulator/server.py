"""The emulator process: one aiohttp server on 127.0.0.1, every venue under its own prefix.

``/bybit/v5/...``, ``/binanceusdm/fapi/...``, ``/okx/api/v5/...``, ``/gate/api/v4/...``,
``/bitget/api/v2/...``, ``/hyperliquid/info``; plus ``/_control/...`` for tests and the CLI.
A middleware applies the fault plan to every venue request; handlers never know about faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, cast

from aiohttp import web

from emulator.clock import ClockError, EmuClock
from emulator.faults import (
    AFTER,
    BEFORE,
    FaultConfigError,
    FaultPlan,
    FaultSpec,
    blank_fields,
)
from emulator.interfaces import MarketView
from emulator.liquidity import LiquidityError, ThinBooks
from emulator.model import MarketModel
from emulator.universe import Listing, load_universe
from emulator.venues import VENUES, VenueApi
from emulator.wire import json_response

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PUBLIC: dict[str, Callable[..., VenueApi]] = {v: e.api for v, e in VENUES.items()}
"""Venue id -> its API class (from ``emulator/venues.py``, the one venue table)."""
TICK_S = 0.05
MAX_LATENCY_MS = 60_000.0
"""Longest fixed per-request latency (``latency_ms``); a round trip never needs more."""
SIGNED_HEADERS = ("X-BAPI-API-KEY", "X-MBX-APIKEY")
"""A request carrying one of these spoke to a private (keyed) endpoint."""
# What each venue sends with its HTTP 429 (error code and message as documented by the venue).
RATE_LIMIT_BODIES: dict[str, Any] = {
    "binanceusdm": {
        "code": -1003,
        "msg": "Too many requests; current limit is 2400 requests per minute.",
    },
    "okx": {"code": "50011", "msg": "Too Many Requests", "data": []},
    "gate": {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"},
    "bitget": {"code": "429", "msg": "Too Many Requests", "data": None},
    "hyperliquid": {"error": "rate limited"},
}  # how often real/accelerated clocks let the model settle in the background


class Emulator:
    """See ``emulator/__init__.py`` for the public contract."""

    def __init__(
        self,
        seed: int = 0,
        speed: float = 1.0,
        faults: FaultPlan | dict[str, Any] | list[Any] | None = None,
        history_days: float = 3,
        start_ms: int | None = None,
        stepped: bool = False,
        bybit_accounts: Any = None,
        binance_accounts: Any = None,
        clones: Mapping[str, str] | None = None,
        regime: str = "normal",
        latency_ms: float = 0.0,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a finite number > 0, got {speed}")
        if not (math.isfinite(history_days) and history_days >= 0):
            raise ValueError(f"history_days must be a finite number >= 0, got {history_days}")
        if not (math.isfinite(latency_ms) and 0 <= latency_ms <= MAX_LATENCY_MS):
            raise ValueError(
                f"latency_ms must be a finite number in [0, {MAX_LATENCY_MS:g}], got {latency_ms}"
            )
        self.latency_ms = float(latency_ms)
        """Fixed time from a venue request's arrival to its answer leaving (a network round
        trip, for benchmarks); fault-plan latency comes on top of it. The answer is computed
        when the request arrives and held until then, as a venue's server works while the
        packets travel: computing it after the wait instead put the emulator's own serial CPU
        (one process standing in for six venues' servers) on top of every round trip."""
        self.seed = seed
        self.clock = EmuClock(start_ms=start_ms, speed=speed, stepped=stepped)
        self.clones = dict(clones or {})
        """``{new id: venue}``: serve a copy of ``venue`` (its wire format and a renamed copy of
        its universe, with its own funding path) under ``/<new id>`` - a stand-in for a venue
        that is not built yet (the registry's "seventh venue" test)."""
        self._check_clones()
        self.venues: dict[str, str] = {v: v for v in VENUES} | self.clones
        """Every served id -> the venue whose wire format answers it."""
        self.regime = regime
        self.market = MarketModel(
            self.clock,
            seed=seed,
            history_days=history_days,
            universe=self._universe(),
            regime=regime,
        )
        if faults is None:
            self.faults = FaultPlan(seed=seed)
        elif isinstance(faults, FaultPlan):
            self.faults = faults
        else:
            self.faults = FaultPlan.from_config(faults, seed=seed)
        self.faults.check_venues(PUBLIC)
        self._fault_rng = random.Random(seed)
        self.liquidity = ThinBooks(cast(MarketView, self.market))
        """Per-symbol caps on what one order fills (``emulator.liquidity``)."""
        self.request_log: list[dict[str, Any]] = []
        """Every venue request: venue, method, path and whether it carried API-key headers."""
        self.bybit_accounts = list(bybit_accounts or [])
        self.bybit_private: Any = None
        self.binance_accounts = list(binance_accounts or [])
        self.binance_private: Any = None
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.port: int | None = None

    def _check_clones(self) -> None:
        for new_id, venue in self.clones.items():
            if new_id in VENUES or not re.fullmatch(r"[a-z][a-z0-9_-]*", new_id):
                raise ValueError(f"clone id {new_id!r} must be a new lower-case venue id")
            entry = VENUES.get(venue)
            if entry is None or not entry.clonable:
                clonable = sorted(v for v, e in VENUES.items() if e.clonable)
                raise ValueError(f"cannot clone {venue!r}; clonable venues: {clonable}")

    def _universe(self) -> dict[str, list[Listing]]:
        recorded = load_universe()
        copies = {
            new_id: [dataclasses.replace(x, venue=new_id) for x in recorded[venue]]
            for new_id, venue in self.clones.items()
        }
        return {**recorded, **copies}

    # ------------------------------------------------------------------ app
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware])
        for served, venue in self.venues.items():
            api = VENUES[venue].api
            handler = api(self.market) if served == venue else api(self.market, venue=served)
            handler.register(app, f"/{served}")
        self._register_private(app)
        app.router.add_post("/_control/faults", self._control_faults)
        app.router.add_get("/_control/state", self._control_state)
        app.router.add_post("/_control/advance", self._control_advance)
        app.router.add_get("/_control/log", self._control_log)
        app.router.add_post("/_control/liquidity", self._control_liquidity)
        return app

    def _register_private(self, app: web.Application) -> None:
        """Bybit's signed endpoints live in ``bybit_private`` (built separately)."""
        from emulator import bybit_private
        from emulator.bybit_public import spot_listings

        spot = frozenset(x.symbol for x in spot_listings(self.market.venue_listings("bybit")))
        trading = cast(MarketView, self.liquidity)  # order matching sees the caps
        self.bybit_private = bybit_private.register(
            app, "/bybit", trading, self.bybit_accounts, spot
        )
        from emulator import binance_private

        self.binance_private = binance_private.register(
            app, "/binanceusdm", trading, self.binance_accounts,
            self.market.perpetual_symbols("binanceusdm"),
        )  # fmt: skip

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("emulator not started: await emu.start() first")
        return f"http://127.0.0.1:{self.port}"

    def venue_url(self, venue: str) -> str:
        if venue not in self.venues:
            raise ValueError(f"unknown venue {venue!r}; the emulator serves {sorted(self.venues)}")
        return f"{self.url}/{venue}"

    async def start(self, port: int = 0) -> Emulator:
        # a `timeout` fault keeps a handler sleeping long after the client gave up; shutting
        # down must not wait for it (aiohttp's default grace is 60 s)
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        if not self.clock.stepped:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        log.info("emulator listening on %s", self.url)
        return self

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def advance(self, ms: int) -> int:
        """Stepped mode: move time forward (settling funding on the way)."""
        now = self.clock.step(ms)
        await asyncio.sleep(0)
        return now

    async def _tick_forever(self) -> None:
        while True:
            self.clock.tick()
            await asyncio.sleep(TICK_S)

    # ------------------------------------------------------------------ faults
    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        parts = request.path.split("/", 2)
        venue = parts[1] if len(parts) > 1 else ""
        if venue not in self.venues:
            return await handler(request)
        path = "/" + (parts[2] if len(parts) > 2 else "")
        entry: dict[str, Any] = {
            "ts_ms": self.clock.now_ms(),
            "venue": venue,
            "method": request.method,
            "path": path,
            "query": request.query_string,
            "signed": any(h in request.headers for h in SIGNED_HEADERS),
            "status": None,
            "fault": None,
        }
        # status: the HTTP status answered (None while in flight); fault: the kind injected
        # (None: the real answer; fault None and a 2xx status = served successfully)
        self.request_log.append(entry)
        self.market.sync()
        due = asyncio.get_running_loop().time() + self.latency_ms / 1000
        latency = self.faults.pick(venue, path, {"latency"})
        if latency is not None:
            jitter = self._fault_rng.uniform(-latency.jitter_ms, latency.jitter_ms)
            extra_s = max(0.0, latency.latency_ms + jitter) / 1000
            due += extra_s
            await asyncio.sleep(extra_s)
        before = self.faults.pick(venue, path, BEFORE)
        if before is not None:  # a fault answers as late as the venue would have
            await _until(due)
            entry["fault"] = before.kind
            response = await self._apply_before(request, venue, before)
        else:
            response = await handler(request)
            after = self.faults.pick(venue, path, AFTER)
            if after is not None and isinstance(response, web.Response):
                entry["fault"] = after.kind
                response = _apply_after(response, after)
            await _until(due)
        entry["status"] = response.status
        return response

    async def _apply_before(
        self, request: web.Request, venue: str, spec: FaultSpec
    ) -> web.StreamResponse:
        now = self.clock.now_ms()
        if spec.kind == "reset":
            if request.transport is not None:
                request.transport.abort()  # RST-like close; the response below goes nowhere
            return web.Response(status=500, text="connection reset")
        if spec.kind == "timeout":
            await asyncio.sleep(spec.hang_s)
            return json_response({"error": "emulated timeout elapsed"}, status=504)
        if spec.kind == "ban":
            return web.Response(
                status=spec.http_status or 403,
                text="access too frequent",
                headers=_retry_after(spec),
            )
        if spec.kind == "server_error":
            status = spec.http_status or 503
            return web.Response(status=status, text=f"emulated server error {status}")
        return _rate_limited(self.venues[venue], spec, now)

    # ------------------------------------------------------------------ control
    async def _control_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return json_response({"error": "body must be JSON"}, status=400)
        try:
            if isinstance(body, dict) and body.get("clear"):
                self.faults.clear()
                rest = {k: v for k, v in body.items() if k != "clear"}
                if rest.get("faults"):
                    self._merge(FaultPlan.from_config(rest, seed=self.faults.seed))
            else:
                self._merge(FaultPlan.from_config(body, seed=self.faults.seed))
        except FaultConfigError as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response({"faults": self.faults.describe()})

    def _merge(self, plan: FaultPlan) -> None:
        plan.check_venues(PUBLIC)
        for rule in plan.rules:
            self.faults.set(rule.venue, rule.endpoint, rule.spec)

    async def _control_liquidity(self, request: web.Request) -> web.Response:
        """Cap what one order fills on a symbol (``emulator.liquidity``); answers the caps."""
        try:
            self.liquidity.apply(await request.json())
        except json.JSONDecodeError:
            return json_response({"error": "body must be JSON"}, status=400)
        except LiquidityError as exc:
            return json_response({"error": f"liquidity: {exc}"}, status=400)
        return json_response({"liquidity": self.liquidity.describe()})

    async def _control_log(self, request: web.Request) -> web.Response:
        """The request log and every venue's order log (tests prove what was sent)."""
        return json_response(self.logs())

    def logs(self) -> dict[str, Any]:
        orders = {
            "bybit": list(self.bybit_private.order_log),
            "binanceusdm": list(self.binance_private.order_log),
        }
        return {"requests": list(self.request_log), "orders": orders}

    async def _control_state(self, request: web.Request) -> web.Response:
        return json_response(self.state())

    def state(self) -> dict[str, Any]:
        return {
            "now_ms": self.clock.now_ms(),
            "start_ms": self.clock.start_ms,
            "history_start_ms": self.market.history_start_ms,
            "stepped": self.clock.stepped,
            "speed": self.clock.speed,
            "seed": self.seed,
            "venues": {v: len(self.market.perpetual_symbols(v)) for v in self.venues},
            "faults": self.faults.describe(),
        }

    async def _control_advance(self, request: web.Request) -> web.Response:
        try:
            ms = int(request.query.get("ms", ""))
            now = await self.advance(ms)
        except ValueError:
            return json_response({"error": "advance needs ?ms=<non-negative integer>"}, status=400)
        except ClockError as exc:
            return json_response({"error": str(exc)}, status=409)
        return json_response({"now_ms": now})

    # ------------------------------------------------------------------ threads
    @contextlib.contextmanager
    def run_in_thread(self, port: int = 0) -> Iterator[Emulator]:
        """Serve from a daemon thread with its own event loop (for sync code: CLI, demo).

        ``with Emulator(seed=1).run_in_thread() as emu: ...`` — ``emu.url`` is ready inside.
        """
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(port))
            except BaseException as exc:  # reported to the caller below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fundscan-emulator", daemon=True)
        thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        try:
            yield self
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
                asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(timeout=10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                if not thread.is_alive():
                    loop.close()


async def _cancel_pending() -> None:
    """Cancel what is left on the emulator's own loop (handlers still in a `timeout` fault)."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _until(due: float) -> None:
    """Sleep until the event loop's clock reads ``due`` (at once when it already has)."""
    left = due - asyncio.get_running_loop().time()
    if left > 0:
        await asyncio.sleep(left)


def _retry_after(spec: FaultSpec) -> dict[str, str]:
    if spec.retry_after_s is None:
        return {}
    return {"Retry-After": f"{spec.retry_after_s:g}"}


def _rate_limited(venue: str, spec: FaultSpec, now: int) -> web.Response:
    """Bybit answers UID limits with HTTP 200 + retCode 10006 and the X-Bapi-Limit headers."""
    reset = now + 2000
    if venue == "bybit" and spec.http_status in (None, 200):
        headers = {
            "X-Bapi-Limit": "10",
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(reset),
        }
        body = {
            "retCode": 10006,
            "retMsg": "Too many visits. Exceeded the API Rate Limit.",
            "result": {},
            "retExtInfo": {},
            "time": now,
        }
        return json_response(body, headers=headers)
    return json_response(
        RATE_LIMIT_BODIES.get(venue, {"error": "rate limited"}),
        status=spec.http_status or 429,
        headers=_retry_after(spec),
    )


def _apply_after(response: web.Response, spec: FaultSpec) -> web.Response:
    text = response.text or ""
    headers = {"Content-Type": response.content_type}
    if spec.kind == "malformed":
        return web.Response(status=200, text="<html>502 Bad Gateway</html>{", headers=headers)
    if spec.kind == "truncated":
        return web.Response(status=200, text=text[: max(1, len(text) // 2)], headers=headers)
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return response
    return json_response(blank_fields(body, spec.fields), status=response.status)
