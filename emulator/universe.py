"""The emulated universe: every listed contract of every venue, read from real recordings.

Why from recordings: the scanner's hard cases (1000-prefixed symbols, contract sizes, dated
futures hiding in a perpetual list, per-symbol funding intervals) only show up in real
instrument lists. The files in ``emulator/data`` are copies of the real payloads under
``../shared/data/exchange-fixtures`` (see ``data/README.md``), shipped inside the package so the
emulator runs on a fresh clone.

Each venue loader turns its raw rows into :class:`Listing` records (normalised numbers and the
raw row kept for serving). Prices/rates found in the recordings become starting values.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"

_MULTIPLIER_PREFIX = re.compile(r"^(10{2,})([A-Z].*)$")
HOUR_MS = 3_600_000

# Per-interval funding caps where the venue's instrument list does not carry one (fraction).
# OKX: maxFundingRate of the recorded XRP-USDT-SWAP funding-rate body; Bitget: min/maxFundingRate
# of its docs example; Binance: the default cap shown by its fundingInfo docs example;
# Gate: its 2023 default of 0.75 %; Hyperliquid: 4 % per hour (documented hard cap).
DEFAULT_CAP = {"okx": 0.0075, "bitget": 0.003, "binanceusdm": 0.025, "gate": 0.0075}
HYPERLIQUID_CAP_PER_H = 0.04


@dataclass
class Listing:
    """One contract on one venue, with normalised numbers and its raw instrument row."""

    venue: str
    symbol: str
    asset: str  # canonical base, multiplier stripped (1000PEPE -> PEPE)
    quote: str
    settle: str
    perpetual: bool
    multiplier: float = 1.0
    contract_size: float = 1.0  # venue base units per contract (OKX ctVal, Gate quanto)
    interval_h: int = 8
    cap: float = 0.0075  # per interval
    floor: float = -0.0075
    tick: float = 0.0001
    lot: float = 1.0
    inverse: bool = False
    sig_figs: int | None = None  # Hyperliquid: prices have at most 5 significant figures
    liquidity: float = 1.0  # book depth relative to the calibrated median (see _liquidity)
    price0: float | None = None  # recorded venue price, if any
    own_price: float | None = None
    """Venue price of a listing whose recorded ticker is another token than the asset's
    (Binance's 2021 BTTUSDT: the pre-redenomination BTT, ~1000x the new one); see
    ``_separate_tokens``. ``None``: the listing trades the canonical asset."""
    rate0: float | None = None  # recorded rate per interval, if any
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


_MULTIPLIER_SUFFIX = re.compile(r"^([A-Z]{2,})(10{3,9})$")


def split_multiplier(base: str) -> tuple[str, float]:
    """``1000PEPE`` -> (``PEPE``, 1000); ``kPEPE`` (Hyperliquid) -> (``PEPE``, 1000);
    ``SHIB1000`` (Bybit's one suffix form, baseCoin of ``SHIB1000USDT``) -> (``SHIB``, 1000)."""
    m = _MULTIPLIER_PREFIX.match(base)
    if m:
        return m.group(2), float(m.group(1))
    m = _MULTIPLIER_SUFFIX.match(base)
    if m:
        return m.group(1), float(m.group(2))
    if len(base) > 1 and base[0] == "k" and base[1:].isupper():
        return base[1:], 1000.0
    return base, 1.0


def load_json(name: str) -> Any:
    path = DATA_DIR / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"emulator data file missing: {path}") from exc


def _f(value: Any, default: float | None = None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def bybit_listings() -> list[Listing]:
    rows = load_json("bybit_v5_market_instruments-info_linear.json")["result"]["list"]
    ticker = load_json("bybit_v5_market_tickers_linear_BTCUSDT.json")["result"]["list"][0]
    out = []
    for r in rows:
        asset, mult = split_multiplier(r["baseCoin"])
        perp = r["contractType"] == "LinearPerpetual"
        recorded = ticker if r["symbol"] == ticker["symbol"] else {}
        out.append(
            Listing(
                venue="bybit",
                symbol=r["symbol"],
                asset=asset,
                quote=r["quoteCoin"],
                settle=r["settleCoin"],
                perpetual=perp,
                multiplier=mult,
                interval_h=max(1, int(r["fundingInterval"]) // 60) if perp else 0,
                cap=float(r["upperFundingRate"]),
                floor=float(r["lowerFundingRate"]),
                tick=float(r["priceFilter"]["tickSize"]),
                lot=float(r["lotSizeFilter"]["qtyStep"]),
                price0=_f(recorded.get("markPrice")),
                rate0=_f(recorded.get("fundingRate")),
                raw=r,
            )
        )
    return out


def _binance_interval(row: dict[str, Any]) -> int:
    """The premiumIndex snapshot does not state intervals, but the next funding time does:
    recorded at 08:38 UTC, a 1 h symbol settles next at 09:00, 2 h at 10:00, 4 h at 12:00 and
    8 h at 16:00 (boundaries are UTC-aligned multiples of the interval)."""
    t, nxt = int(row["time"]), int(row["nextFundingTime"])
    for h in (1, 2, 4, 8):
        if nxt == (t // (h * HOUR_MS) + 1) * h * HOUR_MS:
            return h
    return 8


def _binance_is_perpetual(row: dict[str, Any]) -> bool:
    """PERPETUAL, or (like BTCSTUSDT in the 2021 list) no contractType but the perpetual
    delivery date 2100-12-25 -- the rule ccxt applies too."""
    return row["contractType"] == "PERPETUAL" or row.get("deliveryDate") == 4133404800000


def binance_listings() -> list[Listing]:
    info = load_json("binance_fapi_v1_exchangeInfo.json")
    premium = {r["symbol"]: r for r in load_json("binance_fapi_v1_premiumIndex_all.json")}
    out = []
    for r in info["symbols"]:
        asset, mult = split_multiplier(r["baseAsset"])
        filters = {f["filterType"]: f for f in r["filters"]}
        p = premium.get(r["symbol"], {})
        out.append(
            Listing(
                venue="binanceusdm",
                symbol=r["symbol"],
                asset=asset,
                quote=r["quoteAsset"],
                settle=r["marginAsset"],
                perpetual=_binance_is_perpetual(r),
                multiplier=mult,
                interval_h=_binance_interval(p) if p else 8,
                cap=DEFAULT_CAP["binanceusdm"],
                floor=-DEFAULT_CAP["binanceusdm"],
                tick=float(filters["PRICE_FILTER"]["tickSize"]),
                lot=float(filters["LOT_SIZE"]["stepSize"]),
                price0=_f(p.get("markPrice")),
                rate0=_f(p.get("lastFundingRate")),
                raw=r,
            )
        )
    return out


def okx_listings() -> list[Listing]:
    rows = load_json("okx_api_v5_public_instruments_SWAP.json")["data"]
    out = []
    for r in rows:
        base, quote = r["uly"].split("-")
        asset, mult = split_multiplier(base)
        out.append(
            Listing(
                venue="okx",
                symbol=r["instId"],
                asset=asset,
                quote=quote,
                settle=r["settleCcy"],
                perpetual=True,
                multiplier=mult,
                contract_size=float(r["ctVal"]),
                interval_h=8,
                cap=DEFAULT_CAP["okx"],
                floor=-DEFAULT_CAP["okx"],
                tick=float(r["tickSz"]),
                lot=float(r["lotSz"]),
                inverse=r["ctType"] == "inverse",
                raw=r,
            )
        )
    return out


def gate_listings() -> list[Listing]:
    rows = load_json("gate_api_v4_futures_usdt_contracts.json")
    out = []
    for r in rows:
        base, quote = r["name"].split("_", 1)
        asset, mult = split_multiplier(base)
        out.append(
            Listing(
                venue="gate",
                symbol=r["name"],
                asset=asset,
                quote=quote,
                settle="USDT",
                perpetual=True,
                multiplier=mult,
                contract_size=float(r["quanto_multiplier"]),
                interval_h=max(1, int(r["funding_interval"]) // 3600),
                cap=DEFAULT_CAP["gate"],
                floor=-DEFAULT_CAP["gate"],
                tick=float(r["order_price_round"]),
                lot=1.0,
                price0=_f(r.get("mark_price")),
                rate0=_f(r.get("funding_rate")),
                raw=r,
            )
        )
    return out


def hyperliquid_listings() -> list[Listing]:
    universe = load_json("hyperliquid_info_meta.json")["universe"]
    ctxs = load_json("hyperliquid_ws_allDexsAssetCtxs_first_dex.json")["data"]["ctxs"][0][1]
    out = []
    for i, r in enumerate(universe):
        asset, mult = split_multiplier(r["name"])
        ctx = ctxs[i] if i < len(ctxs) else {}
        out.append(
            Listing(
                venue="hyperliquid",
                symbol=r["name"],
                asset=asset,
                quote="USDC",
                settle="USDC",
                perpetual=True,
                multiplier=mult,
                interval_h=1,
                cap=HYPERLIQUID_CAP_PER_H,
                floor=-HYPERLIQUID_CAP_PER_H,
                tick=10.0 ** -max(0, 6 - int(r["szDecimals"])),
                lot=10.0 ** -int(r["szDecimals"]),
                sig_figs=5,
                price0=_f(ctx.get("markPx")),
                rate0=_f(ctx.get("funding")),
                raw={**r, "ctx": ctx},
            )
        )
    return out


def bitget_v2_row(v1: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """Build a V2 ``/api/v2/mix/market/contracts`` row from a legacy v1 ``umcbl`` row.

    Shared fields keep the v1 values (coins, fee rates, limit ratios, minTradeNum, price/volume
    places, priceEndStep); the symbol loses its ``_UMCBL`` suffix; V2-only fields take the
    values of Bitget's docs example (``template``), except ``sizeMultiplier`` which is
    ``10**-volumePlace`` (the lot the v1 row implies).
    """
    row = dict(template)
    for key in (
        "baseCoin",
        "quoteCoin",
        "buyLimitPriceRatio",
        "sellLimitPriceRatio",
        "feeRateUpRatio",
        "makerFeeRate",
        "takerFeeRate",
        "openCostUpRatio",
        "supportMarginCoins",
        "minTradeNum",
        "priceEndStep",
        "volumePlace",
        "pricePlace",
    ):
        if key in v1:
            row[key] = v1[key]
    row["symbol"] = v1["symbol"].split("_")[0]
    row["sizeMultiplier"] = format(10.0 ** -int(v1["volumePlace"]), "f").rstrip("0").rstrip(".")
    return row


def bitget_listings() -> list[Listing]:
    v1 = load_json("bitget_api_mix_v1_market_contracts_umcbl.json")["data"]
    template = load_json("bitget_docs_example_api_v2_mix_market_contracts.json")["data"][0]
    out = []
    for r1 in v1:
        r = bitget_v2_row(r1, template)
        asset, mult = split_multiplier(r["baseCoin"])
        out.append(
            Listing(
                venue="bitget",
                symbol=r["symbol"],
                asset=asset,
                quote=r["quoteCoin"],
                settle=r["quoteCoin"],
                perpetual=True,
                multiplier=mult,
                interval_h=int(r["fundInterval"]),
                cap=DEFAULT_CAP["bitget"],
                floor=-DEFAULT_CAP["bitget"],
                tick=float(r["priceEndStep"]) * 10.0 ** -int(r["pricePlace"]),
                lot=float(r["sizeMultiplier"]),
                raw=r,
            )
        )
    return out


def _liquidity(gate: list[Listing]) -> dict[str, float]:
    """Per-asset book depth scale: sqrt(open interest / median open interest), clipped.

    Open interest (USD) comes from the real Gate contracts (``position_size`` contracts x
    ``quanto_multiplier`` x ``mark_price``), the one recording with it for hundreds of assets.
    The square root keeps the median asset at the calibrated level notional while BTC gets
    ~25x, which matches the real Bybit BTCUSDT book (~5 000 USD per level). Assets not on
    Gate get 1.
    """
    oi = {
        x.asset: float(x.raw["position_size"]) * x.contract_size * float(x.raw["mark_price"])
        for x in gate
    }
    positive = sorted(v for v in oi.values() if v > 0)
    mid = positive[len(positive) // 2] if positive else 1.0
    return {a: min(40.0, max(0.2, (v / mid) ** 0.5)) for a, v in oi.items() if v > 0}


PRICE_PRIORITY = ("hyperliquid", "bybit", "binanceusdm", "gate")  # freshest recordings first
DIFFERENT_TOKEN_REL_TICK = 0.1
"""A recorded tick above 10 % of the asset's price cannot be a tick of the same token (no venue
lists a contract that can only quote ten prices per price level): such a listing is another
token under the same ticker and gets its own price."""


def canonical_prices(universe: dict[str, list[Listing]]) -> dict[str, float]:
    """Price of one unit of each asset from the recordings (the freshest venue wins)."""
    canon: dict[str, float] = {}
    for venue in reversed(PRICE_PRIORITY):
        for x in universe.get(venue, []):
            if x.price0:
                canon[x.asset] = x.price0 / x.multiplier
    for x in (x for v in universe.values() for x in v):
        if x.asset not in canon:  # no recorded price anywhere: ~20 000 of the finest tick
            ticks = [y.tick / y.multiplier for v in universe.values() for y in v
                     if y.asset == x.asset and y.tick]  # fmt: skip
            canon[x.asset] = min(ticks) * 20_000 if ticks else 1.0
    return canon


def _tick_text(tick: float, places: int) -> str:
    return f"{tick:.{places}f}"


def retick(x: Listing, tick: float) -> None:
    """Give ``x`` a new tick and write it into the raw row its venue serves."""
    x.tick = tick
    decimals = max(0, -math.floor(math.log10(tick) + 1e-9))
    raw = copy.deepcopy(x.raw)
    if x.venue == "binanceusdm" or "filters" in raw:
        for f in raw.get("filters", []):
            if f.get("filterType") == "PRICE_FILTER":
                f["tickSize"] = _tick_text(tick, 8)
        if "pricePrecision" in raw:
            raw["pricePrecision"] = decimals
    elif "tickSz" in raw:
        raw["tickSz"] = _tick_text(tick, decimals)
    elif "order_price_round" in raw:
        raw["order_price_round"] = _tick_text(tick, decimals)
    elif "pricePlace" in raw:
        raw["pricePlace"], raw["priceEndStep"] = str(decimals), "1"
    x.raw = raw


def _separate_tokens_and_retick(universe: dict[str, list[Listing]]) -> None:
    """Where a recorded tick no longer fits the current price (instrument lists from 2021-23,
    prices from 2023-26): a tick above ``DIFFERENT_TOKEN_REL_TICK`` of the price means another
    token under the same ticker (its own price: as many ticks as the median real listing has);
    a tick coarser than the real ones (above the p99 of tick/price in the consistent Gate
    snapshot) is stale and becomes the decimal tick nearest the median real tick/price."""
    from emulator import calibration as cal

    ticks = cal.tick_constants()
    canon = canonical_prices(universe)
    for listings in universe.values():
        for x in listings:
            if not x.tick or x.sig_figs is not None:  # Hyperliquid prices have no fixed tick
                continue
            price = canon[x.asset] * x.multiplier
            if x.tick / price > DIFFERENT_TOKEN_REL_TICK:
                x.own_price = x.tick / float(ticks["median_rel_tick"])
            elif x.tick / price > float(ticks["stale_rel_tick"]):
                retick(x, 10.0 ** round(math.log10(price * float(ticks["median_rel_tick"]))))


@lru_cache(maxsize=1)
def load_universe() -> dict[str, list[Listing]]:
    """All venues' listings, read once per process (the files are ~1.4 MB of JSON).

    The venues and their loaders are the table in ``emulator/venues.py``.
    """
    from emulator.venues import VENUES  # the table imports the venue modules, which import us

    universe = {venue: entry.listings() for venue, entry in VENUES.items()}
    scale = _liquidity(universe.get("gate", []))
    for listings in universe.values():
        for x in listings:
            x.liquidity = scale.get(x.asset, 1.0)
    _separate_tokens_and_retick(universe)
    return universe
