"""Bybit V5 (linear USDT/USDC perpetuals and spot), spoken by our own httpx client.

Sources (docs/exchange-api-facts.md, snapshot of GitHub ``bybit-exchange/docs`` 072c197d):

* Hosts: mainnet ``api.bybit.com``, testnet ``api-testnet.bybit.com``, demo ``api-demo.bybit.com``
  (``docs/v5/guide.mdx``, ``docs/v5/demo.mdx``; facts A.1).
* HTTP 403 "access too frequent" is an **IP ban** after breaking 600 requests / 5 s: stop all
  sessions and wait at least 10 minutes; it lifts automatically; no header gives the lift time
  (``docs/v5/rate-limit/rate-limit.mdx``, also https://bybit-exchange.github.io/docs/p2p/rate-limit;
  facts A.5).
* HTTP 429 is "system level frequency protection": retry with backoff (``docs/v5/error.mdx``);
  ``X-Bapi-Limit-Reset-Timestamp`` (epoch ms) says when a limit resets (facts A.5).
* VIP0 derivatives fees 0.055 % taker / 0.02 % maker; spot 0.1 % / 0.1 % (facts B.3; Bybit VIP
  table, https://www.bybitgum.org/en-US/help-center/bybitHC_Article?id=000001634, a mirror).
"""

from __future__ import annotations

from typing import Any

from scanner.domain import Instrument
from scanner.symbols.bybit import bybit_symbol, instrument_from_bybit, parse_bybit_symbol
from scanner.venues.specs.model import (
    Capabilities,
    Fees,
    LiftHeader,
    StatusMeaning,
    VenueSpec,
    frozen,
    rows_at,
)

BAN_WAIT_S = 600.0
"""Bybit: "wait for at least 10 minutes" after a 403."""


def parse_list(payload: Any, **options: Any) -> list[Instrument]:
    """A V5 instruments-info envelope; ``result.category`` (or ``category=``) picks the kind."""
    category = None
    if isinstance(payload, dict) and isinstance(payload.get("result"), dict):
        category = payload["result"].get("category")
    category = category or options.get("category") or "linear"
    return [
        instrument_from_bybit(row, category)
        for row in rows_at("bybit", payload, ("result", "list"))
    ]


SPEC = VenueSpec(
    id="bybit",
    display_name="Bybit",
    adapter="bybit",
    ccxt_class="bybit",
    ccxt_options=frozen({"fetchMarkets": {"types": ["linear", "spot"]}}),
    url_keys=frozen({k: "" for k in ("spot", "futures", "v2", "public", "private")}),
    hosts=frozen(
        {
            "mainnet": "https://api.bybit.com",
            "testnet": "https://api-testnet.bybit.com",
            "demo": "https://api-demo.bybit.com",
        }
    ),
    parse_row=instrument_from_bybit,
    parse_list=parse_list,
    parse_symbol=parse_bybit_symbol,
    write_symbol=bybit_symbol,
    fees=Fees(taker=0.00055, maker=0.0002),
    extra_fees=frozen({"bybit-spot": Fees(taker=0.001, maker=0.001)}),
    statuses=frozen(
        {
            403: StatusMeaning(
                403,
                "ip_ban",
                BAN_WAIT_S,
                why="IP rate-limit ban (access too frequent)",
                source="bybit-exchange/docs docs/v5/rate-limit/rate-limit.mdx",
            ),
            429: StatusMeaning(
                429,
                "rate_limit",
                1.0,
                lift_headers=(
                    LiftHeader("X-Bapi-Limit-Reset-Timestamp", "epoch_ms"),
                    LiftHeader("Retry-After", "s"),
                ),
                why="system-level frequency protection",
                source="bybit-exchange/docs docs/v5/error.mdx",
            ),
        }
    ),
    capabilities=Capabilities(dated_symbols=True, spot_carry=True, trading=True),
)
