"""``fundscan backfill`` against the emulator over loopback: complete, idempotent, resumable.

The emulator runs on a stepped clock, so its history ends at a fixed moment and ``--until``
pins the window: a second run has nothing new to find. Which settlements exist comes from the
emulator's own model (``emu.market.history``), never from the code under test, and no test
depends on the emulator's rate values (its funding model is being recalibrated).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from emulator import Emulator, FaultSpec
from scanner.backfill import VenueBackfill, backfill, missing_windows
from scanner.cli import app
from scanner.settings import Settings
from scanner.venues.registry import build_venues, close_all, max_concurrency
from storage.db import open_database
from storage.queries import Queries
from storage.repository import Repository

H = 3_600_000
START_MS = 1_767_225_600_000 + 5 * H + 17_000  # 2026-01-01 05:00:17 UTC, off the hour on purpose
DAYS = 25
SINCE_MS = START_MS - DAYS * 24 * H
runner = CliRunner()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=11, stepped=True, start_ms=START_MS, history_days=DAYS).run_in_thread() as e:
        yield e


def _config(tmp_path: Path, name: str) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / name}.db"
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"storage:\n  url: {url}\n", encoding="utf-8")
    return cfg, url


def _invoke(cfg: Path, emu: Emulator, *extra: str):
    window = ["--since", str(SINCE_MS), "--until", str(START_MS), "--symbols", "BTC,ETH"]
    args = ["backfill", "--config", str(cfg), "--emulator", emu.url, "--quiet", *window, *extra]
    return runner.invoke(app, args)


def _stored(url: str) -> pd.DataFrame:
    with open_database(url, create=False) as db:
        got = Queries(db).settlements(since_ms=SINCE_MS, until_ms=START_MS + 1)
    cols = ["venue", "venue_symbol", "funding_time_ms", "rate_per_interval"]
    return got[cols].sort_values(cols[:3]).reset_index(drop=True)


def test_missing_windows_asks_only_for_the_ends_that_are_not_stored() -> None:
    assert missing_windows(None, None, 0, 100 * H, 8) == [(0, 100 * H)]
    assert missing_windows(0, 96 * H, 0, 100 * H, 8) == []  # 4 h left: no 8 h settlement fits
    assert missing_windows(40 * H, 96 * H, 0, 100 * H, 8) == [(0, 40 * H - 1)]
    assert missing_windows(0, 48 * H, 0, 100 * H, 8) == [(48 * H + 1, 100 * H)]
    assert missing_windows(16 * H, 48 * H, 0, 100 * H, 1) == [
        (0, 16 * H - 1),
        (48 * H + 1, 100 * H),
    ]


def test_backfill_is_complete_and_a_second_run_adds_nothing(emu: Emulator, tmp_path: Path) -> None:
    cfg, url = _config(tmp_path, "twice")
    first = _invoke(cfg, emu)
    assert first.exit_code == 0, first.output
    stored = _stored(url)
    for venue, symbol in [("bybit", "BTCUSDT"), ("hyperliquid", "ETH"), ("okx", "BTC-USDT-SWAP")]:
        expected = [t for t, _ in emu.market.history(venue, symbol, START_MS) if t >= SINCE_MS]
        got = stored[(stored.venue == venue) & (stored.venue_symbol == symbol)]
        assert got["funding_time_ms"].tolist() == expected, (venue, symbol)
    # hyperliquid pays hourly: 600 settlements over 25 days, more than one 500-row page
    assert (stored.venue == "hyperliquid").sum() == 2 * DAYS * 24
    second = _invoke(cfg, emu)
    assert second.exit_code == 0, second.output
    assert "0 new settlements" in second.stderr
    assert _stored(url).equals(stored)


class _Interrupted(Exception):
    pass


def _settings(emu: Emulator, url: str) -> Settings:
    base = Settings(env={}).with_base_url(emu.url)
    return base.model_copy(update={"storage": base.storage.model_copy(update={"url": url})})


def _run_until_pages(settings: Settings, stop_after_pages: int) -> None:
    """A backfill killed (as by Ctrl-C) once ``stop_after_pages`` pages are stored."""
    db = open_database(settings.storage.url)
    names = list(settings.venues.enabled)

    def on_progress(state: VenueBackfill) -> None:
        if sum(s.pages for s in seen.values()) >= stop_after_pages:
            raise _Interrupted
        seen[state.venue] = state

    seen: dict[str, VenueBackfill] = {}

    async def go() -> None:
        venues = build_venues(settings, names)
        try:
            await backfill(
                venues, Repository(db).market, Queries(db), since_ms=SINCE_MS,
                until_ms=START_MS, universe=settings.universe, bases={"BTC", "ETH"},
                concurrency=max_concurrency(settings, names), now_ms=START_MS,
                on_progress=on_progress,
            )  # fmt: skip
        finally:
            await close_all(venues)

    try:
        with pytest.raises(ExceptionGroup) as info:
            asyncio.run(go())
        assert info.group_contains(_Interrupted)
    finally:
        db.dispose()


def test_an_interrupted_backfill_completes_when_run_again(emu: Emulator, tmp_path: Path) -> None:
    ref_cfg, ref_url = _config(tmp_path, "reference")
    assert _invoke(ref_cfg, emu).exit_code == 0
    reference = _stored(ref_url)

    cfg, url = _config(tmp_path, "interrupted")
    _run_until_pages(_settings(emu, url), stop_after_pages=4)
    partial = _stored(url)
    assert 0 < len(partial) < len(reference)

    again = _invoke(cfg, emu)
    assert again.exit_code == 0, again.output
    assert _stored(url).equals(reference)


def test_a_venue_failing_midway_is_reported_and_the_rerun_finishes_it(
    emu: Emulator, tmp_path: Path
) -> None:
    cfg, url = _config(tmp_path, "banned")
    emu.faults.set("okx", "*funding-rate-history*", FaultSpec("ban", http_status=403))
    try:
        first = _invoke(cfg, emu, "--venues", "okx,bybit")
    finally:
        emu.faults.clear()
    assert first.exit_code == 1, first.output
    assert "incomplete: okx" in first.stderr
    after_first = _stored(url)
    assert set(after_first.venue) == {"bybit"}
    second = _invoke(cfg, emu, "--venues", "okx,bybit")
    assert second.exit_code == 0, second.output
    stored = _stored(url)
    expected = [t for t, _ in emu.market.history("okx", "ETH-USDT-SWAP", START_MS) if t >= SINCE_MS]
    okx_eth = stored[(stored.venue == "okx") & (stored.venue_symbol == "ETH-USDT-SWAP")]
    assert okx_eth["funding_time_ms"].tolist() == expected


def test_bad_arguments_exit_2_with_one_line(emu: Emulator, tmp_path: Path) -> None:
    cfg, _ = _config(tmp_path, "bad")
    for args, expected in [
        (["--venues", "nowhere"], "--venues: unknown venue"),
        (["--symbols", " , "], "--symbols: expected canonical bases"),
    ]:
        result = _invoke(cfg, emu, *args)
        assert result.exit_code == 2, result.output
        assert expected in result.output
    late = runner.invoke(app, ["backfill", "--config", str(cfg), "--since", "2030-01-01",
                               "--until", "2029-01-01"])  # fmt: skip
    assert late.exit_code == 2
    assert "--since must be before --until" in late.output
