"""What a venue *is*, as data: the ``VenueSpec`` every other table is derived from.

Why one record per venue: a venue used to live in 18 hand-kept tables across 10 modules (the
settings literal, symbol tables, ccxt factory tables, quirks, fee defaults ...), so adding one
meant ~25 edits and a forgotten table failed silently. Now the spec module of a venue says
everything venue-specific once; settings, the ccxt factory, symbol dispatch, fee defaults, the
ban gate and the test parametrisations read it from ``scanner.venues.specs``.

Pure data and pure functions: no ccxt, no httpx (the ccxt class is named, not imported), so
settings and tests can read the registry without loading any exchange library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from scanner.domain import Instrument
from scanner.symbols.common import SymbolError, SymbolParts
from scanner.venues.capabilities import VenueQuirks

StatusKind = Literal["ip_ban", "rate_limit", "refused"]
LiftUnit = Literal["s", "epoch_ms"]


@dataclass(frozen=True)
class LiftHeader:
    """A response header that says when the venue will answer again.

    ``unit``: ``"s"`` - seconds to wait (``Retry-After``); ``"epoch_ms"`` - the UTC epoch
    millisecond at which the limit resets (Bybit ``X-Bapi-Limit-Reset-Timestamp``).
    """

    name: str
    unit: LiftUnit = "s"


@dataclass(frozen=True)
class StatusMeaning:
    """What one HTTP status means *on this venue* (403/418/429 mean different things).

    ``ip_ban``: the venue stopped serving our IP; nothing is sent until the ban lifts.
    ``rate_limit``: this request was over a limit; wait, then retry (no gate).
    ``refused``: the venue refused this request (firewall, region) but did not ban the IP; the
    call fails as temporarily unavailable and the next call is sent normally.

    ``default_wait_s`` is used when none of ``lift_headers`` is present and parsable.
    ``source`` cites where the meaning is documented.
    """

    status: int
    kind: StatusKind
    default_wait_s: float
    lift_headers: tuple[LiftHeader, ...] = ()
    why: str = ""
    source: str = ""


@dataclass(frozen=True)
class Fees:
    """Default (VIP0 / base tier) taker and maker fees as fractions of notional (0.00055)."""

    taker: float
    maker: float


@dataclass(frozen=True)
class Capabilities:
    """What the venue offers beyond the common ``Venue`` protocol."""

    dated_symbols: bool = True
    """The venue lists dated futures, so its symbol writer names them."""
    spot_carry: bool = False
    """Same-venue carry (spot long + perp short) is collected for it (Bybit)."""
    trading: bool = False
    """We speak its signed trading API (Bybit)."""


@dataclass(frozen=True)
class RateBudget:
    """The venue's real public request budget, as ccxt's throttler should spend it.

    ccxt's default throttle is a leaky bucket with room for one request: a call that costs 40
    units (Binance's 24 h tickers of every symbol) makes the *next* call wait 40 x
    ``rateLimit`` ms (2 s), although the venue's budget allows both at once. A rolling window
    of ``window_ms`` holding ``window_ms / rate_limit_ms`` cost units is how the venues count
    (Binance: 2,400 weight per minute), so a scan's few bulk calls and its candidate books go
    out together and the throttle only waits when the real budget is spent.

    ``rate_limit_ms``: ms per ccxt cost unit (the venue's costs in ccxt are per this unit).
    """

    rate_limit_ms: float
    window_ms: float
    source: str = ""

    def ccxt_config(self) -> dict[str, Any]:
        """Top-level ccxt exchange config that installs this budget."""
        return {
            "rateLimit": self.rate_limit_ms,
            "rateLimiterAlgorithm": "rollingWindow",
            "rollingWindowSize": self.window_ms,
        }


ParseRow = Callable[..., Instrument]
ParseList = Callable[..., list[Instrument]]


@dataclass(frozen=True)
class VenueSpec:
    """Everything venue-specific, once. See the venue modules for the cited facts.

    ``adapter``: ``"ccxt"`` - the generic ccxt adapter with ``quirks``; ``"bybit"`` - our own
    V5 client (``ccxt_class`` still names ccxt's class, used by differential tests).
    ``url_keys``: ccxt ``urls['api']`` key -> path appended to a base URL, so the same
    unmodified ccxt class can be pointed at the emulator or at a testnet/demo host.
    ``hosts``: REST root per ``environment`` setting (mainnet/testnet/demo) where the venue
    has more than one.
    """

    id: str
    display_name: str
    adapter: Literal["ccxt", "bybit"]
    ccxt_class: str
    ccxt_options: Mapping[str, Any]
    url_keys: Mapping[str, Any]
    parse_row: ParseRow
    parse_list: ParseList
    parse_symbol: Callable[[str], SymbolParts]
    write_symbol: Callable[[SymbolParts], str]
    fees: Fees
    statuses: Mapping[int, StatusMeaning]
    quirks: VenueQuirks | None = None
    capabilities: Capabilities = Capabilities()
    hosts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    extra_fees: Mapping[str, Fees] = field(default_factory=lambda: MappingProxyType({}))
    """Fees of other legs this venue offers, keyed by engine venue id (``bybit-spot``)."""
    rate_budget: RateBudget | None = None
    """ccxt venues: the real request budget the throttle spends (None: ccxt's default)."""

    def __post_init__(self) -> None:
        if self.adapter == "ccxt" and self.quirks is None:
            raise ValueError(f"venue spec {self.id!r}: a ccxt venue needs its quirks")
        for status, meaning in self.statuses.items():
            if status != meaning.status:
                raise ValueError(f"venue spec {self.id!r}: statuses[{status}] says {meaning}")


def rows_at(venue: str, payload: Any, path: tuple[str, ...]) -> list[Any]:
    """The list of instrument rows at ``path`` inside a response body; SymbolError if absent."""
    node = payload
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise SymbolError(venue, "?", ".".join(path), "instrument list missing")
        node = node[key]
    if not isinstance(node, list):
        raise SymbolError(venue, "?", ".".join(path) or "<body>", "not a list")
    return node


def row_list_parser(venue: str, path: tuple[str, ...], parse_row: ParseRow) -> ParseList:
    """``parse_list`` for the common case: rows at ``path``, each parsed alone."""

    def parse_list(payload: Any, **options: Any) -> list[Instrument]:
        return [parse_row(row, **options) for row in rows_at(venue, payload, path)]

    return parse_list


K = TypeVar("K")
V = TypeVar("V")


def frozen(mapping: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only view, so one venue's tables cannot be changed through another's copy."""
    return MappingProxyType(dict(mapping))


def rate_limit_429(source: str, *headers: LiftHeader) -> StatusMeaning:
    """The common 429: this request was over a limit; a short wait, no ban."""
    return StatusMeaning(429, "rate_limit", 1.0, headers, "request rate limit", source)


def refused_403(why: str, source: str) -> StatusMeaning:
    """A 403 that the venue does not document as an IP ban: fail this call, do not gate."""
    return StatusMeaning(403, "refused", 1.0, (), why, source)
