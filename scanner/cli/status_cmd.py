"""``fundscan status [--json]``: is the service healthy? Last scans, alerts, schema, size."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import (
    ConfigOption,
    console,
    fail,
    print_fitted,
    settings_or_exit,
    storage_errors,
)
from scanner.cli.tables import Col, Fitted, fit
from scanner.clock import SYSTEM_CLOCK
from scanner.db_url import redact_url
from scanner.units import MS_PER_DAY

if TYPE_CHECKING:  # the storage layer loads only when the command runs
    from storage.status_store import ScanRow


def _scan_dict(s: ScanRow) -> dict[str, Any]:
    venues = {}
    for venue, st in s.venue_status.items():
        st = st if isinstance(st, dict) else {"status": st}
        venues[venue] = {
            k: st.get(k) for k in ("status", "latency_ms", "reason", "quotes", "books")
        }
    return {
        "id": s.id,
        "started_ms": s.started_ms,
        "finished_ms": s.finished_ms,
        "duration_s": s.duration_s,
        "opportunities_written": s.opportunities,
        "venues": venues,
        "notes": s.notes,
    }


def gather(config: Any, scans: int) -> dict[str, Any]:
    from storage.alert_store import AlertStore
    from storage.db import StorageError, head_revision, open_database
    from storage.status_store import StatusStore

    settings = settings_or_exit(config)
    try:
        db = open_database(settings.storage.url, create=False)
    except StorageError as exc:
        raise fail(f"storage: {exc}") from None
    try:
        with storage_errors():
            now_ms = SYSTEM_CLOCK.now_ms()
            status = StatusStore(db)
            alerts = AlertStore(db).counts_since(now_ms - MS_PER_DAY)
            return {
                "database": redact_url(settings.storage.url),
                "schema_revision": db.revision(),
                "schema_head": head_revision(),
                "database_bytes": status.size_bytes(),
                "scans": [_scan_dict(s) for s in status.last_scans(scans)],
                "alerts_24h": {c: v for c, v in alerts.items() if c != "-"},
                "alerts_held_24h": alerts.get("-", {}).get("suppressed", 0),
            }
    finally:
        db.dispose()


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _venues(scan: Mapping[str, Any], _compact: bool) -> str:
    """``bybit ok 812ms`` per venue; a failing venue's reason follows it."""
    parts = []
    for venue, v in scan["venues"].items():
        reason = f" ({v['reason']})" if v.get("reason") else ""
        parts.append(f"{venue} {v['status']} {v.get('latency_ms')}ms{reason}")
    return "; ".join(parts)


SCAN_COLUMNS: tuple[Col, ...] = (
    Col("id", "scan", lambda s, _c: f"#{s['id']}"),
    Col("started", "started (UTC)", lambda s, c: _when(s["started_ms"])[5 if c else 0 : -4]),
    Col(
        "duration",
        "took",
        lambda s, _c: "unfinished" if s["duration_s"] is None else f"{s['duration_s']:.1f}s",
    ),
    Col("written", "opportunities", lambda s, _c: str(s["opportunities_written"])),
    Col("notes", "notes", lambda s, _c: s["notes"] or "", justify="left", priority=2, max_width=30),
    Col("venues", "venues", _venues, justify="left", priority=1, max_width=60),
)
"""Recent scans: venues (folded free text) and notes are hidden first on narrow terminals."""


def scans_table(scans: Sequence[Mapping[str, Any]], width: int) -> Fitted:
    return fit("last scans", SCAN_COLUMNS, scans, width)


def _print(info: dict[str, Any]) -> None:
    size = info["database_bytes"]
    shown = "?" if size is None else f"{size / 1e6:.1f} MB"
    rev = info["schema_revision"]
    behind = "" if rev == info["schema_head"] else f" (this fundscan expects {info['schema_head']})"
    console.print(f"database {info['database']}: {shown}, schema {rev}{behind}", highlight=False)
    if not info["scans"]:
        console.print("no scans yet", highlight=False)
    if info["scans"]:
        print_fitted(scans_table(info["scans"], console.width))
    alerts = info["alerts_24h"]
    if not alerts:
        console.print("alerts in the last 24 h: none", highlight=False)
    for channel, counts in sorted(alerts.items()):
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        console.print(f"alerts in the last 24 h to {channel}: {parts}", highlight=False)
    if info["alerts_held_24h"]:
        console.print(
            f"qualifying pairs held back (cooldown, max_per_scan): {info['alerts_held_24h']}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        config: ConfigOption = None,
        scans: Annotated[int, typer.Option(min=1, max=1000, help="How many recent scans.")] = 5,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Last scans (duration, per-venue status and latency, rows written), alerts sent and
        failed per channel in the last 24 h, schema revision and database size."""
        info = gather(config, scans)
        if as_json:
            typer.echo(json.dumps(info, indent=2))
        else:
            _print(info)
