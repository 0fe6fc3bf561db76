"""``Repository``: the four stores over one database, under the method names callers know.

Why a facade over composed stores: market data, scans and opportunities, the alert log and the
executor's state change for different reasons and are read by different code, so each lives in
its own small store (``MarketStore``, ``ScanStore``, ``AlertLog``, ``ExecutionStore``). Code
that needs one concern takes that store (``repo.market``, ``repo.scans``, ``repo.alerts``,
``repo.execution``); ``Repository`` keeps every method it had before the split working by
forwarding it, so callers can migrate one at a time. New persistence gets a store module of its
own (and a forwarder here only if many callers want it). Reads for analytics are in
``storage.queries``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from storage.alert_log import AlertLog, payload_hash
from storage.db import Database
from storage.execution_store import ExecutionStore
from storage.market_store import MarketStore
from storage.scan_store import ScanStore

__all__ = ["Repository", "payload_hash"]

P = ParamSpec("P")
R = TypeVar("R")


def _forward(
    store: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[Repository, P], R]:
    """A ``Repository`` method that calls ``method`` on the store in attribute ``store``.

    Typed through ``ParamSpec``: a forwarded call is checked against the store's own
    signature, so the facade cannot drift from the stores it forwards to.
    """

    @functools.wraps(method)  # name, docstring and (for help()) the store's signature
    def forwarded(self: Repository, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(getattr(self, store), *args, **kwargs)

    forwarded.__qualname__ = f"Repository.{method.__name__}"
    return forwarded


class Repository:
    """Market data, scans and opportunities, alert log and execution state over one ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.market = MarketStore(db)
        self.scans = ScanStore(db)
        self.alerts = AlertLog(db)
        self.execution = ExecutionStore(db)

    # market data
    upsert_instruments = _forward("market", MarketStore.upsert_instruments)
    write_quotes = _forward("market", MarketStore.write_quotes)
    write_settlements = _forward("market", MarketStore.write_settlements)
    write_books = _forward("market", MarketStore.write_books)

    # scans and opportunities
    start_scan = _forward("scans", ScanStore.start_scan)
    finish_scan = _forward("scans", ScanStore.finish_scan)
    write_opportunities = _forward("scans", ScanStore.write_opportunities)

    # alert log
    record_alert = _forward("alerts", AlertLog.record_alert)
    last_alert_ms = _forward("alerts", AlertLog.last_alert_ms)

    # execution: orders, legs, positions
    save_order = _forward("execution", ExecutionStore.save_order)
    update_order = _forward("execution", ExecutionStore.update_order)
    get_order = _forward("execution", ExecutionStore.get_order)
    open_orders = _forward("execution", ExecutionStore.open_orders)
    orders_for_position = _forward("execution", ExecutionStore.orders_for_position)
    create_position = _forward("execution", ExecutionStore.create_position)
    update_position = _forward("execution", ExecutionStore.update_position)
    update_leg = _forward("execution", ExecutionStore.update_leg)
    get_position = _forward("execution", ExecutionStore.get_position)
    open_positions = _forward("execution", ExecutionStore.open_positions)
    legs_for_position = _forward("execution", ExecutionStore.legs_for_position)
