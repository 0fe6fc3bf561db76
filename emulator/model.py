"""The emulated market: funding rates, prices and books for every listing of every venue.

Funding: every listing ``l`` of asset ``a`` has a Gaussian score on an hourly grid ``k``,
``z_l(k) = sqrt(rho) c_a(k) + sqrt(1 - rho) e_l(k) + m_l``: ``c_a`` is common to the asset on
every venue, ``e_l`` is the venue's own, both AR(1) with unit variance (a slow common and a fast
venue-specific speed), and ``m_l`` a small persistent offset. The rate per 8 h is the real
quantile function of the listing's kind of market evaluated at ``z`` (a Gaussian copula):
Binance's, Bybit's or Hyperliquid's majors, the pooled 8-hourly venues for OKX/Gate/Bitget
majors (on the 8-hourly venues BTC and ETH have tables of their own, ``_top``: they sit at the
baseline far less often than the other majors), or small caps (heavier tails). Those quantile
functions hold the real mass exactly at the 0.01 %/8 h baseline, so rates sit at it as often as
the real ones of their tier and leave it in bursts, and two venues at the baseline in the same
hour show exactly equal per-hour rates. Every constant (quantiles, ``rho``, both speeds, the
offset spread, the regime scales) is derived from the shared real recordings by
``calibration.derive_funding`` (stored in ``data/calibration.json``; a test re-derives it).
The rate settled at boundary ``T`` is that rate times ``interval_h / 8``, clipped to the
listing's cap/floor. The live (predicted) rate shown before ``T`` is the same map of ``z(T)``
plus the forecast error the AR processes leave over the minutes still to go, so it drifts
towards the settled rate and equals it in the last minute.

Randomness is keyed by ``(seed, hour)`` / ``(seed, minute)``, so the same seed and start
time give the same market however the clock is driven. History exists from
``start - history_days`` on, so history endpoints answer immediately.
"""

from __future__ import annotations

import math
import threading
from statistics import NormalDist
from typing import Any

import numpy as np

from emulator import calibration as cal
from emulator.clock import EmuClock
from emulator.interfaces import Levels, SettlementListener
from emulator.universe import Listing, canonical_prices, load_universe

REGIMES = ("calm", "normal", "hot")
"""Market regimes: 2023-like, 2025-like (the default) and 2021-bull-like funding. A non-default
regime takes that year's real BTC/ETH quantiles for the majors' tables that have them
(``regime_rate_8h_quantiles``), scales the others' spread around the baseline
(``regime_scale``) and uses the score correlation fitted to that year (``regime_rho``)."""

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# Assumed price volatility: ~3 % per day for the common per-asset random walk (not calibrated;
# the scanner's math depends on funding, books only need to move plausibly).
PRICE_VOL_PER_MIN = 0.03 / math.sqrt(1440)
BASIS_SD = 2e-4  # static venue basis of mark vs the canonical price


class UnknownSymbol(KeyError):
    pass


def major_assets(listings: list[Listing], recorded: list[str]) -> frozenset[str]:
    """The majors: the assets the real multi-venue recordings hold, and as many again of the
    most liquid others (by open interest, ``Listing.liquidity``)."""
    liquidity: dict[str, float] = {}
    for x in listings:
        liquidity[x.asset] = max(liquidity.get(x.asset, 0.0), x.liquidity)
    ranked = [a for a in sorted(liquidity, key=lambda a: (-liquidity[a], a)) if a not in recorded]
    return frozenset(recorded) | frozenset(ranked[: len(recorded)])


def funding_table(
    listing: Listing, majors: frozenset[str], top: frozenset[str] = frozenset()
) -> str:
    """Which real quantile function a listing's rates follow: its own venue's where the
    recordings have it (Binance, Bybit, Hyperliquid majors), the pooled 8-hourly venues' for
    OKX, Gate and Bitget majors, and the small-cap tables (heavier tails) for the rest. On the
    8-hourly venues the ``top`` assets (BTC, ETH) have tables of their own (``_top``): they sit
    at the baseline far less often than the other majors."""
    hourly = listing.sig_figs is not None  # Hyperliquid's listings (and clones of them)
    if listing.asset not in majors:
        return "hyperliquid_small" if hourly else "cex_small"
    if hourly:
        return "hyperliquid"
    name = listing.venue if listing.venue in ("binanceusdm", "bybit") else "cex"
    return f"{name}_top" if listing.asset in top else name


