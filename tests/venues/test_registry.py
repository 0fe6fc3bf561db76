"""Building the enabled venues from Settings."""

from __future__ import annotations

import ssl

import pytest

from scanner.settings import Settings, VenueSettings, VenuesSettings
from scanner.venues.bybit import BybitVenue, base_url_for
from scanner.venues.bybit_http import HOSTS
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_venue import CcxtVenue
from scanner.venues.registry import (
    SharedTls,
    UnknownVenue,
    build_venue,
    build_venues,
    close_all,
)
from scanner.venues.specs import UnknownVenueError


@pytest.mark.parametrize("env", ["mainnet", "testnet", "demo"])
def test_bybit_host_per_environment(env):
    assert base_url_for(VenueSettings(environment=env)) == HOSTS[env]
    url = "http://127.0.0.1:9/bybit"
    assert base_url_for(VenueSettings(environment=env, base_url=url)) == url


async def test_builds_every_enabled_venue_pointed_at_the_base_url():
    settings = Settings().with_base_url("http://127.0.0.1:9")
    venues = build_venues(settings)
    try:
        assert list(venues) == list(settings.venues.enabled)
        assert isinstance(venues["bybit"], BybitVenue)
        assert venues["bybit"].http.base_url == "http://127.0.0.1:9/bybit"
        for name, venue in venues.items():
            if name != "bybit":
                assert isinstance(venue, CcxtVenue)
                assert venue.exchange.timeout == int(settings.venues.get(name).timeout_s * 1000)
    finally:
        await close_all(venues)


async def test_unknown_or_disabled_venue_is_named():
    settings = Settings(venues=VenuesSettings(enabled=("bybit", "okx")))
    with pytest.raises(UnknownVenue, match="venue 'gate' is not enabled; enabled: bybit, okx"):
        build_venues(settings, ["bybit", "gate"])
    with pytest.raises(UnknownVenueError) as info:
        build_venue("kraken", settings)
    message = str(info.value)
    assert message.startswith("unknown venue 'kraken'; known venues: ")
    for known in ("bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid"):
        assert known in message.split("known venues: ")[1]
    assert isinstance(info.value, ValueError)  # a user error, not a programming KeyError only
    with pytest.raises(UnknownVenueError, match="'kraken'"):
        settings.venues.get("kraken")


async def test_keys_come_from_the_environment_only_when_asked():
    env = {"BYBIT_API_KEY": "k-123", "BYBIT_API_SECRET": "s-456"}
    settings = Settings(env=env)
    keyed = build_venue("bybit", settings, with_keys=True)
    public = build_venue("bybit", settings)
    try:
        assert isinstance(keyed, BybitVenue) and isinstance(public, BybitVenue)
        assert keyed.http.has_credentials and not public.http.has_credentials
        assert "s-456" not in repr(keyed) and "k-123" not in repr(keyed)
    finally:
        await keyed.close()
        await public.close()


async def test_the_ccxt_venues_built_together_share_one_tls_context() -> None:
    """ccxt would build one default context per exchange on its first connection (~0.04 s
    of CPU each); the venues of one build share one, built when the first opens, and a
    later build has its own."""
    settings = Settings()
    names = ["binanceusdm", "okx", "gate", "bitget"]
    first, second = build_venues(settings, names), build_venues(settings, ["okx"])
    exchanges = [v.exchange for v in first.values()]  # type: ignore[attr-defined]
    try:
        assert all(e.ssl_context is None for e in exchanges)  # nothing built up front
        for e in exchanges:
            e.open()
        second["okx"].exchange.open()  # type: ignore[attr-defined]
        context = exchanges[0].ssl_context
        assert isinstance(context, ssl.SSLContext)
        assert all(e.ssl_context is context for e in exchanges)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert second["okx"].exchange.ssl_context is not context  # type: ignore[attr-defined]
        assert isinstance(second["okx"].exchange.ssl_context, ssl.SSLContext)  # type: ignore[attr-defined]
    finally:
        await close_all(first)
        await close_all(second)


def test_an_exchange_that_does_not_verify_keeps_its_own_tls_setting() -> None:
    exchange = make_exchange("okx", config={"verify": False})
    SharedTls().attach(exchange)
    assert "open" not in vars(exchange) and exchange.ssl_context is None
