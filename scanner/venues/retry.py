"""Send once; build the retry machinery only when that attempt failed and may be retried.

Why: both our venue clients retry temporary errors with tenacity (``AsyncRetrying``: backoff,
stop, wait per venue). Entering its loop costs ~18 us of CPU per call even when the first
attempt succeeds - its attempt objects, retry state, action chain and an extra coroutine
hop - and a steady scan makes ~150 calls that almost all succeed the first time. Here the
first attempt runs as a plain await; only a failure that ``is_retryable`` accepts starts the
caller's ``AsyncRetrying``, whose first attempt re-raises that failure, so its wait (backoff,
a rate limit's ``retry_after``), its stop (attempts counted from the first) and its final
re-raise are exactly what they were with every attempt inside the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying

from scanner.venues.base import is_retryable

T = TypeVar("T")


async def send_then_retry(
    call: Callable[[], Awaitable[T]], retrying: Callable[[], AsyncRetrying]
) -> T:
    """``call()`` once; on a retryable failure, the attempts left under ``retrying()``."""
    try:
        return await call()
    except Exception as exc:
        if not is_retryable(exc):
            raise
        first = exc
    replay = [first]
    """The attempt already made: the loop's first attempt fails with it again."""
    async for attempt in retrying():
        with attempt:
            if replay:
                raise replay.pop()
            return await call()
    raise AssertionError("unreachable: AsyncRetrying reraises the last error")  # pragma: no cover
