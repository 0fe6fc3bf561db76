"""The read API: pandas DataFrames with stable columns and dtypes on both backends.

Why DataFrames with fixed dtypes: the engine, the backtester and notebooks all read through
here, and an empty result must have the same columns and dtypes as a full one so vectorised
code needs no special cases. Rows are fetched with the driver and typed here rather than with
``pandas.read_sql``, which infers dtypes per result (object columns for an empty frame, ints
that become floats when a NULL appears).

Nullable epoch-ms columns (``next_funding_ms``, ``finished_ms``) are float64 with NaN for
unknown, so numpy arithmetic works on them (ms epochs are exact in a double until 2255).

Per-hour normalisation (``rate_per_h = rate_per_interval / interval_h``) happens here so no
caller ever compares raw per-interval rates across venues with different intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, func, select

from scanner.domain import OPPORTUNITY_SCHEMA
from scanner.gcpause import gc_paused
from scanner.units import MS_PER_H
from storage import tables as T
from storage.db import Database
from storage.execution_store import CLOSED_POSITION_STATES

MAX_INTERVAL_H = 24
MAX_CODED_NAMES = 16
"""A text column with at most this many names in a result is read as codes (see
``Queries._fetch_quotes_coded``)."""

QUOTE_DTYPES: dict[str, str] = {
    "venue": "str",
    "venue_symbol": "str",
    "canonical": "str",
    "ts_ms": "int64",
    "rate_per_interval": "float64",
    "interval_h": "float64",
    "rate_per_h": "float64",
    "next_funding_ms": "float64",
    "mark_price": "float64",
    "index_price": "float64",
    "multiplier": "float64",
    "is_settled": "bool",
}
SETTLEMENT_DTYPES: dict[str, str] = {
    "venue": "str",
    "venue_symbol": "str",
    "canonical": "str",
    "funding_time_ms": "int64",
    "rate_per_interval": "float64",
    "interval_h": "float64",
    "rate_per_h": "float64",
}
CONFIDENCE_DTYPES: dict[str, str] = {
    "canonical": "str",
    "venue": "str",
    "venue_symbol": "str",
    "ts_ms": "int64",
    "rate_per_h": "float64",
    "next_funding_ms": "float64",
    "is_settled": "bool",
}


COVERAGE_DTYPES: dict[str, str] = {
    "venue_symbol": "str",
    "first_ms": "int64",
    "last_ms": "int64",
    "rows": "int64",
}


def frame(rows: Iterable[Sequence[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    """Rows (in ``dtypes`` column order) -> a DataFrame with exactly those dtypes.

    Built column by column from plain tuples: ``DataFrame.from_records`` on SQLAlchemy rows
    probes every row for attributes and was most of the cost of a large read. Numeric and
    flag columns go straight into numpy arrays of their dtype (None -> NaN for float64);
    going through an object Series first cost ~3x as much per column.
    """
    columns = list(zip(*rows, strict=False))
    if not columns:
        return _empty(dtypes)
    data = {
        name: _column(col, kind)
        for name, col, kind in zip(dtypes, columns, dtypes.values(), strict=True)
    }
    return pd.DataFrame(data).astype(dtypes)


_NUMPY_KINDS = {"float64": np.float64, "int64": np.int64, "bool": np.bool_}


def _column(values: Sequence[Any], kind: str) -> Any:
    numpy_type = _NUMPY_KINDS.get(kind)
    if numpy_type is not None:
        return np.array(values, dtype=numpy_type)
    return pd.Series(values)  # text, JSON, nullable flags: astype(kind) in frame()


def _empty(dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in dtypes.items()})


_STR_DTYPE = pd.Series([], dtype="str").dtype


def text_from_codes(names: Sequence[str], codes: np.ndarray) -> Any:
    """A ``str`` column holding ``names[codes]``, built without a Python string per row.

    With pandas' Arrow-backed ``str`` dtype the column is one Arrow ``take`` of the few names
    (~0.3 ms for 52,560 rows against ~2.7 ms converting 52,560 Python strings).
    """
    if getattr(_STR_DTYPE, "storage", None) == "pyarrow":
        import pyarrow as pa
        from pandas.arrays import ArrowStringArray

        taken = pa.array(list(names), type=pa.large_string()).take(pa.array(codes))
        return pd.Series(ArrowStringArray(taken, dtype=_STR_DTYPE), copy=False)
    return pd.Series(np.asarray(list(names), dtype=object)[codes]).astype("str")


class _NameUnknown(Exception):
    """A row's text value was not among the names read first (a concurrent write added it)."""


