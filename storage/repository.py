"""The write API: domain objects in, rows out; every call is one transaction.

Why one transaction per call: a collector that dies mid-write (crash, SIGKILL, lost server)
must leave only whole batches behind, so a later run can re-ingest the same window and
``ON CONFLICT DO NOTHING`` fills exactly the gap. Market time series writes return how many
rows were *new*; re-sending the same batch returns 0.

Executor persistence (orders, legs, positions) comes from ``ExecutionStore``; reads for
analytics are in ``storage.queries``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scanner.domain import (
    FundingQuote,
    FundingSettlement,
    Instrument,
    Opportunity,
    OrderBook,
    check_pair_key,
)
from storage import rows as R
from storage import tables as T
from storage.bulk import insert_ignore
from storage.db import Database
from storage.execution_store import ExecutionStore

log = logging.getLogger(__name__)

# Instrument columns refreshed on every sighting; first_seen_ms and the identity never change.
_INSTRUMENT_REFRESH = (
    "canonical",
    "base",
    "quote",
    "settle",
    "kind",
    "multiplier",
    "contract_size",
    "tick",
    "lot",
    "min_qty",
    "funding_interval_h",
    "funding_cap",
    "funding_floor",
    "expiry_ms",
    "active",
    "last_seen_ms",
)


def payload_hash(payload: Any) -> str:
    """Stable SHA-256 of a JSON-able payload (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Repository(ExecutionStore):
    """Writes for the collector, engine, alerts and executor."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    # -- market data -------------------------------------------------------------------

    def upsert_instruments(self, instruments: Sequence[Instrument], seen_ms: int) -> int:
        """Insert new instruments, refresh known ones (interval, tick, ..., ``last_seen_ms``).

        Returns how many rows were written (new + refreshed). If the list names the same
        venue symbol twice, the last one wins (one statement cannot update a row twice).
        """
        if not instruments:
            return 0
        latest = {(i.venue, i.venue_symbol): i for i in instruments}
        data = [R.instrument_row(i, seen_ms) for i in latest.values()]
        with self.db.write() as conn:
            ins = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(T.instruments)
            stmt = ins.on_conflict_do_update(
                index_elements=["venue", "venue_symbol"],
                set_={c: ins.excluded[c] for c in _INSTRUMENT_REFRESH},
            )
            conn.execute(stmt, data)
        return len(data)

    def write_quotes(self, quotes: Iterable[FundingQuote], *, use_copy: bool | None = None) -> int:
        """Store funding quotes; duplicates (venue, venue_symbol, ts_ms) are skipped."""
        with self.db.write() as conn:
            rows = (R.quote_values(q) for q in quotes)
            return insert_ignore(conn, T.funding_quotes, R.QUOTE_COLUMNS, rows, use_copy=use_copy)

    def write_settlements(self, settlements: Iterable[FundingSettlement]) -> int:
        """Store settled funding; duplicates (venue, venue_symbol, funding_time_ms) skipped."""
        with self.db.write() as conn:
            rows = (R.settlement_values(s) for s in settlements)
            return insert_ignore(conn, T.funding_settlements, R.SETTLEMENT_COLUMNS, rows)

    def write_books(self, books: Iterable[OrderBook]) -> int:
        """Store book summaries (best bid/ask, depth bands, top levels); duplicates skipped."""
        with self.db.write() as conn:
            rows = (R.book_values(b) for b in books)
            return insert_ignore(conn, T.book_snapshots, R.BOOK_COLUMNS, rows)

    # -- scans and opportunities --------------------------------------------------------

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
        """Record the end of a scan and each venue's outcome (JSON, e.g. {"okx": "timeout"})."""
        values: dict[str, Any] = {"finished_ms": finished_ms, "venue_status": dict(venue_status)}
        if notes is not None:
            values["notes"] = notes
        with self.db.write() as conn:
            done = conn.execute(update(T.scans).where(T.scans.c.id == scan_id).values(**values))
            if done.rowcount != 1:
                raise KeyError(f"finish_scan: no scan with id {scan_id}")

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

    # -- alerts -------------------------------------------------------------------------

    def record_alert(
        self,
        channel: str,
        key: str | None,
        sent_ms: int,
        payload: Any,
        status: str,
        detail: str | None = None,
    ) -> int:
        """Log one alert attempt (``status`` e.g. "sent", "failed", "suppressed").

        ``key`` is the pair's ``scanner.domain.pair_key()`` (stored as ``pair_key``; anything
        else is a ValueError), or None for a message about no pair (a channel test).
        """
        row = {
            "channel": channel,
            "pair_key": None if key is None else check_pair_key(key, "record_alert"),
            "sent_ms": sent_ms,
            "payload_hash": payload_hash(payload),
            "status": status,
            "detail": detail,
        }
        with self.db.write() as conn:
            new_id = conn.execute(insert(T.alerts_sent).returning(T.alerts_sent.c.id), row)
            return int(new_id.scalar_one())

    def last_alert_ms(self, channel: str, key: str, status: str = "sent") -> int | None:
        """When pair ``key`` (a ``pair_key()``) was last alerted on ``channel`` with ``status``."""
        t = T.alerts_sent
        stmt = select(func.max(t.c.sent_ms)).where(
            t.c.channel == channel, t.c.pair_key == key, t.c.status == status
        )
        with self.db.read() as conn:
            value = conn.execute(stmt).scalar_one_or_none()
        return None if value is None else int(value)
