"""Raw funding rows read into the fields the adapter reads, as ccxt's ``parse_funding_rate``
gives them, without the rest of ccxt's structure.

Why: ccxt's ``parse_funding_rates`` was ~19 % of the client's CPU in a quotes-only steady
cycle (py-spy, 19:10): it builds an 18-key structure a row, formats two ISO datetimes no one
reads (``iso8601`` alone ~8 %), does Precise text arithmetic for the interval and walks its
``safe_*`` helpers for fields we never look at. The adapter reads eight keys (``READ_KEYS``).

Sameness by construction: each value is computed by the same primitive ccxt's parse applies to
the same key (``safe_number`` is ``float`` of ccxt's ``safe_string``; ``safe_integer`` is
``int(float(v))``, any failure None), the interval text by ccxt's own functions (memoised per
distinct input: a body has a handful), the symbol from ccxt's ``markets_by_id`` where the id
names exactly one market (what its ``safe_market`` returns then) and by ccxt's ``safe_symbol``
otherwise. A body ccxt's parse would see differently (a row that is not a dict, an exchange
whose numbers are not floats) or any exception is handed back as None: the adapter then parses
it with ccxt, so a bad body gets ccxt's own answer or error. Differential tests compare both
over every row of the emulator's bodies and the recorded fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

READ_KEYS = (
    "info",
    "symbol",
    "fundingRate",
    "timestamp",
    "fundingTimestamp",
    "markPrice",
    "indexPrice",
    "interval",
)
"""The keys of ccxt's funding-rate structure the adapter reads (``quote_from_unified``,
``interval_h_for``, ``_interval_h``); a reader gives exactly these."""

Record = dict[str, Any]
RowReader = Callable[[Any, dict[str, Any], dict[Any, Any]], Record]
"""``(exchange, row, memo) -> record``: one venue's ``parse_funding_rate`` restricted to
``READ_KEYS``; ``memo`` caches the interval text per distinct input within one body."""


def safe_string(row: dict[str, Any], key: str) -> str | None:
    """ccxt's ``safe_string`` on a dict row: non-empty text as is, a number as ``str``."""
    value = row.get(key)
    kind = type(value)
    if kind is str:
        return value if value != "" else None  # type: ignore[return-value]
    if kind is float or kind is int:
        return str(value)
    return None


def safe_number(row: dict[str, Any], key: str) -> float | None:
    """ccxt's ``safe_number`` with its default ``number = float``: ``float`` of
    ``safe_string``, None where that fails."""
    text = safe_string(row, key)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def safe_integer(row: dict[str, Any], key: str) -> int | None:
    """ccxt's ``safe_integer``: ``int(float(v))``, None on any failure."""
    try:
        return int(float(row[key]))
    except Exception:  # noqa: BLE001 - ccxt's own catch-all, mirrored
        return None


def safe_timestamp(row: dict[str, Any], key: str) -> int | None:
    """ccxt's ``safe_timestamp``: seconds -> ms as ``int(float(v) * 1000)``."""
    try:
        return int(float(row[key]) * 1000)
    except Exception:  # noqa: BLE001 - ccxt's own catch-all, mirrored
        return None


def safe_string_2(row: dict[str, Any], first: str, second: str) -> str | None:
    """ccxt's ``safe_string_2``: ``safe_string`` of ``first``, else of ``second``."""
    text = safe_string(row, first)
    return text if text is not None else safe_string(row, second)


def safe_integer_2(row: dict[str, Any], first: str, second: str) -> int | None:
    """ccxt's ``safe_integer_2``: ``int(float(v))`` of ``first``, else of ``second``."""
    try:
        return int(float(row[first]))
    except Exception:  # noqa: BLE001 - ccxt's own catch-all, mirrored
        return safe_integer(row, second)


def market_symbol(
    exchange: Any, market_id: str | None, delimiter: str | None, kind: str | None
) -> Any:
    """ccxt's ``safe_symbol(market_id, None, delimiter, kind)``: the one market the id names
    read directly, anything else (unknown id, an id of several markets) by ccxt itself."""
    if market_id is not None:
        found = exchange.markets_by_id.get(market_id) if exchange.markets_by_id else None
        if found is not None and len(found) == 1:
            return found[0]["symbol"]
    return exchange.safe_symbol(market_id, None, delimiter, kind)


