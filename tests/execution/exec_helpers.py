"""Shared by the executor tests: a keyed emulator, the Bybit ports on it, an executor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from emulator import Emulator
from emulator.binance_account import BinanceAccountConfig
from emulator.bybit_account import BybitAccount
from scanner.clock import FakeClock
from scanner.executor import Executor
from scanner.venues.bybit_http import BybitCredentials, BybitHttp
from scanner.venues.bybit_ports import BybitPort, BybitSpotPort
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_ports import CcxtPerpPort
from storage.db import open_database
from strategies.execution import Limits
from strategies.execution_flow import FlowTiming

KEY, SECRET = "exec-test-key", "exec-test-secret-0123456789"
BKEY, BSECRET = "binance-test-key", "binance-test-secret-9876543210"
START_MS = 1_795_000_000_000
HOUR = 3_600_000
LIMITS = Limits(Decimal(5000), Decimal(20000), 3, Decimal(500))


@dataclass
class Rig:
    emu: Emulator
    executor: Executor
    ports: dict[str, Any]
    clock: FakeClock

    def account(self):  # type: ignore[no-untyped-def]
        return self.emu.bybit_private.state(KEY)

    def venue_perp(self, symbol: str) -> Decimal:
        position = self.account().positions.get(symbol)
        return Decimal(0) if position is None else position.size

    def venue_coin(self, coin: str) -> Decimal:
        return self.account().coins.get(coin, Decimal(0))

    async def advance(self, ms: int) -> None:
        """Move market time (settling funding); the ports re-measure the server time, as a
        real client's drift check would after hours (a real clock never jumps)."""
        await self.emu.advance(ms)
        self.clock.advance(ms / 1000)
        for port in self.ports.values():
            if hasattr(port, "http"):
                await port.http.sync_time()

    def order_link_ids(self) -> list[str]:
        bybit = [o["orderLinkId"] for o in self.emu.bybit_private.order_log]
        return bybit + [o["newClientOrderId"] for o in self.emu.binance_private.order_log]

    def binance_perp(self, symbol: str) -> Decimal:
        position = self.emu.binance_private.state(BKEY).positions.get(symbol)
        return Decimal(0) if position is None else position.amount


class EmulatorTime:
    """The stepped emulator's clock as a ``scanner.clock.Clock`` (what a synced client sees)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def now_ms(self) -> int:
        return int(self.emu.clock.now_ms())

    def monotonic_ms(self) -> float:
        return float(self.emu.clock.now_ms())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def ports_for(emu: Emulator, key: str = KEY, secret: str = SECRET) -> dict[str, BybitPort]:
    """Ports whose signing clock is the (stepped) emulator's, as a synced client's would be."""
    creds = BybitCredentials(SecretStr(key), SecretStr(secret))

    def http() -> BybitHttp:
        return BybitHttp(
            f"{emu.url}/bybit", credentials=creds, retries=0, timeout_s=1.0,
            clock=EmulatorTime(emu),
        )  # fmt: skip

    # ccxt signs with its nonce; the documented way to give it another clock is to override it
    binance = make_exchange(
        "binanceusdm", emu.venue_url("binanceusdm"),
        {"apiKey": BKEY, "secret": BSECRET, "options": {"fetchCurrencies": False},
         "timeout": 2000},
    )  # fmt: skip
    binance.nonce = emu.clock.now_ms
    return {
        "bybit": BybitPort(http()),
        "bybit-spot": BybitSpotPort(http()),
        "binanceusdm": CcxtPerpPort("binanceusdm", binance),
    }


@asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    usdt: str = "100000",
    limits: Limits = LIMITS,
    kill_switch: Path | None = None,
    db_name: str = "exec.db",
) -> AsyncIterator[Rig]:
    account = BybitAccount(KEY, SECRET, usdt_balance=Decimal(usdt))
    binance = BinanceAccountConfig(BKEY, BSECRET, usdt_balance=Decimal(usdt))
    emu = Emulator(
        seed=11, stepped=True, start_ms=START_MS, bybit_accounts=[account],
        binance_accounts=[binance],
    )  # fmt: skip
    async with emu:
        ports = ports_for(emu)
        clock = FakeClock(START_MS)
        db = open_database(f"sqlite:///{tmp_path / db_name}")
        executor = Executor(
            db, ports, clock, limits, timing=FlowTiming(unwind_timeout_s=10, retry_pause_s=1),
            kill_switch_file=str(kill_switch) if kill_switch else None,
        )  # fmt: skip
        try:
            yield Rig(emu, executor, ports, clock)
        finally:
            for port in {id(p): p for p in ports.values()}.values():
                await port.close()
            db.dispose()
