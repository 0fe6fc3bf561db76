"""The emulated market: funding rates, prices and books for every listing of every venue.

Funding (per hour, per listing ``l`` of asset ``a``) follows
``r_l(k) = mu_l + c_a(k) + e_l(k)`` on an hourly grid ``k``, where ``c_a`` (common to the asset
across venues) and ``e_l`` (venue-specific) are Ornstein-Uhlenbeck processes with the
calibrated speed ``FUNDING_KAPPA_PER_H`` and stationary variances splitting
``FUNDING_SD_PER_H**2`` by ``COMMON_VARIANCE_SHARE``. ``mu_l`` is the recorded rate (shrunk
halfway to the calibrated mean) where the recordings have one, else the mean plus a seeded
offset; ~15 % of listings get a larger persistent offset so some pairs show real,
persistent differentials. The rate settled at boundary ``T`` is ``r_l(T) * interval_h`` clipped
to the listing's cap/floor; the live rate shown before ``T`` is the value at the next hour
mark (so the last live rate before a settlement is exactly what settles).

Randomness is keyed by ``(seed, hour)`` / ``(seed, minute)``, so the same seed and start
time give the same market however the clock is driven. History exists from
``start - history_days`` on, so history endpoints answer immediately.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from emulator import calibration as cal
from emulator.clock import EmuClock
from emulator.interfaces import Levels, SettlementListener
from emulator.universe import Listing, load_universe

PERSISTENT_OFFSET_SD = 1.5
"""Invented, not calibrated (the recordings hold no same-asset, same-period pairs): the spread
of the extra offset given to ~15 % of listings, in units of the calibrated hourly funding SD.
1.5 SD (~50 % APR) puts the widest persistent cross-venue spreads at roughly 50-150 % APR,
the range real scans show for small caps, instead of several hundred per cent."""

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# Assumed price volatility: ~3 % per day for the common per-asset random walk (not calibrated;
# the scanner's math depends on funding, books only need to move plausibly).
PRICE_VOL_PER_MIN = 0.03 / math.sqrt(1440)
BASIS_SD = 2e-4  # static venue basis of mark vs the canonical price
PRICE_PRIORITY = ("hyperliquid", "bybit", "binanceusdm", "gate")  # freshest recordings first


class UnknownSymbol(KeyError):
    pass


class MarketModel:
    """Implements ``interfaces.MarketView`` and holds the evolving state of all venues."""

    def __init__(
        self,
        clock: EmuClock,
        seed: int = 0,
        history_days: float = 3.0,
        universe: dict[str, list[Listing]] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = int(seed)
        self.universe: dict[str, list[Listing]] = (
            universe if universe is not None else load_universe()
        )
        self.listings: list[Listing] = [x for v in self.universe.values() for x in v]
        self._index = {(x.venue, x.symbol): i for i, x in enumerate(self.listings)}
        assets = sorted({x.asset for x in self.listings})
        self._asset_ix = {a: i for i, a in enumerate(assets)}
        self._l_asset = np.array([self._asset_ix[x.asset] for x in self.listings])
        self._interval = np.array([max(x.interval_h, 1) for x in self.listings], dtype=float)
        self._perp = np.array([x.perpetual for x in self.listings])
        self._mult = np.array([x.multiplier for x in self.listings])
        self._listeners: list[SettlementListener] = []
        # The clock may be stepped from a test thread while the server thread reads: the lazy
        # extension of the hourly/minute grids must not interleave.
        self._lock = threading.RLock()
        self._init_funding(len(assets))
        self._init_prices(assets)
        self._init_volumes()
        self.history_start_ms = clock.start_ms - int(history_days * 86_400_000)
        self._last_sync_ms = clock.now_ms()
        clock.add_observer(self.sync)

    # ---------------------------------------------------------------- funding state
    def _init_funding(self, n_assets: int) -> None:
        n = len(self.listings)
        rng = np.random.default_rng([self.seed, 2])
        self._phi = math.exp(-cal.FUNDING_KAPPA_PER_H)
        self._sd_c = cal.FUNDING_SD_PER_H * math.sqrt(cal.COMMON_VARIANCE_SHARE)
        self._sd_e = cal.FUNDING_SD_PER_H * math.sqrt(1 - cal.COMMON_VARIANCE_SHARE)
        offsets = rng.normal(0.0, 0.5 * cal.FUNDING_SD_PER_H, n)
        persistent = rng.random(n) < 0.15
        offsets += persistent * rng.normal(0.0, PERSISTENT_OFFSET_SD * cal.FUNDING_SD_PER_H, n)
        mu = cal.FUNDING_MEAN_PER_H + offsets
        for i, x in enumerate(self.listings):
            if x.rate0 is not None and x.perpetual:
                mu[i] = 0.5 * (x.rate0 / max(x.interval_h, 1)) + 0.5 * cal.FUNDING_MEAN_PER_H
        self._mu = mu
        self._cap = np.array([x.cap for x in self.listings])
        self._floor = np.array([x.floor for x in self.listings])
        self._hours: dict[int, np.ndarray] = {}
        self._k_first: int | None = None
        self._k_last = 0
        self._c = np.zeros(n_assets)
        self._e = np.zeros(n)

    def _ensure_hours(self, k: int) -> None:
        """Generate the hourly grid up to hour index ``k`` (inclusive)."""
        with self._lock:
            self._extend_hours(k)

    def _extend_hours(self, k: int) -> None:
        if self._k_first is None:
            first = (self.history_start_ms // HOUR_MS) - 9
            init = np.random.default_rng([self.seed, 0])
            self._c = init.normal(0.0, self._sd_c, self._c.shape)
            self._e = init.normal(0.0, self._sd_e, self._e.shape)
            self._k_first = first
            self._k_last = first
            self._hours[first] = self._per_hour()
        innov_c = self._sd_c * math.sqrt(1 - self._phi**2)
        innov_e = self._sd_e * math.sqrt(1 - self._phi**2)
        while self._k_last < k:
            self._k_last += 1
            rng = np.random.default_rng([self.seed, 1, self._k_last])
            self._c = self._phi * self._c + rng.normal(0.0, innov_c, self._c.shape)
            self._e = self._phi * self._e + rng.normal(0.0, innov_e, self._e.shape)
            self._hours[self._k_last] = self._per_hour()

    def _per_hour(self) -> np.ndarray:
        return np.asarray(self._mu + self._c[self._l_asset] + self._e)

    def _rates_at_hour(self, k: int) -> np.ndarray:
        """Per-interval rates (clipped) that settle at hour mark ``k`` for every listing."""
        self._ensure_hours(k)
        assert self._k_first is not None
        if k < self._k_first:
            raise ValueError(f"hour {k} is before the emulated history starts")
        raw = self._hours[k] * self._interval
        return np.where(self._perp, np.clip(raw, self._floor, self._cap), 0.0)

    def _ix(self, venue: str, symbol: str) -> int:
        try:
            return self._index[(venue, symbol)]
        except KeyError:
            raise UnknownSymbol(f"{venue}: unknown symbol {symbol!r}") from None

    # ---------------------------------------------------------------- public API
    def has(self, venue: str, symbol: str) -> bool:
        return (venue, symbol) in self._index

    def listing(self, venue: str, symbol: str) -> Listing:
        return self.listings[self._ix(venue, symbol)]

    def venue_listings(self, venue: str) -> list[Listing]:
        return self.universe[venue]

    def perpetual_symbols(self, venue: str) -> list[str]:
        return [x.symbol for x in self.universe[venue] if x.perpetual]

    def instrument(self, venue: str, venue_symbol: str) -> dict[str, Any] | None:
        if not self.has(venue, venue_symbol):
            return None
        return self.listing(venue, venue_symbol).raw

    def interval_h(self, venue: str, symbol: str) -> int:
        return self.listing(venue, symbol).interval_h

    def next_funding_ms(self, venue: str, symbol: str, now_ms: int | None = None) -> int:
        now = self.clock.now_ms() if now_ms is None else now_ms
        h_ms = self.listing(venue, symbol).interval_h * HOUR_MS
        return (now // h_ms + 1) * h_ms

    def funding_rate(self, venue: str, venue_symbol: str, now_ms: int | None = None) -> float:
        i = self._ix(venue, venue_symbol)
        now = self.clock.now_ms() if now_ms is None else now_ms
        return float(self._rates_at_hour(now // HOUR_MS + 1)[i])

    def funding_rates(self, now_ms: int) -> np.ndarray:
        """Live per-interval rates of all listings (index = position in ``self.listings``)."""
        return self._rates_at_hour(now_ms // HOUR_MS + 1)

    def index_of(self, venue: str, symbol: str) -> int:
        return self._ix(venue, symbol)

    def history(
        self, venue: str, symbol: str, now_ms: int | None = None
    ) -> list[tuple[int, float]]:
        """All settlements ``(funding_time_ms, rate)`` from history start to now, ascending."""
        i = self._ix(venue, symbol)
        x = self.listings[i]
        if not x.perpetual:
            return []
        now = self.clock.now_ms() if now_ms is None else now_ms
        h_ms = x.interval_h * HOUR_MS
        first = -(-self.history_start_ms // h_ms) * h_ms
        return [
            (t, float(self._rates_at_hour(t // HOUR_MS)[i])) for t in range(first, now + 1, h_ms)
        ]

    def hourly_rates(self, venue: str, symbol: str, start_ms: int, end_ms: int) -> np.ndarray:
        """Unclipped per-hour model rate at each hour mark in [start_ms, end_ms] (research and
        tests: correlation across venues, persistence of differentials)."""
        i = self._ix(venue, symbol)
        first = -(-max(start_ms, self.history_start_ms) // HOUR_MS)
        ks = range(first, end_ms // HOUR_MS + 1)
        self._ensure_hours(ks[-1] if ks else first)
        return np.array([self._hours[k][i] for k in ks])

    # ---------------------------------------------------------------- settlements
    def add_settlement_listener(self, listener: SettlementListener) -> None:
        self._listeners.append(listener)

    def sync(self, now_ms: int | None = None) -> None:
        """Fire listeners for every settlement boundary passed since the last sync."""
        now = self.clock.now_ms() if now_ms is None else now_ms
        with self._lock:
            last, self._last_sync_ms = self._last_sync_ms, max(self._last_sync_ms, now)
        if not self._listeners or now <= last:
            return
        for k in range(last // HOUR_MS + 1, now // HOUR_MS + 1):
            hits = np.nonzero(self._perp & (k % self._interval.astype(int) == 0))[0]
            rates = self._rates_at_hour(k)
            marks = self.mark_prices(k * HOUR_MS)
            for i in hits:
                x = self.listings[i]
                for fn in list(self._listeners):
                    fn(x.venue, x.symbol, float(rates[i]), float(marks[i]), k * HOUR_MS)

    # ---------------------------------------------------------------- prices
    def _init_prices(self, assets: list[str]) -> None:
        canon: dict[str, float] = {}
        for venue in reversed(PRICE_PRIORITY):
            for x in self.universe[venue]:
                if x.price0:
                    canon[x.asset] = x.price0 / x.multiplier
        logp = np.empty(len(assets))
        for a, j in self._asset_ix.items():
            logp[j] = math.log(canon.get(a) or self._deterministic_price(a))
        self._logp0 = logp
        self._logp = logp.copy()
        self._m = self.clock.start_ms // MINUTE_MS
        rng = np.random.default_rng([self.seed, 3])
        self._basis = rng.normal(0.0, BASIS_SD, len(self.listings))

    def _deterministic_price(self, asset: str) -> float:
        """No recorded price anywhere: ~20 000 ticks of the asset's finest-ticked listing."""
        ticks = [x.tick / x.multiplier for x in self.listings if x.asset == asset and x.tick]
        return min(ticks) * 20_000 if ticks else 1.0

    def _ensure_minute(self, m: int) -> None:
        with self._lock:
            self._extend_minutes(m)

    def _extend_minutes(self, m: int) -> None:
        while self._m < m:
            self._m += 1
            rng = np.random.default_rng([self.seed, 4, self._m])
            self._logp = self._logp + rng.normal(0.0, PRICE_VOL_PER_MIN, self._logp.shape)

    def index_prices(self, now_ms: int) -> np.ndarray:
        """Venue-unit index price of every listing (canonical price x multiplier)."""
        self._ensure_minute(now_ms // MINUTE_MS)
        return np.asarray(np.exp(self._logp[self._l_asset]) * self._mult)

    def mark_prices(self, now_ms: int) -> np.ndarray:
        return self.index_prices(now_ms) * (1 + self._basis)

    def mark_price(self, venue: str, venue_symbol: str, now_ms: int | None = None) -> float:
        now = self.clock.now_ms() if now_ms is None else now_ms
        return float(self.mark_prices(now)[self._ix(venue, venue_symbol)])

    def index_price(self, venue: str, venue_symbol: str, now_ms: int | None = None) -> float:
        now = self.clock.now_ms() if now_ms is None else now_ms
        return float(self.index_prices(now)[self._ix(venue, venue_symbol)])

    # ---------------------------------------------------------------- volume
    def _init_volumes(self) -> None:
        """24 h USD volume per listing (see calibration: proportional to open interest).

        Fixed per seed: a rolling 24 h sum moves slowly, and a fixed value lets a test compare
        what an adapter parsed with the model exactly.
        """
        rng = np.random.default_rng([self.seed, 6])
        liquidity = np.array([x.liquidity for x in self.listings])
        noise = np.exp(rng.normal(0.0, cal.VOLUME_LOG_SD, len(self.listings)))
        self._volume = cal.VOLUME_24H_MEDIAN_USD * liquidity**2 * noise

    def volumes_24h_usd(self) -> np.ndarray:
        """USD notional traded over 24 h by every listing (index = position in listings)."""
        return np.asarray(self._volume)

    def volume_24h_usd(self, venue: str, venue_symbol: str) -> float:
        return float(self._volume[self._ix(venue, venue_symbol)])

    # ---------------------------------------------------------------- books
    def book(self, venue: str, venue_symbol: str, depth: int = 200) -> tuple[Levels, Levels]:
        from emulator.books import synth_book

        now = self.clock.now_ms()
        i = self._ix(venue, venue_symbol)
        x = self.listings[i]
        return synth_book(x, self.mark_prices(now)[i], depth, (self.seed, i, now // 1000))
