"""Database URLs as users write them: checked before use, and shown without the password.

Why its own module: a URL is checked in config validation, in the CLI and in storage errors,
and every one of those places prints it. A password must never reach the screen, whatever
shape the URL has: ``scheme://user:pw@host/db`` (the usual form), but also
``scheme://user:pw`` with no ``@host`` (SQLAlchemy then reads ``pw`` as a port and its error
quotes it), or a URL too broken to parse.
"""

from __future__ import annotations

import importlib.util
import re

SUPPORTED_DRIVERS = {
    "sqlite": ("sqlite", "sqlite+pysqlite"),
    "postgresql": ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"),
}
"""Scheme spellings fundscan is tested with (``postgresql``/``+psycopg2`` are mapped to psycopg
v3 by ``storage.db.normalize_url``). Other drivers (asyncpg, pg8000 ...) are refused up front
instead of failing later with ModuleNotFoundError or an async driver under a sync engine."""
DRIVER_MODULE = {"sqlite": "sqlite3", "postgresql": "psycopg"}

_USERINFO = re.compile(r"(^|//)([^/@:]*):([^/@]*)@")
"""``user:password@`` after ``//`` (or at the start), even in a URL too broken to parse."""
_NO_HOST = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:]*):([^/@]*)(/.*)?$")
"""``scheme://user:secret`` (no ``@``): the part after ``:`` is a password unless all digits."""


def has_password(url: str) -> bool:
    """True when the URL carries a password (``user:pw@``), or something that may be one."""
    if _USERINFO.search(url):
        return True
    m = _NO_HOST.match(url)
    return m is not None and not m.group(2).isdigit()


def redact_url(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db``, in every shape.

    ``scheme://user:secret`` (no ``@``) is masked too unless what follows ``:`` is a port.
    """
    out = _USERINFO.sub(r"\1\2:***@", url)
    if out == url:
        m = _NO_HOST.match(url)
        if m is not None and not m.group(2).isdigit():
            out = f"{m.group(1)}:***{m.group(3) or ''}"
    return out


_PLAIN_SQLITE_FILE = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?#:]+)$")
"""``sqlite:///relative/or/absolute/path.db`` with no query: valid as written, so checking it
needs no SQLAlchemy (whose import alone costs ~0.2 s of ``fundscan config check``)."""


def check_url(url: str) -> str:
    """Why ``url`` cannot be used, as one line (password masked), or "" when it can."""
    if not url.strip():
        return "is empty: set a database URL such as sqlite:///./data/fundscan.db"
    if _PLAIN_SQLITE_FILE.match(url):
        return ""  # a file path for the standard library's sqlite3 driver
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        database = parsed.database
    except Exception:  # ArgumentError, and ValueError from int(port) quoting the password
        return f"not a database URL: {redact_url(url)!r}"
    drivers = SUPPORTED_DRIVERS.get(backend)
    if drivers is None or parsed.drivername not in drivers:
        return (
            f"unsupported database driver {parsed.drivername!r}: "
            "use sqlite:///path/file.db or postgresql+psycopg://user@host/db"
        )
    if backend == "sqlite" and (not database or database == ":memory:"):
        return (
            "an in-memory SQLite database (sqlite:// or :memory:) is lost when the command "
            "exits; use a file such as sqlite:///./data/fundscan.db"
        )
    module = DRIVER_MODULE[backend]
    if importlib.util.find_spec(module) is None:
        return f"the {module} driver for {backend} is not installed (pip install 'psycopg[binary]')"
    return ""
