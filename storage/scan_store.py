"""Scans and the opportunities each one ranked.

Why together: an opportunity row is stamped with its scan's ``started_ms`` and deleted with
its scan (``ON DELETE CASCADE``); a scan is opened before collection and closed with each
venue's outcome (or the reason it failed), so ``fundscan status`` can tell a scan that is
still running from one that died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update

from scanner.domain import Opportunity
from storage import rows as R
from storage import tables as T
from storage.db import Database


class ScanStore:
    """Scans and ranked opportunities; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start_scan(self, started_ms: int, notes: str | None = None) -> int:
        with self.db.write() as conn:
            stmt = insert(T.scans).values(started_ms=started_ms, notes=notes)
            scan_id = conn.execute(stmt.returning(T.scans.c.id)).scalar_one()
        return int(scan_id)

    def finish_scan(
        self,
        scan_id: int,
        finished_ms: int,
        venue_status: Mapping[str, Any],
        notes: str | None = None,
    ) -> None:
        """Record the end of a scan and each venue's outcome (JSON, e.g. {"okx": "timeout"}).

        ``notes`` replace what ``start_scan`` wrote (the running process's marker); None
        clears them."""
        values: dict[str, Any] = {
            "finished_ms": finished_ms,
            "venue_status": dict(venue_status),
            "notes": notes,
        }
        with self.db.write() as conn:
            done = conn.execute(update(T.scans).where(T.scans.c.id == scan_id).values(**values))
            if done.rowcount != 1:
                raise KeyError(f"finish_scan: no scan with id {scan_id}")

    def open_scans(self) -> list[tuple[int, int, str | None]]:
        """``(id, started_ms, notes)`` of every scan not finished, oldest first."""
        sc = T.scans.c
        stmt = select(sc.id, sc.started_ms, sc.notes).where(sc.finished_ms.is_(None))
        with self.db.read() as conn:
            rows = conn.execute(stmt.order_by(sc.id)).all()
        return [(int(r.id), int(r.started_ms), r.notes) for r in rows]

    def close_interrupted(self, scan_ids: Sequence[int], finished_ms: int, notes: str) -> int:
        """Close the given scans if they are still open (another process may have closed one
        meanwhile); returns how many were closed."""
        if not scan_ids:
            return 0
        sc = T.scans.c
        stmt = (
            update(T.scans)
            .where(sc.id.in_(list(scan_ids)), sc.finished_ms.is_(None))
            .values(finished_ms=finished_ms, venue_status={}, notes=notes)
        )
        with self.db.write() as conn:
            return int(conn.execute(stmt).rowcount)

    def write_opportunities(
        self, scan_id: int, opportunities: Sequence[Opportunity] | pd.DataFrame
    ) -> int:
        """Store one scan's ranked opportunities (a list of ``Opportunity`` or the engine's
        DataFrame with the same column names). Stamped with the scan's ``started_ms``."""
        with self.db.write() as conn:
            ts_ms = conn.execute(
                select(T.scans.c.started_ms).where(T.scans.c.id == scan_id)
            ).scalar_one_or_none()
            if ts_ms is None:
                raise KeyError(f"write_opportunities: no scan with id {scan_id}")
            items: Iterable[Any]
            if isinstance(opportunities, pd.DataFrame):
                items = opportunities.to_dict("records")
            else:
                items = opportunities
            data = [R.opportunity_row(scan_id, ts_ms, o) for o in items]
            if data:
                conn.execute(insert(T.opportunities), data)
        return len(data)
