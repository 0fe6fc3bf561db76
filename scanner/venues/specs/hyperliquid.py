"""Hyperliquid perpetuals (USDC), through ccxt's ``hyperliquid``.

Sources:

* Rate limits: an aggregated weight budget of 1200 per minute per IP; over it the ``/info``
  endpoint answers HTTP 429 (Hyperliquid docs "Rate limits and user limits",
  https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits,
  as summarised by the ``guilder-client-hyperliquid`` and ``df-hyperliquid-core`` crates on
  docs.rs). No IP ban is documented, so a 403 never silences the venue.
* Funding is hourly, always; the ``metaAndAssetCtxs`` payload carries ``dayNtlVlm`` (USD
  notional); the symbol parser needs the asset's index in the universe (facts B.2).
* Base-tier fees 0.045 % taker / 0.015 % maker (facts B.3,
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees).
"""

from __future__ import annotations

from typing import Any

from scanner.domain import Instrument
from scanner.symbols.hyperliquid import (
    hyperliquid_symbol,
    instrument_from_hyperliquid,
    parse_hyperliquid_symbol,
)
from scanner.venues.capabilities import RawBookSpec, VenueQuirks, VolumeSpec
from scanner.venues.specs.model import (
    Capabilities,
    Fees,
    RateBudget,
    VenueSpec,
    frozen,
    rate_limit_429,
    refused_403,
    rows_at,
)

_DOCS = (
    "https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits"
)


def parse_list(payload: Any, **options: Any) -> list[Instrument]:
    """The ``meta`` object (or the ``metaAndAssetCtxs`` pair); each asset needs its index."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    rows = rows_at("hyperliquid", payload, ("universe",))
    return [instrument_from_hyperliquid(row, i) for i, row in enumerate(rows)]


def _book_request(market: Any, limit: int) -> dict[str, Any] | None:
    """POST info ``l2Book`` as ccxt's ``fetch_order_book`` sends it for a perpetual (by the
    coin's name; Hyperliquid has no depth parameter)."""
    if market.get("swap") is not True:
        return None
    return {"type": "l2Book", "coin": market.get("baseName")}


def _book(ex: Any, body: Any) -> tuple[Any, int | None]:
    """``levels`` is [bids, asks]; ``time`` (ms) stamps the book."""
    levels = ex.safe_list(body, "levels", [])
    sides = {"bids": ex.safe_list(levels, 0, []), "asks": ex.safe_list(levels, 1, [])}
    return sides, ex.safe_integer(body, "time")


SPEC = VenueSpec(
    id="hyperliquid",
    display_name="Hyperliquid",
    adapter="ccxt",
    ccxt_class="hyperliquid",
    ccxt_options=frozen({"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"}),
    url_keys=frozen({"public": "", "private": ""}),
    parse_row=instrument_from_hyperliquid,
    parse_list=parse_list,
    parse_symbol=parse_hyperliquid_symbol,
    write_symbol=hyperliquid_symbol,
    fees=Fees(taker=0.00045, maker=0.00015),
    statuses=frozen(
        {
            403: refused_403("refused (Hyperliquid documents no IP ban)", _DOCS),
            429: rate_limit_429(_DOCS),
        }
    ),
    quirks=VenueQuirks(
        interval_source="fixed",
        fixed_interval_h=1.0,
        history_page=500,
        instrument_from_index=True,
        volume=VolumeSpec("funding", "info.dayNtlVlm"),
        raw_book=RawBookSpec("publicPostInfo", _book_request, _book, price="px", amount="sz"),
    ),
    capabilities=Capabilities(dated_symbols=False),
    # 1,200 request weight per minute per IP (most info requests weigh 20, l2Book 2); ccxt
    # costs info at 10 units, so one unit is 2 weight: 600 units per minute (l2Book, 2 units,
    # is then counted at twice its weight: the safe side). No bulk top of book:
    # metaAndAssetCtxs carries impact prices only, without sizes.
    rate_budget=RateBudget(100.0, 60_000.0, _DOCS),
)
