"""Where the recorded exchange payloads live (``<repo>/../shared/data``) and how to load them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FIXTURES = DATA / "exchange-fixtures"


def load_fixture(venue: str, name: str) -> Any:
    """One recorded body, parsed as JSON."""
    return json.loads((FIXTURES / venue / name).read_text(encoding="utf-8"))


def fixture_text(venue: str, name: str) -> str:
    return (FIXTURES / venue / name).read_text(encoding="utf-8")
