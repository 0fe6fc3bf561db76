"""Replay the scanner's entry and exit rules over stored funding history.

Why here and pure: a researcher's question ("would this rule have paid, after fees?") must be
answered with the same arithmetic the scanner ranks with, so this module uses the engine's
kernels (``strategies.kernels``) and fee schedule (``strategies.costs``) and reads nothing
itself; the CLI hands it frames from ``storage.queries``.

Conventions (the README repeats them):

- Decisions are taken on an hourly grid ``since_ms, since_ms + 1 h, ...`` (< ``until_ms``). At a
  decision time t a leg's rate is the newest observation known at t: a settlement with
  ``funding_time_ms <= t`` or, where stored, a live quote with ``ts_ms <= t`` (the venue's
  predicted rate). An observation older than ``stale_after_h`` is not used (the leg is unknown).
  Nothing later than t enters the decision at t.
- A pair is "long leg a, short leg b" of one base asset on two listings (as in the engine);
  ``d = r_b/h_b - r_a/h_a`` per hour, each rate over its own interval.
- Entry (the scanner's rule): ``d > 0``, ``net_apr >= min_net_apr`` (``kernels.net_apr`` over
  the engine's ``horizon_h``) and ``confidence >= min_confidence``, with at most one open pair
  per base asset (the best net APR enters). Exit at the first decision time where the
  differential flips (``d <= 0``), decays (``net_apr < exit_net_apr``), a leg goes stale, or
  the position has been held ``max_hold_h``; a position still open at the end is closed at the
  last decision time (reason ``end``). A base that just exited may re-enter an hour later.
- Confidence here is the history part of the scanner's score (``strategies.confidence``:
  persistence over the last ``persistence_points`` hours and stability over ``lookback_h``,
  combined with the configured weights); liquidity and freshness need live books and quotes
  that a replay does not have. Fewer than two hours of differential: no confidence, no entry.
- Money: constant notional per leg (``notional_usd``). A leg receives or pays the settlements
  with ``entry_ms < funding_time_ms <= exit_ms``; payment = rate x notional, the short leg
  receives a positive rate, the long leg pays it. Fees: ``kernels.round_trip_fee_frac`` of the
  taker fees (entry and exit of both legs) x notional, half charged at entry and half at exit
  on the equity curve. Slippage: stored books are too sparse to replay, so each of the four
  walks (entry and exit of both legs) costs ``slippage_bps_per_walk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scanner.units import MS_PER_H
from strategies import confidence as conf
from strategies import kernels
from strategies.costs import BPS, FeeSchedule
from strategies.spread import perp_parts

TRADE_COLUMNS: tuple[str, ...] = (
    "symbol", "long_venue", "short_venue", "long_symbol", "short_symbol", "entry_ms", "exit_ms",
    "hold_h", "exit_reason", "entry_net_apr", "entry_confidence", "notional_usd",
    "long_settlements", "short_settlements", "funding_long_usd", "funding_short_usd",
    "funding_pnl_usd", "fees_usd", "slippage_usd", "net_pnl_usd",
)  # fmt: skip
EXIT_REASONS: tuple[str, ...] = ("flip", "decay", "stale", "max_hold", "end")
_FLIP, _DECAY, _STALE, _MAX_HOLD, _END = range(5)
_PAIR_KEYS = ["symbol", "long_venue", "short_venue", "long_symbol", "short_symbol"]
_PAIR_STATS = ["trades", "net_pnl_usd", "funding_pnl_usd", "fees_usd", "slippage_usd",
               "mean_hold_h", "win_rate"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class BacktestParams:
    """The rule's knobs; the CLI fills them from ``engine`` and ``backtest`` settings."""

    notional_usd: float = 10_000.0
    horizon_h: float = 72.0
    min_net_apr: float = 0.0
    min_confidence: float = 0.5
    exit_net_apr: float = 0.0
    max_hold_h: float = 168.0
    slippage_bps_per_walk: float = 2.0
    stale_after_h: float = 24.0
    persistence_points: int = 24
    lookback_h: float = 168.0
    confidence_weights: conf.ConfidenceWeights = field(default_factory=conf.ConfidenceWeights)

    def __post_init__(self) -> None:
        for name in ("notional_usd", "horizon_h", "max_hold_h", "stale_after_h", "lookback_h"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"BacktestParams.{name} must be a finite number > 0; got {value!r}"
                )
        slip = self.slippage_bps_per_walk
        if not (math.isfinite(slip) and slip >= 0):
            raise ValueError(f"BacktestParams.slippage_bps_per_walk must be >= 0; got {slip!r}")
        if self.persistence_points < 2:
            raise ValueError("BacktestParams.persistence_points must be >= 2")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Trades (``TRADE_COLUMNS``), the hourly equity curve, per-pair statistics, a summary."""

    trades: pd.DataFrame
    equity: pd.DataFrame
    pairs: pd.DataFrame
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Legs:
    """Every listing seen: its key, base, and the hourly matrix of known rates per hour."""

    venue: np.ndarray
    symbol: np.ndarray
    canonical: np.ndarray
    base: np.ndarray
    rate_per_h: np.ndarray  # (T, L), nan where unknown or stale


def hour_grid(since_ms: int, until_ms: int) -> np.ndarray:
    """Decision times: every whole hour in ``[since_ms, until_ms)`` (since rounded up)."""
    first = -(-since_ms // MS_PER_H) * MS_PER_H
    return np.arange(first, until_ms, MS_PER_H, dtype=np.int64)


def _observations(settlements: pd.DataFrame, quotes: pd.DataFrame | None) -> pd.DataFrame:
    """(venue, venue_symbol, canonical, known_ms, rate_per_h) of every usable observation."""
    obs = [
        pd.DataFrame({
            "venue": settlements["venue"], "venue_symbol": settlements["venue_symbol"],
            "canonical": settlements["canonical"], "known_ms": settlements["funding_time_ms"],
            "rate_per_h": settlements["rate_per_h"],
        })
    ]  # fmt: skip
    if quotes is not None and not quotes.empty:
        live = quotes[~quotes["is_settled"].astype(bool)]
        obs.append(
            pd.DataFrame({
                "venue": live["venue"], "venue_symbol": live["venue_symbol"],
                "canonical": live["canonical"], "known_ms": live["ts_ms"],
                "rate_per_h": live["rate_per_h"],
            })
        )  # fmt: skip
    out = pd.concat(obs, ignore_index=True)
    out = out[np.isfinite(out["rate_per_h"].to_numpy(float))]
    perp = out["canonical"].map(perp_parts)
    return out[perp.notna()].assign(base=perp[perp.notna()].map(lambda p: p[0]))


def _leg_matrix(obs: pd.DataFrame, grid: np.ndarray, stale_after_h: float) -> _Legs:
    """The newest rate known at each decision time, per listing (forward-filled, bounded)."""
    legs = obs.drop_duplicates(["venue", "venue_symbol"])[
        ["venue", "venue_symbol", "canonical", "base"]
    ].sort_values(["base", "venue", "venue_symbol"], kind="stable")
    legs = legs.reset_index(drop=True)
    leg_of = pd.MultiIndex.from_frame(legs[["venue", "venue_symbol"]])
    col = leg_of.get_indexer(pd.MultiIndex.from_frame(obs[["venue", "venue_symbol"]]))
    # first decision time at or after the observation: that is when it is known
    row = np.searchsorted(grid, obs["known_ms"].to_numpy(np.int64), side="left")
    frame = pd.DataFrame({"row": row, "col": col, "known_ms": obs["known_ms"].to_numpy(),
                          "rate": obs["rate_per_h"].to_numpy(float)})  # fmt: skip
    frame = frame[frame["row"] < grid.size].sort_values("known_ms", kind="stable")
    last = frame.groupby(["row", "col"], sort=False).last().reset_index()
    matrix = np.full((grid.size, len(legs)), np.nan)
    matrix[last["row"].to_numpy(), last["col"].to_numpy()] = last["rate"].to_numpy()
    limit = max(int(stale_after_h), 0)
    filled = pd.DataFrame(matrix).ffill(limit=limit).to_numpy() if limit else matrix
    return _Legs(
        legs["venue"].to_numpy(object), legs["venue_symbol"].to_numpy(object),
        legs["canonical"].to_numpy(object), legs["base"].to_numpy(object), filled,
    )  # fmt: skip


def _rolling_confidence(diff: np.ndarray, params: BacktestParams) -> np.ndarray:
    """(T, P) history confidence from the differential up to and including each hour."""
    frame = pd.DataFrame(diff)
    valid = frame.notna()
    k = params.persistence_points
    n_recent = valid.rolling(k, min_periods=1).sum().to_numpy()
    pos = (frame > 0).rolling(k, min_periods=1).sum().to_numpy()
    neg = (frame < 0).rolling(k, min_periods=1).sum().to_numpy()
    zero = (frame == 0).rolling(k, min_periods=1).sum().to_numpy()
    same = np.where(diff > 0, pos, np.where(diff < 0, neg, zero))
    with np.errstate(invalid="ignore", divide="ignore"):
        persistence = np.where((n_recent >= 2) & ~np.isnan(diff), same / n_recent, np.nan)
        window = max(int(params.lookback_h), 2)
        mean = frame.rolling(window, min_periods=2).mean().to_numpy()
        std = frame.rolling(window, min_periods=2).std(ddof=1).to_numpy()
        signed = np.maximum(mean * np.sign(diff), 0.0)
        x = signed / std
        stability = np.where(std > 0, x / (1.0 + x), np.where(signed > 0, 1.0, 0.0))
    stability = np.where(np.isnan(mean) | np.isnan(diff), np.nan, stability)
    comps = pd.DataFrame({"persistence": persistence.ravel(), "stability": stability.ravel()})
    return conf.combine(comps, params.confidence_weights).to_numpy().reshape(diff.shape)


def _simulate(
    enter: np.ndarray, exit_code: np.ndarray, net: np.ndarray, max_hold: int
) -> list[tuple[int, int, int, int]]:
    """Sequential state of one base asset: (pair, entry row, exit row, reason) per trade.

    At most one open pair; the best net APR among the entering pairs opens; exit at the first
    row whose ``exit_code`` is >= 0 (flip, decay, stale) or after ``max_hold`` rows.
    """
    trades: list[tuple[int, int, int, int]] = []
    n_rows = enter.shape[0]
    starts = np.flatnonzero(enter.any(axis=1))
    earliest = 0
    while True:
        i = int(np.searchsorted(starts, earliest, side="left"))
        if i >= starts.size:
            return trades
        t = int(starts[i])
        p = int(np.argmax(np.where(enter[t], net[t], -np.inf)))
        stop = min(t + max_hold, n_rows - 1)
        codes = exit_code[t + 1 : stop + 1, p]
        hit = np.flatnonzero(codes >= 0)
        if hit.size:
            out, reason = t + 1 + int(hit[0]), int(codes[hit[0]])
        elif t + max_hold <= n_rows - 1:
            out, reason = t + max_hold, _MAX_HOLD
        else:
            out, reason = n_rows - 1, _END
        if out > t:
            trades.append((p, t, out, reason))
        earliest = out + 1


def _base_trades(
    legs: _Legs, cols: np.ndarray, grid: np.ndarray, fees: FeeSchedule, params: BacktestParams
) -> list[dict[str, Any]]:
    """Every trade of one base asset (its listings are ``cols``)."""
    a, b = np.meshgrid(cols, cols, indexing="ij")
    keep = a != b
    lo, sh = a[keep], b[keep]
    rates = legs.rate_per_h
    diff = kernels.diff_per_h(rates[:, lo], rates[:, sh])
    fee = kernels.round_trip_fee_frac(fees.taker_array(legs.venue[lo]),
                                      fees.taker_array(legs.venue[sh]))  # fmt: skip
    slip = 4.0 * params.slippage_bps_per_walk * BPS
    cost = fee + slip
    net = kernels.net_apr(diff, cost[None, :], params.horizon_h)
    confidence = _rolling_confidence(diff, params)
    with np.errstate(invalid="ignore"):
        enter = (diff > 0) & (net >= params.min_net_apr) & (confidence >= params.min_confidence)
        exit_code = np.full(diff.shape, -1, dtype=np.int64)
        exit_code = np.where(net < params.exit_net_apr, _DECAY, exit_code)
        exit_code = np.where(diff <= 0, _FLIP, exit_code)
        exit_code = np.where(np.isnan(diff), _STALE, exit_code)
    max_hold = max(int(params.max_hold_h), 1)
    out = []
    for p, t_in, t_out, reason in _simulate(enter, exit_code, net, max_hold):
        out.append({
            "pair": (int(lo[p]), int(sh[p])), "entry_ms": int(grid[t_in]),
            "exit_ms": int(grid[t_out]), "exit_reason": EXIT_REASONS[reason],
            "entry_net_apr": float(net[t_in, p]), "entry_confidence": float(confidence[t_in, p]),
            "fee_frac": float(fee[p]), "slippage_frac": slip,
        })  # fmt: skip
    return out


class _Paid:
    """Per listing, its settlements in time order and their running sum, for O(log n) sums."""

    def __init__(self, settlements: pd.DataFrame) -> None:
        ordered = settlements.sort_values("funding_time_ms", kind="stable")
        self.by_leg: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for key, grp in ordered.groupby(["venue", "venue_symbol"], sort=False):
            times = grp["funding_time_ms"].to_numpy(np.int64)
            rate = grp["rate_per_interval"].to_numpy(float)
            self.by_leg[(str(key[0]), str(key[1]))] = (times, rate, np.r_[0.0, np.cumsum(rate)])

    def between(self, leg: tuple[str, str], after_ms: int, until_ms: int) -> tuple[float, int]:
        """(sum of rates, count) of the leg's settlements in ``(after_ms, until_ms]``."""
        if leg not in self.by_leg:
            return 0.0, 0
        times, _, cum = self.by_leg[leg]
        lo = int(np.searchsorted(times, after_ms, side="right"))
        hi = int(np.searchsorted(times, until_ms, side="right"))
        return float(cum[hi] - cum[lo]), hi - lo

    def events(
        self, leg: tuple[str, str], after_ms: int, until_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(times, rates) of those settlements."""
        if leg not in self.by_leg:
            return np.empty(0, np.int64), np.empty(0)
        times, rate, _ = self.by_leg[leg]
        lo = int(np.searchsorted(times, after_ms, side="right"))
        hi = int(np.searchsorted(times, until_ms, side="right"))
        return times[lo:hi], rate[lo:hi]


def run_backtest(
    settlements: pd.DataFrame,
    fees: FeeSchedule,
    params: BacktestParams,
    since_ms: int,
    until_ms: int,
    quotes: pd.DataFrame | None = None,
) -> BacktestResult:
    """Replay the entry/exit rule over ``[since_ms, until_ms)``; see the module docstring.

    ``settlements`` has ``storage.queries.SETTLEMENT_DTYPES`` columns (fetch from
    ``since_ms - lookback`` so the first decisions have history); ``quotes`` (optional) has
    ``QUOTE_DTYPES`` columns. Both are used only up to each decision time.
    """
    grid = hour_grid(since_ms, until_ms)
    obs = _observations(settlements, quotes)
    rows: list[dict[str, Any]] = []
    legs = None
    if grid.size and not obs.empty:
        legs = _leg_matrix(obs, grid, params.stale_after_h)
        for base in pd.unique(legs.base):
            cols = np.flatnonzero(legs.base == base)
            if cols.size >= 2:
                rows += _base_trades(legs, cols, grid, fees, params)
    paid = _Paid(settlements[np.isfinite(settlements["rate_per_interval"].to_numpy(float))])
    trades = _trade_frame(rows, legs, paid, params.notional_usd)
    equity = _equity(trades, paid, grid, params.notional_usd)
    return BacktestResult(trades, equity, _pair_stats(trades), _summary(trades, equity, grid))


def _trade_frame(
    rows: list[dict[str, Any]], legs: _Legs | None, paid: _Paid, notional: float
) -> pd.DataFrame:
    out = []
    for r in rows:
        assert legs is not None
        a, b = r["pair"]
        long_leg = (str(legs.venue[a]), str(legs.symbol[a]))
        short_leg = (str(legs.venue[b]), str(legs.symbol[b]))
        r_long, n_long = paid.between(long_leg, r["entry_ms"], r["exit_ms"])
        r_short, n_short = paid.between(short_leg, r["entry_ms"], r["exit_ms"])
        funding_long, funding_short = -r_long * notional, r_short * notional
        fees_usd, slip_usd = r["fee_frac"] * notional, r["slippage_frac"] * notional
        funding = funding_long + funding_short
        out.append({
            "symbol": str(legs.canonical[b]), "long_venue": long_leg[0],
            "short_venue": short_leg[0], "long_symbol": long_leg[1], "short_symbol": short_leg[1],
            "entry_ms": r["entry_ms"], "exit_ms": r["exit_ms"],
            "hold_h": (r["exit_ms"] - r["entry_ms"]) / MS_PER_H, "exit_reason": r["exit_reason"],
            "entry_net_apr": r["entry_net_apr"], "entry_confidence": r["entry_confidence"],
            "notional_usd": notional, "long_settlements": n_long, "short_settlements": n_short,
            "funding_long_usd": funding_long, "funding_short_usd": funding_short,
            "funding_pnl_usd": funding, "fees_usd": fees_usd, "slippage_usd": slip_usd,
            "net_pnl_usd": funding - fees_usd - slip_usd,
        })  # fmt: skip
    frame = pd.DataFrame(out, columns=list(TRADE_COLUMNS))
    return frame.sort_values(["entry_ms", "symbol"], kind="stable").reset_index(drop=True)


def _equity(trades: pd.DataFrame, paid: _Paid, grid: np.ndarray, notional: float) -> pd.DataFrame:
    """Hourly equity: costs half at entry, half at exit; each settlement when it is paid."""
    times: list[np.ndarray] = []
    amounts: list[np.ndarray] = []
    for t in trades.itertuples(index=False):
        half = (t.fees_usd + t.slippage_usd) / 2.0
        times.append(np.array([t.entry_ms, t.exit_ms], dtype=np.int64))
        amounts.append(np.array([-half, -half]))
        for leg, sign in (
            ((t.long_venue, t.long_symbol), -1.0),
            ((t.short_venue, t.short_symbol), 1.0),
        ):
            when, rate = paid.events(leg, t.entry_ms, t.exit_ms)
            times.append(when)
            amounts.append(sign * rate * notional)
    when = np.concatenate(times) if times else np.empty(0, np.int64)
    amount = np.concatenate(amounts) if amounts else np.empty(0)
    row = np.searchsorted(grid, when, side="left")  # booked at the first hour at or after it
    per_hour = np.bincount(row, weights=amount, minlength=grid.size + 1)[: grid.size]
    equity = np.cumsum(per_hour)
    drawdown = equity - np.maximum.accumulate(np.maximum(equity, 0.0)) if grid.size else equity
    return pd.DataFrame({"hour_ms": grid, "equity_usd": equity, "drawdown_usd": drawdown})


def _pair_stats(trades: pd.DataFrame) -> pd.DataFrame:
    """Per pair: trades, PnL parts, mean hold and the share of winning trades."""
    if trades.empty:
        return pd.DataFrame(columns=[*_PAIR_KEYS, *_PAIR_STATS])
    grouped = trades.assign(win=trades["net_pnl_usd"] > 0).groupby(_PAIR_KEYS, sort=True)
    stats = grouped.agg(
        trades=("net_pnl_usd", "size"), net_pnl_usd=("net_pnl_usd", "sum"),
        funding_pnl_usd=("funding_pnl_usd", "sum"), fees_usd=("fees_usd", "sum"),
        slippage_usd=("slippage_usd", "sum"), mean_hold_h=("hold_h", "mean"),
        win_rate=("win", "mean"),
    )  # fmt: skip
    return stats.reset_index().sort_values("net_pnl_usd", ascending=False, kind="stable")


def _summary(trades: pd.DataFrame, equity: pd.DataFrame, grid: np.ndarray) -> dict[str, Any]:
    drawdown = equity["drawdown_usd"].to_numpy(float)
    return {
        "trades": len(trades),
        "net_pnl_usd": float(trades["net_pnl_usd"].sum()),
        "funding_pnl_usd": float(trades["funding_pnl_usd"].sum()),
        "fees_usd": float(trades["fees_usd"].sum()),
        "slippage_usd": float(trades["slippage_usd"].sum()),
        "max_drawdown_usd": float(-drawdown.min()) if drawdown.size else 0.0,
        "win_rate": float((trades["net_pnl_usd"] > 0).mean()) if len(trades) else None,
        "pairs_traded": int(trades.groupby(_PAIR_KEYS).ngroups) if len(trades) else 0,
        "first_decision_ms": int(grid[0]) if grid.size else None,
        "last_decision_ms": int(grid[-1]) if grid.size else None,
        "decisions": int(grid.size),
    }
