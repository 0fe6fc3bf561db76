"""The collector pause around bulk rows always ends, and nests."""

from __future__ import annotations

import gc
import weakref

import pytest

from scanner.gcpause import SessionGc, gc_paused


def test_the_collector_is_back_on_after_the_block_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_collector_to_the_outer_one() -> None:
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class Node:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_a_session_scan_pauses_the_collector_until_the_scan_ends_even_on_error() -> None:
    session = SessionGc()
    try:
        with session.scan(lambda: 0):
            assert not gc.isenabled()
            with gc_paused():  # the collection's own pause inside leaves it off
                pass
            assert not gc.isenabled()
        assert gc.isenabled()
        with pytest.raises(RuntimeError), session.scan(lambda: 0):
            raise RuntimeError("boom")
        assert gc.isenabled()
    finally:
        session.release()


def test_the_heap_is_frozen_after_an_instrument_load_and_only_then() -> None:
    session = SessionGc()
    passes: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    loads = 1
    try:
        with session.scan(lambda: loads):
            kept = [Node() for _ in range(1_000)]
        assert gc.get_freeze_count() >= len(kept)
        gc.callbacks.append(record)
        try:
            with session.scan(lambda: loads):  # nothing loaded: no full pass, no refreeze
                pass
            assert passes == []
            loads += 1
            with session.scan(lambda: loads):
                pass
            assert passes == [2]
        finally:
            gc.callbacks.remove(record)
    finally:
        session.release()
    assert gc.get_freeze_count() == 0


def test_frozen_objects_of_replaced_instrument_lists_do_not_accumulate() -> None:
    """Each refresh replaces the lists with new objects in reference cycles (the worst case:
    reference counting cannot free them); the permanent generation holds one load's worth,
    however many refreshes, and a replaced list's objects are freed by the next refresh."""
    session = SessionGc()
    lists: list[Node] = []
    loads = 0
    frozen: list[int] = []
    gone: list[bool] = []

    def version() -> int:  # read when each scan ends: after the scan's load
        return loads

    try:
        for _ in range(6):
            before = [weakref.ref(n) for n in lists[:100]]
            with session.scan(version):
                lists = [Node() for _ in range(20_000)]
                loads += 1
            frozen.append(gc.get_freeze_count())
            gone.append(all(r() is None for r in before))
    finally:
        session.release()
    assert all(gone)  # the first round's "before" is empty
    assert max(frozen) - min(frozen) < 5_000  # one list is 20,000 frozen objects
    assert min(frozen) >= 20_000


def test_overlapping_scans_keep_the_collector_paused_until_the_last_one_ends() -> None:
    session = SessionGc()
    first, second = session.scan(lambda: 0), session.scan(lambda: 0)
    try:
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # the first to start ends first
        assert not gc.isenabled()
        second.__exit__(None, None, None)
        assert gc.isenabled()
    finally:
        gc.enable()
        session.release()
