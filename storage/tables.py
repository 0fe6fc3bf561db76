"""SQLAlchemy Core tables: the one description of the schema that migrations must match.

Why Core tables and not ORM classes: rows are written in bulk and read back as DataFrames, and
the domain objects in ``scanner.domain`` stay free of persistence concerns. ``repository.py``
maps domain objects to row dicts; nothing else knows column names.

Column types follow one rule: anything that may be sent to a venue (order sizes and prices,
tick, lot, multipliers) is ``ExactDecimal`` - NUMERIC on PostgreSQL, decimal text on SQLite
(SQLite has no exact decimal type; SQLAlchemy would round-trip it through float). Analytics
columns (rates, prices observed in the market, depth) are double precision floats.
Timestamps are integer UTC epoch milliseconds (``*_ms``), as everywhere in the program.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from scanner.domain import OPPORTUNITY_SCHEMA, ColumnSpec

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


EXACT_SCALE = 18
EXACT_INTEGER_DIGITS = 20  # NUMERIC(38, 18): 38 digits, 18 after the point


def _check_numeric_38_18(value: Decimal) -> None:
    """Refuse what NUMERIC(38, 18) cannot hold exactly, on every dialect alike.

    PostgreSQL would round ``1.23E-20`` to 0 silently and reject 21 integer digits; SQLite's
    text would keep both. Refusing both keeps the two backends identical and exact.
    """
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    if -exponent > EXACT_SCALE:
        raise ValueError(f"exact decimal {value} has more than {EXACT_SCALE} decimal places")
    if len(digits) + exponent > EXACT_INTEGER_DIGITS:
        raise ValueError(
            f"exact decimal {value} has more than {EXACT_INTEGER_DIGITS} integer digits"
        )


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored exactly: NUMERIC(38, 18) on PostgreSQL, canonical text on SQLite.

    Values come back as ``Decimal`` on both backends. Text on SQLite compares as text, so do
    not filter or sort on these columns in SQL; they are for exact round trips.
    """

    impl = Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            if isinstance(value, float):
                raise TypeError(f"exact decimal column given a float ({value!r}); use Decimal(str)")
            value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"exact decimal column given {value!r}")
        _check_numeric_38_18(value)
        return format(value, "f") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            # PostgreSQL pads to the column scale (1.500000000000000000); normalise the look
            # without changing the value, so both backends return the same Decimal text.
            return _strip_zeros(value)
        return _strip_zeros(Decimal(value))


