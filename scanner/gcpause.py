"""Pause Python's cyclic garbage collector around bulk row handling.

Why: a bulk write or read creates hundreds of thousands of small tuples (one per row, plus the
values), and every ~700 new container objects trigger a collection that walks the young
objects, with ever larger sweeps of the older generations the longer the burst lasts: those
walk every tracked object in the process, the caller's own data included (a collector or a
benchmark holding its quotes). None of the rows is part of a reference cycle, so reference
counting frees them anyway. Measured in ``benchmarks/bench_storage.py``: ~12 % of the SQLite
ingest CPU and 30-40 % of a one-symbol-year read. The collector is switched back on when the
block ends, whatever happened inside; a block inside another leaves it to the outer one.
The engine (``strategies.spread``) pauses it the same way while it ranks a snapshot, and the
collector (``scanner.collector``) while it collects. Pure (no I/O), so both the storage layer
and the decision layer may import it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
