"""Trading costs: fee schedules and order-book slippage, as fractions of notional.

Why fractions: the engine compares costs with funding differentials, which are fractions of
notional per hour, so every cost here is "USD paid per USD of notional" (0.0005 = 5 bp).

Fee defaults (the VIP0 / base-tier rates, with their sources) live in each venue's spec
(``scanner/venues/specs``); the pipeline hands them in as a table (``FeeSchedule.from_table``),
so this pure module never reads the venue registry. A spot leg is ``"<venue>-spot"``.

Slippage is measured by walking the visible book: buying walks the asks (ascending), selling
walks the bids (descending); the cost of the walk is ``|VWAP - mid| / mid``, which includes the
half-spread. Levels passed here are already canonical (price per canonical base unit, quantity
in canonical base units: see ``OrderBook.canonical_side``), so ``price * qty`` is USD notional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from strategies.kernels import Side, side_slippage

BPS = 1e-4


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Per-venue taker/maker fees as fractions (0.00055 = 5.5 bp).

    Keys are engine venue ids; a spot leg is ``"<venue>-spot"``. Frozen: ``with_live`` and
    ``with_overrides`` return new schedules, so one scan can never change another's fees.
    An empty schedule knows no venue: every lookup names the missing one.
    """

    taker: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    maker: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_table(cls, table: Mapping[str, tuple[float, float]]) -> FeeSchedule:
        """``{venue: (taker, maker)}`` fractions (the registry's default fee table)."""
        taker = {v: _check_fee(v, "taker", t) for v, (t, _) in table.items()}
        maker = {v: _check_fee(v, "maker", m, allow_negative=True) for v, (_, m) in table.items()}
        return cls(MappingProxyType(taker), MappingProxyType(maker))

    @classmethod
    def from_overrides(
        cls, bps_by_venue: Mapping[str, tuple[float | None, float | None]]
    ) -> FeeSchedule:
        """An empty schedule with ``{venue: (taker_bps, maker_bps)}`` (``None``: no fee)."""
        return cls().with_overrides(bps_by_venue)

    def with_overrides(
        self, bps_by_venue: Mapping[str, tuple[float | None, float | None]]
    ) -> FeeSchedule:
        """This schedule overridden by ``{venue: (taker_bps, maker_bps)}``; ``None`` keeps it.

        Basis points because that is how config.yaml states fees (``taker_fee_bps``).
        """
        taker = dict(self.taker)
        maker = dict(self.maker)
        for venue, (taker_bps, maker_bps) in bps_by_venue.items():
            if taker_bps is not None:
                taker[venue] = _check_fee(venue, "taker", taker_bps * BPS)
            if maker_bps is not None:
                maker[venue] = _check_fee(venue, "maker", maker_bps * BPS, allow_negative=True)
        return FeeSchedule(MappingProxyType(taker), MappingProxyType(maker))

    def with_live(self, venue: str, taker: float, maker: float) -> FeeSchedule:
        """A copy with ``venue``'s fees (fractions) replaced by ones read from the venue."""
        new_taker = {**self.taker, venue: _check_fee(venue, "taker", taker)}
        new_maker = {**self.maker, venue: _check_fee(venue, "maker", maker, allow_negative=True)}
        return FeeSchedule(MappingProxyType(new_taker), MappingProxyType(new_maker))

    def taker_of(self, venue: str) -> float:
        try:
            return self.taker[venue]
        except KeyError:
            known = ", ".join(sorted(self.taker))
            raise KeyError(f"no taker fee for venue {venue!r}; known venues: {known}") from None

    def taker_array(self, venues: np.ndarray) -> np.ndarray:
        """Taker fee for each venue id in ``venues`` (one lookup per distinct venue)."""
        values = np.asarray(venues, dtype=object)
        flat = values.ravel().tolist()
        rate = {v: self.taker_of(str(v)) for v in set(flat)}  # no sort of the strings
        return np.array([rate[v] for v in flat], dtype=float).reshape(values.shape)


def _check_fee(venue: str, kind: str, value: float, allow_negative: bool = False) -> float:
    low = -0.001 if allow_negative else 0.0
    if not np.isfinite(value) or not low <= value <= 0.01:
        raise ValueError(
            f"{kind} fee for {venue!r} is {value!r} (a fraction of notional); expected "
            f"{low} <= fee <= 0.01 — was a percentage or basis points passed?"
        )
    return float(value)


