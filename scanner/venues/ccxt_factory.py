"""The one place ccxt exchange objects are built, from the venue's spec.

Why a factory: pointing unmodified ccxt at the emulator (or at a regional or testnet host) is
a matter of overriding ``urls['api']`` entries, and which entries matter differs per exchange
class. That knowledge is data in each ``VenueSpec`` (``url_keys``), together with the ccxt
class name and the options that narrow ``load_markets`` to perpetual swaps (Bybit also spot,
for same-venue carry), and the venue's real request budget for ccxt's own throttle
(``RateBudget``: a rolling window instead of a one-request leaky bucket), spent by
``WindowThrottler`` (ccxt's rolling-window rule for less CPU a request). Everything else in
ccxt is left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt_async

from scanner.venues.specs import UnknownVenueError, spec_of
from scanner.venues.window_throttle import WindowThrottler

__all__ = ["UnknownVenueError", "make_exchange"]


def _plain(value: Any) -> Any:
    """Deep copy of a (possibly read-only) mapping tree into plain dicts ccxt can mutate."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return copy.deepcopy(value)


def _urls(table: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return {
        key: _urls(value, base_url) if isinstance(value, Mapping) else base_url + value
        for key, value in table.items()
    }


def _deep_merge(into: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = _plain(value)
    return into


def make_exchange(
    venue: str, base_url: str | None = None, config: dict[str, Any] | None = None
) -> ccxt_async.Exchange:
    """An async ccxt exchange for ``venue``; with ``base_url`` all its API hosts point there.

    ``config`` is deep-merged last (keys, timeouts, extra options). The caller owns the
    returned object and must ``await exchange.close()``. An unknown venue is an
    ``UnknownVenueError`` naming the known ones.
    """
    spec = spec_of(venue)
    cls = getattr(ccxt_async, spec.ccxt_class, None)
    if cls is None:
        raise UnknownVenueError(venue, f"(ccxt has no class {spec.ccxt_class!r})")
    merged: dict[str, Any] = {"options": _plain(spec.ccxt_options)}
    if spec.rate_budget is not None:
        merged.update(spec.rate_budget.ccxt_config())
    if base_url is not None:
        merged["urls"] = {"api": _urls(spec.url_keys, base_url.rstrip("/"))}
    _deep_merge(merged, config or {})
    exchange: ccxt_async.Exchange = cls(merged)
    if exchange.throttler.config.get("algorithm") == "rollingWindow":
        exchange.throttler = WindowThrottler(exchange.throttler.config, exchange.throttler.loop)
    return exchange
