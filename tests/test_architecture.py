"""Imports point one way: decisions and persistence never touch exchange I/O.

Parsed with ``ast``: an import inside a function counts, a comment mentioning ccxt does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBS = {"ccxt", "httpx", "httpx_aiohttp", "aiohttp", "requests", "websockets"}


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
        ROOT / "scanner" / "units.py",
        ROOT / "scanner" / "clock.py",
        ROOT / "scanner" / "gcpause.py",
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
    allowed = {"scanner.domain", "scanner.units", "scanner.clock", "scanner.gcpause"}
    assert scanner_mods <= allowed, (
        f"{path.relative_to(ROOT)} imports {sorted(scanner_mods - allowed)}"
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


def _is_io_module(rel: Path) -> bool:
    """Where talking to the network belongs: venue adapters, alert channels, the LLM client,
    and the CLI (which starts the emulator)."""
    parts = rel.parts
    return (
        parts[:2] in {("scanner", "venues"), ("scanner", "alerts"), ("scanner", "cli")}
        or (parts[:2] == ("scanner", "llm"))
        or (len(parts) == 2 and parts[0] == "scanner" and parts[1].startswith("llm"))
    )


def test_io_module_rule_names_the_right_homes() -> None:
    assert _is_io_module(Path("scanner/venues/bybit_http.py"))
    assert _is_io_module(Path("scanner/alerts/slack.py"))
    assert _is_io_module(Path("scanner/llm.py")) and _is_io_module(Path("scanner/llm_client.py"))
    assert _is_io_module(Path("scanner/cli/demo_cmd.py"))
    for pure in ("scanner/pipeline.py", "scanner/collector.py", "scanner/domain.py"):
        assert not _is_io_module(Path(pure))
    assert not _is_io_module(Path("strategies/llm_verdict.py"))


def test_network_libraries_are_imported_only_by_io_modules() -> None:
    """httpx, ccxt, aiohttp ... live in the I/O homes; orchestration (collector, pipeline,
    session, jobs, enrich), decisions and storage reach the network only through them."""
    offenders = []
    for pkg in ("scanner", "strategies", "storage"):
        for path in ROOT.glob(f"{pkg}/**/*.py"):
            rel = path.relative_to(ROOT)
            bad = _imported_roots(path) & IO_LIBS
            if bad and not _is_io_module(rel):
                offenders.append(f"{rel}: {sorted(bad)}")
    assert offenders == []


CLOCK_READS = {
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"},
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
}


def _clock_reads(path: Path) -> list[str]:
    """``time.time()``, ``datetime.now()`` ... and ``from time import time``-style imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in CLOCK_READS.get(node.value.id, set())
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [
                f"from time import {a.name}" for a in node.names if a.name in CLOCK_READS["time"]
            ]
    return found


def test_clock_read_detection_sees_the_usual_spellings(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import time\nfrom time import monotonic\nfrom datetime import UTC, datetime\n"
        "a = time.time()\nb = datetime.now(UTC)\nc = time.sleep\n"
    )
    assert [r.split(" ")[0] for r in _clock_reads(probe)] == ["from", "time.time", "datetime.now"]


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    """Everything else takes a ``scanner.clock.Clock``, so a test can move time (a ban lifts,
    a deadline expires) instead of waiting for it."""
    offenders = {}
    for pkg in ("scanner", "strategies", "storage"):
        for path in ROOT.glob(f"{pkg}/**/*.py"):
            rel = path.relative_to(ROOT).as_posix()
            reads = _clock_reads(path)
            if reads and rel != "scanner/clock.py":
                offenders[rel] = reads
    assert offenders == {}
    assert _clock_reads(ROOT / "scanner" / "clock.py")  # the one place, and the check sees it


PROJECT_PACKAGES = {"scanner", "strategies", "storage"}
EMULATOR_FILES = sorted(ROOT.glob("emulator/**/*.py"))


def test_the_emulator_is_a_top_level_package() -> None:
    assert ROOT / "emulator" / "server.py" in EMULATOR_FILES
    assert not (ROOT / "scanner" / "emulator").exists()


@pytest.mark.parametrize("path", EMULATOR_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_emulator_imports_nothing_from_the_project(path: Path) -> None:
    """The emulator is the independent oracle: it must not share code with what it tests."""
    bad = _imported_roots(path) & PROJECT_PACKAGES
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_cli_imports_the_emulator() -> None:
    offenders = []
    for pkg in PROJECT_PACKAGES:
        for path in ROOT.glob(f"{pkg}/**/*.py"):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("scanner", "cli"):
                continue
            if "emulator" in _imported_roots(path):
                offenders.append(str(rel))
    assert offenders == []
