"""``Repository`` is four composed stores; every method it had before the split still works."""

from __future__ import annotations

import inspect

from _storage_helpers import opportunity, quotes

from storage.alert_log import AlertLog
from storage.db import Database
from storage.execution_store import ExecutionStore
from storage.market_store import MarketStore
from storage.queries import Queries
from storage.repository import Repository
from storage.scan_store import ScanStore

PRE_SPLIT_METHODS = {
    "upsert_instruments", "write_quotes", "write_settlements", "write_books", "start_scan",
    "finish_scan", "write_opportunities", "record_alert", "last_alert_ms", "save_order",
    "update_order", "get_order", "open_orders", "orders_for_position", "create_position",
    "update_position", "update_leg", "get_position", "open_positions", "legs_for_position",
}  # fmt: skip
"""Repository's public methods at commit 8bc5408, when it was one class."""

STORES = {
    "market": MarketStore,
    "scans": ScanStore,
    "alerts": AlertLog,
    "execution": ExecutionStore,
}


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


def test_each_concern_is_its_own_store_and_no_two_stores_share_a_method() -> None:
    seen: set[str] = set()
    for cls in STORES.values():
        assert not _public(cls) & seen, cls.__name__
        seen |= _public(cls)
    assert seen >= PRE_SPLIT_METHODS


def test_every_pre_split_method_forwards_with_its_stores_signature() -> None:
    for name in PRE_SPLIT_METHODS:
        [cls] = [c for c in STORES.values() if name in _public(c)]
        facade, store = getattr(Repository, name), getattr(cls, name)
        assert facade is not store, name  # the facade forwards; it does not inherit
        assert inspect.signature(facade).parameters.keys() == (
            inspect.signature(store).parameters.keys()
        ), name
        assert facade.__doc__ == store.__doc__, name


def test_the_stores_of_a_repository_share_its_database(db: Database) -> None:
    repo = Repository(db)
    for attr, cls in STORES.items():
        store = getattr(repo, attr)
        assert type(store) is cls and store.db is db


def test_writes_through_the_facade_and_through_each_store_land_in_one_database(
    db: Database,
) -> None:
    repo = Repository(db)
    assert MarketStore(db).write_quotes(quotes(3)) == 3
    assert repo.write_quotes(quotes(3)) == 0  # the same rows: already there
    scan = repo.start_scan(5)
    assert ScanStore(db).write_opportunities(scan, [opportunity("BTC/USDT:USDT", 0.2)]) == 1
    repo.scans.finish_scan(scan, 6, {"okx": "ok"})
    assert Queries(db).opportunity_history()["net_apr"].tolist() == [0.2]
    key = "BTC/USDT:USDT|long=okx|short=bybit"
    AlertLog(db).record_alert("slack", key, 1_000, {"a": 1}, "sent")
    assert repo.last_alert_ms("slack", key) == 1_000
    assert repo.alerts.last_alert_ms("slack", key) == 1_000
