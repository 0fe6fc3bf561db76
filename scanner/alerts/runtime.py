"""Alerts inside ``fundscan run``: build the channels, sender and service from settings.

Why a context manager: the sender owns a thread and an HTTP client that must be closed on
every way out of the run (max scans reached, Ctrl-C, SIGTERM), and the outbox's leftovers
from an earlier run must be queued before the first scan adds new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from scanner.alerts.channels import build_channels
from scanner.alerts.sender import DeliveryPolicy, ResultHook, Sender
from scanner.alerts.service import AlertService
from scanner.clock import Clock
from scanner.settings import Settings
from storage.alert_store import AlertStore
from storage.db import Database

log = logging.getLogger(__name__)


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    a = settings.alerts
    return DeliveryPolicy(
        max_attempts=a.max_attempts, timeout_s=a.timeout_s, rate_per_s=a.rate_per_s
    )


@contextmanager
def alert_service(
    settings: Settings, db: Database, clock: Clock, on_result: ResultHook | None = None
) -> Iterator[AlertService | None]:
    """An ``AlertService`` with a running sender, or None when alerts are off.

    Raises ``ChannelConfigError`` (a user error) before anything starts if a channel's
    variable is missing. Call ``resume()`` on it to queue what an earlier run left unsent.
    """
    if not settings.alerts.enabled or not settings.alerts.channels:
        yield None
        return
    channels = build_channels(settings.alerts, settings.secret_text)
    store = AlertStore(db)
    with Sender(channels, store, clock, delivery_policy(settings), on_result) as sender:
        yield AlertService(settings.alerts, store, clock, sender, [c.label for c in channels])
