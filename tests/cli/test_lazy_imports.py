"""``fundscan --help`` and ``fundscan config check`` must not load the heavy libraries.

Why modules and not a timing: a timing depends on the machine and its load; which modules a
command imported does not. ccxt, pandas, SQLAlchemy and numba cost most of a second to import;
they belong to the commands that collect, store or rank, and load only when one of those runs.
Each case runs in a fresh interpreter (this test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("ccxt", "pandas", "sqlalchemy", "numba")

_PROBE = """
import json, sys
sys.argv = ["fundscan", *json.loads(sys.argv[1])]
from scanner.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
sys.stderr.write("LOADED " + json.dumps({{"code": code, "loaded": loaded}}) + "\\n")
"""


def _loaded(args: list[str], cwd: Path) -> dict[str, object]:
    code = _PROBE.format(heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED ")]
    assert lines, f"probe failed: {proc.stderr[-2000:]}"
    result: dict[str, object] = json.loads(lines[-1][len("LOADED ") :])
    return result


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    result = _loaded(["--help"], tmp_path)
    assert result["code"] == 0
    assert result["loaded"] == []


@pytest.mark.parametrize("command", [["scan", "--help"], ["run", "--help"]])
def test_a_command_help_imports_no_heavy_library(tmp_path: Path, command: list[str]) -> None:
    result = _loaded(command, tmp_path)
    assert result["code"] == 0
    assert result["loaded"] == []


def test_config_check_imports_no_heavy_library(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "storage:\n  url: sqlite:///./data/fundscan.db\n", encoding="utf-8"
    )
    result = _loaded(["config", "check"], tmp_path)
    assert result["code"] == 0
    assert result["loaded"] == []


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The probe itself can fail: a command that needs storage does load SQLAlchemy."""
    (tmp_path / "config.yaml").write_text(
        f"storage:\n  url: sqlite:///{tmp_path / 'x.db'}\n", encoding="utf-8"
    )
    result = _loaded(["db", "upgrade"], tmp_path)
    assert result["code"] == 0
    assert "sqlalchemy" in result["loaded"]
