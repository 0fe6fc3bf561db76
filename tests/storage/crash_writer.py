"""Writer process for the crash test: writes quote batches forever until it is killed.

Usage: python crash_writer.py URL SCHEMA|- BATCH_ROWS
After each committed batch it prints ``committed <n>`` (flushed), so the test knows how many
batches were acknowledged before it sent SIGKILL.
"""

from __future__ import annotations

import sys

from scanner.domain import FundingQuote
from storage.db import open_database
from storage.repository import Repository


def batch(n: int, size: int) -> list[FundingQuote]:
    base = 1_700_000_000_000 + n * size * 1_000
    return [
        FundingQuote("bybit", f"K{i % 97}USDT", f"K{i % 97}/USDT:USDT", 1e-4, 8.0, base + i * 1_000)
        for i in range(size)
    ]


def main() -> None:
    url, schema, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = open_database(url, schema=None if schema == "-" else schema)
    repo = Repository(db)
    n = 0
    while True:
        written = repo.write_quotes(batch(n, size))
        assert written == size
        print(f"committed {n}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
