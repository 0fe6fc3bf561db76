"""The latest stored market, as domain objects: what ``fundscan run --role rank`` ranks.

Why: with ``--role collect`` processes (any number, any machines) writing quotes and books
into one database, the ranker must see all venues at once, and only through the database.
Books are rebuilt from the stored top levels (``storage.rows.TOP_LEVELS_KEPT`` per side), so
slippage for a notional deeper than that is reported as a thin book, never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from scanner.domain import FundingQuote, OrderBook, book_levels
from storage import tables as T
from storage.db import Database
from storage.queries import Queries


@dataclass(frozen=True, slots=True)
class Snapshot:
    quotes: list[FundingQuote]
    books: list[OrderBook]
    venues: list[str]


def _opt(x: object) -> float | None:
    if x is None:
        return None
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else None


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def latest_quotes(self, since_ms: int) -> list[FundingQuote]:
        """The newest live quote per venue symbol seen since ``since_ms``, minus inactive ones."""
        df = Queries(self.db).latest_quotes(since_ms=since_ms)
        inactive = self._inactive()
        out = []
        for r in df.itertuples(index=False):
            if (r.venue, r.venue_symbol) in inactive:
                continue
            nxt = _opt(r.next_funding_ms)
            out.append(
                FundingQuote(
                    venue=r.venue,
                    venue_symbol=r.venue_symbol,
                    canonical=r.canonical,
                    rate_per_interval=float(r.rate_per_interval),
                    interval_h=float(r.interval_h),
                    ts_ms=int(r.ts_ms),
                    next_funding_ms=None if nxt is None else int(nxt),
                    mark_price=_opt(r.mark_price),
                    index_price=_opt(r.index_price),
                    multiplier=float(r.multiplier),
                )
            )
        return out

    def _inactive(self) -> set[tuple[str, str]]:
        i = T.instruments.c
        with self.db.read() as conn:
            rows = conn.execute(select(i.venue, i.venue_symbol).where(i.active.is_(False))).all()
        return {(v, s) for v, s in rows}

    def latest_books(self, since_ms: int) -> list[OrderBook]:
        """The newest stored book per venue symbol since ``since_ms`` (top levels only)."""
        b = T.book_snapshots.c
        newest = (
            select(b.venue, b.venue_symbol, func.max(b.ts_ms).label("ts_ms"))
            .where(b.ts_ms >= since_ms, b.canonical.contains(":"))  # perps, not carry spot books
            .group_by(b.venue, b.venue_symbol)
            .subquery()
        )
        stmt = select(
            b.venue,
            b.venue_symbol,
            b.canonical,
            b.ts_ms,
            b.multiplier,
            b.contract_size,
            b.top_levels,
        ).join(
            newest,
            and_(
                b.venue == newest.c.venue,
                b.venue_symbol == newest.c.venue_symbol,
                b.ts_ms == newest.c.ts_ms,
            ),
        )
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [
            OrderBook(
                venue=r.venue,
                venue_symbol=r.venue_symbol,
                canonical=r.canonical,
                bids=book_levels(r.top_levels.get("bids", []), "stored bids"),
                asks=book_levels(r.top_levels.get("asks", []), "stored asks"),
                ts_ms=int(r.ts_ms),
                multiplier=float(r.multiplier),
                contract_size=float(r.contract_size),
            )
            for r in rows
        ]

    def snapshot(self, since_ms: int) -> Snapshot:
        quotes = self.latest_quotes(since_ms)
        books = self.latest_books(since_ms)
        return Snapshot(quotes, books, sorted({q.venue for q in quotes}))