def _codes(values: Sequence[Any]) -> np.ndarray:
    if None in values:
        raise _NameUnknown
    return np.array(values, dtype=np.intp)


def _between(stmt: Select[Any], col: Any, since_ms: int | None, until_ms: int | None) -> Any:
    if since_ms is not None:
        stmt = stmt.where(col >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(col < until_ms)
    return stmt


class Queries:
    """Read-only DataFrame queries over a ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _fetch(self, stmt: Any, dtypes: dict[str, str]) -> pd.DataFrame:
        with gc_paused(), self.db.read() as conn:
            return frame(conn.execute(stmt).all(), dtypes)

    def _fetch_plain(self, stmt: Any, dtypes: dict[str, str]) -> pd.DataFrame:
        """``_fetch`` reading the driver's tuples directly, without SQLAlchemy's Row objects
        (most of a large read's CPU). Only for columns that need no result processing:
        text, numbers, flags (0/1 on SQLite, fixed by ``frame``); not JSON nor ExactDecimal."""
        with gc_paused(), self.db.read() as conn:
            result = conn.execute(stmt)
            try:
                rows = result.cursor.fetchall()
            finally:
                result.close()
            return frame(rows, dtypes)

    def _fetch_quotes_coded(
        self,
        where: Sequence[Any],
        values: dict[str, Any],
        dtypes: dict[str, str],
        canonicals: Sequence[str] = (),
        order_by: Sequence[Any] = (),
    ) -> dict[str, Any] | None:
        """Columns of the quotes matching ``where``; text columns with few values as codes.

        Why: the driver makes one Python object per value, and a symbol-year is 52,560 rows
        whose venue and venue symbol take six values each. So the distinct (venue,
        venue_symbol) of the rows are read first (from the symbol index alone), and a text
        column with at most ``MAX_CODED_NAMES`` names comes as small integer codes (SQL
        ``CASE``; ints below 257 are shared objects in Python), turned back into a ``str``
        column by one Arrow ``take``. Columns with more names come as text (a ``CASE`` walks
        its branches in order: ~20 ns a branch a row, more than a string costs past ~16).
        ``canonical`` (a filter, so its names are ``canonicals``) is filled in when there is
        one. ``values`` (name -> SQL expression) come as they are, typed by ``dtypes``.
        Returns None when no row matches. On PostgreSQL (read committed) a write between the
        two reads can add a name the first did not see; its rows have no code and
        ``_NameUnknown`` is raised for the caller to read the text instead.
        """
        with gc_paused():  # also while the rows become columns: see scanner/gcpause.py
            return self._fetch_quotes_coded_gc_paused(where, values, dtypes, canonicals, order_by)

    def _fetch_quotes_coded_gc_paused(
        self,
        where: Sequence[Any],
        values: dict[str, Any],
        dtypes: dict[str, str],
        canonicals: Sequence[str],
        order_by: Sequence[Any],
    ) -> dict[str, Any] | None:
        q = T.funding_quotes.c
        with self.db.read() as conn:
            pairs = conn.execute(select(q.venue, q.venue_symbol).where(*where).distinct()).all()
            if not pairs:
                return None
            names = {
                "venue": sorted({v for v, _ in pairs}),
                "venue_symbol": sorted({s for _, s in pairs}),
                "canonical": sorted(set(canonicals)),
            }
            text = [c for c in names if c in dtypes and len(names[c]) > MAX_CODED_NAMES]
            if len(names["canonical"]) == 1:
                del names["canonical"]  # filled in below, not fetched
            coded = {c: ns for c, ns in names.items() if c in dtypes and c not in text}
            exprs = [
                case({n: i for i, n in enumerate(ns)}, value=q[c], else_=None).label(c)
                for c, ns in coded.items()
            ]
            stmt = select(*exprs, *[q[c] for c in text], *values.values())
            result = conn.execute(stmt.where(*where).order_by(*order_by))
            try:
                rows = result.cursor.fetchall()
            finally:
                result.close()
        columns = iter(zip(*rows, strict=True))
        out: dict[str, Any] = {}
        for c, ns in coded.items():
            out[c] = text_from_codes(ns, _codes(next(columns)))
        for c in text:
            out[c] = pd.Series(next(columns)).astype(dtypes[c])
        for name in values:
            out[name] = _column(next(columns), dtypes[name])
        if "canonical" in dtypes and "canonical" not in out:
            out["canonical"] = text_from_codes(canonicals[:1], np.zeros(len(rows), np.intp))
        return out

    # -- quotes -------------------------------------------------------------------------

    def _quote_select(self) -> Select[Any]:
        q = T.funding_quotes.c
        return select(
            q.venue,
            q.venue_symbol,
            q.canonical,
            q.ts_ms,
            q.rate_per_interval,
            q.interval_h,
            (q.rate_per_interval / q.interval_h).label("rate_per_h"),
            q.next_funding_ms,
            q.mark_price,
            q.index_price,
            q.multiplier,
            q.is_settled,
        )

    def quotes(
        self,
        canonical: str | None = None,
        venue: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> pd.DataFrame:
        """Funding quotes in ``[since_ms, until_ms)``, ordered by time; see ``QUOTE_DTYPES``.

        Only stored columns that vary are fetched (a year of one symbol is 52,560 rows, and
        the driver's cost is per value): ``canonical`` is filled in when it is the filter,
        venue and venue symbol come as codes (``_fetch_quotes_coded``), ``rate_per_h`` is
        divided here (the same IEEE division SQL would do).
        """
        if canonical is None:
            return self._quotes_text(canonical, venue, since_ms, until_ms)
        q = T.funding_quotes.c
        where = [q.canonical == canonical]
        if venue is not None:
            where.append(q.venue == venue)
        if since_ms is not None:
            where.append(q.ts_ms >= since_ms)
        if until_ms is not None:
            where.append(q.ts_ms < until_ms)
        fetched = [c for c in QUOTE_DTYPES if c not in ("venue", "venue_symbol", "rate_per_h")]
        fetched.remove("canonical")
        try:
            cols = self._fetch_quotes_coded(
                where,
                {c: q[c] for c in fetched},
                QUOTE_DTYPES,
                [canonical],
                order_by=[q.ts_ms, q.venue, q.venue_symbol],
            )
        except _NameUnknown:
            return self._quotes_text(canonical, venue, since_ms, until_ms)
        if cols is None:
            return _empty(QUOTE_DTYPES)
        cols["rate_per_h"] = cols["rate_per_interval"] / cols["interval_h"]
        return pd.DataFrame({c: cols[c] for c in QUOTE_DTYPES})

    def _quotes_text(
        self,
        canonical: str | None,
        venue: str | None,
        since_ms: int | None,
        until_ms: int | None,
    ) -> pd.DataFrame:
        """``quotes`` reading the text columns as text (any filter)."""
        q = T.funding_quotes.c
        fetched = [c for c in QUOTE_DTYPES if c != "rate_per_h"]
        if canonical is not None:
            fetched.remove("canonical")
        stmt = select(*[q[c] for c in fetched])
        if canonical is not None:
            stmt = stmt.where(q.canonical == canonical)
        if venue is not None:
            stmt = stmt.where(q.venue == venue)
        stmt = _between(stmt, q.ts_ms, since_ms, until_ms)
        stmt = stmt.order_by(q.ts_ms, q.venue, q.venue_symbol)
        df = self._fetch_plain(stmt, {c: QUOTE_DTYPES[c] for c in fetched})
        if canonical is not None:
            df["canonical"] = pd.Series(canonical, index=df.index, dtype=QUOTE_DTYPES["canonical"])
        df["rate_per_h"] = df["rate_per_interval"] / df["interval_h"]
        return df[list(QUOTE_DTYPES)]

    def latest_quotes(
        self, canonical: str | None = None, since_ms: int | None = None
    ) -> pd.DataFrame:
        """The newest live (not settled) quote per venue and symbol."""
        q = T.funding_quotes.c
        newest = select(q.venue, q.venue_symbol, func.max(q.ts_ms).label("ts_ms")).where(
            q.is_settled.is_(False)
        )
        if since_ms is not None:
            newest = newest.where(q.ts_ms >= since_ms)
        if canonical is not None:
            newest = newest.where(q.canonical == canonical)
        last = newest.group_by(q.venue, q.venue_symbol).subquery()
        stmt = self._quote_select().join(
            last,
            and_(
                q.venue == last.c.venue,
                q.venue_symbol == last.c.venue_symbol,
                q.ts_ms == last.c.ts_ms,
            ),
        )
        return self._fetch_plain(stmt.order_by(q.canonical, q.venue, q.venue_symbol), QUOTE_DTYPES)

    # -- settlements --------------------------------------------------------------------

    def settlements(
        self,
        canonical: str | None = None,
        venue: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> pd.DataFrame:
        """Settled funding in ``[since_ms, until_ms)`` by ``funding_time_ms``.

        A missing ``interval_h`` is filled from the instrument table, then from the gap to
        the previous settlement of the same symbol (looked up to ``MAX_INTERVAL_H`` before
        ``since_ms``); ``rate_per_h`` is NaN only when none of those is known.
        """
        canonicals = None if canonical is None else [canonical]
        return self._settlements(canonicals, venue, since_ms, until_ms)

    def _settlements(
        self,
        canonicals: Sequence[str] | None,
        venue: str | None,
        since_ms: int | None,
        until_ms: int | None,
    ) -> pd.DataFrame:
        """``settlements`` of any of ``canonicals`` (all when None), in one query."""
        s = T.funding_settlements.c
        i = T.instruments.c
        stmt = select(
            s.venue,
            s.venue_symbol,
            s.canonical,
            s.funding_time_ms,
            s.rate_per_interval,
            func.coalesce(s.interval_h, i.funding_interval_h).label("interval_h"),
        ).outerjoin(T.instruments, and_(i.venue == s.venue, i.venue_symbol == s.venue_symbol))
        if canonicals is not None:
            stmt = stmt.where(s.canonical.in_(list(canonicals)))
        if venue is not None:
            stmt = stmt.where(s.venue == venue)
        lookback = None if since_ms is None else since_ms - MAX_INTERVAL_H * MS_PER_H
        stmt = _between(stmt, s.funding_time_ms, lookback, until_ms)
        stmt = stmt.order_by(s.venue, s.venue_symbol, s.funding_time_ms)
        with self.db.read() as conn:
            rows = [(*r, None) for r in conn.execute(stmt).all()]
        df = frame(rows, SETTLEMENT_DTYPES)
        df["interval_h"] = df["interval_h"].fillna(_interval_from_gaps(df))
        df["rate_per_h"] = df["rate_per_interval"] / df["interval_h"]
        if since_ms is not None:
            df = df[df["funding_time_ms"] >= since_ms]
        return df.sort_values(["funding_time_ms", "venue"], kind="stable").reset_index(drop=True)

    def settlement_coverage(self, venue: str, since_ms: int, until_ms: int) -> pd.DataFrame:
        """Per venue symbol: the first and last stored settlement in ``[since_ms, until_ms]``
        and how many there are (``venue_symbol, first_ms, last_ms, rows``), for the backfill
        to ask a venue only for what is missing at either end."""
        s = T.funding_settlements.c
        stmt = (
            select(
                s.venue_symbol,
                func.min(s.funding_time_ms).label("first_ms"),
                func.max(s.funding_time_ms).label("last_ms"),
                func.count().label("rows"),
            )
            .where(s.venue == venue, s.funding_time_ms >= since_ms, s.funding_time_ms <= until_ms)
            .group_by(s.venue_symbol)
        )
        return self._fetch(stmt, COVERAGE_DTYPES)

    def settled_pivot(self, canonical: str, since_ms: int, until_ms: int) -> pd.DataFrame:
        """Hour x venue table of settled per-hour funding rates for one canonical instrument.

        A settlement at ``T`` with interval ``h`` paid for the hours ``[T - h, T)``; its
        per-hour rate ``r / h`` is spread over those ``h`` hourly rows, so venues with 1 h,
        4 h and 8 h intervals line up and ``column.sum()`` is the funding (fraction of
        notional) a position collected over the window. Index: ``hour_ms`` (start of each
        hour in ``[since_ms, until_ms)``); columns: venues; NaN where nothing was recorded.
        Settlement times are floored to the hour first (venues stamp them a few ms late).
        """
        # A settlement up to one longest interval after ``until_ms`` still pays for hours in it.
        later = until_ms + MAX_INTERVAL_H * MS_PER_H
        df = self.settlements(canonical=canonical, since_ms=since_ms, until_ms=later)
        hours = np.arange(since_ms - since_ms % MS_PER_H, until_ms, MS_PER_H, dtype=np.int64)
        df = df[df["rate_per_h"].notna()]
        n = np.rint(df["interval_h"].to_numpy(dtype=float)).astype(np.int64).clip(min=1)
        end = df["funding_time_ms"].to_numpy(dtype=np.int64) // MS_PER_H * MS_PER_H
        reps = np.repeat(np.arange(len(df)), n)
        offsets = np.concatenate([np.arange(k, 0, -1) for k in n]) if len(n) else np.array([], int)
        long = pd.DataFrame(
            {
                "hour_ms": end[reps] - offsets * MS_PER_H,
                "venue": df["venue"].to_numpy()[reps],
                "rate_per_h": df["rate_per_h"].to_numpy(dtype=float)[reps],
            }
        )
        inside = long["hour_ms"].isin(hours)
        pivot = long[inside].pivot_table(
            index="hour_ms", columns="venue", values="rate_per_h", aggfunc="mean"
        )
        pivot = pivot.reindex(hours)
        pivot.index.name = "hour_ms"
        pivot.columns.name = "venue"
        return pivot.astype("float64")

    # -- engine inputs ------------------------------------------------------------------

    def quote_history_for_confidence(
        self, canonicals: Sequence[str], since_ms: int
    ) -> pd.DataFrame:
        """Long frame for confidence scoring: quotes and settlements since ``since_ms``.

        Columns: canonical, venue, venue_symbol, ts_ms, rate_per_h, next_funding_ms,
        is_settled. Settlements appear with ``is_settled`` True at their funding time (and
        ``next_funding_ms`` equal to it), so predicted (live quotes) and realised
        (settlements) rates sit side by side.
        """
        if not canonicals:
            return _empty(CONFIDENCE_DTYPES)
        q = T.funding_quotes.c
        where = [q.canonical.in_(list(canonicals)), q.ts_ms >= since_ms]
        values = {
            "ts_ms": q.ts_ms,
            "rate_per_h": (q.rate_per_interval / q.interval_h).label("rate_per_h"),
            "next_funding_ms": q.next_funding_ms,
            "is_settled": q.is_settled,
        }
        try:
            cols = self._fetch_quotes_coded(where, values, CONFIDENCE_DTYPES, canonicals)
        except _NameUnknown:
            stmt = select(*[q[c] if c in q else values[c] for c in CONFIDENCE_DTYPES]).where(*where)
            quotes = self._fetch_plain(stmt, CONFIDENCE_DTYPES)
        else:
            quotes = (
                _empty(CONFIDENCE_DTYPES)
                if cols is None
                else pd.DataFrame({c: cols[c] for c in CONFIDENCE_DTYPES})
            )
        settled = self._settled_history(canonicals, since_ms)
        if not len(settled):
            out = quotes
        else:
            out = pd.concat([quotes, settled], ignore_index=True)
            # Quotes are unique by key, settlements too; a settlement duplicates only a quote
            # stored as settled at the same time (the quote, read first, is kept).
            out = out.drop_duplicates(["canonical", "venue", "venue_symbol", "ts_ms", "is_settled"])
        out = out.sort_values(["canonical", "venue", "ts_ms"], kind="stable")
        return out.reset_index(drop=True)

    def _settled_history(self, canonicals: Sequence[str], since_ms: int) -> pd.DataFrame:
        """The symbols' settlements as confidence history rows (``CONFIDENCE_DTYPES``), read
        in one query (one per symbol cost ~3 ms each even when empty: 40 candidates, 0.13 s)."""
        st = self._settlements(canonicals, None, since_ms, None)
        return pd.DataFrame(
            {
                "canonical": st["canonical"],
                "venue": st["venue"],
                "venue_symbol": st["venue_symbol"],
                "ts_ms": st["funding_time_ms"],
                "rate_per_h": st["rate_per_h"],
                "next_funding_ms": st["funding_time_ms"].astype("float64"),
                "is_settled": True,
            }
        ).astype(CONFIDENCE_DTYPES)

    def opportunity_history(
        self, symbol: str | None = None, since_ms: int | None = None
    ) -> pd.DataFrame:
        """Every stored opportunity (oldest first) with its scan id and scan time ``ts_ms``."""
        o = T.opportunities.c
        dtypes = _opportunity_dtypes()
        stmt = select(*[T.opportunities.c[name] for name in dtypes])
        if symbol is not None:
            stmt = stmt.where(o.symbol == symbol)
        if since_ms is not None:
            stmt = stmt.where(o.ts_ms >= since_ms)
        with self.db.read() as conn:
            return frame(conn.execute(stmt.order_by(o.ts_ms, o.id)).all(), dtypes)

    def latest_opportunity(self, pair_key: str, since_ms: int) -> dict[str, Any] | None:
        """The newest stored row of one pair (``scanner.domain.pair_key``) at or after
        ``since_ms``, as plain Python values (None for NULL), or None when there is none."""
        o = T.opportunities.c
        stmt = (
            select(*[c for c in T.opportunities.c if c.name != "id"])
            .where(o.pair_key == pair_key, o.ts_ms >= since_ms)
            .order_by(o.ts_ms.desc(), o.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else dict(row._asdict())

    def scans(self, since_ms: int | None = None) -> pd.DataFrame:
        sc = T.scans.c
        stmt = _between(select(*T.scans.c), sc.started_ms, since_ms, None).order_by(sc.id)
        dtypes = {
            "id": "int64",
            "started_ms": "int64",
            "finished_ms": "float64",
            "venue_status": "object",
            "notes": "object",
        }
        return self._fetch(stmt, dtypes)

    def instruments(self, venue: str | None = None) -> pd.DataFrame:
        """Instrument table; exact columns (tick, lot, ...) stay ``Decimal`` (object dtype)."""
        stmt = select(*[c for c in T.instruments.c if c.name != "id"])
        if venue is not None:
            stmt = stmt.where(T.instruments.c.venue == venue)
        with self.db.read() as conn:
            result = conn.execute(
                stmt.order_by(T.instruments.c.venue, T.instruments.c.venue_symbol)
            )
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def count(self, table: str) -> int:
        with self.db.read() as conn:
            stmt = select(func.count()).select_from(T.metadata.tables[table])
            return int(conn.execute(stmt).scalar_one())


_SCHEMA_DTYPES = {"str": "object", "float": "float64", "int": "float64", "json": "object"}
"""Read dtypes per schema dtype: unknown text stays None (not "None"), nullable epoch ms come
back as float64 with NaN; text and flags that are always known are ``str`` and ``bool``,
flags that may be unknown pandas' ``boolean``."""


def _opportunity_dtypes() -> dict[str, str]:
    dtypes = {"scan_id": "int64", "ts_ms": "int64"}
    for spec in OPPORTUNITY_SCHEMA:
        if spec.dtype in ("bool", "str") and not spec.nullable:
            dtypes[spec.name] = spec.dtype
        elif spec.dtype == "bool":
            dtypes[spec.name] = "boolean"
        else:
            dtypes[spec.name] = _SCHEMA_DTYPES[spec.dtype]
    return dtypes


def _interval_from_gaps(df: pd.DataFrame) -> pd.Series:
    """Hours since the previous settlement of the same venue symbol (rows sorted by it)."""
    gap = df.groupby(["venue", "venue_symbol"])["funding_time_ms"].diff()
    return (gap / MS_PER_H).round()


class DashboardQueries:
    """The few small reads a live view needs, each bounded by a LIMIT (it runs every second)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def latest_scans(self, n: int = 2) -> pd.DataFrame:
        """The ``n`` most recent finished scans, newest first."""
        sc = T.scans.c
        stmt = select(*T.scans.c).where(sc.finished_ms.is_not(None)).order_by(sc.id.desc()).limit(n)
        with self.db.read() as conn:
            result = conn.execute(stmt)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def opportunities_of(self, scan_ids: Sequence[int], limit: int = 500) -> pd.DataFrame:
        """Stored rows of these scans, best net APR first."""
        o = T.opportunities.c
        stmt = (
            select(*[c for c in T.opportunities.c if c.name != "id"])
            .where(o.scan_id.in_(list(scan_ids)))
            .order_by(o.scan_id.desc(), o.net_apr.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return frame(conn.execute(stmt).all(), _opportunity_dtypes())

    def recent_alerts(self, limit: int = 10) -> pd.DataFrame:
        a = T.alerts_sent.c
        stmt = select(a.sent_ms, a.channel, a.pair_key, a.status).order_by(a.id.desc()).limit(limit)
        with self.db.read() as conn:
            result = conn.execute(stmt)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def open_positions(self, limit: int = 50) -> pd.DataFrame:
        p = T.positions.c
        stmt = (
            select(p.pair_key, p.symbol, p.long_venue, p.short_venue, p.notional_usd, p.state)
            .where(p.state.not_in(CLOSED_POSITION_STATES))
            .order_by(p.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            result = conn.execute(stmt)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
