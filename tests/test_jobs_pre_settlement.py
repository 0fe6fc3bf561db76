"""The settlement-aware schedule: one extra scan shortly before each coming settlement."""

from __future__ import annotations

from datetime import UTC, datetime

from scanner.jobs import (
    PRE_SETTLEMENT_PREFIX,
    build_scheduler,
    plan_pre_settlement_scans,
    pre_settlement_times,
)
from scanner.settings import ScheduleSettings
from scanner.units import MS_PER_H, MS_PER_MIN, MS_PER_S

NOW = 1_700_000_000_000 - 1_700_000_000_000 % MS_PER_H + 10 * MS_PER_MIN  # hh:10


def test_one_run_per_distinct_settlement_lead_seconds_before_it() -> None:
    next_hour = NOW + 50 * MS_PER_MIN
    in_8h = next_hour + 7 * MS_PER_H
    times = pre_settlement_times(
        [next_hour, next_hour + 3, in_8h, None, float("nan"), next_hour], NOW, 60
    )
    assert times == [next_hour - 60 * MS_PER_S, in_8h - 60 * MS_PER_S]


def test_settlements_too_close_or_too_far_are_not_planned() -> None:
    assert pre_settlement_times([NOW + 30 * MS_PER_S], NOW, 60) == []  # lead already passed
    assert pre_settlement_times([NOW + 9 * MS_PER_H], NOW, 60) == []  # the next scan plans it
    assert pre_settlement_times([NOW - MS_PER_H], NOW, 60) == []


def test_planned_scans_are_one_off_jobs_added_once() -> None:
    scheduler = build_scheduler(ScheduleSettings(), lambda: None, lambda: None)
    at = [NOW + 49 * MS_PER_MIN, NOW + 109 * MS_PER_MIN]
    assert plan_pre_settlement_scans(scheduler, lambda: None, at) == 2
    assert plan_pre_settlement_scans(scheduler, lambda: None, at) == 0
    jobs = [j for j in scheduler.get_jobs() if j.id.startswith(PRE_SETTLEMENT_PREFIX)]
    when = sorted(j.trigger.run_date for j in jobs)
    assert when == [datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in at]