class MarketModel:
    """Implements ``interfaces.MarketView`` and holds the evolving state of all venues."""

    def __init__(
        self,
        clock: EmuClock,
        seed: int = 0,
        history_days: float = 3.0,
        universe: dict[str, list[Listing]] | None = None,
        regime: str = "normal",
    ) -> None:
        if regime not in REGIMES:
            raise ValueError(f"regime must be one of {', '.join(REGIMES)}, got {regime!r}")
        self.clock = clock
        self.seed = int(seed)
        self.regime = regime
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
        self._tops: dict[str, tuple[int, dict[str, tuple[Levels, Levels]]]] = {}
        """Venue -> (second, symbol -> top of book): ``top_book``'s, for the last second asked."""
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
        f = cal.funding_constants()
        n = len(self.listings)
        rng = np.random.default_rng([self.seed, 2])
        self._rho = float(f.get("regime_rho", {}).get(self.regime, f["rho"]))
        self._phi_c = float(f["phi_common_per_h"])
        self._phi_e = float(f["phi_idio_per_h"])
        self._offset = rng.normal(0.0, float(f["offset_sd"]), n)
        # z -> rate per 8 h: each table's quantiles at the Gaussian quantiles of their p
        self._zk = np.array([NormalDist().inv_cdf(p) for p in f["quantile_p"]])
        scale = float(f["regime_scale"][self.regime])
        tables = f["rate_8h_quantiles"]
        names = sorted(tables)
        recorded = f.get("regime_rate_8h_quantiles", {}).get(self.regime, {})
        self._q8 = np.array([
            recorded[k] if k in recorded
            else cal.BASELINE_8H + scale * (np.array(tables[k]) - cal.BASELINE_8H)
            for k in names
        ])  # fmt: skip
        majors = major_assets(self.listings, list(f["major_assets"]))
        self.major_assets = majors
        top = frozenset(f.get("top_assets", ()))
        table_of = np.array([names.index(funding_table(x, majors, top)) for x in self.listings])
        self._table_rows = [np.nonzero(table_of == t)[0] for t in range(len(names))]
        self._cap = np.array([x.cap for x in self.listings])
        self._floor = np.array([x.floor for x in self.listings])
        self._z: dict[int, np.ndarray] = {}
        self._rates: dict[int, np.ndarray] = {}
        self._k_first: int | None = None
        self._k_last = 0
        self._live: np.ndarray | None = None
        self._live_key = -1
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
            self._c = init.normal(0.0, 1.0, self._c.shape)
            self._e = init.normal(0.0, 1.0, self._e.shape)
            self._k_first = first
            self._k_last = first
            self._z[first] = self._score()
        innov_c = math.sqrt(1 - self._phi_c**2)
        innov_e = math.sqrt(1 - self._phi_e**2)
        while self._k_last < k:
            self._k_last += 1
            rng = np.random.default_rng([self.seed, 1, self._k_last])
            self._c = self._phi_c * self._c + rng.normal(0.0, innov_c, self._c.shape)
            self._e = self._phi_e * self._e + rng.normal(0.0, innov_e, self._e.shape)
            self._z[self._k_last] = self._score()

    def _score(self) -> np.ndarray:
        """The Gaussian score of every listing this hour: common + venue-specific + offset."""
        common = self._c[self._l_asset] * math.sqrt(self._rho)
        return np.asarray(common + self._e * math.sqrt(1 - self._rho) + self._offset)

    def _per_interval(self, z: np.ndarray) -> np.ndarray:
        """Rates per interval (clipped to each listing's cap) for Gaussian scores ``z``."""
        rate_8h = np.empty(len(z))
        for t, rows in enumerate(self._table_rows):
            rate_8h[rows] = np.interp(z[rows], self._zk, self._q8[t])
        # per 8 h -> per interval: the interval is 1, 2, 4 or 8 h, so x * h / 8 is exact and
        # a baseline rate stays exactly 0.01 %/8 h (0.00125 %/h, 0.005 %/4 h)
        raw = rate_8h * self._interval / 8
        return np.where(self._perp, np.clip(raw, self._floor, self._cap), 0.0)

    def _rates_at_hour(self, k: int) -> np.ndarray:
        """Per-interval rates (clipped) that settle at hour mark ``k`` for every listing."""
        self._ensure_hours(k)
        assert self._k_first is not None
        if k < self._k_first:
            raise ValueError(f"hour {k} is before the emulated history starts")
        with self._lock:
            rates = self._rates.get(k)
            if rates is None:
                rates = self._rates[k] = self._per_interval(self._z[k])
        return rates

    def _next_settlement_hours(self, now_ms: int) -> np.ndarray:
        h_ms = self._interval.astype(np.int64) * HOUR_MS
        return np.asarray((now_ms // h_ms + 1) * h_ms // HOUR_MS)

    def _live_rates(self, now_ms: int) -> np.ndarray:
        """What each venue shows now for its coming settlement: the score that will settle,
        mixed with noise by the share of its variance the calibrated AR processes leave
        unpredictable over the whole minutes still to go (none in the last minute)."""
        ks = self._next_settlement_hours(now_ms)
        self._ensure_hours(int(ks.max()))
        z = np.array([self._z[int(k)][i] for i, k in enumerate(ks)])
        tau_h = ((ks * HOUR_MS - now_ms - 1) // MINUTE_MS) / 60  # same all minute long
        var = self._rho * (1 - self._phi_c ** (2 * tau_h)) + (1 - self._rho) * (
            1 - self._phi_e ** (2 * tau_h)
        )
        noise = np.random.default_rng([self.seed, 7, now_ms // MINUTE_MS]).normal(0, 1, len(z))
        # weights keep the shown score's variance that of the settled one: a forecast is not
        # more extreme than what settles, it only disagrees with it
        return self._per_interval(np.sqrt(1 - var) * z + np.sqrt(var) * noise)

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
        return float(self.funding_rates(now)[i])

    def funding_rates(self, now_ms: int) -> np.ndarray:
        """Live (predicted) per-interval rates of all listings for their coming settlement
        (index = position in ``self.listings``); see ``_live_rates``."""
        with self._lock:
            if self._live_key != now_ms // MINUTE_MS * MINUTE_MS or self._live is None:
                self._live = self._live_rates(now_ms)
                self._live_key = now_ms // MINUTE_MS * MINUTE_MS
            return self._live

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
        """Per-hour rate the listing would settle at each hour mark in [start_ms, end_ms]
        (research and tests: correlation across venues, persistence of differentials)."""
        i = self._ix(venue, symbol)
        first = -(-max(start_ms, self.history_start_ms) // HOUR_MS)
        ks = range(first, end_ms // HOUR_MS + 1)
        self._ensure_hours(ks[-1] if ks else first)
        return np.array([self._rates_at_hour(k)[i] / self._interval[i] for k in ks])

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
        canon = canonical_prices(self.universe)
        logp = np.empty(len(assets))
        for a, j in self._asset_ix.items():
            logp[j] = math.log(canon[a])
        # a listing of another token under the asset's ticker keeps its own price level (and
        # moves with the asset: only the engine's price guard must tell them apart)
        self._own = np.array([
            math.log(x.own_price / (canon[x.asset] * x.multiplier)) if x.own_price else 0.0
            for x in self.listings
        ])  # fmt: skip
        self._logp0 = logp
        self._logp = logp.copy()
        self._m = self.clock.start_ms // MINUTE_MS
        self._prices_at_m: int | None = None
        self._price_arrays: tuple[np.ndarray, np.ndarray] = (logp, logp)  # set on first use
        rng = np.random.default_rng([self.seed, 3])
        self._basis = rng.normal(0.0, BASIS_SD, len(self.listings))

    def _extend_minutes(self, m: int) -> None:
        while self._m < m:
            self._m += 1
            rng = np.random.default_rng([self.seed, 4, self._m])
            self._logp = self._logp + rng.normal(0.0, PRICE_VOL_PER_MIN, self._logp.shape)

    def index_prices(self, now_ms: int) -> np.ndarray:
        """Venue-unit index price of every listing (canonical price x multiplier; a listing of
        another token under the same ticker at its own level, ``Listing.own_price``).
        Read-only: the arrays are shared until the minute's price step moves them."""
        return self._prices(now_ms)[0]

    def mark_prices(self, now_ms: int) -> np.ndarray:
        return self._prices(now_ms)[1]

    def _prices(self, now_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """(index, mark) of every listing, computed once per minute step of the price walk.

        A tickers body asks for one listing's price per row; recomputing every listing's
        price for each row cost ~35 us x 1,400 rows per tickers round."""
        with self._lock:
            self._extend_minutes(now_ms // MINUTE_MS)
            if self._prices_at_m != self._m:
                index = np.asarray(np.exp(self._logp[self._l_asset] + self._own) * self._mult)
                mark = index * (1 + self._basis)
                index.setflags(write=False)
                mark.setflags(write=False)
                self._price_arrays = (index, mark)
                self._prices_at_m = self._m
            return self._price_arrays

    def mark_price(self, venue: str, venue_symbol: str, now_ms: int | None = None) -> float:
        now = self.clock.now_ms() if now_ms is None else now_ms
        return float(self.mark_prices(now)[self._ix(venue, venue_symbol)])

    def index_price(self, venue: str, venue_symbol: str, now_ms: int | None = None) -> float:
        now = self.clock.now_ms() if now_ms is None else now_ms
        return float(self.index_prices(now)[self._ix(venue, venue_symbol)])

    # ---------------------------------------------------------------- volume
    def _init_volumes(self) -> None:
        """24 h USD volume per listing: the venue's calibrated scale (``calibration``'s
        ``volumes``: Bybit and Hyperliquid from their own real tickers, the rest from Gate's)
        times liquidity**2 (proportional to open interest) times a seeded log-normal factor.

        Fixed per seed: a rolling 24 h sum moves slowly, and a fixed value lets a test compare
        what an adapter parsed with the model exactly.
        """
        rng = np.random.default_rng([self.seed, 6])
        liquidity = np.array([x.liquidity for x in self.listings])
        noise = np.exp(rng.normal(0.0, cal.VOLUME_LOG_SD, len(self.listings)))
        scales = cal.volume_constants()
        scale = np.array([scales.get(x.venue, scales["default"]) for x in self.listings])
        self._volume = scale * liquidity**2 * noise

    def volumes_24h_usd(self) -> np.ndarray:
        """USD notional traded over 24 h by every listing (index = position in listings)."""
        return np.asarray(self._volume)

    def volume_24h_usd(self, venue: str, venue_symbol: str) -> float:
        return float(self._volume[self._ix(venue, venue_symbol)])

    # ---------------------------------------------------------------- books
    def top_book(self, venue: str, venue_symbol: str, now_ms: int) -> tuple[Levels, Levels]:
        """``book(venue, venue_symbol, 1)`` at ``now_ms``: the top of book a tickers row prints.

        Every listing of the venue at once (``books.top_books``), kept for the second: a tickers
        body asks for each of its rows' (Bybit ~800), and one at a time that was most of the
        body's cost."""
        second = now_ms // 1000
        tops = self._tops.get(venue)
        if tops is None or tops[0] != second:  # the second fixes the minute's prices too
            from emulator.books import top_books

            with self._lock:
                marks = self.mark_prices(now_ms)
                ix = [i for (v, _), i in self._index.items() if v == venue]
                books = top_books(
                    [(self.listings[i], marks[i], (self.seed, i, second)) for i in ix]
                )
                by_symbol = {self.listings[i].symbol: b for i, b in zip(ix, books, strict=True)}
                tops = self._tops[venue] = (second, by_symbol)
        got = tops[1].get(venue_symbol)
        if got is None:
            self._ix(venue, venue_symbol)  # raises UnknownSymbol, as book() does
        return got  # type: ignore[return-value]

    def book(self, venue: str, venue_symbol: str, depth: int = 200) -> tuple[Levels, Levels]:
        from emulator.books import synth_book

        now = self.clock.now_ms()
        i = self._ix(venue, venue_symbol)
        x = self.listings[i]
        return synth_book(x, self.mark_prices(now)[i], depth, (self.seed, i, now // 1000))
