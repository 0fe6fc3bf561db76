"""The statistics that say whether an emulated funding market looks like the real one.

One function, :func:`funding_table`, computes them from settled funding series, whoever
produced them: the real multi-venue recordings (``calibration.real_major_series``) or an
emulator read over HTTP (``tests/emulator/test_emu_fidelity.py``,
``benchmarks/emulator_fidelity.py``). The definitions reproduce the figures of issue 10:

- pairs: every asset on two venues, every venue pair; the per-hour differential
  ``d = r1/h1 - r2/h2`` at the hours both venues settle; shown in bps per 8 h (``d * 8e4``)
  and as gross APR (``|d| * 8760``);
- equal: the share of those pair-hours with ``d == 0`` (rounded to 1e-12 per hour; both
  legs at the interest baseline), per venue pair;
- correlation: the Pearson correlation of the two legs' per-hour rates at common hours, per
  asset and venue pair; the median per venue pair;
- offset: ``|mean d| * 8760`` per asset and venue pair (the persistent per-pair offset);
- baseline: the share of a venue's settlements exactly at the 0.01 %/8 h baseline (all the
  assets; and BTC and ETH alone);
- rates: median and p99 of ``|r/h| * 8e4`` (bps per 8 h) per venue.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

BASELINE_8H = 1e-4
"""The interest-rate baseline of 8-hourly venues (0.01 % per 8 h), per hour ``BASELINE_8H/8``."""

Series = tuple[np.ndarray, np.ndarray]
"""(settlement hour index ``time_ms // 3_600_000``, rate per hour), one entry per settlement."""


def _at_baseline(rate_per_h: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(rate_per_h * 8e12) == round(BASELINE_8H * 1e12))


def funding_table(series: Mapping[tuple[str, str], Series]) -> dict[str, Any]:
    """The fidelity statistics of ``{(venue, asset): series}`` (see the module docstring)."""
    venues = sorted({v for v, _ in series})
    assets = sorted({a for _, a in series})
    diffs: list[np.ndarray] = []
    equal: dict[str, list[np.ndarray]] = {}
    corr: dict[str, list[float]] = {}
    offsets: list[float] = []
    for asset in assets:
        for v1, v2 in itertools.combinations(venues, 2):
            if (v1, asset) not in series or (v2, asset) not in series:
                continue
            (h1, r1), (h2, r2) = series[(v1, asset)], series[(v2, asset)]
            common, i1, i2 = np.intersect1d(h1, h2, assume_unique=True, return_indices=True)
            if len(common) < 3:
                continue
            a, b = r1[i1], r2[i2]
            d = a - b
            key = f"{v1}/{v2}"
            diffs.append(d)
            equal.setdefault(key, []).append(np.round(d * 1e12) == 0)
            if np.std(a) > 0 and np.std(b) > 0:
                corr.setdefault(key, []).append(float(np.corrcoef(a, b)[0, 1]))
            offsets.append(abs(float(np.mean(d))) * 8760)
    d_all = np.concatenate(diffs) if diffs else np.zeros(0)
    abs_bps = np.abs(d_all) * 8e4
    apr = np.abs(d_all) * 8760
    rates = {}
    for venue in venues:
        r = np.concatenate([s[1] for (v, _), s in series.items() if v == venue])
        rates[venue] = (
            float(np.median(np.abs(r)) * 8e4),
            float(np.quantile(np.abs(r), 0.99) * 8e4),
        )
    baseline = {
        asset: {
            v: float(np.mean(_at_baseline(series[(v, asset)][1])))
            for v in venues
            if (v, asset) in series
        }
        for asset in ("BTC", "ETH")
    }
    at_baseline = {
        v: float(
            np.mean(_at_baseline(np.concatenate([s[1] for (w, _), s in series.items() if w == v])))
        )
        for v in venues
    }
    return {
        "pair_hours": int(len(d_all)),
        "median_abs_diff_bps": float(np.median(abs_bps)),
        "p90_abs_diff_bps": float(np.quantile(abs_bps, 0.9)),
        "share_above_20_apr": float(np.mean(apr > 0.2)),
        "share_above_50_apr": float(np.mean(apr > 0.5)),
        "share_above_100_apr": float(np.mean(apr > 1.0)),
        "share_equal": {k: float(np.mean(np.concatenate(v))) for k, v in equal.items()},
        "correlation": {k: float(np.median(v)) for k, v in corr.items()},
        "offset_median_apr": float(np.median(offsets)),
        "offset_max_apr": float(np.max(offsets)),
        "btc_at_baseline": baseline["BTC"],
        "eth_at_baseline": baseline["ETH"],
        "at_baseline": at_baseline,
        "rates_median_p99_bps": rates,
    }


FIDELITY_VENUES = ("binanceusdm", "bybit", "hyperliquid")
"""The venues of the real multi-venue recordings (and of the emulated side of the table)."""
WINDOW_DAYS = 30
"""Real statistics are also computed over every 30-day window of the recorded year: an
emulator read over 30 days of history is compared with that range, not with one number."""


def _per_hour(hours: list[int], rates: list[float]) -> Series:
    h = np.array(hours, dtype=np.int64)
    order = np.argsort(h, kind="stable")
    h, r = h[order], np.array(rates, dtype=float)[order]
    step = int(np.median(np.diff(h))) if len(h) > 1 else 1
    return h, r / max(step, 1)


def emulated_series(
    base_url: str, assets: list[str], since_ms: int
) -> dict[tuple[str, str], Series]:
    """Settled funding of ``assets`` on the fidelity venues, read over HTTP like a client
    (Binance ``fundingRate``, Bybit ``funding/history``, Hyperliquid ``fundingHistory``);
    intervals are inferred from the settlement spacing, as a client without metadata would."""
    import httpx

    hour = 3_600_000
    out: dict[tuple[str, str], Series] = {}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        for asset in assets:
            r = c.get(
                "/binanceusdm/fapi/v1/fundingRate",
                params={"symbol": f"{asset}USDT", "startTime": since_ms, "limit": 1000},
            )
            if r.status_code == 200 and r.json():
                rows = r.json()
                out[("binanceusdm", asset)] = _per_hour(
                    [(int(x["fundingTime"]) + hour // 2) // hour for x in rows],
                    [float(x["fundingRate"]) for x in rows],
                )
            r = c.get(
                "/bybit/v5/market/funding/history",
                params={"category": "linear", "symbol": f"{asset}USDT", "limit": 200},
            )
            body = r.json()
            if body.get("retCode") == 0 and body["result"]["list"]:
                rows = [
                    x for x in body["result"]["list"] if int(x["fundingRateTimestamp"]) >= since_ms
                ]
                out[("bybit", asset)] = _per_hour(
                    [(int(x["fundingRateTimestamp"]) + hour // 2) // hour for x in rows],
                    [float(x["fundingRate"]) for x in rows],
                )
            hl_rows: list[dict[str, Any]] = []
            start = since_ms
            while True:
                r = c.post(
                    "/hyperliquid/info",
                    json={"type": "fundingHistory", "coin": asset, "startTime": start},
                )
                if r.status_code != 200 or not r.json():
                    break
                page = r.json()
                hl_rows += page
                start = int(page[-1]["time"]) + 1
                if len(page) < 500:
                    break
            if hl_rows:
                out[("hyperliquid", asset)] = (
                    np.array(
                        [(int(x["time"]) + hour // 2) // hour for x in hl_rows], dtype=np.int64
                    ),
                    np.array([float(x["fundingRate"]) for x in hl_rows]),
                )
    return out


def windows(
    series: Mapping[tuple[str, str], Series], days: int = WINDOW_DAYS
) -> list[dict[str, Any]]:
    """:func:`funding_table` of every whole ``days``-long window of ``series``."""
    first = min(int(h[0]) for h, _ in series.values())
    last = max(int(h[-1]) for h, _ in series.values())
    width = days * 24
    out = []
    for lo in range(first, last - width + 2, width):
        part = {}
        for k, (h, r) in series.items():
            m = (h >= lo) & (h < lo + width)
            if m.sum() > 2:
                part[k] = (h[m], r[m])
        out.append(funding_table(part))
    return out


def flat(table: Mapping[str, Any]) -> dict[str, float]:
    """One number per row: nested per-venue / per-pair entries become ``row[key]`` rows."""
    out: dict[str, float] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, tuple | list):
                    out[f"{key}[{sub}].median"] = float(v[0])
                    out[f"{key}[{sub}].p99"] = float(v[1])
                else:
                    out[f"{key}[{sub}]"] = float(v)
        else:
            out[key] = float(value)
    return out


BOOK_GROUPS = {
    "majors": ("bybit", ["BTC", "ETH", "SOL", "DOGE"]),
    "small caps": (
        "gate",
        ["DIA", "FRONT", "LIT", "OMG", "PHB", "QUICK", "RDNT", "SFP", "WOO", "ZRX"],
    ),
}
"""The real books' groups (``../shared/data/real-books``): Bybit's majors, Gate's small caps."""


def book_rows(books: Mapping[str, list[tuple[float, float]]]) -> dict[str, float]:
    """``{group: [(relative spread, USD depth within 25 bps per side), ...]}`` -> the median
    spread (bps) and depth (USD) per group."""
    out = {}
    for group, stats in books.items():
        out[f"book_spread_bps[{group}]"] = float(np.median([s for s, _ in stats]) * 1e4)
        out[f"book_depth_25bps_usd[{group}]"] = float(np.median([d for _, d in stats]))
    return out


def real_book_ranges(shared: Any) -> dict[str, tuple[float, float]]:
    """Per group, the range of spread (bps) and depth (USD) over the real books."""
    from emulator.calibration import real_books

    prefix = {"bybit": "BYBIT_", "gate": "GATEIO_FUTURES_"}
    out = {}
    for group, (venue, assets) in BOOK_GROUPS.items():
        books = [b for b in real_books(shared) if b[0].startswith(prefix[venue]) and b[1] in assets]
        spreads = [b[2] * 1e4 for b in books]
        depths = [b[4] for b in books]
        out[f"book_spread_bps[{group}]"] = (min(spreads), max(spreads))
        out[f"book_depth_25bps_usd[{group}]"] = (min(depths), max(depths))
    return out


def emulated_books(base_url: str) -> dict[str, list[tuple[float, float]]]:
    """(spread, depth) of the emulator's books of the real books' assets, read over HTTP."""
    import httpx

    from emulator.calibration import book_stats

    out: dict[str, list[tuple[float, float]]] = {}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        for group, (venue, assets) in BOOK_GROUPS.items():
            for asset in assets:
                if venue == "bybit":
                    r = c.get(
                        "/bybit/v5/market/orderbook",
                        params={"category": "linear", "symbol": f"{asset}USDT", "limit": 500},
                    ).json()["result"]
                    bids = [(float(p), float(q)) for p, q in r["b"]]
                    asks = [(float(p), float(q)) for p, q in r["a"]]
                    size = 1.0
                else:
                    contract = c.get(f"/gate/api/v4/futures/usdt/contracts/{asset}_USDT").json()
                    r = c.get(
                        "/gate/api/v4/futures/usdt/order_book",
                        params={"contract": f"{asset}_USDT", "limit": 50},
                    ).json()
                    bids = [(float(x["p"]), float(x["s"])) for x in r["bids"]]
                    asks = [(float(x["p"]), float(x["s"])) for x in r["asks"]]
                    size = float(contract["quanto_multiplier"])
                spread, _, depth = book_stats(bids, asks, size)
                out.setdefault(group, []).append((spread, depth))
    return out
