"""Acceptance of issue 9: a seventh ccxt venue needs its spec, and nothing else of ours.

The throw-away venue ``okxcopy`` is OKX's spec under a new id, registered at run time, and the
emulator serves OKX's wire format with a renamed copy of its universe (and its own funding
path) under ``/okxcopy``. Nothing in the scanner was edited for it: settings accept it, the
factory builds it, symbols and fees dispatch to it, and it passes the same contract suite as
the built-in venues - including ``fundscan scan`` end to end.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import test_contract as contract
from typer.testing import CliRunner

from emulator import Emulator, FaultSpec
from scanner.cli import app
from scanner.clock import FakeClock
from scanner.settings import Settings, VenuesSettings, load_settings
from scanner.venues.base import RateLimited, TemporaryVenueError, Venue, VenueUnavailable
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import build_venue
from scanner.venues.specs import (
    default_fee_table,
    parse_symbol,
    register,
    spec_of,
    unregister,
    venue_ids,
    venue_symbol,
)

NEW = "okxcopy"


@pytest.fixture
def new_venue() -> Iterator[str]:
    register(dataclasses.replace(spec_of("okx"), id=NEW, display_name="OKX copy"))
    try:
        yield NEW
    finally:
        unregister(NEW)


@pytest.fixture
async def emu(new_venue: str) -> AsyncIterator[Emulator]:
    async with Emulator(seed=2, stepped=True, clones={new_venue: "okx"}) as emulator:
        yield emulator


def settings_for(emu: Emulator) -> Settings:
    return Settings(venues=VenuesSettings()).with_base_url(emu.url)


@pytest.fixture
async def adapter(emu: Emulator) -> AsyncIterator[Venue]:
    venue = build_venue(NEW, settings_for(emu), retries=0)
    yield venue
    await venue.close()


def test_the_registry_and_settings_know_the_new_venue(new_venue: str, tmp_path: Path) -> None:
    assert venue_ids()[-1] == new_venue and "okx" in venue_ids()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"venues:\n  enabled: [okx, {new_venue}]\n  {new_venue}: {{timeout_s: 3}}\n")
    settings = load_settings(cfg, env={})
    assert settings.venues.enabled == ("okx", new_venue)
    assert settings.venues.get(new_venue).timeout_s == 3
    assert default_fee_table()[new_venue] == default_fee_table()["okx"]
    assert venue_symbol(new_venue, "PEPE", "USDT", "USDT") == "PEPE-USDT-SWAP"
    assert parse_symbol(new_venue, "PEPE-USDT-SWAP").base == "PEPE"


def test_without_the_spec_the_venue_is_unknown(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"venues:\n  enabled: [okx, {NEW}]\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(cfg)])
    assert result.exit_code == 2
    assert f"venues.enabled[1]: unknown venue '{NEW}'" in result.output


async def test_the_new_venue_passes_the_contract_suite(adapter: Venue, emu: Emulator) -> None:
    assert isinstance(adapter, CcxtVenue) and adapter.name == NEW
    await contract.test_instruments_cover_the_emulated_perpetuals(adapter, emu)
    await contract.test_quotes_for_the_full_universe_match_the_model(adapter, emu)
    await contract.test_books_are_sorted_and_match_the_model_top(adapter, emu)
    await contract.test_history_matches_the_model_settlements(adapter, emu)
    okx_rates = {s: emu.market.funding_rate("okx", s) for s in emu.market.perpetual_symbols("okx")}
    new_rates = {s: emu.market.funding_rate(NEW, s) for s in emu.market.perpetual_symbols(NEW)}
    assert okx_rates.keys() == new_rates.keys() and okx_rates != new_rates  # its own market


@pytest.mark.parametrize(("spec", "expected"), contract.FAULTS.values(), ids=contract.FAULTS.keys())
async def test_the_new_venue_maps_faults_onto_the_error_tree(
    emu: Emulator, spec: FaultSpec, expected: type[Exception]
) -> None:
    await contract.test_faults_map_onto_the_error_tree(emu, NEW, spec, expected)


async def test_the_new_venue_gates_by_its_own_meaning(emu: Emulator) -> None:
    """Its 403 is OKX's (no ban): the next call is sent; faults hit only ``okxcopy``."""
    clock = FakeClock()
    adapter = build_venue(NEW, settings_for(emu), retries=0, clock=clock)
    try:
        emu.faults.set(NEW, "*", FaultSpec(kind="ban", http_status=403, count=1))
        with pytest.raises(VenueUnavailable) as info:
            await adapter.fetch_quotes()
        assert isinstance(info.value, TemporaryVenueError) and info.value.code == 403
        assert not isinstance(info.value, RateLimited)
        assert len(await adapter.fetch_quotes()) == len(emu.market.perpetual_symbols(NEW))
    finally:
        await adapter.close()


def test_fundscan_scan_ranks_the_new_venue(new_venue: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    db = tmp_path / "scan.db"
    cfg.write_text(
        f"venues:\n  enabled: [okx, {new_venue}]\nstorage:\n  url: sqlite:///{db}\n"
        "engine:\n  min_net_apr: -100\n"
    )
    with Emulator(seed=2, clones={new_venue: "okx"}).run_in_thread() as emu:
        result = CliRunner().invoke(
            app, ["scan", "--config", str(cfg), "--emulator", emu.url, "--json", "--top", "500"]
        )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    legs = {(r["long_venue"], r["short_venue"]) for r in rows}
    assert (new_venue, "okx") in legs or ("okx", new_venue) in legs, legs
