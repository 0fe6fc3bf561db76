"""Gate USDT-settled perpetual futures, through ccxt's ``gate``.

Sources:

* Rate limits: public endpoints are limited per IP and private ones per UID; over the limit
  the answer is HTTP 429 with label ``TOO_MANY_REQUESTS`` (Gate API v4 docs, "API Performance"
  / rate limits, https://www.gate.io/docs/developers/apiv4/en/; ccxt 4.5.90 ``gate.py`` maps
  ``TOO_MANY_REQUESTS`` to RateLimitExceeded). Gate documents no IP ban behind HTTP 403 (its
  ``FORBIDDEN`` label is a permission error), so a 403 never silences the venue.
* ``funding_interval`` is in **seconds**; ``funding_next_apply`` seconds epoch (facts B.2,
  ``gateio/gateapi-python`` ``docs/Contract.md``).
* VIP0 futures fees 0.05 % taker / 0.02 % maker (facts B.3).
"""

from __future__ import annotations

from typing import Any

from scanner.symbols.gate import gate_symbol, instrument_from_gate, parse_gate_symbol
from scanner.venues.capabilities import (
    RawBookSpec,
    RawFundingSpec,
    RawTickersSpec,
    TopOfBookSpec,
    VenueQuirks,
    VolumeSpec,
)
from scanner.venues.funding_rows import gate_row
from scanner.venues.specs.model import (
    Fees,
    RateBudget,
    VenueSpec,
    frozen,
    rate_limit_429,
    refused_403,
    row_list_parser,
)

_DOCS = "https://www.gate.io/docs/developers/apiv4/en/"


def _book_request(market: Any, limit: int) -> dict[str, Any] | None:
    """GET futures/{settle}/order_book as ccxt's ``fetch_order_book`` sends it for a
    perpetual: at most 300 levels, with the book's id."""
    if market.get("swap") is not True or market.get("contract") is not True:
        return None
    return {
        "contract": market["id"],
        "settle": market["settleId"],
        "limit": min(limit, 300),
        "with_id": True,
    }


def _book(ex: Any, body: Any) -> tuple[Any, int | None]:
    """The body holds both sides; ``current`` (seconds) stamps the book. Without it ccxt
    raises ExchangeError, and so does this."""
    current = ex.safe_integer(body, "current")
    if current is None:
        from ccxt.base.errors import ExchangeError  # noqa: PLC0415 - only on a broken body

        raise ExchangeError(f"{ex.id} method() missing timestamp")
    return body, current * 1000


SPEC = VenueSpec(
    id="gate",
    display_name="Gate",
    adapter="ccxt",
    ccxt_class="gate",
    ccxt_options=frozen(
        {
            "fetchMarkets": {"types": ["swap"]},
            "defaultType": "swap",
            "swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}},
        }
    ),
    url_keys=frozen(
        {
            "public": {
                k: "/api/v4" for k in ("wallet", "futures", "margin", "delivery", "spot", "options")
            },
        }
    ),
    parse_row=instrument_from_gate,
    parse_list=row_list_parser("gate", (), instrument_from_gate),
    parse_symbol=parse_gate_symbol,
    write_symbol=gate_symbol,
    fees=Fees(taker=0.0005, maker=0.0002),
    statuses=frozen(
        {
            403: refused_403("forbidden (a permission error, not an IP ban)", _DOCS),
            429: rate_limit_429(_DOCS),
        }
    ),
    quirks=VenueQuirks(
        interval_source="info_seconds",
        interval_field="funding_interval",
        funding_calls=({"settle": "usdt"},),
        history_page=1000,
        volume=VolumeSpec("tickers", "quoteVolume", calls=({"type": "swap", "settle": "usdt"},)),
        top_of_book=TopOfBookSpec(
            "tickers",
            bid="info.highest_bid",
            bid_qty="info.highest_size",
            ask="info.lowest_ask",
            ask_qty="info.lowest_size",
        ),
        # the same GET futures/usdt/tickers ccxt's fetch_tickers sends (with its timezone),
        # its rows read without ccxt's parse_ticker; quoteVolume as ccxt picks it, "nan" -> 0
        raw_tickers=RawTickersSpec(
            "publicFuturesGetSettleTickers",
            frozen({"settle": "usdt", "timezone": "utc0"}),
            rows=(),
            id_field="contract",
            unified=frozen({"quoteVolume": ("quote_volume", "volume_24h_quote")}),
            nan_as_zero=frozenset({"quoteVolume"}),
        ),
        # the GET futures/usdt/contracts ccxt's fetch_funding_rates sends (settle as its
        # prepare_request sets it), sent without waiting for the markets
        raw_funding=(
            RawFundingSpec(
                "publicFuturesGetSettleContracts", frozen({"settle": "usdt"}), reader=gate_row
            ),
        ),
        raw_book=RawBookSpec(
            "publicFuturesGetSettleOrderBook", _book_request, _book, price="p", amount="s"
        ),
    ),
    # public endpoints: 200 requests per 10 s per IP (ccxt cost 1 = 50 ms)
    rate_budget=RateBudget(50.0, 10_000.0, _DOCS),
)
