"""send_then_retry: the first attempt outside tenacity, the same attempts, waits and errors."""

from __future__ import annotations

import pytest
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from scanner.venues.base import BadRequest, RateLimited, VenueUnavailable, is_retryable
from scanner.venues.retry import send_then_retry


class Script:
    """Answers each call with the next outcome: an exception is raised, a value returned."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        got = self.outcomes.pop(0)
        if isinstance(got, BaseException):
            raise got
        return got


class Loops:
    """A factory of AsyncRetrying loops that records the loops built and the sleeps asked."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self.built = 0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def wait(self, state) -> float:
        exc = state.outcome.exception()
        backoff = wait_exponential(multiplier=0.2)(state)
        return max(exc.retry_after_s, backoff) if isinstance(exc, RateLimited) else backoff

    def __call__(self) -> AsyncRetrying:
        self.built += 1
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            sleep=self.sleep,
            reraise=True,
        )


async def in_the_loop(call: Script, loops: Loops) -> object:
    """Every attempt inside tenacity: what send_then_retry must behave like."""
    async for attempt in loops():
        with attempt:
            return await call()
    raise AssertionError("unreachable")


async def test_a_first_attempt_that_succeeds_builds_no_retry_loop():
    call, loops = Script("ok"), Loops(3)
    assert await send_then_retry(call, loops) == "ok"
    assert (call.calls, loops.built, loops.sleeps) == (1, 0, [])


@pytest.mark.parametrize(
    "outcomes",
    [
        (VenueUnavailable("v", "down"), "ok"),
        (RateLimited("v", "slow down", retry_after_s=2.5), VenueUnavailable("v", "down"), "ok"),
        (VenueUnavailable("v", "down"),) * 2 + ("ok",),
    ],
    ids=["one-retry", "rate-limit-wait", "two-retries"],
)
async def test_retries_send_and_wait_as_the_loop_alone_does(outcomes):
    fast, fast_loops = Script(*outcomes), Loops(3)
    slow, slow_loops = Script(*outcomes), Loops(3)
    assert await send_then_retry(fast, fast_loops) == await in_the_loop(slow, slow_loops)
    assert fast.calls == slow.calls == len(outcomes)
    assert fast_loops.sleeps == slow_loops.sleeps and fast_loops.sleeps


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_attempts_are_counted_from_the_first_and_the_last_error_is_raised(attempts):
    errors = [VenueUnavailable("v", f"down {i}") for i in range(5)]
    fast, loops = Script(*errors), Loops(attempts)
    with pytest.raises(VenueUnavailable) as raised:
        await send_then_retry(fast, loops)
    assert fast.calls == attempts
    assert raised.value is errors[attempts - 1]
    assert len(loops.sleeps) == attempts - 1


@pytest.mark.parametrize(
    "error",
    [
        BadRequest("v", "no"),
        RateLimited("v", "banned", retry_after_s=600.0, ban=True),
        RuntimeError("bug"),
    ],
    ids=["permanent", "ban", "not-a-venue-error"],
)
async def test_an_error_that_is_not_retried_is_raised_after_one_call(error):
    call, loops = Script(error, "never"), Loops(3)
    with pytest.raises(type(error)) as raised:
        await send_then_retry(call, loops)
    assert raised.value is error
    assert (call.calls, loops.built) == (1, 0)
