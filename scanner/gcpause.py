"""Pause Python's cyclic garbage collector around bulk row handling.

Why: a bulk write or read creates hundreds of thousands of small tuples (one per row, plus the
values), and every ~700 new container objects trigger a collection that walks the young
objects, with ever larger sweeps of the older generations the longer the burst lasts: those
walk every tracked object in the process, the caller's own data included (a collector or a
benchmark holding its quotes). None of the rows is part of a reference cycle, so reference
counting frees them anyway. Measured in ``benchmarks/bench_storage.py``: ~12 % of the SQLite
ingest CPU and 30-40 % of a one-symbol-year read. The collector is switched back on when the
block ends, whatever happened inside; a block inside another leaves it to the outer one.
A session of scans (``fundscan run``) keeps it paused for each whole scan (``SessionGc``).
The engine (``strategies.spread``) pauses it the same way while it ranks a snapshot, and the
collector (``scanner.collector``) while it collects. Pure (no I/O), so both the storage layer
and the decision layer may import it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
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


class SessionGc:
    """The cyclic collector across the scans of one session (``scanner.session``).

    Why, measured with the bench's steady cycle (see the commits): two costs ``gc_paused``
    around one collection leaves inside the cycle.

    - The young pass. A collection allocates ~25 young generations' worth of objects; paused,
      the first young pass runs as soon as the pause ends, inside the scan, and walks the
      collection's quotes and books (~5 % of the scanner's CPU a cycle). ``scan`` keeps the
      collector paused over the whole scan (collection, storage, ranking), so the pass runs
      once the scan's output is stored, between scans, when most of it is already freed.
    - The full passes. Every few scans an oldest-generation pass walked every object of the
      process, ccxt's market tables and the instrument lists included (~0.12 s spikes).
      After a scan that (re)loaded instrument lists (``version`` changed: the first scan, an
      hourly refresh), everything then alive is frozen (``gc.freeze``): no pass walks it
      again. Before freezing, the previous freeze is undone and a full pass runs, so objects
      of replaced lists (freed by reference counting, or by that pass if in a cycle) never
      pile up in the permanent generation: it holds what one load keeps alive, no more.

    Reference counting frees everything else as before; only cyclic garbage waits, at most
    one scan (young) or one refresh (frozen). ``release`` undoes the freeze (session end).
    The cost moves, it does not vanish: the young pass (~5 ms) still comes before the scan
    returns to ``fundscan run``'s job (its summary, alerts, auto-execution), as it did when it
    ran at the collection's end, and a scan that loaded instruments (the first, then hourly)
    returns after the full pass, ~0.1-0.5 s of CPU depending on the host.
    The bench (``benchmarks/bench_scan.py``) runs its collections through ``scan`` too, so its
    steady cycle is the session's.
    """

    def __init__(self) -> None:
        self._frozen: object = None
        """The instruments' ``version`` when the process was last frozen (None: never)."""
        self._scans = 0
        self._was_enabled = False

    @contextmanager
    def scan(self, version: Callable[[], object]) -> Iterator[None]:
        """Pause the collector for one scan; ``version()`` (read when the scan ends) changes
        whenever an instrument list was loaded: then unfreeze, full pass, freeze.

        Scans of one session may overlap on its loop (a pre-settlement scan during a
        scheduled one), so not nested like blocks: the collector stays paused until the last
        of them ends, and is switched back on only if it was on when the first began."""
        if self._scans == 0:
            self._was_enabled = gc.isenabled()
            gc.disable()
        self._scans += 1
        try:
            yield
        finally:
            self._scans -= 1
            if self._scans == 0:
                now = version()
                if now != self._frozen:
                    gc.unfreeze()
                    gc.collect()
                    gc.freeze()
                    self._frozen = now
                if self._was_enabled:
                    gc.enable()

    def release(self) -> None:
        """Give the frozen objects back to the collector (they join the oldest generation)."""
        if self._frozen is not None:
            gc.unfreeze()
            self._frozen = None
