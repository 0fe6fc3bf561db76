"""The one place ccxt exchange objects are built.

Why a factory: pointing unmodified ccxt at the emulator (or at a regional host) is a matter of
overriding ``urls['api']`` entries, and which entries matter differs per exchange class. That
knowledge is data here (``URL_KEYS``), together with the market-type narrowing each venue needs
so ``load_markets`` asks only for perpetual swaps (Bybit also spot, for same-venue carry).
Everything else in ccxt is left alone.
"""

from __future__ import annotations

import copy
from typing import Any

import ccxt.async_support as ccxt_async

# For each venue: urls['api'] key -> path appended to the base URL. ``base_url`` is the venue
# root, e.g. ``http://127.0.0.1:PORT/binanceusdm``; ccxt then appends its own endpoint paths.
URL_KEYS: dict[str, dict[str, Any]] = {
    "bybit": {k: "" for k in ("spot", "futures", "v2", "public", "private")},
    "binanceusdm": {
        "fapiPublic": "/fapi/v1",
        "fapiPublicV2": "/fapi/v2",
        "fapiPublicV3": "/fapi/v3",
        "fapiPrivate": "/fapi/v1",
        "fapiPrivateV2": "/fapi/v2",
        "fapiPrivateV3": "/fapi/v3",
        "fapiData": "/futures/data",
        "public": "/api/v3",
        "private": "/api/v3",
    },
    "okx": {"rest": ""},
    "bitget": {k: "" for k in ("spot", "mix", "user", "broker", "margin", "common", "uta")},
    "gate": {
        "public": {
            k: "/api/v4" for k in ("wallet", "futures", "margin", "delivery", "spot", "options")
        },
    },
    "hyperliquid": {"public": "", "private": ""},
}

# Market-type narrowing and other options, per venue (ccxt option names).
OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {"fetchMarkets": {"types": ["linear", "spot"]}},
    "binanceusdm": {"fetchMarkets": {"types": ["linear"]}},
    "okx": {"fetchMarkets": {"types": ["swap"]}},
    "bitget": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
    "gate": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
    "hyperliquid": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
}

CLASSES = {
    "bybit": ccxt_async.bybit,
    "binanceusdm": ccxt_async.binanceusdm,
    "okx": ccxt_async.okx,
    "bitget": ccxt_async.bitget,
    "gate": ccxt_async.gate,
    "hyperliquid": ccxt_async.hyperliquid,
}


class UnknownVenueError(ValueError):
    pass


def _urls(table: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        key: _urls(value, base_url) if isinstance(value, dict) else base_url + value
        for key, value in table.items()
    }


def _deep_merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def make_exchange(
    venue: str, base_url: str | None = None, config: dict[str, Any] | None = None
) -> ccxt_async.Exchange:
    """An async ccxt exchange for ``venue``; with ``base_url`` all its API hosts point there.

    ``config`` is deep-merged last (keys, timeouts, extra options). The caller owns the
    returned object and must ``await exchange.close()``.
    """
    if venue not in CLASSES:
        raise UnknownVenueError(f"no ccxt class for venue {venue!r}; known: {sorted(CLASSES)}")
    merged: dict[str, Any] = {"options": copy.deepcopy(OPTIONS[venue])}
    if base_url is not None:
        merged["urls"] = {"api": _urls(URL_KEYS[venue], base_url.rstrip("/"))}
    _deep_merge(merged, copy.deepcopy(config or {}))
    return CLASSES[venue](merged)
