"""Frozen value objects shared by every layer.

Why a separate module: venue adapters parse raw payloads *into* these objects, storage maps
them to rows, and the engine reads them; none of those layers should know about each other.
So this module imports nothing from the project and nothing that does I/O (no ccxt, no httpx).

Units are in the names: ``*_ms`` is UTC epoch milliseconds, ``*_h`` hours, ``rate_per_interval``
is a fraction paid once per ``interval_h`` (positive: longs pay shorts), ``apr`` a fraction per
year. Prices and sizes are in *venue* units; ``Instrument.multiplier`` and
``Instrument.contract_size`` convert them to canonical units (see ``to_canonical_*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

HOURS_PER_YEAR = 24 * 365

VENUES: tuple[str, ...] = ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid")
"""Venue ids, spelled as ccxt spells the exchange class (Bybit is ours, not ccxt's)."""


class Kind(StrEnum):
    """What a contract is. Only PERPETUAL enters the funding engine."""

    PERPETUAL = "perpetual"
    DATED = "dated"
    SPOT = "spot"


def canonical_id(
    base: str, quote: str, settle: str, kind: Kind = Kind.PERPETUAL, expiry_ms: int | None = None
) -> str:
    """ccxt-style id: ``PEPE/USDT:USDT`` (perp), ``PEPE/USDT`` (spot), ``BTC/USDT:USDT-261225``
    (dated, so a future can never share an id with the perpetual of the same asset)."""
    if kind is Kind.SPOT:
        return f"{base}/{quote}"
    if kind is Kind.DATED and expiry_ms is not None:
        day = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).strftime("%y%m%d")
        return f"{base}/{quote}:{settle}-{day}"
    return f"{base}/{quote}:{settle}"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract on one venue, mapped to its canonical asset.

    ``multiplier``: canonical base units per venue base unit (``1000PEPEUSDT`` -> 1000,
    ``kPEPE`` -> 1000). A venue price divided by it is a canonical price.
    ``contract_size``: venue base units per contract (OKX ``ctVal``, Gate
    ``quanto_multiplier``; 1 where quantities are already in base units).
    ``tick``/``lot``/``min_qty`` are venue units and are what orders are rounded to.
    """

    venue: str
    venue_symbol: str
    base: str
    quote: str
    settle: str
    kind: Kind
    multiplier: Decimal = Decimal(1)
    contract_size: Decimal = Decimal(1)
    tick: Decimal | None = None
    lot: Decimal | None = None
    min_qty: Decimal | None = None
    funding_interval_h: float | None = None
    funding_cap: float | None = None
    funding_floor: float | None = None
    expiry_ms: int | None = None
    active: bool = True
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def canonical(self) -> str:
        return canonical_id(self.base, self.quote, self.settle, self.kind, self.expiry_ms)

    @property
    def is_perpetual(self) -> bool:
        return self.kind is Kind.PERPETUAL

    def to_canonical_price(self, venue_price: float) -> float:
        return venue_price / float(self.multiplier)

    def to_canonical_qty(self, venue_qty: float) -> float:
        """Venue quantity (contracts or base units) -> canonical base units."""
        return venue_qty * float(self.contract_size) * float(self.multiplier)


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """The funding rate a venue shows *now* for its coming settlement (or a settled one).

    ``is_settled`` False: the live/predicted rate for ``next_funding_ms``. True: a rate that
    was actually paid at ``funding_time_ms``. Never read a settled rate as the coming one.
    """

    venue: str
    venue_symbol: str
    canonical: str
    rate_per_interval: float
    interval_h: float
    ts_ms: int
    next_funding_ms: int | None = None
    mark_price: float | None = None
    index_price: float | None = None
    multiplier: float = 1.0
    is_settled: bool = False
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    volume_24h_usd: float | None = None
    """Quote-currency (USD/USDT/USDC) notional traded over the last 24 h; None when the venue
    did not say (or its volume call failed). A liquidity filter input, never a money amount."""

    @property
    def rate_per_h(self) -> float:
        return self.rate_per_interval / self.interval_h

    @property
    def apr(self) -> float:
        return self.rate_per_h * HOURS_PER_YEAR


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """One settled funding payment from a venue's history endpoint."""

    venue: str
    venue_symbol: str
    canonical: str
    funding_time_ms: int
    rate_per_interval: float
    interval_h: float | None = None


Level = tuple[float, float]
"""(price, quantity) in venue units."""


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A book snapshot: bids best-first (descending), asks best-first (ascending), venue units.

    ``multiplier``/``contract_size`` travel with the book so the engine can rescale without
    looking the instrument up again.
    """

    venue: str
    venue_symbol: str
    canonical: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    ts_ms: int
    multiplier: float = 1.0
    contract_size: float = 1.0

    @property
    def best_bid(self) -> float | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2.0

    def canonical_side(self, side: str) -> list[Level]:
        """``"bids"`` or ``"asks"`` in canonical price and base-unit quantity."""
        levels = self.bids if side == "bids" else self.asks
        price_div = self.multiplier
        qty_mul = self.contract_size * self.multiplier
        return [(p / price_div, q * qty_mul) for p, q in levels]


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One ranked row of the engine's output; the JSON/CSV of ``fundscan scan`` is this."""

    symbol: str
    pair_type: str  # "cross" (two perps) or "carry" (spot long + perp short, same venue)
    long_venue: str
    short_venue: str
    long_rate: float
    long_interval_h: float
    short_rate: float
    short_interval_h: float
    diff_per_h: float
    gross_apr: float
    fee_frac: float
    slippage_frac: float
    cost_frac: float
    basis_frac: float
    net_apr: float
    breakeven_h: float
    long_next_funding_ms: int | None
    short_next_funding_ms: int | None
    notional_usd: float
    max_notional_usd: float
    executable: bool
    interval_mismatch: bool
    settle_mismatch: bool
    confidence: float | None
    confidence_components: Mapping[str, float | None] = field(default_factory=dict)


def pair_key(symbol: str, long_venue: str, short_venue: str, pair_type: str = "cross") -> str:
    """The one identity of a hedged pair: ``BTC/USDT:USDT|long=bybit-spot|short=bybit``.

    Why one function: alert cooldowns, executor positions and LLM verdict caches must all agree
    on what "the same pair" is. A carry pair's long leg is the venue's spot market, so it is
    spelled ``<venue>-spot`` and can never collide with a cross pair on the same venue.
    """
    long_leg = f"{long_venue}-spot" if pair_type == "carry" else long_venue
    return f"{symbol}|long={long_leg}|short={short_venue}"
