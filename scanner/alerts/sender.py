"""Delivery: a queue per channel, drained by its own task on its own event loop.

Why a separate loop thread: a scan must never wait for Slack. The scheduler thread only
``submit``s outbox items (already stored as ``queued``); a worker per channel sends them one
by one at the channel's rate, so a slow or broken channel holds up nobody else.

Retry rules: a 429 waits the platform's own hint; 5xx and timeouts back off exponentially;
after ``max_attempts`` the row is ``failed``. Any other 4xx is permanent: that row fails, the
channel is marked broken (one log line) and its later items fail without being sent.

Stopping: ``close`` lets a send already on the wire finish (bounded by the HTTP timeout, so
it is never sent twice), abandons backoff waits and leaves every item not sent ``queued`` in
the outbox for the next start: nothing is lost, nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from aiolimiter import AsyncLimiter

from scanner.alerts.channels import Channel
from scanner.alerts.message import DeliveryError, Message, PermanentError, RetryAfter
from scanner.clock import Clock
from storage.alert_store import FAILED, SENT, AlertStore, OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    timeout_s: float = 10.0
    rate_per_s: float = 1.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "sent" | "failed" | "stopped"
    attempts: int
    detail: str | None = None
    permanent: bool = False


async def _wait(clock: Clock, seconds: float, stop: asyncio.Event | None) -> None:
    """Sleep on ``clock``; return early when ``stop`` is set."""
    if stop is None:
        await clock.sleep(seconds)
        return
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, stopper):
            task.cancel()


async def deliver(
    channel: Channel,
    client: httpx.AsyncClient,
    msg: Message,
    policy: DeliveryPolicy,
    clock: Clock,
    *,
    attempts_before: int = 0,
    stop: asyncio.Event | None = None,
) -> Outcome:
    """Send ``msg`` with the retry rules above; never raises a DeliveryError."""
    attempts = attempts_before
    detail = ""
    for attempt in range(1, policy.max_attempts + 1):
        attempts += 1
        try:
            await channel.send(client, msg, clock.now_ms())
            return Outcome(SENT, attempts)
        except PermanentError as exc:
            return Outcome(FAILED, attempts, str(exc), permanent=True)
        except RetryAfter as exc:
            detail = str(exc)
            wait_s = min(exc.after_s, policy.max_retry_after_s)
        except DeliveryError as exc:
            detail = str(exc)
            wait_s = policy.backoff(attempt)
        if attempt == policy.max_attempts:
            break
        if stop is not None and stop.is_set():
            return Outcome("stopped", attempts, detail)
        await _wait(clock, wait_s, stop)
        if stop is not None and stop.is_set():
            return Outcome("stopped", attempts, detail)
    return Outcome(FAILED, attempts, f"gave up after {attempts} attempts: {detail}")


ResultHook = Callable[[str, str], None]
"""Called with (channel label, "sent" | "failed") after each delivery (metrics)."""


class Sender:
    """``with Sender(channels, store, clock) as s: s.submit(items)``; thread-safe submit."""

    def __init__(
        self,
        channels: Sequence[Channel],
        store: AlertStore,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        on_result: ResultHook | None = None,
    ) -> None:
        self.channels: Mapping[str, Channel] = {c.label: c for c in channels}
        self.store = store
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.on_result = on_result
        self.broken: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fundscan-alerts", daemon=True
        )
        self._queues: dict[str, asyncio.Queue[OutboxItem]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[str] = set()
        self._stop: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> Sender:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=self.policy.timeout_s)
        for label, channel in self.channels.items():
            queue: asyncio.Queue[OutboxItem] = asyncio.Queue()
            self._queues[label] = queue
            self._workers.append(asyncio.create_task(self._work(channel, queue)))

    def submit(self, items: Sequence[OutboxItem]) -> None:
        """Queue stored outbox items for their channels (unknown channels stay queued)."""

        def put() -> None:
            for item in items:
                queue = self._queues.get(item.channel)
                if queue is not None:
                    queue.put_nowait(item)

        try:
            self._loop.call_soon_threadsafe(put)
        except RuntimeError:  # closed meanwhile (shutdown): the outbox keeps them queued
            log.info("sender closed; %d alert(s) stay queued for the next start", len(items))

    def pending(self) -> int:
        """Items waiting or in flight (for ``close``'s grace period and tests)."""

        async def count() -> int:
            return sum(q.qsize() for q in self._queues.values()) + len(self._busy)

        return asyncio.run_coroutine_threadsafe(count(), self._loop).result()

    def drain(self, timeout_s: float) -> bool:
        """Wait (real time) until every queue is empty; False if ``timeout_s`` passed."""

        async def wait() -> None:
            await asyncio.gather(*(q.join() for q in self._queues.values()))

        future = asyncio.run_coroutine_threadsafe(wait(), self._loop)
        try:
            future.result(timeout_s)
            return True
        except concurrent.futures.TimeoutError:
            future.cancel()
            return False

    async def _work(self, channel: Channel, queue: asyncio.Queue[OutboxItem]) -> None:
        limiter = AsyncLimiter(1, 1.0 / self.policy.rate_per_s)  # no bursts above the rate
        assert self._stop is not None
        while not self._stop.is_set():
            item = await queue.get()
            try:
                if self._stop.is_set():
                    return  # stays queued in the outbox
                self._busy.add(channel.label)
                await self._one(channel, item, limiter)
            except Exception:  # a bug must not kill the channel's worker; the row stays queued
                log.exception("alert %s to %s not delivered", item.id, channel.label)
            finally:
                self._busy.discard(channel.label)
                queue.task_done()

    async def _one(self, channel: Channel, item: OutboxItem, limiter: AsyncLimiter) -> None:
        assert self._client is not None
        if channel.label in self.broken:
            self._finish(
                channel,
                item,
                Outcome(FAILED, item.attempts, f"channel broken: {self.broken[channel.label]}"),
            )
            return
        await limiter.acquire()
        msg = Message.from_payload(item.payload)
        outcome = await deliver(
            channel,
            self._client,
            msg,
            self.policy,
            self.clock,
            attempts_before=item.attempts,
            stop=self._stop,
        )
        if outcome.permanent:
            self.broken[channel.label] = outcome.detail or "refused"
            log.error(
                "alert channel %s (%s) is broken and gets no more messages this run: %s",
                channel.label,
                channel.kind,
                outcome.detail,
            )
        self._finish(channel, item, outcome)

    def _finish(self, channel: Channel, item: OutboxItem, outcome: Outcome) -> None:
        if outcome.status == "stopped":
            return  # still queued in the outbox; the next start sends it
        if not self.store.mark(
            item.id, outcome.status, self.clock.now_ms(), outcome.attempts, outcome.detail
        ):
            log.warning("alert %s on %s was closed by someone else", item.id, channel.label)
        if outcome.status == FAILED and not outcome.permanent:
            log.warning("alert to %s failed: %s", channel.label, outcome.detail)
        if self.on_result is not None:
            self.on_result(channel.label, outcome.status)

    def close(self, timeout_s: float | None = None) -> None:
        """Stop taking items, let sends on the wire finish, close the client and the loop."""
        if not self._thread.is_alive():
            return
        grace = timeout_s if timeout_s is not None else self.policy.timeout_s + 1.0

        async def stop() -> None:
            assert self._stop is not None
            self._stop.set()
            for queue in self._queues.values():
                queue.put_nowait(_WAKE)  # unblock idle workers
            _, late = (
                await asyncio.wait(self._workers, timeout=grace)
                if self._workers
                else (set(), set())
            )
            for task in late:
                task.cancel()
            if self._client is not None:
                await self._client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(grace + 5.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)
            if not self._thread.is_alive():
                self._loop.close()


_WAKE = OutboxItem(-1, "", "", "", 0, {})
