"""Imports point one way: decisions and persistence never touch exchange I/O.

Parsed with ``ast``: an import inside a function counts, a comment mentioning ccxt does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBS = {"ccxt", "httpx", "aiohttp", "requests", "websockets"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module)
    return mods


PURE_FILES = sorted(
    [
        *ROOT.glob("strategies/**/*.py"),
        *ROOT.glob("storage/**/*.py"),
        ROOT / "scanner" / "domain.py",
    ]
)


def test_there_is_something_to_check() -> None:
    assert ROOT / "scanner" / "domain.py" in PURE_FILES
    assert any(p.parts[-2] == "strategies" for p in PURE_FILES)


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_layers_do_not_import_io_libraries(path: Path) -> None:
    bad = _imported_roots(path) & IO_LIBS
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_layers_only_use_the_domain_from_scanner(path: Path) -> None:
    scanner_mods = {m for m in _imported_modules(path) if m.split(".")[0] == "scanner"}
    assert scanner_mods <= {"scanner.domain", "scanner"}, (
        f"{path.relative_to(ROOT)} imports {sorted(scanner_mods - {'scanner.domain'})}"
    )


def test_ccxt_is_imported_only_in_venues() -> None:
    offenders = []
    for path in ROOT.glob("scanner/**/*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("scanner", "venues"):
            continue
        if "ccxt" in _imported_roots(path):
            offenders.append(str(rel))
    assert offenders == []