def as_levels(levels: object) -> np.ndarray:
    """Validate ``levels`` as an (n, 2) float array of (price, qty), dropping empty levels."""
    arr = np.asarray(levels, dtype=float)
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"book levels must be an (n, 2) array of (price, qty); got {arr.shape}")
    keep = np.isfinite(arr).all(axis=1) & (arr[:, 0] > 0) & (arr[:, 1] > 0)
    return arr[keep]


def walk_book(levels: np.ndarray, notional_usd: float) -> tuple[float, float]:
    """VWAP of taking ``notional_usd`` from ``levels`` (best first) and the notional filled.

    If the book holds less than ``notional_usd`` the whole book is taken: the VWAP is that of
    all visible levels and ``filled_notional < notional_usd`` tells the caller it was too thin.
    ``notional_usd == 0`` returns the best price (the marginal cost of a tiny order).
    An empty book returns (nan, 0.0).
    """
    lv = as_levels(levels)
    if lv.shape[0] == 0:
        return float("nan"), 0.0
    price, qty = lv[:, 0], lv[:, 1]
    if notional_usd <= 0:
        return float(price[0]), 0.0
    cum_n = np.cumsum(price * qty)
    cum_q = np.cumsum(qty)
    k = int(np.searchsorted(cum_n, notional_usd, side="left"))
    if k >= lv.shape[0]:
        return float(cum_n[-1] / cum_q[-1]), float(cum_n[-1])
    prev_n = cum_n[k - 1] if k else 0.0
    prev_q = cum_q[k - 1] if k else 0.0
    bought = prev_q + (notional_usd - prev_n) / price[k]
    return float(notional_usd / bought), float(notional_usd)


def slippage_frac(levels: np.ndarray, mid: float, notional_usd: float, side: Side) -> float:
    """Slippage fraction of a ``side`` market order for ``notional_usd`` against ``levels``.

    ``side="buy"`` expects asks, ``"sell"`` bids. A book too thin for the notional gives the
    slippage of taking the whole visible book, a lower bound (see ``walk_book``).
    """
    vwap, _ = walk_book(levels, notional_usd)
    return float(side_slippage(vwap, mid, side))


def max_notional_within(
    levels: np.ndarray, mid: float, max_slippage_frac: float, side: Side | None = None
) -> float:
    """Largest notional whose slippage against ``levels`` stays within ``max_slippage_frac``.

    Exact, not searched: inside level k the VWAP of notional N is
    ``N / (Q_{k-1} + (N - C_{k-1}) / p_k)`` (C, Q cumulative notional and quantity), so setting
    it equal to the limit price L = mid*(1 ± m) gives ``N = L (Q_{k-1} p_k - C_{k-1}) / (p_k - L)``
    in the first level whose cumulative VWAP crosses L. If no level crosses, the whole book fits
    and its total notional is returned. ``side`` defaults to "buy" when the best level is at or
    above mid (asks), else "sell".
    """
    lv = as_levels(levels)
    if lv.shape[0] == 0:
        return 0.0
    price, qty = lv[:, 0], lv[:, 1]
    if side is None:
        side = "buy" if price[0] >= mid else "sell"
    limit = mid * (1.0 + max_slippage_frac) if side == "buy" else mid * (1.0 - max_slippage_frac)
    cum_n = np.cumsum(price * qty)
    cum_q = np.cumsum(qty)
    vwap_end = cum_n / cum_q
    crossed = vwap_end > limit if side == "buy" else vwap_end < limit
    if not crossed.any():
        return float(cum_n[-1])
    k = int(np.argmax(crossed))
    prev_n = cum_n[k - 1] if k else 0.0
    prev_q = cum_q[k - 1] if k else 0.0
    if price[k] == limit:  # cannot cross inside a level priced exactly at the limit
        return float(prev_n)
    return float(max(0.0, limit * (prev_q * price[k] - prev_n) / (price[k] - limit)))


def depth_within(levels: np.ndarray, mid: float, band_frac: float, side: Side) -> float:
    """USD notional resting within ``band_frac`` of ``mid`` on one side of the book."""
    lv = as_levels(levels)
    if lv.shape[0] == 0:
        return 0.0
    price, qty = lv[:, 0], lv[:, 1]
    inside = price <= mid * (1 + band_frac) if side == "buy" else price >= mid * (1 - band_frac)
    return float((price * qty)[inside].sum())
