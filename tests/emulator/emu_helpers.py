"""Shared helpers for the emulator tests (a plain module, not a conftest, so other suites in
this folder keep their own fixtures)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emulator import Emulator

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FIXTURES = SHARED / "exchange-fixtures"
HISTORY = SHARED / "funding-history"
START_MS = 1_795_000_000_000  # 2026-11-18 08:26:40 UTC, fixed so runs are reproducible
HOUR_MS = 3_600_000


def fixture(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


@contextmanager
def running(**kwargs: Any) -> Iterator[Emulator]:
    """An emulator serving from its own thread (usable from sync and async tests alike)."""
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("stepped", True)
    kwargs.setdefault("start_ms", START_MS)
    with Emulator(**kwargs).run_in_thread() as emu:
        yield emu


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def structure_diff(real: Any, emulated: Any, path: str = "$") -> list[str]:
    """Differences in field names and JSON types between two bodies, recursively.

    Arrays of equal length are compared element by element (heterogeneous lists such as
    Binance ``filters``); otherwise every emulated element is compared with the first real one
    (homogeneous lists). An empty array on either side compares as equal (nothing to check).
    """
    rt, et = json_type(real), json_type(emulated)
    if rt != et:
        return [f"{path}: real {rt} ({real!r:.40}) vs emulated {et} ({emulated!r:.40})"]
    if rt == "object":
        out = []
        missing = real.keys() - emulated.keys()
        extra = emulated.keys() - real.keys()
        if missing:
            out.append(f"{path}: missing keys {sorted(missing)}")
        if extra:
            out.append(f"{path}: extra keys {sorted(extra)}")
        for key in real.keys() & emulated.keys():
            out += structure_diff(real[key], emulated[key], f"{path}.{key}")
        return out
    if rt == "array" and real and emulated:
        out = []
        pairwise = len(real) == len(emulated)
        for i, item in enumerate(emulated):
            out += structure_diff(real[i] if pairwise else real[0], item, f"{path}[{i}]")
            if len(out) > 20:
                break
        return out
    return []


def get_json(client: Any, path: str) -> Any:
    """GET ``path`` from the emulator; fail the test with the body unless it is HTTP 200."""
    r = client.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def post_json(client: Any, path: str, body: dict[str, Any]) -> Any:
    """POST a JSON body; fail the test with the body unless it is HTTP 200."""
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()
