"""Bitget V2 mix (USDT-, USDC- and coin-margined futures), through ccxt's ``bitget``.

Sources:

* Error codes: ``403`` "Access prohibited" is a permission refusal and ``429`` "Too many
  requests" a rate limit (Bitget API error-code table, as mapped in ccxt 4.5.90 ``bitget.py``
  ``exceptions['exact']``: 403 PermissionDenied, 429 DDoSProtection). Neither is documented as
  an IP ban, so a 403 never silences the venue.
* ``current-fund-rate`` carries ``fundingRateInterval`` (hours) and ``nextUpdate``; one call per
  ``productType``; history pages by page number (facts B.2; capabilities.py).
* VIP0 fees 0.06 % taker / 0.02 % maker (facts B.3,
  https://bitget.com/ph/support/articles/4552737163033).
"""

from __future__ import annotations

from typing import Any

from scanner.symbols.bitget import bitget_symbol, instrument_from_bitget, parse_bitget_symbol
from scanner.venues.capabilities import (
    RawBookSpec,
    RawFundingSpec,
    RawTickersSpec,
    TopOfBookSpec,
    VenueQuirks,
    VolumeSpec,
)
from scanner.venues.funding_rows import bitget_row
from scanner.venues.specs.model import (
    Fees,
    RateBudget,
    VenueSpec,
    frozen,
    rate_limit_429,
    refused_403,
    row_list_parser,
)

_PRODUCTS = ("USDT-FUTURES", "USDC-FUTURES", "COIN-FUTURES")
_SOURCE = "Bitget API error codes (ccxt 4.5.90 bitget.py exceptions['exact'])"

_PRODUCT_OF_SETTLE = {"USDT": "USDT-FUTURES", "USDC": "USDC-FUTURES"}


def _book_request(market: Any, limit: int) -> dict[str, Any] | None:
    """GET mix/market/merge-depth as ccxt's ``fetch_order_book`` sends it for a contract:
    the product type by the settle coin (USDT, USDC; any other coin COIN-FUTURES, where
    ccxt's sandbox settle coins are left to its own call), no tokenized stocks."""
    if market.get("spot") is not False or market.get("stock"):
        return None
    settle = market.get("settle")
    if not isinstance(settle, str) or settle.startswith("S"):
        return None
    product = _PRODUCT_OF_SETTLE.get(settle, "COIN-FUTURES")
    return {"symbol": market["id"], "limit": limit, "productType": product}


def _book(ex: Any, body: Any) -> tuple[Any, int | None]:
    """``data`` holds both sides and ``ts`` (ms)."""
    data = ex.safe_dict(body, "data", {})
    return data, ex.safe_integer(data, "ts")


SPEC = VenueSpec(
    id="bitget",
    display_name="Bitget",
    adapter="ccxt",
    ccxt_class="bitget",
    ccxt_options=frozen({"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"}),
    url_keys=frozen({k: "" for k in ("spot", "mix", "user", "broker", "margin", "common", "uta")}),
    parse_row=instrument_from_bitget,
    parse_list=row_list_parser("bitget", ("data",), instrument_from_bitget),
    parse_symbol=parse_bitget_symbol,
    write_symbol=bitget_symbol,
    fees=Fees(taker=0.0006, maker=0.0002),
    statuses=frozen(
        {
            403: refused_403("access prohibited (a permission refusal, not an IP ban)", _SOURCE),
            429: rate_limit_429(_SOURCE),
        }
    ),
    quirks=VenueQuirks(
        interval_source="info_hours",
        interval_field="fundingRateInterval",
        funding_calls=tuple(
            {"method": "publicMixGetV2MixMarketCurrentFundRate", "productType": product}
            for product in _PRODUCTS
        ),
        # the GET mix/market/current-fund-rate?productType=... ccxt's fetch_funding_rates sends
        # for each entry above, sent without waiting for the markets; rows read by bitget_row
        raw_funding=tuple(
            RawFundingSpec(
                "publicMixGetV2MixMarketCurrentFundRate",
                frozen({"productType": product}),
                ("data",),
                reader=bitget_row,
            )
            for product in _PRODUCTS
        ),
        history_page=100,
        history_params={"paginate": True, "paginationCalls": 3},
        history_by_time=False,
        volume=VolumeSpec(
            "tickers",
            "quoteVolume",
            calls=tuple({"type": "swap", "productType": product} for product in _PRODUCTS),
        ),
        top_of_book=TopOfBookSpec(
            "tickers", "info.bidPr", "info.bidSz", "info.askPr", "info.askSz"
        ),
        # the same GET mix/market/tickers?productType=... ccxt's fetch_tickers sends for each
        # product type, its rows read without ccxt's parse_ticker; quoteVolume as ccxt picks it
        raw_tickers=RawTickersSpec(
            "publicMixGetV2MixMarketTickers",
            frozen({}),
            rows=("data",),
            id_field="symbol",
            unified=frozen({"quoteVolume": ("quoteVolume", "turnover24h")}),
            calls=tuple(frozen({"productType": product}) for product in _PRODUCTS),
        ),
        raw_book=RawBookSpec("publicMixGetV2MixMarketMergeDepth", _book_request, _book),
    ),
    # 20 requests per second per IP on each public mix market endpoint (ccxt cost 1 = 50 ms)
    rate_budget=RateBudget(50.0, 1_000.0, "https://www.bitget.com/api-doc/common/intro"),
)
