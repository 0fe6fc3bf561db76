"""Shared by the storage tests: where the backends are, and small data builders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from scanner.domain import FundingQuote, Opportunity
from storage.db import Database, open_database

PG_URL = os.environ.get("FUNDSCAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCHEMA_PREFIX = f"fundscan_t_{os.getpid()}_"


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Backend:
    """Where one test's database lives: a URL, plus the PG schema that isolates it."""

    name: str
    url: str
    schema: str | None = None

    @property
    def url_with_search_path(self) -> str:
        """The URL with the schema baked in (for code that only takes a URL, like the CLI)."""
        if self.schema is None:
            return self.url
        return f"{self.url}?options=-csearch_path%3D{self.schema}"

    def open(self, create: bool = True) -> Database:
        return open_database(self.url, create=create, schema=self.schema)


def quotes(
    n: int,
    *,
    start_ms: int = 1_700_000_000_000,
    symbols: int = 50,
    venue: str = "bybit",
    step_ms: int = 60_000,
    rate: float = 1e-4,
    interval_h: float = 8.0,
) -> list[FundingQuote]:
    """``n`` distinct live quotes: ``symbols`` symbols observed every ``step_ms``."""
    return [
        FundingQuote(
            venue=venue,
            venue_symbol=f"C{i % symbols}USDT",
            canonical=f"C{i % symbols}/USDT:USDT",
            rate_per_interval=rate,
            interval_h=interval_h,
            ts_ms=start_ms + (i // symbols) * step_ms,
            next_funding_ms=start_ms + 8 * 3_600_000,
            mark_price=100.0 + i % 7,
        )
        for i in range(n)
    ]


def opportunity(symbol: str, net_apr: float, **kw: object) -> Opportunity:
    base = dict(
        symbol=symbol,
        pair_type="cross",
        long_venue="okx",
        short_venue="bybit",
        long_rate=-0.0001,
        long_interval_h=8.0,
        short_rate=0.0002,
        short_interval_h=4.0,
        diff_per_h=0.0000625,
        gross_apr=0.5475,
        fee_frac=0.002,
        slippage_frac=0.0005,
        cost_frac=0.0025,
        basis_frac=0.0001,
        net_apr=net_apr,
        breakeven_h=40.0,
        long_next_funding_ms=1_000,
        short_next_funding_ms=None,
        notional_usd=10_000.0,
        max_notional_usd=25_000.0,
        executable=True,
        interval_mismatch=True,
        settle_mismatch=False,
        confidence=0.7,
        confidence_components={"persistence": 0.9, "prediction": None},
    )
    base.update(kw)
    return Opportunity(**base)  # type: ignore[arg-type]