def _strip_zeros(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _ms(name: str, nullable: bool = False, **kw: Any) -> Column[Any]:
    return Column(name, BigInteger, nullable=nullable, **kw)


def _f(name: str, nullable: bool = True) -> Column[Any]:
    return Column(name, Double, nullable=nullable)


instruments = Table(
    "instruments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("venue", String(32), nullable=False),
    Column("venue_symbol", String(64), nullable=False),
    Column("canonical", String(64), nullable=False),
    Column("base", String(32), nullable=False),
    Column("quote", String(16), nullable=False),
    Column("settle", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("multiplier", ExactDecimal, nullable=False),
    Column("contract_size", ExactDecimal, nullable=False),
    Column("tick", ExactDecimal),
    Column("lot", ExactDecimal),
    Column("min_qty", ExactDecimal),
    _f("funding_interval_h"),
    _f("funding_cap"),
    _f("funding_floor"),
    _ms("expiry_ms", nullable=True),
    Column("active", Boolean, nullable=False),
    _ms("first_seen_ms"),
    _ms("last_seen_ms"),
    UniqueConstraint("venue", "venue_symbol"),
    Index(None, "canonical"),
)

# Clustered on time: the key (venue, venue_symbol, ts_ms) is spelled time first, and on SQLite
# the table is WITHOUT ROWID, so the rows live in the key's B-tree. Quotes arrive one snapshot
# (one ts_ms) at a time, so an insert appends at the right edge of that B-tree; time ranges
# (backtest, retention, export, latest quotes) are key ranges. Reads by symbol use the symbol
# index, which holds every column (revision 0009): a symbol's rows are contiguous in it, so a
# read by symbol never visits the time-clustered table, where one symbol's rows are spread over
# as many pages as there are snapshots. Still two B-trees per row, as since revision 0008.
QUOTE_SYMBOL_INDEX = "ix_funding_quotes_symbol"
QUOTE_SYMBOL_INDEX_COLUMNS: tuple[str, ...] = (
    "canonical",
    "ts_ms",
    "venue",
    "venue_symbol",
    "rate_per_interval",
    "interval_h",
    "next_funding_ms",
    "is_settled",
    "mark_price",
    "index_price",
    "multiplier",
)
"""(canonical, ts_ms) then the key's other columns, then every other column: a covering index."""

funding_quotes = Table(
    "funding_quotes",
    metadata,
    Column("venue", String(32), nullable=False),
    Column("venue_symbol", String(64), nullable=False),
    _ms("ts_ms"),
    Column("canonical", String(64), nullable=False),
    _f("rate_per_interval", nullable=False),
    _f("interval_h", nullable=False),
    _ms("next_funding_ms", nullable=True),
    _f("mark_price"),
    _f("index_price"),
    _f("multiplier", nullable=False),
    Column("is_settled", Boolean, nullable=False),
    PrimaryKeyConstraint("ts_ms", "venue", "venue_symbol"),
    Index(QUOTE_SYMBOL_INDEX, *QUOTE_SYMBOL_INDEX_COLUMNS),
    sqlite_with_rowid=False,
)

funding_settlements = Table(
    "funding_settlements",
    metadata,
    Column("venue", String(32), primary_key=True),
    Column("venue_symbol", String(64), primary_key=True),
    _ms("funding_time_ms", primary_key=True),
    Column("canonical", String(64), nullable=False),
    _f("rate_per_interval", nullable=False),
    _f("interval_h"),
    Index(None, "canonical", "funding_time_ms"),
)

DEPTH_BANDS_BPS: tuple[int, ...] = (5, 10, 25)
"""Depth columns are kept for these distances from mid, per side, in base units and USD."""


def _depth_columns() -> list[Column[Any]]:
    cols: list[Column[Any]] = []
    for side in ("bid", "ask"):
        for bps in DEPTH_BANDS_BPS:
            cols.append(_f(f"{side}_depth_{bps}bps_base"))
            cols.append(_f(f"{side}_depth_{bps}bps_usd"))
    return cols


book_snapshots = Table(
    "book_snapshots",
    metadata,
    Column("venue", String(32), primary_key=True),
    Column("venue_symbol", String(64), primary_key=True),
    _ms("ts_ms", primary_key=True),
    Column("canonical", String(64), nullable=False),
    _f("best_bid"),
    _f("best_ask"),
    _f("mid"),
    _f("multiplier", nullable=False),
    _f("contract_size", nullable=False),
    *_depth_columns(),
    Column("top_levels", JSON, nullable=False),
    Index(None, "canonical", "ts_ms"),
    Index(None, "ts_ms"),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ms("started_ms"),
    _ms("finished_ms", nullable=True),
    Column("venue_status", JSON),
    Column("notes", Text),
    Index(None, "started_ms"),
)


def _opportunity_column(spec: ColumnSpec) -> Column[Any]:
    """A column of ``opportunities`` from the schema: text sized by it, floats nullable (nan
    is stored as NULL; +inf, a break-even never reached, is kept), ms as BIGINT."""
    kind: Any = {
        "str": String(spec.max_chars or 64),
        "float": Double,
        "int": BigInteger,
        "bool": Boolean,
        "json": JSON,
    }[spec.dtype]
    return Column(spec.name, kind, nullable=spec.nullable)


OPPORTUNITY_FLOATS: tuple[str, ...] = tuple(
    c.name for c in OPPORTUNITY_SCHEMA if c.dtype == "float"
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    _ms("ts_ms"),
    *[_opportunity_column(spec) for spec in OPPORTUNITY_SCHEMA],
    Index(None, "scan_id"),
    Index(None, "symbol", "ts_ms"),
    Index(None, "ts_ms"),
    Index(None, "pair_key", "ts_ms"),
)
"""One row per ranked opportunity per scan: every column of ``scanner.domain.Opportunity``
(reasons included: ``price_mismatch``, ``book_missing``, ``book_thin`` ... are NULL only on
rows stored before revision 0002, which did not keep them)."""

alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("pair_key", String(200)),  # scanner.domain.pair_key(); NULL: about no pair (a test)
    _ms("sent_ms"),
    Column("payload_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    # The outbox (0003): what was decided and for which APR, the message's data so a queued
    # alert survives a restart, and when it was delivered.
    Column("event", String(16)),
    Column("net_apr", Double),
    Column("payload", JSON),
    Column("delivered_ms", BigInteger),
    Column("attempts", Integer),
    Index(None, "channel", "pair_key", "sent_ms"),
    Index(None, "pair_key", "sent_ms"),
    Index(None, "status"),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair_key", String(200), nullable=False),  # scanner.domain.pair_key()
    Column("symbol", String(64), nullable=False),
    Column("long_venue", String(32), nullable=False),
    Column("short_venue", String(32), nullable=False),
    Column("notional_usd", ExactDecimal, nullable=False),
    Column("state", String(24), nullable=False),
    _ms("opened_ms"),
    _ms("updated_ms"),
    _ms("closed_ms", nullable=True),
    Column("realised_pnl_usd", ExactDecimal),
    Column("notes", Text),
    Column("pair_id", String(40), unique=True),  # one opening of the pair (it can reopen later)
    Index(None, "state"),
    Index(None, "pair_key"),
)

legs = Table(
    "legs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position_id", Integer, ForeignKey("positions.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(8), nullable=False),  # "long" | "short"
    Column("venue", String(32), nullable=False),
    Column("venue_symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),  # "buy" | "sell" to open
    Column("target_qty", ExactDecimal, nullable=False),
    Column("filled_qty", ExactDecimal, nullable=False),
    Column("avg_price", ExactDecimal),
    Column("state", String(24), nullable=False),
    _ms("updated_ms"),
    Column("fees_usd", ExactDecimal),  # read back from the venue
    Column("funding_usd", ExactDecimal),  # > 0 received; read back from the venue
    UniqueConstraint("position_id", "role"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_link_id", String(64), nullable=False, unique=True),
    Column("venue", String(32), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("qty", ExactDecimal, nullable=False),
    Column("price", ExactDecimal),
    Column("filled_qty", ExactDecimal, nullable=False),
    Column("avg_price", ExactDecimal),
    Column("status", String(24), nullable=False),
    Column("venue_order_id", String(64)),
    Column("position_id", Integer, ForeignKey("positions.id", ondelete="SET NULL")),
    Column("leg_id", Integer, ForeignKey("legs.id", ondelete="SET NULL")),
    Column("reduce_only", Boolean, nullable=False),
    _ms("created_ms"),
    _ms("updated_ms"),
    Column("error", Text),
    Index(None, "status"),
    Index(None, "position_id"),
)

execution_events = Table(
    "execution_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position_id", Integer, ForeignKey("positions.id", ondelete="CASCADE")),
    _ms("ts_ms"),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Index(None, "position_id"),
    Index(None, "ts_ms"),
)

TIME_COLUMN: dict[str, str] = {
    "instruments": "last_seen_ms",
    "funding_quotes": "ts_ms",
    "funding_settlements": "funding_time_ms",
    "book_snapshots": "ts_ms",
    "scans": "started_ms",
    "opportunities": "ts_ms",
    "alerts_sent": "sent_ms",
    "positions": "updated_ms",
    "legs": "updated_ms",
    "orders": "updated_ms",
    "execution_events": "ts_ms",
}
"""The column each table is filtered on by time (export ``--since``, retention)."""

llm_calls = Table(
    "llm_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ms("ts_ms"),
    Column("pair_key", String(200), nullable=False),
    Column("cache_key", String(240), nullable=False),
    Column("base_url", String(300), nullable=False),  # no credentials (settings refuse them)
    Column("model", String(200), nullable=False),
    Column("response_format", String(16), nullable=False),  # json_schema | json_object | plain
    Column("status", String(16), nullable=False),  # ok | invalid | error
    Column("decision", String(16), nullable=False),  # approve | reject | abstain
    _f("confidence"),
    Column("verdict", JSON, nullable=False),  # {decision, confidence, reasons, risks}
    Column("error", Text),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    _f("latency_ms"),
    Column("attempts", Integer, nullable=False),
    Column("raw_reply", Text),  # the server's response body, as received (bounded)
    Index(None, "cache_key", "model"),
    Index(None, "ts_ms"),
)

llm_formats = Table(
    "llm_formats",
    metadata,
    Column("base_url", String(300), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("response_format", String(16), nullable=False),
    _ms("updated_ms"),
)
