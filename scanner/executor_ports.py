"""Trading ports for an execution mode: which hosts, which keys, which adapters.

Why one place: ``fundscan execute`` and ``fundscan run`` (auto-execution) must trade the same
way. ``dry-run`` gets no credentials at all, so it cannot reach a private endpoint whatever the
code above it does; ``paper`` trades against the emulator (``--emulator URL`` or the venues'
``base_url``); ``testnet``/``demo``/``live`` use the venues' own hosts and keys from the env.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from scanner.executor import ExecutionError
from scanner.settings import Settings
from scanner.venues.bybit_http import HOSTS, BybitCredentials, BybitHttp
from scanner.venues.bybit_ports import BybitPort, BybitSpotPort
from scanner.venues.ccxt_factory import make_exchange
from scanner.venues.ccxt_ports import CcxtPerpPort
from strategies.execution import Limits, TradingPort


def _host(settings: Settings, mode: str, emulator: str | None) -> str:
    if emulator is not None:
        if not emulator.startswith(("http://", "https://")):
            raise ExecutionError(f"--emulator: expected an http(s) URL, got {emulator!r}")
        return emulator.rstrip("/") + "/bybit"
    if mode == "paper":
        paper_url = settings.venues.get("bybit").base_url
        if paper_url is None:
            raise ExecutionError("paper mode trades against the emulator: pass --emulator URL")
        return paper_url
    if mode in ("testnet", "demo"):
        return HOSTS[mode]
    if mode == "live":
        return HOSTS["mainnet"]
    return settings.venues.get("bybit").base_url or HOSTS[settings.venues.get("bybit").environment]


def build_ports(settings: Settings, mode: str, emulator: str | None) -> dict[str, TradingPort]:
    """Ports for ``mode``; dry-run gets no credentials, so it *cannot* call a private endpoint."""
    host = _host(settings, mode, emulator)
    creds = None
    if mode != "dry-run":
        key = settings.secret(settings.execution.api_key_env)
        secret = settings.secret(settings.execution.api_secret_env)
        if key is None or secret is None:
            raise ExecutionError(
                f"{mode} mode needs {settings.execution.api_key_env} and "
                f"{settings.execution.api_secret_env} in the environment or .env"
            )
        creds = BybitCredentials(key, secret)
    leverage = Decimal(settings.execution.leverage)
    venue = settings.venues.get("bybit")

    def http() -> BybitHttp:
        return BybitHttp(
            host, credentials=creds, recv_window_ms=venue.recv_window_ms, timeout_s=venue.timeout_s
        )

    return {
        "bybit": BybitPort(http(), leverage=leverage),
        "bybit-spot": BybitSpotPort(http(), leverage=leverage),
        "binanceusdm": _binance_port(settings, mode, emulator),
    }


def _binance_port(settings: Settings, mode: str, emulator: str | None) -> TradingPort:
    """Binance USD-M through ccxt: the emulator in paper mode, Binance's demo host for demo."""
    config: dict[str, Any] = {
        "options": {"fetchCurrencies": False, "adjustForTimeDifference": True},
        "timeout": int(settings.venues.get("binanceusdm").timeout_s * 1000),
    }
    if mode != "dry-run":
        key = settings.secret(settings.execution.binance_api_key_env)
        secret = settings.secret(settings.execution.binance_api_secret_env)
        if key is not None and secret is not None:
            config |= {"apiKey": key.get_secret_value(), "secret": secret.get_secret_value()}
    base = None
    if emulator is not None:
        base = emulator.rstrip("/") + "/binanceusdm"
    elif mode in ("paper", "dry-run"):
        base = settings.venues.get("binanceusdm").base_url
    exchange = make_exchange("binanceusdm", base, config)
    if mode in ("testnet", "demo") and emulator is None:
        exchange.enable_demo_trading(True)  # Binance retired the futures testnet: demo it is
    return CcxtPerpPort("binanceusdm", exchange, leverage=settings.execution.leverage)


def limits_from(settings: Settings) -> Limits:
    e = settings.execution
    return Limits(
        Decimal(str(e.max_notional_usd)), Decimal(str(e.max_total_exposure_usd)),
        e.max_open_pairs, Decimal(str(e.max_daily_loss_usd)),
    )  # fmt: skip
