"""OKX V5 USDT/USDC swaps, through ccxt's ``okx``.

Sources:

* Rate limits: a rejected request answers code ``50011`` "Rate limit reached" with HTTP 429;
  public REST is limited per IP, private per user id (OKX V5 docs "Rate Limits" and "Error
  Code" tables, https://www.okx.com/docs-v5/en/#overview-rate-limits; the same table quoted at
  https://docs.atwallets.com/rcxt/okxtr). ccxt 4.5.90 ``okx.py`` maps ``50011`` to
  RateLimitExceeded. No header gives a reset time.
* HTTP 403: OKX documents no IP ban behind it (its limits answer 429), so a 403 is a refused
  request (region, firewall) and never silences the venue.
* Interval = ``nextFundingTime - fundingTime`` of the bulk ``funding-rate?instId=ANY`` call;
  24 h volume: ``volCcy24h`` (base coin) x ``last`` (facts B.2; capabilities.py).
* VIP0 fees 0.05 % taker / 0.02 % maker (facts B.3).
"""

from __future__ import annotations

from typing import Any

from scanner.symbols.okx import instrument_from_okx, okx_symbol, parse_okx_symbol
from scanner.venues.capabilities import (
    RawBookSpec,
    RawFundingSpec,
    RawTickersSpec,
    TopOfBookSpec,
    VenueQuirks,
    VolumeSpec,
)
from scanner.venues.funding_rows import okx_row
from scanner.venues.specs.model import (
    Fees,
    RateBudget,
    VenueSpec,
    frozen,
    rate_limit_429,
    refused_403,
    row_list_parser,
)

_DOCS = "https://www.okx.com/docs-v5/en/#overview-rate-limits"


def _book_request(market: Any, limit: int) -> dict[str, Any] | None:
    """GET market/books as ccxt's ``fetch_order_book`` sends it (beyond 400 levels ccxt asks
    market/books-full instead: its own call then)."""
    if limit > 400:
        return None
    return {"instId": market["id"], "sz": limit}


def _book(ex: Any, body: Any) -> tuple[Any, int | None]:
    """The first entry of ``data`` holds both sides and ``ts`` (ms)."""
    first = ex.safe_dict(ex.safe_list(body, "data", []), 0, {})
    return first, ex.safe_integer(first, "ts")


SPEC = VenueSpec(
    id="okx",
    display_name="OKX",
    adapter="ccxt",
    ccxt_class="okx",
    ccxt_options=frozen({"fetchMarkets": {"types": ["swap"]}}),
    url_keys=frozen({"rest": ""}),
    parse_row=instrument_from_okx,
    parse_list=row_list_parser("okx", ("data",), instrument_from_okx),
    parse_symbol=parse_okx_symbol,
    write_symbol=okx_symbol,
    fees=Fees(taker=0.0005, maker=0.0002),
    statuses=frozen(
        {
            403: refused_403("refused (OKX documents no IP ban on 403)", _DOCS),
            429: rate_limit_429(_DOCS),
        }
    ),
    quirks=VenueQuirks(
        interval_source="time_gap",
        history_page=100,
        volume=VolumeSpec("tickers", "info.volCcy24h", unit="base", calls=({"type": "swap"},)),
        top_of_book=TopOfBookSpec(
            "tickers", "info.bidPx", "info.bidSz", "info.askPx", "info.askSz"
        ),
        # the same GET market/tickers?instType=SWAP, its rows read without ccxt's parse_ticker
        raw_tickers=RawTickersSpec(
            "publicGetMarketTickers",
            frozen({"instType": "SWAP"}),
            rows=("data",),
            id_field="instId",
            unified=frozen({"last": "last"}),
        ),
        # the GET public/funding-rate?instId=ANY ccxt's fetch_funding_rates sends, sent
        # without waiting for the markets; ccxt parses its ``data`` rows
        raw_funding=(
            RawFundingSpec(
                "publicGetPublicFundingRate", frozen({"instId": "ANY"}), ("data",), reader=okx_row
            ),
        ),
        raw_book=RawBookSpec("publicGetMarketBooks", _book_request, _book),
    ),
    # ccxt's okx costs are in 100 ms units (+10 %): 20 per 2 s, e.g. 40 books or 20 tickers
    # calls per 2 s per IP; OKX counts per endpoint, ccxt's window over all of them (safe side)
    rate_budget=RateBudget(110.0, 2_000.0, _DOCS),
)
