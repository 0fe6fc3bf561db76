"""What ``fundscan status`` reads: recent scans with their row counts, database size.

Why its own module: the status view joins a little of everything (scans, opportunities,
alert log, the catalog) and must stay cheap on a large database: every query here is bounded
by the number of scans asked for or by an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from storage import tables as T
from storage.db import Database


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    started_ms: int
    finished_ms: int | None
    venue_status: dict[str, Any]
    notes: str | None
    opportunities: int

    @property
    def duration_s(self) -> float | None:
        if self.finished_ms is None:
            return None
        return (self.finished_ms - self.started_ms) / 1000.0


class StatusStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def last_scans(self, n: int) -> list[ScanRow]:
        """The ``n`` latest scans, newest first, with how many opportunity rows each wrote."""
        sc = T.scans.c
        stmt = select(sc.id, sc.started_ms, sc.finished_ms, sc.venue_status, sc.notes)
        stmt = stmt.order_by(sc.id.desc()).limit(n)
        with self.db.read() as conn:
            scans = conn.execute(stmt).all()
            ids = [int(s.id) for s in scans]
            o = T.opportunities.c
            stmt_n = select(o.scan_id, func.count()).where(o.scan_id.in_(ids)).group_by(o.scan_id)
            counts: dict[int, int] = {int(k): int(n) for k, n in conn.execute(stmt_n).all()}
        return [
            ScanRow(
                int(s.id),
                int(s.started_ms),
                None if s.finished_ms is None else int(s.finished_ms),
                dict(s.venue_status or {}),
                s.notes,
                counts.get(int(s.id), 0),
            )
            for s in scans
        ]

    def size_bytes(self) -> int | None:
        """On-disk size: the SQLite file (+ WAL), or PostgreSQL's ``pg_database_size``."""
        if self.db.dialect == "sqlite":
            name = self.db.engine.url.database
            if not name or name == ":memory:":
                return None
            files = [Path(name), Path(f"{name}-wal")]
            return sum(f.stat().st_size for f in files if f.exists())
        with self.db.read() as conn:
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
