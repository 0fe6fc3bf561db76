"""Properties of the money math that must hold for any quotes and books (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.domain import FundingQuote, Instrument, Kind, OrderBook
from scanner.venues.specs import default_fee_table, venue_ids
from strategies.costs import FeeSchedule
from strategies.spread import (
    EngineParams,
    all_pairs,
    compute_opportunities,
    quotes_frame,
    select_book_candidates,
)

FEES = FeeSchedule.from_table(default_fee_table())
"""The registry's default fees, handed to the engine as the pipeline does."""

NOW = 1_750_000_000_000
H_MS = 3_600_000
SETTINGS = settings(max_examples=60, deadline=None)

rates = st.floats(min_value=-0.01, max_value=0.01, allow_nan=False, allow_subnormal=False)
intervals = st.sampled_from([1.0, 2.0, 4.0, 8.0])


@st.composite
def market(draw: st.DrawFn) -> tuple[list[FundingQuote], dict[tuple[str, str], OrderBook]]:
    """Quotes for 2..6 venues on one or two assets, each with a random non-crossed book."""
    quotes: list[FundingQuote] = []
    books: dict[tuple[str, str], OrderBook] = {}
    for base in draw(st.sampled_from([["BTC"], ["BTC", "ETH"]])):
        venues = draw(st.lists(st.sampled_from(venue_ids()), min_size=2, max_size=6, unique=True))
        for venue in venues:
            sym = f"{base}-{venue}"
            canonical = f"{base}/USDT:USDT"
            next_h = draw(st.floats(min_value=0.01, max_value=8.0))
            quotes.append(
                FundingQuote(venue, sym, canonical, draw(rates), draw(intervals), NOW,
                             next_funding_ms=int(NOW + next_h * H_MS))
            )  # fmt: skip
            mid = draw(st.floats(min_value=1.0, max_value=1e5))
            half = draw(st.floats(min_value=1e-5, max_value=1e-2))
            steps = draw(
                st.lists(st.floats(min_value=1e-5, max_value=5e-3), min_size=1, max_size=6)
            )
            sizes = draw(st.lists(st.floats(min_value=1e2, max_value=1e5), min_size=len(steps),
                                  max_size=len(steps)))  # fmt: skip
            offs = np.cumsum([half, *steps[1:]])
            asks = [(mid * (1 + o), s / mid) for o, s in zip(offs, sizes, strict=True)]
            bids = [(mid * (1 - o), s / mid) for o, s in zip(offs, sizes, strict=True)]
            books[(venue, sym)] = OrderBook(venue, sym, canonical, bids, asks, NOW)
    return quotes, books


def _run(quotes, books, notional: float = 10_000.0) -> pd.DataFrame:
    params = EngineParams(notional_usd=notional, min_net_apr=-math.inf)
    return compute_opportunities(quotes_frame(quotes), books, FEES, params, NOW)


@SETTINGS
@given(r=rates, venues=st.lists(st.sampled_from(venue_ids()), min_size=2, max_size=2, unique=True))
def test_4h_rate_r_equals_8h_rate_2r_per_hour(r: float, venues: list[str]) -> None:
    quotes = [
        FundingQuote(venues[0], "A", "X/USDT:USDT", r, 4.0, NOW),
        FundingQuote(venues[1], "B", "X/USDT:USDT", 2 * r, 8.0, NOW),
    ]
    frame = quotes_frame(quotes)
    assert frame["rate_per_h"].iloc[0] == frame["rate_per_h"].iloc[1]
    assert (all_pairs(frame)["diff_per_h"] == 0.0).all()
    assert _run(quotes, {}).empty  # d = 0 is no opportunity


@SETTINGS
@given(market())
def test_swapping_legs_flips_the_sign(mkt) -> None:
    frame = quotes_frame(mkt[0])
    pairs = all_pairs(frame).set_index(["long_pos", "short_pos"])["diff_per_h"]
    swapped = pairs.copy()
    swapped.index = swapped.index.swaplevel()
    assert np.array_equal(pairs.sort_index().to_numpy(), -swapped.sort_index().to_numpy())


