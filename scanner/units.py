"""Time and rate units, defined once.

Why a module of its own: the hour in milliseconds used to be written out in nine places, and a
unit slip (seconds for milliseconds, a per-8 h rate read as per-hour) is the classic funding-tool
bug. Every layer imports these names, so a reviewer sees the unit at each use.
"""

from __future__ import annotations

MS_PER_S = 1_000
MIN_PER_H = 60
S_PER_H = 60 * MIN_PER_H
MS_PER_MIN = 60 * MS_PER_S
MS_PER_H = 60 * MS_PER_MIN
MS_PER_DAY = 24 * MS_PER_H
HOURS_PER_YEAR = 24 * 365


def ms_to_h(ms: float) -> float:
    """Milliseconds as (fractional) hours."""
    return ms / MS_PER_H


def h_to_ms(hours: float) -> int:
    """Hours as whole milliseconds (rounded to the nearest millisecond)."""
    return round(hours * MS_PER_H)


def apr_from_rate(rate_per_interval: float, interval_h: float) -> float:
    """Annualise a per-interval funding rate: ``rate / interval_h * 8760`` (a fraction per year).

    The interval travels with the rate so a 1 h and an 8 h rate are never compared raw.
    """
    if interval_h <= 0:
        raise ValueError(f"interval_h must be positive, got {interval_h!r}")
    return rate_per_interval / interval_h * HOURS_PER_YEAR