def _precise() -> Any:
    """ccxt's ``Precise``, imported when a body is read: the venue specs import this module,
    and ``fundscan --help`` must not pay for importing ccxt."""
    from ccxt.base.precise import Precise  # noqa: PLC0415 - see the docstring

    return Precise


def _memo(memo: dict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
    if key in memo:
        return memo[key]
    memo[key] = value = compute()
    return value


def okx_row(exchange: Any, row: dict[str, Any], memo: dict[Any, Any]) -> Record:
    """``okx.parse_funding_rate``: no mark/index price or timestamp; the interval is the
    gap between ``nextFundingTime`` and ``fundingTime`` as ccxt names it."""
    first, second = safe_string(row, "fundingTime"), safe_string(row, "nextFundingTime")
    interval = _memo(
        memo,
        (second, first),
        lambda: exchange.parse_funding_interval(_precise().string_sub(second, first)),
    )
    return {
        "info": row,
        "symbol": market_symbol(exchange, safe_string(row, "instId"), None, None),
        "fundingRate": safe_number(row, "fundingRate"),
        "timestamp": None,
        "fundingTimestamp": safe_integer(row, "fundingTime"),
        "markPrice": None,
        "indexPrice": None,
        "interval": interval,
    }


def gate_row(exchange: Any, row: dict[str, Any], memo: dict[Any, Any]) -> Record:
    """``gate.parse_funding_rate`` of a contracts row: ``funding_next_apply`` seconds -> ms,
    ``funding_interval`` seconds named by ccxt (``"8h"``)."""
    seconds = safe_string(row, "funding_interval")
    interval = _memo(
        memo,
        seconds,
        lambda: exchange.parse_funding_interval(_precise().string_mul("1000", seconds)),
    )
    return {
        "info": row,
        "symbol": market_symbol(exchange, safe_string(row, "name"), "_", "swap"),
        "fundingRate": safe_number(row, "funding_rate"),
        "timestamp": None,
        "fundingTimestamp": safe_timestamp(row, "funding_next_apply"),
        "markPrice": safe_number(row, "mark_price"),
        "indexPrice": safe_number(row, "index_price"),
        "interval": interval,
    }


def binance_row(exchange: Any, row: dict[str, Any], memo: dict[Any, Any]) -> Record:
    """``binance.parse_funding_rate`` of a premiumIndex or fundingInfo row."""
    hours = safe_string(row, "fundingIntervalHours")
    return {
        "info": row,
        "symbol": market_symbol(exchange, safe_string(row, "symbol"), None, "contract"),
        "fundingRate": safe_number(row, "lastFundingRate"),
        "timestamp": safe_integer(row, "time"),
        "fundingTimestamp": safe_integer(row, "nextFundingTime"),
        "markPrice": safe_number(row, "markPrice"),
        "indexPrice": safe_number(row, "indexPrice"),
        "interval": None if hours is None else hours + "h",
    }


def bitget_row(exchange: Any, row: dict[str, Any], memo: dict[Any, Any]) -> Record:
    """``bitget.parse_funding_rate`` of a ``current-fund-rate`` (or tickers) row."""
    hours = safe_string_2(row, "ratePeriod", "fundingRateInterval")
    return {
        "info": row,
        "symbol": market_symbol(exchange, safe_string(row, "symbol"), None, "swap"),
        "fundingRate": safe_number(row, "fundingRate"),
        "timestamp": safe_integer(row, "ts"),
        "fundingTimestamp": safe_integer_2(row, "nextFundingTime", "nextUpdate"),
        "markPrice": safe_number(row, "markPrice"),
        "indexPrice": safe_number(row, "indexPrice"),
        "interval": None if hours is None else hours + "h",
    }


def read_funding_rows(
    exchange: Any, reader: RowReader, rows: list[Any]
) -> dict[str, Mapping[str, Any]] | None:
    """``{symbol: record}`` of ``rows`` as ccxt's ``parse_funding_rates`` keys them (rows
    without a symbol left out, a later row of the same symbol replacing an earlier one in its
    place), or None where ccxt's parse must read the body (see the module's docstring)."""
    if exchange.number is not float or not all(type(row) is dict for row in rows):
        return None
    memo: dict[Any, Any] = {}
    out: dict[str, Mapping[str, Any]] = {}
    try:
        for row in rows:
            record = reader(exchange, row, memo)
            symbol = record["symbol"]
            if symbol is not None:
                out[symbol] = record
    except Exception:  # noqa: BLE001 - ccxt's parse of the same body says what was wrong
        return None
    return out
