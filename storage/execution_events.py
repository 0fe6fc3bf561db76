"""The executor's event log: what happened to a pair, in plain words, kept for the user.

Why its own store: positions and orders say *where* things stand; events say *why* (a hedge
refused for insufficient balance, a leg unwound, a reconciliation mismatch). ``fundscan
execute status`` shows them, and an unresolved mismatch blocks new positions.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from storage import tables as T
from storage.db import Database
from storage.records import ExecutionEvent


class ExecutionEventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, event: ExecutionEvent) -> int:
        row = {
            "kind": event.kind,
            "message": event.message,
            "ts_ms": event.ts_ms,
            "position_id": event.position_id,
        }
        with self.db.write() as conn:
            stmt = insert(T.execution_events).returning(T.execution_events.c.id)
            return int(conn.execute(stmt, row).scalar_one())

    def for_position(self, position_id: int) -> list[ExecutionEvent]:
        stmt = select(T.execution_events).where(T.execution_events.c.position_id == position_id)
        return self._read(stmt.order_by(T.execution_events.c.id))

    def recent(self, limit: int = 20) -> list[ExecutionEvent]:
        stmt = select(T.execution_events).order_by(T.execution_events.c.id.desc()).limit(limit)
        return self._read(stmt)[::-1]

    def _read(self, stmt: object) -> list[ExecutionEvent]:
        with self.db.read() as conn:
            return [ExecutionEvent(**r._asdict()) for r in conn.execute(stmt)]  # type: ignore[call-overload]
