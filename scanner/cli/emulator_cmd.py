"""``fundscan emulator``: run the venue emulator standalone until interrupted.

The first stdout line is always ``emulator listening on http://127.0.0.1:PORT`` (flushed), so a
script or test can start it with ``--port 0`` and read the port it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
from pathlib import Path

import typer

from scanner.cli.common import fail, setup_logging

MAX_SPEED = 1e6
"""Market seconds per real second; beyond this a scan sees days pass between two requests."""
MAX_HISTORY_DAYS = 365.0
"""Past funding the model generates at start; a year already takes seconds to build."""
MAX_LATENCY_MS = 60_000.0
"""Longest fixed per-request latency; a round trip never needs more."""


def _check_range(option: str, value: float, high: float, *, low_open: bool) -> None:
    """A finite number in (0, high] (``low_open``) or [0, high]; exit 2 naming the option."""
    low_ok = value > 0 if low_open else value >= 0
    if not (math.isfinite(value) and low_ok and value <= high):
        bracket = "(" if low_open else "["
        raise fail(f"{option} must be a finite number in {bracket}0, {high:g}], got {value}")


REGIMES = ("calm", "normal", "hot")
"""The emulator's market regimes (``emulator.model.REGIMES``, spelled here too: the CLI checks
the option before importing the emulator)."""


def check_regime(regime: str) -> None:
    if regime not in REGIMES:
        raise fail(f"--regime must be one of {', '.join(REGIMES)}, got {regime!r}")


def _accounts(key: str | None, secret: str | None) -> list[object]:
    if not key and not secret:
        return []
    if not key or not secret:
        raise fail("--bybit-key and --bybit-secret must be given together")
    from emulator.bybit_account import BybitAccount

    return [BybitAccount(api_key=key, api_secret=secret)]


def _binance_accounts(key: str | None, secret: str | None) -> list[object]:
    if not key and not secret:
        return []
    if not key or not secret:
        raise fail("--binance-key and --binance-secret must be given together")
    from emulator.binance_account import BinanceAccountConfig

    return [BinanceAccountConfig(api_key=key, api_secret=secret)]


async def _serve(emu: object, port: int) -> None:
    from emulator import Emulator

    assert isinstance(emu, Emulator)
    await emu.start(port)
    sys.stdout.write(f"emulator listening on {emu.url} (regime {emu.regime})\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def register(app: typer.Typer) -> None:
    @app.command("emulator")
    def emulator(
        port: int = typer.Option(8765, "--port", help="TCP port on 127.0.0.1 (0 = any free)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the market model and faults."),
        faults: Path | None = typer.Option(None, "--faults", help="YAML/JSON fault plan."),
        speed: float = typer.Option(1.0, "--speed", help="Market time per real time (> 0)."),
        history_days: float = typer.Option(3.0, "--history-days", help="Days of past funding."),
        regime: str = typer.Option(
            "normal", "--regime", help="Market: calm (2023-like), normal (2025-like), hot (2021)."
        ),
        latency_ms: float = typer.Option(
            0.0, "--latency-ms", help="Fixed delay of every venue request, ms (a round trip)."
        ),
        bybit_key: str | None = typer.Option(None, "--bybit-key", help="Emulated Bybit API key."),
        bybit_secret: str | None = typer.Option(
            None, "--bybit-secret", help="Its secret (never printed)."
        ),
        binance_key: str | None = typer.Option(
            None, "--binance-key", help="Emulated Binance USD-M API key."
        ),
        binance_secret: str | None = typer.Option(
            None, "--binance-secret", help="Its secret (never printed)."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Serve Bybit, Binance USD-M, OKX, Gate, Bitget and Hyperliquid on one local port."""
        from emulator import Emulator, FaultConfigError, FaultPlan

        setup_logging(verbose)
        _check_range("--speed", speed, MAX_SPEED, low_open=True)
        _check_range("--history-days", history_days, MAX_HISTORY_DAYS, low_open=False)
        check_regime(regime)
        _check_range("--latency-ms", latency_ms, MAX_LATENCY_MS, low_open=False)
        if not 0 <= port <= 65535:
            raise fail(f"--port must be in 0..65535, got {port}")
        try:
            plan = FaultPlan.from_file(faults, seed=seed) if faults else None
            emu = Emulator(
                seed=seed,
                speed=speed,
                faults=plan,
                history_days=history_days,
                regime=regime,
                latency_ms=latency_ms,
                bybit_accounts=_accounts(bybit_key, bybit_secret),
                binance_accounts=_binance_accounts(binance_key, binance_secret),
            )
        except FaultConfigError as exc:
            raise fail(f"--faults: {exc}") from None
        with contextlib.suppress(KeyboardInterrupt):
            try:
                asyncio.run(_serve(emu, port))
            except OSError as exc:
                raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
