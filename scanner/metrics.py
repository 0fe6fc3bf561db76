"""Prometheus metrics for ``fundscan run --metrics-port N`` (prometheus-client).

Why a registry of our own: tests (and a notebook importing the package) can build as many
``Metrics`` as they like without colliding in the library's global registry, and the HTTP
endpoint exposes exactly these series. Label values are bounded: venue ids, channel labels,
table names and error kinds (the collector's exception class names), never free text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from scanner.collector import Collection, VenueStatus
from scanner.units import MS_PER_S

SCAN_BUCKETS_S = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300)


def error_kind(reason: str | None) -> str:
    """``timeout``, ``RateLimited``, ``VenueUnavailable``, ``unexpected`` ... from a reason."""
    if not reason:
        return "unknown"
    head = reason.split(":", 1)[0].strip()
    if head.startswith("unexpected"):
        return "unexpected"
    return head if head.replace("_", "").isalnum() and len(head) <= 40 else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.scan_duration = Histogram(
            "fundscan_scan_duration_seconds",
            "Duration of one scan",
            buckets=SCAN_BUCKETS_S,
            registry=r,
        )
        self.venue_errors = Counter(
            "fundscan_venue_errors",
            "Venue collections that failed or degraded, by kind",
            ["venue", "kind"],
            registry=r,
        )
        self.rows_written = Counter(
            "fundscan_rows_written",
            "Rows written to the database, by table",
            ["table"],
            registry=r,
        )
        self.above_threshold = Gauge(
            "fundscan_opportunities_above_threshold",
            "Executable opportunities of the last scan at or above alerts.min_net_apr",
            registry=r,
        )
        self.alerts = Counter(
            "fundscan_alerts",
            "Alert deliveries by channel and outcome",
            ["channel", "status"],
            registry=r,
        )
        self.scan_failures = Counter(
            "fundscan_scan_failures",
            "Scans that stored nothing or failed outright, by kind (storage, venues, other)",
            ["kind"],
            registry=r,
        )
        self.last_success = Gauge(
            "fundscan_venue_last_success_timestamp_seconds",
            "When each venue was last collected successfully (UTC epoch seconds)",
            ["venue"],
            registry=r,
        )

    def observe_scan(
        self,
        duration_s: float,
        collection: Collection,
        rows: Mapping[str, int],
        opportunities: Any,
        min_net_apr: float,
    ) -> None:
        """Record one finished scan (``opportunities``: the engine's ranked DataFrame)."""
        self.scan_duration.observe(duration_s)
        for venue, result in collection.results.items():
            if result.status is VenueStatus.OK:
                self.last_success.labels(venue).set(collection.finished_ms / MS_PER_S)
            else:
                kind = "degraded" if result.status is VenueStatus.DEGRADED else None
                self.venue_errors.labels(venue, kind or error_kind(result.reason)).inc()
        for table, n in rows.items():
            self.rows_written.labels(table).inc(n)
        df = opportunities
        above = 0 if df.empty else int(((df["net_apr"] >= min_net_apr) & df["executable"]).sum())
        self.above_threshold.set(above)

    def alert_result(self, channel: str, status: str) -> None:
        self.alerts.labels(channel, status).inc()

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        """Start the exposition endpoint on a daemon thread; returns the server to shut down."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server
