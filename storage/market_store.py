"""Market data writes: instruments, funding quotes, settled funding, order-book summaries.

Why one transaction per call: a collector that dies mid-write (crash, SIGKILL, lost server)
must leave only whole batches behind, so a later run can re-ingest the same window and
``ON CONFLICT DO NOTHING`` fills exactly the gap. Time-series writes return how many rows were
*new*; re-sending the same batch returns 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.dialects import postgresql, sqlite

from scanner.domain import FundingQuote, FundingSettlement, Instrument, OrderBook
from storage import rows as R
from storage import tables as T
from storage.bulk import insert_ignore
from storage.db import Database

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


class MarketStore:
    """What the collector saw; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
