"""Persistence: SQLite by default, PostgreSQL by URL, schema managed by Alembic.

Entry points (import them from their modules)::

    from storage.db import open_database          # Database; creates/upgrades the schema
    from storage.repository import Repository     # the stores below, one txn per call
    #   .market     MarketStore     instruments, quotes, settlements, books (storage.market_store)
    #   .scans      ScanStore       scans and their ranked opportunities  (storage.scan_store)
    #   .alerts     AlertLog        alerts_sent, cooldown lookups          (storage.alert_log)
    #   .execution  ExecutionStore  orders, legs, positions                (storage.execution_store)
    from storage.queries import Queries           # reads: pandas DataFrames with fixed dtypes
    from storage.maintenance import prune, export_table, RetentionPolicy

    db = open_database(settings.storage.url)      # db.migration.message says what it did
    Repository(db).write_quotes(quotes)           # -> rows added (0 when re-sent)
    Queries(db).settled_pivot("BTC/USDT:USDT", since_ms, until_ms)

This package imports nothing from ``scanner`` except ``scanner.domain`` and never does
exchange I/O.
"""
