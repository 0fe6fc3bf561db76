"""``fundscan alerts test`` (one test message per configured channel) and ``fundscan alerts
preview`` (what the latest stored scan would send, per channel, without sending).

httpx, the channel clients and the storage layer are imported inside the commands, so
``fundscan --help`` does not load them.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import ConfigOption, console, fail, settings_or_exit
from scanner.clock import SYSTEM_CLOCK

if TYPE_CHECKING:
    from scanner.alerts.channels import Channel
    from scanner.alerts.sender import DeliveryPolicy, Outcome
    from scanner.settings import AlertSettings, Settings
    from strategies.alert_policy import PastAlert

alerts_app = typer.Typer(help="Chat alerts: send a test message, preview what would be sent.")


def policy_from(alerts: AlertSettings) -> DeliveryPolicy:
    from scanner.alerts.sender import DeliveryPolicy

    return DeliveryPolicy(
        max_attempts=alerts.max_attempts, timeout_s=alerts.timeout_s, rate_per_s=alerts.rate_per_s
    )


def channels_or_exit(settings: Settings) -> list[Channel]:
    from scanner.alerts.channels import ChannelConfigError, build_channels

    if not settings.alerts.channels:
        raise fail(f"config: {settings.source}: alerts.channels is empty; add a channel first")
    try:
        return build_channels(settings.alerts, settings.secret_text)
    except ChannelConfigError as exc:
        raise fail(f"config: {settings.source}: {exc}") from None


async def _test_all(channels: list[Channel], policy: DeliveryPolicy) -> list[Outcome]:
    import httpx

    from scanner.alerts.message import Message
    from scanner.alerts.sender import deliver

    msg = Message("test", {}, "sent by fundscan alerts test")
    async with httpx.AsyncClient(timeout=policy.timeout_s) as client:
        return list(
            await asyncio.gather(*(deliver(c, client, msg, policy, SYSTEM_CLOCK) for c in channels))
        )


@alerts_app.command("test")
def test_cmd(config: ConfigOption = None) -> None:
    """Send one test message to every configured channel; exit 1 if any failed."""
    settings = settings_or_exit(config)
    channels = channels_or_exit(settings)
    outcomes = asyncio.run(_test_all(channels, policy_from(settings.alerts)))
    for channel, outcome in zip(channels, outcomes, strict=True):
        if outcome.status == "sent":
            console.print(f"{channel.label} ({channel.kind}): sent", highlight=False)
        else:
            console.print(
                f"{channel.label} ({channel.kind}): FAILED after {outcome.attempts} attempt(s): "
                f"{outcome.detail}",
                highlight=False,
            )
    if any(o.status != "sent" for o in outcomes):
        raise typer.Exit(1)


Latest = tuple[list[dict[str, Any]], list[str], int, dict[str, "PastAlert"]]


def _latest_rows(settings: Settings) -> Latest:
    """The latest stored scan's rows (best first), its venues that were ok, its id, and the
    policy's memory from the alert log."""
    from scanner.alerts.service import past_alerts, rules_from
    from scanner.cli.render import records
    from storage.alert_store import AlertStore
    from storage.db import StorageError, open_database
    from storage.queries import Queries

    try:
        db = open_database(settings.storage.url, create=False)
    except StorageError as exc:
        raise fail(f"storage: {exc}") from None
    try:
        scans = Queries(db).scans()
        done = scans[scans["finished_ms"].notna()]
        if done.empty:
            raise fail("no finished scan is stored yet: run `fundscan scan` first")
        last = done.iloc[-1]
        history = Queries(db).opportunity_history(since_ms=int(last["started_ms"]))
        rows = history[history["scan_id"] == int(last["id"])]
        rows = rows.sort_values("net_apr", ascending=False, kind="stable")
        status = last["venue_status"] or {}
        ok = [v for v, s in status.items() if isinstance(s, dict) and s.get("status") == "ok"]
        now_ms = SYSTEM_CLOCK.now_ms()
        past = past_alerts(AlertStore(db), now_ms, rules_from(settings.alerts).cooldown_ms)
    finally:
        db.dispose()
    return records(rows), ok, int(last["id"]), past


@alerts_app.command("preview")
def preview_cmd(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the bodies as JSON.")] = False,
) -> None:
    """Print what the latest stored scan would send, per channel, without sending anything.

    The policy runs as in `fundscan run` (thresholds, cooldown against the alert log); the
    alert log is not written. Without configured channels, every kind is shown.
    """
    from scanner.alerts.message import Message
    from scanner.alerts.preview import KINDS, render_for
    from scanner.alerts.service import digest_message, rules_from
    from strategies.alert_policy import decide

    settings = settings_or_exit(config)
    rows, ok, scan_id, past = _latest_rows(settings)
    now_ms = SYSTEM_CLOCK.now_ms()
    decisions = decide(rows, past, rules_from(settings.alerts), now_ms, ok)
    kinds: list[tuple[str, str]] = [(c.label, c.kind) for c in settings.alerts.channels]
    kinds = kinds or [(k, k) for k in KINDS]
    out = []
    for d in decisions:
        if d.suppressed:
            continue
        msg = Message(d.event, d.row, d.reason, d.key)
        for label, kind in kinds:
            out.append(
                {
                    "channel": label,
                    "kind": kind,
                    "key": d.key,
                    "body": render_for(kind, msg, now_ms),
                }
            )
    rules = rules_from(settings.alerts)
    if rules.digest_every_ms > 0:  # what the next digest would say (its timing aside)
        digest = digest_message(rows, rules)
        out += [
            {
                "channel": label,
                "kind": kind,
                "key": "digest",
                "body": render_for(kind, digest, now_ms),
            }
            for label, kind in kinds
        ]
    held = [d for d in decisions if d.suppressed]
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    console.print(
        f"scan #{scan_id}: {len(decisions) - len(held)} message(s) would be sent, "
        f"{len(held)} qualifying pair(s) held back",
        highlight=False,
    )
    for d in held:
        console.print(f"  held: {d.key} ({d.reason})", highlight=False)
    for item in out:
        console.print(f"--- {item['channel']} ({item['kind']}) {item['key']}", highlight=False)
        console.print_json(json.dumps(item["body"]))


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
