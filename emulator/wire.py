"""Formatting helpers shared by the venue handlers: numbers as the venues print them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from aiohttp import web

try:  # optional speed-up (ccxt depends on it); the emulator imports nothing of the project
    import orjson
except ImportError:  # pragma: no cover - json does the same, slower
    orjson = None  # type: ignore[assignment]


@lru_cache(maxsize=4096)
def decimals_of(step: float) -> int:
    """Number of decimals a tick/lot implies (0.0001 -> 4, 0.5 -> 1, 10 -> 0).

    Cached: a venue has a few hundred distinct ticks and lots, and every number a tickers or
    book body prints asks again (the Decimal round trip was ~40 % of a tickers body's CPU)."""
    if step <= 0:
        return 8
    exp = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exp))


_FIXED = tuple(f"%.{n}f" for n in range(32))
"""``%``-formats by number of decimals: the same text as ``f"{x:.{n}f}"`` at a third of its
cost (a tickers body prints ~10 numbers a row, a book ~100 levels)."""


def fmt(x: float, step: float | None = None, places: int | None = None) -> str:
    """A venue-style decimal string: rounded to ``step``'s decimals (or ``places``)."""
    if not math.isfinite(x):
        return "0"
    n = places if places is not None else (decimals_of(step) if step else 8)
    return _FIXED[n] % x if 0 <= n < len(_FIXED) else f"{x:.{n}f}"


def fmt_levels(levels: list[tuple[float, float]], tick: float, lot: float) -> list[list[str]]:
    """``[[fmt(price, tick), fmt(size, lot)] for price, size in levels]``, the same strings with
    each column's format looked up once (a book of 50 levels a side prints 200 numbers; a
    steady bench cycle serves ~140 books)."""
    prices = [p for p, _ in levels]
    sizes = [s for _, s in levels]
    columns = zip(fmt_prices(prices, tick), fmt_column(sizes, lot), strict=True)
    return [[p, s] for p, s in columns]


def fmt_prices(values: list[float], step: float) -> list[str]:
    """``fmt_column(values, step)`` for a book's price ladder: kept by the prices themselves
    (a ladder moves with the mark, once a minute, and its listing's book is asked for every
    few seconds; looking 50 prices up costs a fraction of printing them). Positive finite
    prices only (``-0.0 == 0.0`` would share a key and print differently)."""
    if values and min(values) > 0 and max(values) < math.inf:
        return list(_fmt_prices(tuple(values), step))
    return fmt_column(values, step)


@lru_cache(maxsize=2048)
def _fmt_prices(values: tuple[float, ...], step: float) -> tuple[str, ...]:
    return tuple(fmt_column(list(values), step))


def fmt_column(values: list[float], step: float) -> list[str]:
    """``[fmt(v, step) for v in values]``."""
    n = decimals_of(step) if step else 8
    if 0 <= n < len(_FIXED) and all(map(math.isfinite, values)):
        spec = _FIXED[n]
        return [spec % v for v in values]
    return [fmt(v, step) for v in values]


class RowCache:
    """Tickers rows by the values they are printed from, built once per distinct key.

    A listing's prices and funding rate move once a minute while a tickers body is asked for
    every few seconds, and printing a row's ~20 numbers was most of a body's cost. The key holds
    the values themselves (not the minute), so a model whose numbers change at any time is
    printed right. A handler copies the row and sets what changes per request (book sizes,
    timestamps): ``dict(row)`` keeps the field order, so bodies are byte for byte the same."""

    def __init__(self, limit: int = 20_000) -> None:
        self._rows: dict[Any, dict[str, Any]] = {}
        self._limit = limit

    def get(self, key: Any, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= self._limit:
                self._rows.clear()
            row = self._rows[key] = build()
        return dict(row)


_SLOT = "\x00"
"""Marks a per-request field in a row template (no venue text holds a NUL)."""


class RowText:
    """Tickers rows as JSON text, kept like ``RowCache`` keeps dicts, with slots for the fields
    a handler sets per request (book sizes, timestamps).

    ``orjson`` printed each row's dict again for every body (~30 fields, ~800 Bybit rows) and a
    handler copied the dict first; here a row is printed once per distinct key with a marker
    in each slot, cut at the markers, and a request joins the pieces with its values (each
    printed by ``orjson`` as a JSON string). The row goes into the body as an
    ``orjson.Fragment``, so the body is the bytes ``orjson`` prints for the dicts. Without
    orjson (or for a row orjson refuses) ``row`` hands back the dict, as ``RowCache`` did."""

    def __init__(self, slots: tuple[str, ...], limit: int = 20_000) -> None:
        self._slots = slots
        self._dicts = RowCache(limit)
        self._texts: dict[Any, tuple[list[str], list[str]] | None] = {}
        self._limit = limit

    def row(self, key: Any, build: Callable[[], dict[str, Any]], values: dict[str, str]) -> Any:
        """The row of ``key`` (built by ``build`` on a miss) with ``values`` in its slots:
        ``values`` names every slot, in the order the row's dict sets them."""
        if key in self._texts:
            text = self._texts[key]
        else:
            text = self._cut(build())
            if len(self._texts) >= self._limit:
                self._texts.clear()
            self._texts[key] = text
        if text is None or orjson is None:
            row = self._dicts.get(key, build)
            row.update(values)
            return row
        pieces, order = text
        out = [pieces[0]]
        for name, piece in zip(order, pieces[1:], strict=True):
            out.append(orjson.dumps(values[name]).decode())
            out.append(piece)
        return orjson.Fragment("".join(out))

    def _cut(self, row: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        """(the row's text cut at its slots, the slots in text order), or None for the dict path."""
        if orjson is None or any(k not in row for k in self._slots):
            return None
        for name in self._slots:
            row[name] = _SLOT + name
        try:
            text = orjson.dumps(row).decode()
        except TypeError:
            return None
        marks = {orjson.dumps(_SLOT + name).decode(): name for name in self._slots}
        where = sorted((text.find(mark), mark) for mark in marks)
        if any(at < 0 or text.count(mark) != 1 for at, mark in where):
            return None
        pieces, order, start = [], [], 0
        for at, mark in where:
            pieces.append(text[start:at])
            order.append(marks[mark])
            start = at + len(mark)
        pieces.append(text[start:])
        return pieces, order


def rate_str(x: float, places: int = 8) -> str:
    """Funding rates: fixed decimals, no exponent (venues never print 1e-05)."""
    return f"{x:.{places}f}".rstrip("0").rstrip(".") if x else "0"


def volume_str(x: float) -> str:
    """A 24 h volume as venues print it: a plain decimal with 10 significant digits (enough
    that a parsed volume equals the model's to ~1e-10), never an exponent."""
    if not math.isfinite(x) or x <= 0:
        return "0"
    places = max(0, 9 - math.floor(math.log10(x)))
    return f"{x:.{places}f}"


def json_bytes(body: Any) -> bytes:
    """Compact JSON. orjson where it can (a 570 kB tickers body took ~25 ms in ``json``);
    ``json`` for what orjson refuses (numpy scalars). The two agree on every value; they
    spell a few floats differently (``1e-05`` / ``0.00001``), both valid JSON."""
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json_bytes(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def int_param(query: Any, name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)