@SETTINGS
@given(market())
def test_net_apr_never_exceeds_gross_and_only_positive_d(mkt) -> None:
    out = _run(*mkt)
    assert (out["diff_per_h"] > 0).all()
    assert (out["cost_frac"] >= out["fee_frac"]).all()
    measured = out["cost_measured"].astype(bool)
    # exactly one figure per row: the net APR when the cost was measured, else its upper bound
    assert (out["net_apr"].notna() == measured).all()
    assert (out["net_apr_upper"].notna() == ~measured).all()
    shown = out["net_apr"].fillna(out["net_apr_upper"])
    assert (shown <= out["gross_apr"]).all()
    # measured rows rank first, each group best first
    assert not (measured.to_numpy()[1:] & ~measured.to_numpy()[:-1]).any()
    assert out.loc[measured, "net_apr"].is_monotonic_decreasing
    assert out.loc[~measured, "net_apr_upper"].is_monotonic_decreasing


@SETTINGS
@given(market(), st.floats(min_value=10.0, max_value=1e5), st.floats(min_value=1.0, max_value=50.0))
def test_cost_grows_weakly_with_notional(mkt, small: float, factor: float) -> None:
    key = ["long_venue", "short_venue", "symbol"]
    quotes, books = mkt
    a = _run(quotes, books, notional=small).set_index(key)["cost_frac"]
    b = _run(quotes, books, notional=small * factor).set_index(key)["cost_frac"]
    both = a.index.intersection(b.index)
    assert len(both) == len(a)
    assert (a[both] <= b[both] + 1e-12).all()


dated = st.sampled_from(["BTC/USDT:USDT-240329", "BTC/USDT:USDT-251226", "BTC/USDT"])


@SETTINGS
@given(market(), st.lists(st.tuples(st.sampled_from(venue_ids()), dated, rates), max_size=6),
       st.data())  # fmt: skip
def test_dated_futures_never_enter(mkt, extra, data) -> None:
    quotes, books = mkt
    # dated by canonical id form (ccxt's -YYMMDD suffix) or spot ids
    noise = [FundingQuote(v, f"D{i}", c, r, 8.0, NOW) for i, (v, c, r) in enumerate(extra)]
    # and one whose id looks perpetual but whose instrument says DATED
    victim = data.draw(st.sampled_from(quotes))
    instruments = {
        (victim.venue, victim.venue_symbol): Instrument(
            victim.venue, victim.venue_symbol, "BTC", "USDT", "USDT", Kind.DATED
        )
    }
    frame = quotes_frame(quotes + noise, instruments)
    assert frame["canonical"].str.fullmatch(r"[A-Z]+/USDT:USDT").all()
    assert not (
        (frame["venue"] == victim.venue) & (frame["venue_symbol"] == victim.venue_symbol)
    ).any()
    out = compute_opportunities(frame, books, FEES, EngineParams(min_net_apr=-1e9), NOW)
    legs = set(zip(out["long_venue"], out["long_symbol"], strict=True))
    legs |= set(zip(out["short_venue"], out["short_symbol"], strict=True))
    assert (victim.venue, victim.venue_symbol) not in legs
    assert not any(s.startswith("D") for _, s in legs)


@SETTINGS
@given(market(), st.integers(min_value=0, max_value=10))
def test_book_candidates_are_legs_of_the_best_pairs(mkt, top_n: int) -> None:
    frame = quotes_frame(mkt[0])
    legs = select_book_candidates(frame, top_n)
    pairs = all_pairs(frame)
    positive = pairs[pairs["diff_per_h"] > 0]
    assert len(legs) == len(set(legs)) <= 2 * top_n
    if top_n and not positive.empty:
        best = positive.loc[positive["diff_per_h"].idxmax()]
        venues, symbols = frame["venue"].to_numpy(), frame["venue_symbol"].to_numpy()
        want = {(venues[int(best[c])], symbols[int(best[c])]) for c in ("long_pos", "short_pos")}
        assert want <= set(legs)
