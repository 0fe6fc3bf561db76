"""Settings, a database and a sample opportunity row for the LLM tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.settings import LlmBudget, Settings
from storage.db import Database, open_database

API_KEY = "sk-test-S3cr3t-never-in-logs"


def settings_for(url: str, tmp_path: Path, key: str | None = API_KEY, **llm: Any) -> Settings:
    budget = llm.pop("budget", None)
    base = Settings(env={"OPENAI_API_KEY": key} if key else {})
    cfg = base.llm.model_copy(
        update={
            "mode": "advisory",
            "base_url": url,
            "model": "test-model",
            "timeout_s": 5.0,
            "max_retries": 2,
            "scan_budget_s": 30.0,
            "max_concurrency": 1,
            **llm,
            "budget": budget or LlmBudget(),
        }
    )
    storage = base.storage.model_copy(update={"url": f"sqlite:///{tmp_path / 'llm.db'}"})
    return base.model_copy(update={"llm": cfg, "storage": storage})


def open_db(settings: Settings) -> Database:
    return open_database(settings.storage.url)


def row(symbol: str = "PEPE/USDT:USDT", long_venue: str = "bybit", short: str = "okx") -> dict:
    """One ranked row as the engine frame carries it (the columns the prompt reads)."""
    return {
        "symbol": symbol,
        "pair_type": "cross",
        "long_venue": long_venue,
        "short_venue": short,
        "long_symbol": "1000PEPEUSDT",
        "short_symbol": "PEPE-USDT-SWAP",
        "long_canonical": symbol,
        "short_canonical": symbol,
        "long_rate": -0.0004,
        "long_interval_h": 4.0,
        "short_rate": 0.0003,
        "short_interval_h": 8.0,
        "diff_per_h": 0.0001375,
        "gross_apr": 1.2045,
        "fee_frac": 0.0021,
        "slippage_frac": 0.0007,
        "cost_frac": 0.0028,
        "basis_frac": 0.0003,
        "net_apr": 0.863,
        "breakeven_h": 20.4,
        "confidence": 0.61,
        "confidence_components": {
            "persistence": 0.8,
            "stability": 0.4,
            "liquidity": 1.0,
            "freshness": 0.9,
            "prediction": None,
        },  # fmt: skip
        "long_next_funding_ms": 1_700_003_600_000,
        "short_next_funding_ms": 1_700_010_800_000,
        "interval_mismatch": True,
        "settle_mismatch": False,
        "price_gap_frac": 0.0004,
        "price_mismatch": False,
        "executable": True,
        "notional_usd": 10_000.0,
        "max_notional_usd": 85_000.0,
    }
