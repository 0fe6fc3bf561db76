"""24 h volume in USD notional and the top of book from a unified ccxt record, per the venue's
``VolumeSpec`` / ``TopOfBookSpec``.

Why a module of its own: what ccxt puts in ``quoteVolume``/``baseVolume`` differs per venue
(OKX's ``baseVolume`` is contracts, its ``quoteVolume`` None for swaps), so the venue's
``capabilities.VolumeSpec`` names the field and its unit, and this one function applies it.
Pure: no I/O, easy to test against recorded payloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from scanner.venues.base import to_float
from scanner.venues.capabilities import RawTickersSpec, TopOfBookSpec, VolumeSpec

_INF = math.inf

Top = tuple[float, float, float, float]
"""(bid price, bid size, ask price, ask size) in venue units."""


def _field(record: Mapping[str, Any], name: str) -> Any:
    """``quoteVolume`` -> record["quoteVolume"]; ``info.volCcy24h`` -> record["info"][...]."""
    if name.startswith("info."):
        info = record.get("info")
        return info.get(name[5:]) if type(info) is dict or isinstance(info, Mapping) else None
    return record.get(name)


def lenient_volume(value: Any) -> float | None:
    """A volume number, or None when missing or unreadable.

    Lenient on purpose: volume only filters the universe, so a garbled volume field must
    not cost the funding quote it rides on.
    """
    if type(value) is str or type(value) is float:
        # to_float's own reading of text and floats, without its call (~40,000 a scan);
        # ``0 <= amount < inf`` is "finite and not negative" in one comparison (NaN fails it)
        try:
            number = float(value)
        except ValueError:
            return None
        return number if 0.0 <= number < _INF else None
    try:
        amount = to_float(value)
    except (ValueError, ArithmeticError, TypeError):
        return None
    if amount is None or not math.isfinite(amount) or amount < 0:
        return None
    return amount


def usd_volume(spec: VolumeSpec, record: Mapping[str, Any]) -> float | None:
    """Quote-currency notional of one ticker/funding record; None when it cannot be known."""
    amount = lenient_volume(_field(record, spec.field))
    if amount is None or spec.unit == "quote":
        return amount
    last = lenient_volume(record.get("last"))
    return None if last is None else amount * last


def volumes_by_symbol(
    spec: VolumeSpec, records: Mapping[str, Mapping[str, Any]]
) -> dict[str, float]:
    """``{unified symbol: USD volume}`` for every record whose volume is known."""
    out = {}
    for symbol, record in records.items():
        volume = usd_volume(spec, record)
        if volume is not None:
            out[symbol] = volume
    return out


def top_of_book(spec: TopOfBookSpec, record: Mapping[str, Any]) -> Top | None:
    """Best bid/ask with sizes of one ticker record; None unless all four are known, positive
    and the book is not crossed (a garbled ticker must not price a row)."""
    return _top(_paths(spec), record)


Path = tuple[str | None, str]
"""``("info", key)`` for ``info.<key>``, ``(None, key)`` for a unified key."""


def _paths(spec: TopOfBookSpec) -> tuple[Path, ...]:
    return tuple(("info", n[5:]) if n.startswith("info.") else (None, n) for n in spec_fields(spec))


def _top(paths: tuple[Path, ...], record: Mapping[str, Any]) -> Top | None:
    """All four values known and positive, the bid not above the ask; else None (the first
    value missing ends the read: a half-known top prices nothing)."""
    values = []
    for outer, key in paths:
        node = record.get(outer) if outer is not None else record
        value = node.get(key) if type(node) is dict or isinstance(node, Mapping) else None
        amount = lenient_volume(value)
        if amount is None or not amount > 0:
            return None
        values.append(amount)
    bid, bid_qty, ask, ask_qty = values
    if bid > ask:
        return None
    return bid, bid_qty, ask, ask_qty


def spec_fields(spec: TopOfBookSpec) -> tuple[str, str, str, str]:
    return spec.bid, spec.bid_qty, spec.ask, spec.ask_qty


def tops_by_symbol(spec: TopOfBookSpec, records: Mapping[str, Mapping[str, Any]]) -> dict[str, Top]:
    """``{unified symbol: top of book}`` for every record whose top of book is known.

    The four values of a record are read together (``_text_top``) where they all sit in one
    node as text ``float`` reads (what the venues send); any other record by ``_top``."""
    out = {}
    paths = _paths(spec)
    outer = paths[0][0]
    together = itemgetter(*(key for _, key in paths)) if all(o == outer for o, _ in paths) else None
    for symbol, record in records.items():
        top = _text_top(outer, together, record) if together is not None else _NOT_TEXT
        if top is _NOT_TEXT:
            top = _top(paths, record)
        if top is not None:
            out[symbol] = top
    return out


_NOT_TEXT: Any = object()


def _text_top(outer: str | None, together: Any, record: Mapping[str, Any]) -> Top | None | Any:
    """``_top`` of a record whose four values are text ``float`` reads, in one C call each
    for the read and the parse; _NOT_TEXT for any other record. ``lenient_volume`` of such a
    text is its ``float`` (None unless ``0 <= x < inf``), so "all four known and positive, the
    bid not above the ask" is one chain of comparisons."""
    node = record.get(outer) if outer is not None else record
    if type(node) is not dict:
        return _NOT_TEXT
    try:
        texts = together(node)
        "".join(texts)  # TypeError unless all four are text (float() takes more)
        bid, bid_qty, ask, ask_qty = map(float, texts)
    except (KeyError, TypeError, ValueError):
        return _NOT_TEXT
    if 0.0 < bid <= ask < _INF and 0.0 < bid_qty < _INF and 0.0 < ask_qty < _INF:
        return bid, bid_qty, ask, ask_qty
    return None


def raw_ticker_records(
    spec: RawTickersSpec, body: Any, symbols: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """``{unified symbol: {"info": row, <unified key>: row[<raw field>]}}`` of a raw tickers
    body (``RawTickersSpec``); ``symbols`` maps a venue symbol to its unified symbol, rows of
    other symbols are left out. A body without its row list raises KeyError/TypeError (the
    adapter reports it as a malformed response)."""
    node = body
    for key in spec.rows:
        node = node[key]
    if not isinstance(node, list):
        raise TypeError(f"tickers rows at {'.'.join(spec.rows)} are not a list")
    out: dict[str, dict[str, Any]] = {}
    for row in node:
        if type(row) is not dict and not isinstance(row, Mapping):  # the ABC check: ~1 us
            continue
        symbol = symbols.get(str(row.get(spec.id_field)))
        if symbol is None:
            continue
        record: dict[str, Any] = {"info": row}
        for unified, raw in spec.unified.items():
            value = row.get(raw) if isinstance(raw, str) else _first_present(row, raw)
            if value == "nan" and unified in spec.nan_as_zero:
                value = "0"
            record[unified] = value
        out[symbol] = record
    return out


def _first_present(row: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
    """The first of ``fields`` the row holds as a non-empty string or a number (ccxt's
    ``safe_string_2``/``safe_string_n`` choice), else None."""
    for name in fields:
        value = row.get(name)
        if (isinstance(value, str) and value != "") or type(value) in (int, float):
            return value
    return None
