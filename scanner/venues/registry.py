"""Build the enabled venue adapters from Settings (one instance per venue per process).

Why here: the CLI, the scheduler and the demo all need "the venues of this config" and must
build them the same way: each venue's spec (``scanner.venues.specs``) says which adapter speaks
it - Bybit through our own client (keys only when execution needs them), every other venue
through ccxt pointed at the configured base URL (the emulator in tests).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import ccxt.async_support as ccxt_async

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.settings import Settings, VenueSettings
from scanner.venues.base import Venue
from scanner.venues.bybit import BybitVenue
from scanner.venues.bybit_http import BybitCredentials
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.specs import UnknownVenueError, spec_of


class UnknownVenue(UnknownVenueError):
    """A venue that is not registered, or not enabled in this config; names the venue."""

    def __init__(self, venue: object, message: str) -> None:
        super().__init__(venue)
        self.message = message


def bybit_credentials(settings: Settings) -> BybitCredentials | None:
    """Keys from the environment variables named in ``execution`` (None when unset)."""
    key = settings.secret(settings.execution.api_key_env)
    secret = settings.secret(settings.execution.api_secret_env)
    if key is None or secret is None:
        return None
    return BybitCredentials(api_key=key, api_secret=secret)


def ccxt_config(vs: VenueSettings) -> dict[str, Any]:
    """ccxt constructor config beyond the spec's options: the request timeout (ms)."""
    return {"timeout": int(vs.timeout_s * 1000)}


class SharedTls:
    """One TLS context for the ccxt exchanges built together (``build_venues``).

    ccxt builds its own default context for every exchange instance when it opens its first
    connection (``ssl.create_default_context`` loading certifi's CA file: ~0.04 s of CPU
    each, over half of a venue's one-shot CPU); the six venues of a collection would build
    six identical ones. A context holds no per-connection state, so one serves them all. It
    is still built when the first of them opens (not when they are built), as ccxt would.
    Exchanges that do not verify, or load extra certificates, keep their own.
    """

    def __init__(self) -> None:
        self._by_cafile: dict[str | None, ssl.SSLContext] = {}

    def attach(self, exchange: ccxt_async.Exchange) -> None:
        if exchange.verify is not True or exchange.ssl_context is not None:
            return
        if exchange.safe_bool(exchange.options, "include_OS_certificates", False):
            return
        ccxt_open = exchange.open

        def open_with_shared_context(*args: Any, **kwargs: Any) -> Any:
            if exchange.ssl_context is None:
                exchange.ssl_context = self.context(exchange.cafile)
            return ccxt_open(*args, **kwargs)

        exchange.open = open_with_shared_context

    def context(self, cafile: str | None) -> ssl.SSLContext:
        if cafile not in self._by_cafile:
            self._by_cafile[cafile] = ssl.create_default_context(cafile=cafile)
        return self._by_cafile[cafile]


def build_venue(
    venue: str,
    settings: Settings,
    *,
    with_keys: bool = False,
    retries: int = 2,
    clock: Clock = SYSTEM_CLOCK,
    tls: SharedTls | None = None,
) -> Venue:
    """One adapter. ``with_keys`` attaches Bybit API keys (only execution needs them).

    An unregistered venue is an ``UnknownVenueError`` naming it and the known ones.
    """
    spec = spec_of(venue)
    vs = settings.venues.get(venue)
    if spec.adapter == "bybit":
        creds = bybit_credentials(settings) if with_keys else None
        return BybitVenue.from_settings(vs, credentials=creds, retries=retries, clock=clock)
    exchange = make_exchange(venue, base_url=vs.base_url, config=ccxt_config(vs))
    if tls is not None:
        tls.attach(exchange)
    return CcxtVenue(venue, exchange, retries=retries, clock=clock)


def build_venues(
    settings: Settings,
    names: Iterable[str] | None = None,
    *,
    retries: int = 2,
    with_keys: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Venue]:
    """Adapters for ``names`` (default: ``settings.venues.enabled``), in that order.

    ``with_keys``: Bybit's adapter carries the API keys when they are set, so account calls
    (live fee rate, later orders) share its ban gate and limits instead of a second client.
    """
    wanted = list(names) if names is not None else list(settings.venues.enabled)
    enabled = set(settings.venues.enabled)
    for name in wanted:
        if name not in enabled:
            raise UnknownVenue(
                name,
                f"venue {name!r} is not enabled; enabled: {', '.join(settings.venues.enabled)}",
            )
    tls = SharedTls()
    return {
        name: build_venue(
            name, settings, with_keys=with_keys, retries=retries, clock=clock, tls=tls
        )
        for name in wanted
    }


def max_concurrency(settings: Settings, names: Iterable[str]) -> Mapping[str, int]:
    return {n: settings.venues.get(n).max_concurrency for n in names}


async def close_all(venues: Mapping[str, Venue]) -> None:
    """Close every adapter; one failing close does not keep the others open."""
    await asyncio.gather(*(v.close() for v in venues.values()), return_exceptions=True)
