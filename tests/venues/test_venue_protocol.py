"""Every real adapter implements the Venue protocol in substance: the same async methods with
the same parameters and annotations (``isinstance`` on the protocol checks names only)."""

from __future__ import annotations

import pytest

from scanner.settings import Settings
from scanner.venues.base import Venue
from scanner.venues.registry import build_venue
from scanner.venues.specs import venue_ids
from tests.protocol_check import protocol_mismatches


@pytest.mark.parametrize("name", venue_ids())
async def test_adapter_matches_the_venue_protocol(name: str) -> None:
    venue = build_venue(name, Settings(env={}))
    try:
        assert protocol_mismatches(venue, Venue) == []
    finally:
        await venue.close()
