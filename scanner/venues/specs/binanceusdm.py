"""Binance USD-M futures, through ccxt's ``binanceusdm``.

Sources:

* HTTP 418: the IP "has been auto-banned for continuing to send requests after receiving 429
  codes"; bans scale from 2 minutes to 3 days; a ``Retry-After`` header (seconds) is sent with
  418 and 429 and, for a 418, gives the time until the ban is over
  (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits; the same text in
  https://developers.binance.com/en/docs/products/oms/basics/4.rate-limits).
* HTTP 429: a request rate limit was broken; back off for ``Retry-After`` to avoid a ban (same).
* HTTP 403: "the WAF Limit (Web Application Firewall) has been violated"
  (https://developers.binance.com/docs/derivatives/european-options/general-info, "HTTP Return
  Codes", base ``fapi.binance.com``): a refused request, not the IP ban (that is 418).
* Funding intervals: bulk ``premiumIndex`` has none; ``/fapi/v1/fundingInfo`` lists only
  adjusted symbols, the rest are 8 h (facts B.2, C.2).
* VIP0 fees 0.05 % taker / 0.02 % maker (facts B.3).
"""

from __future__ import annotations

from typing import Any

from scanner.symbols.binance import binance_symbol, instrument_from_binance, parse_binance_symbol
from scanner.venues.capabilities import (
    RawBookSpec,
    RawFundingSpec,
    RawTickersSpec,
    TopOfBookSpec,
    VenueQuirks,
    VolumeSpec,
)
from scanner.venues.funding_rows import binance_row
from scanner.venues.specs.model import (
    Fees,
    LiftHeader,
    RateBudget,
    StatusMeaning,
    VenueSpec,
    frozen,
    row_list_parser,
)

_DOCS = "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits"


def _book_request(market: Any, limit: int) -> dict[str, Any] | None:
    """GET fapi/v1/depth as ccxt's ``fetch_order_book`` sends it for a linear contract."""
    if market.get("option") or market.get("linear") is not True:
        return None
    return {"symbol": market["id"], "limit": limit}


def _book(ex: Any, body: Any) -> tuple[Any, int | None]:
    """The body holds both sides; its ``T`` (transaction time, ms) stamps the book."""
    return body, ex.safe_integer(body, "T")


SPEC = VenueSpec(
    id="binanceusdm",
    display_name="Binance USD-M",
    adapter="ccxt",
    ccxt_class="binanceusdm",
    ccxt_options=frozen({"fetchMarkets": {"types": ["linear"]}}),
    url_keys=frozen(
        {
            "fapiPublic": "/fapi/v1",
            "fapiPublicV2": "/fapi/v2",
            "fapiPublicV3": "/fapi/v3",
            "fapiPrivate": "/fapi/v1",
            "fapiPrivateV2": "/fapi/v2",
            "fapiPrivateV3": "/fapi/v3",
            "fapiData": "/futures/data",
            "public": "/api/v3",
            "private": "/api/v3",
        }
    ),
    parse_row=instrument_from_binance,
    parse_list=row_list_parser("binanceusdm", ("symbols",), instrument_from_binance),
    parse_symbol=parse_binance_symbol,
    write_symbol=binance_symbol,
    fees=Fees(taker=0.0005, maker=0.0002),
    statuses=frozen(
        {
            403: StatusMeaning(
                403,
                "refused",
                30.0,
                why="web application firewall limit violated (not an IP ban)",
                source="https://developers.binance.com/docs/derivatives/european-options/general-info",
            ),
            418: StatusMeaning(
                418,
                "ip_ban",
                600.0,
                lift_headers=(LiftHeader("Retry-After", "s"),),
                why="IP auto-banned after ignoring 429s",
                source=_DOCS,
            ),
            429: StatusMeaning(
                429,
                "rate_limit",
                1.0,
                lift_headers=(LiftHeader("Retry-After", "s"),),
                why="request rate limit broken",
                source=_DOCS,
            ),
        }
    ),
    quirks=VenueQuirks(
        interval_source="funding_info",
        default_interval_h=8.0,
        history_page=1000,
        book_depths=(5, 10, 20, 50, 100, 500, 1000),
        volume=VolumeSpec("tickers", "quoteVolume", calls=({"type": "swap", "subType": "linear"},)),
        top_of_book=TopOfBookSpec("bids_asks"),
        # the same GET fapi/v1/ticker/24hr and ticker/bookTicker ccxt's fetch_tickers and
        # fetch_bids_asks send (same weights: 40 and 5 without a symbol), their rows read
        # without ccxt's parse_ticker; the fields as ccxt's parse picks them for linear rows
        raw_tickers=RawTickersSpec(
            "fapiPublicGetTicker24hr",
            frozen({}),
            rows=(),
            id_field="symbol",
            unified=frozen({"quoteVolume": ("quoteVolume", "amount")}),
        ),
        raw_bids_asks=RawTickersSpec(
            "fapiPublicGetTickerBookTicker",
            frozen({}),
            rows=(),
            id_field="symbol",
            unified=frozen(
                {
                    "bid": "bidPrice",
                    "bidVolume": ("bidQty", "bidSize"),
                    "ask": "askPrice",
                    "askVolume": ("askQty", "askSize"),
                }
            ),
        ),
        # the GET fapi/v1/premiumIndex and fapi/v1/fundingInfo ccxt's fetch_funding_rates and
        # fetch_funding_intervals send for linear swaps, sent without waiting for the markets
        raw_funding=(RawFundingSpec("fapiPublicGetPremiumIndex", frozen({}), reader=binance_row),),
        raw_intervals=RawFundingSpec("fapiPublicGetFundingInfo", frozen({}), reader=binance_row),
        raw_book=RawBookSpec("fapiPublicGetDepth", _book_request, _book),
    ),
    # 2,400 request weight per minute per IP (REQUEST_WEIGHT); ccxt's binance costs are weights
    rate_budget=RateBudget(25.0, 60_000.0, _DOCS),
)
