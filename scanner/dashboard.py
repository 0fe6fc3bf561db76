"""What the live view shows, read from the database that ``fundscan run`` writes.

Why from the database and not from a scan in this process: the view must work beside any
number of ``fundscan run`` (or ``--role collect``) processes, on this machine or another, and
must never send a request to a venue itself. Every read is bounded (latest two scans, a few
dozen alerts and positions), so refreshing every second stays cheap on a year-old database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scanner.domain import pair_key
from storage.queries import DashboardQueries

SORT_KEYS: tuple[str, ...] = ("net_apr", "trend_apr", "gross_apr", "confidence")
"""What ``s`` cycles through in the view (descending, unknown values last)."""


@dataclass(frozen=True)
class VenueHealth:
    venue: str
    status: str
    latency_ms: float | None
    reason: str | None


@dataclass(frozen=True)
class Snapshot:
    """One refresh: the latest finished scan and what changed since the one before."""

    scan_id: int | None
    finished_ms: int | None
    previous_scan_id: int | None
    opportunities: pd.DataFrame
    """The latest scan's rows with ``trend_apr``: net APR now minus the same pair's net APR in
    the previous scan (NaN for a pair that is new)."""
    venues: list[VenueHealth] = field(default_factory=list)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    positions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def empty(self) -> bool:
        return self.scan_id is None


def _health(raw: Any) -> list[VenueHealth]:
    """``scans.venue_status`` JSON: ``{venue: {"status", "reason", "latency_ms"}}`` (older
    scans stored a bare reason string)."""
    if not isinstance(raw, Mapping):
        return []
    out = []
    for venue, value in sorted(raw.items()):
        if isinstance(value, Mapping):
            latency = value.get("latency_ms")
            out.append(
                VenueHealth(
                    venue,
                    str(value.get("status", "?")),
                    None if latency is None else float(latency),
                    value.get("reason"),
                )
            )
        else:
            out.append(VenueHealth(venue, "?", None, None if value is None else str(value)))
    return out


def _keys(df: pd.DataFrame) -> pd.Series:
    """Each row's pair identity: the stored ``pair_key`` (older rows: derived the same way)."""
    if "pair_key" in df.columns and df["pair_key"].notna().all():
        return df["pair_key"].astype(object)
    long_canonical = df["long_canonical"] if "long_canonical" in df.columns else df["symbol"]
    return pd.Series(
        [
            pair_key(s, lv, sv, pt, long_canonical=lc)
            for s, lv, sv, pt, lc in zip(
                df["symbol"],
                df["long_venue"],
                df["short_venue"],
                df["pair_type"],
                long_canonical,
                strict=True,
            )
        ],
        index=df.index,
        dtype=object,
    )


def with_trend(latest: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Add ``trend_apr`` (net APR change per pair since the previous scan)."""
    out = latest.copy()
    if out.empty:
        out["trend_apr"] = pd.Series(dtype=float)
        return out
    before = dict(zip(_keys(previous), previous["net_apr"], strict=True)) if len(previous) else {}
    out["trend_apr"] = [
        now - before[k] if k in before else float("nan")
        for k, now in zip(_keys(out), out["net_apr"], strict=True)
    ]
    return out


def load_snapshot(queries: DashboardQueries, limit: int = 1000) -> Snapshot:
    scans = queries.latest_scans(2)
    alerts, positions = queries.recent_alerts(8), queries.open_positions()
    if scans.empty:
        return Snapshot(None, None, None, pd.DataFrame(), [], alerts, positions)
    latest = scans.iloc[0]
    previous_id = int(scans.iloc[1]["id"]) if len(scans) > 1 else None
    ids = [int(latest["id"])] + ([previous_id] if previous_id is not None else [])
    now = queries.opportunities_of([ids[0]], limit=limit)
    before = queries.opportunities_of([previous_id], limit=limit) if previous_id else now[:0]
    return Snapshot(
        scan_id=ids[0],
        finished_ms=int(latest["finished_ms"]),
        previous_scan_id=previous_id,
        opportunities=with_trend(now.reset_index(drop=True), before),
        venues=_health(latest["venue_status"]),
        alerts=alerts,
        positions=positions,
    )


def view(df: pd.DataFrame, sort_key: str = "net_apr", needle: str = "") -> pd.DataFrame:
    """Rows sorted by ``sort_key`` (descending, unknown last) and filtered by a symbol or venue
    substring (case-insensitive): what the person asked the live view to show."""
    if sort_key not in SORT_KEYS:
        raise ValueError(f"sort by one of {', '.join(SORT_KEYS)}, not {sort_key!r}")
    if df.empty:
        return df
    out = df
    text = needle.strip().lower()
    if text:
        hay = (
            out["symbol"].str.lower()
            + " "
            + out["long_venue"].str.lower()
            + " "
            + out["short_venue"].str.lower()
        )
        out = out[hay.str.contains(text, regex=False)]
    return out.sort_values(sort_key, ascending=False, na_position="last", kind="stable")
