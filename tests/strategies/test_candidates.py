"""The candidates chosen from the quotes directly are the ones the engine's frame chose.

The reference is the frame-based selection ``scanner.pipeline.candidate_selector`` made
until 2026-11-30 (``quotes_frame`` + ``select_book_candidates`` over every ordered pair),
kept here verbatim; ``strategies.candidates`` must give the same ids in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner.domain import FundingQuote
from strategies.candidates import widest_spread_bases
from strategies.spread import quotes_frame, select_book_candidates

NOW = 1_750_000_000_000


def frame_selection(quotes: Sequence[FundingQuote], top_n: int) -> list[str]:
    """The old selector, through a pandas frame and every ordered pair."""
    if top_n <= 0:
        return []
    frame = quotes_frame(quotes)
    if frame.empty:
        return []
    venue, symbol = frame["venue"].tolist(), frame["venue_symbol"].tolist()
    canonical, base = frame["canonical"].tolist(), frame["base"].tolist()
    canon = dict(zip(zip(venue, symbol, strict=True), canonical, strict=True))
    base_of = dict(zip(canonical, base, strict=True))
    bases: dict[str, None] = {}
    for leg in select_book_candidates(frame, len(frame) ** 2):
        bases.setdefault(base_of[canon[leg]], None)
        if len(bases) >= top_n:
            break
    return [c for c in dict.fromkeys(canonical) if base_of[c] in bases]


CANONICALS = [
    *(f"{b}/{s}:{s}" for b in ("BTC", "ETH", "PEPE", "A", "AB", "A1") for s in ("USDT", "USDC")),
    "BTC/USD:BTC",  # inverse: never enters
    "ETH/USDT:USDT-250328",  # dated: never enters
    "ETH/USDT",  # spot: never enters
    "not a symbol",
]
VENUES = ["bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid"]
# few distinct values, so that equal rates, equal spreads and equal stamps are common
rates = st.one_of(
    st.sampled_from([-2e-4, -1e-4, 0.0, 1e-4, 2e-4, 3e-4]),
    st.floats(min_value=-0.01, max_value=0.01, allow_subnormal=False),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
intervals = st.sampled_from([1.0, 2.0, 4.0, 8.0, 8.0, 0.0, -8.0, float("nan"), float("inf")])


@st.composite
def quote(draw: st.DrawFn, venues: list[str], canonicals: list[str]) -> FundingQuote:
    canonical = draw(st.sampled_from(canonicals))
    # a venue may list two contracts with one canonical id (PEPE and 1000PEPE); a symbol
    # names one contract, so one canonical id
    symbol = f"{canonical}#{draw(st.integers(0, 1))}"
    return FundingQuote(
        draw(st.sampled_from(venues)),
        symbol,
        canonical,
        draw(rates),
        draw(intervals),
        NOW + draw(st.integers(0, 2)),
        is_settled=draw(st.integers(0, 9)) == 0,  # a settled rate never enters
    )


@st.composite
def quote_sets(draw: st.DrawFn) -> list[FundingQuote]:
    venues = draw(st.lists(st.sampled_from(VENUES), min_size=1, max_size=6, unique=True))
    # a few ids per set, so that a venue quotes an id twice and bases tie often
    canonicals = draw(st.lists(st.sampled_from(CANONICALS), min_size=1, max_size=5, unique=True))
    return draw(st.lists(quote(venues, canonicals), max_size=40))


@settings(max_examples=400, deadline=None)
@given(quote_sets(), st.integers(min_value=-1, max_value=8))
@example(
    [
        FundingQuote("okx", "B", "BTC/USDT:USDT", 1e-4, 8.0, NOW),
        FundingQuote("gate", "B", "BTC/USDT:USDT", 3e-4, 8.0, NOW),
        FundingQuote("okx", "E", "ETH/USDT:USDT", 0.0, 8.0, NOW),
        FundingQuote("gate", "E", "ETH/USDT:USDT", 2e-4, 8.0, NOW),
    ],
    1,
).via("equal spreads: the base whose first pair has the lower long row wins")
@example(
    [
        FundingQuote("okx", "E", "ETH/USDT:USDT", 1e-4, 8.0, NOW),
        FundingQuote("gate", "E", "ETH/USDT:USDT", 3e-4, 8.0, NOW),
        FundingQuote("bybit", "B", "BTC/USDC:USDC", 0.0, 8.0, NOW),
        FundingQuote("bybit", "B", "BTC/USDT:USDT", 2e-4, 8.0, NOW),
        FundingQuote("okx", "B", "BTC/USDT:USDT", 0.0, 8.0, NOW),
    ],
    1,
).via("equal spreads, BTC's lowest rate on two rows: its first row counts")
@example(
    [
        FundingQuote("okx", "B", "BTC/USDT:USDT", 1e-4, 8.0, NOW),
        FundingQuote("gate", "B", "BTC/USDT:USDT", 0.0, 8.0, NOW),
        FundingQuote("gate", "B2", "BTC/USDT:USDT", 2e-4, 8.0, NOW),
        FundingQuote("okx", "E", "ETH/USDT:USDT", 0.0, 8.0, NOW),
        FundingQuote("gate", "E", "ETH/USDT:USDT", 1.5e-4, 8.0, NOW),
    ],
    1,
).via("two quotes of one venue and id stamped alike: the later one is kept")
def test_same_ids_as_the_frame_based_selection(quotes: list[FundingQuote], top_n: int) -> None:
    assert widest_spread_bases(quotes, top_n) == frame_selection(quotes, top_n)


def test_picks_the_widest_per_hour_spreads_and_every_listing_of_their_bases() -> None:
    q = lambda v, c, r, h=8.0: FundingQuote(v, c, c, r, h, NOW)  # noqa: E731
    quotes = [
        q("okx", "BTC/USDT:USDT", 1e-4),
        q("bybit", "BTC/USDT:USDT", 4e-4, 1.0),  # per hour: 4e-4, the widest spread
        q("gate", "BTC/USDC:USDC", 2e-4),
        q("okx", "ETH/USDT:USDT", 0.0),
        q("gate", "ETH/USDT:USDT", 8e-4),  # per hour: 1e-4
        q("okx", "SOL/USDT:USDT", 1e-3),  # one listing: no pair
    ]
    assert widest_spread_bases(quotes, 1) == ["BTC/USDC:USDC", "BTC/USDT:USDT"]
    assert widest_spread_bases(quotes, 2) == ["BTC/USDC:USDC", "BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert widest_spread_bases(quotes, 5) == widest_spread_bases(quotes, 2)
    assert widest_spread_bases(quotes, 0) == []
    assert widest_spread_bases([], 3) == []
