"""Opportunities through the database: every schema column, reasons included, comes back as
the engine computed it, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from opportunity_cases import engine_frame

from scanner.domain import OPPORTUNITY_SCHEMA
from storage.db import Database
from storage.queries import Queries
from storage.repository import Repository


def _same(spec_dtype: str, got: object, want: object) -> bool:
    if want is None or want is pd.NA or (isinstance(want, float) and math.isnan(want)):
        return got is None or got is pd.NA or (isinstance(got, float) and math.isnan(got))
    if spec_dtype == "float":
        return got == pytest.approx(want, rel=1e-12) or got == want  # inf == inf
    return bool(got == want)


def test_every_schema_column_round_trips_on_both_backends(db: Database) -> None:
    frame = engine_frame()
    repo = Repository(db)
    scan = repo.start_scan(1_750_000_000_000)
    assert repo.write_opportunities(scan, frame) == len(frame)
    stored = Queries(db).opportunity_history().set_index("pair_key")
    assert len(stored) == len(frame)
    for record in frame.to_dict("records"):
        row = stored.loc[record["pair_key"]]
        for spec in OPPORTUNITY_SCHEMA:
            if spec.name == "pair_key":
                continue
            assert _same(spec.dtype, row[spec.name], record[spec.name]), (
                record["pair_key"], spec.name, row[spec.name], record[spec.name],
            )  # fmt: skip


def test_a_reader_can_tell_different_tokens_from_a_thin_book(db: Database) -> None:
    """What revision 0002 is for: the reasons behind ``executable`` False are in the table."""
    repo = Repository(db)
    scan = repo.start_scan(1_750_000_000_000)
    repo.write_opportunities(scan, engine_frame())
    stored = Queries(db).opportunity_history()
    blocked = stored[~stored["executable"]]
    by_key = blocked.set_index("pair_key")
    assert by_key.loc["XRP/USDT:USDT|long=bybit|short=gate", "price_mismatch"]
    assert not by_key.loc["XRP/USDT:USDT|long=bybit|short=gate", "book_thin"]
    thin = by_key.loc["BTC/USDT:USDT|long=bybit|short=bitget"]
    assert thin["book_thin"] and not thin["price_mismatch"] and not thin["book_missing"]
    assert by_key.loc["BTC/USDT:USDT|long=bybit|short=gate", "book_missing"]
    assert str(stored["book_thin"].dtype) == "boolean"
