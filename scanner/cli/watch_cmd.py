"""``fundscan watch``: a live view of the database ``fundscan run`` fills (see ``watch_app``).

Textual, pandas and the storage layer are imported inside the command, so ``fundscan --help``
does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scanner.cli.common import ConfigOption

if TYPE_CHECKING:
    from scanner.dashboard import Snapshot


def _print_once(snap: Snapshot, source: str) -> None:
    from scanner.cli.common import console, print_fitted
    from scanner.cli.render import fit_opportunities

    if snap.empty:
        console.print(f"no finished scan yet in {source}: start `fundscan run`", highlight=False)
        return
    title = f"scan #{snap.scan_id}: top {min(20, len(snap.opportunities))} by net APR"
    print_fitted(fit_opportunities(snap.opportunities.head(20), title, console.width))
    health = ", ".join(
        f"{h.venue} {h.status}" + ("" if h.latency_ms is None else f" {h.latency_ms:.0f}ms")
        for h in snap.venues
    )
    console.print(f"venues: {health}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("watch")
    def watch(
        config: ConfigOption = None,
        refresh_s: Annotated[
            float, typer.Option("--refresh-s", min=0.5, max=3600, help="Seconds between reads.")
        ] = 2.0,
        once: Annotated[bool, typer.Option("--once", help="Print the view once and exit.")] = False,
    ) -> None:
        """Live view of the database `fundscan run` fills: top pairs with their trend, venue
        health and latency, recent alerts, open positions. Keys: s sort, f filter, p pause,
        r refresh, q quit."""
        from scanner.cli.common import fail, settings_or_exit
        from scanner.cli.watch_app import WatchApp
        from scanner.dashboard import load_snapshot
        from scanner.settings import redact_url
        from storage.db import StorageError, open_database
        from storage.queries import DashboardQueries

        settings = settings_or_exit(config)
        source = redact_url(settings.storage.url)
        try:
            db = open_database(settings.storage.url)
        except StorageError as exc:
            raise fail(f"storage: {exc}") from None
        queries = DashboardQueries(db)
        try:
            if once:
                _print_once(load_snapshot(queries), source)
                return
            WatchApp(lambda: load_snapshot(queries), refresh_s, source=source).run()
        finally:
            db.dispose()
