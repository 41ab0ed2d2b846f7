"""Retries with exponential backoff and full jitter, shared by every network backend.

Only :class:`twofaced.errors.RetryableError` is retried (rate limits, 5xx, timeouts, dropped connections);
a server's ``Retry-After`` is honoured as a floor on the wait. Auth and bad-request errors surface at once,
and so does a refused connection (:class:`ConnectError`): nothing listens there, and the engine stops the run
with the store intact rather than burn minutes of backoff on every item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from ..errors import RetryableError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one request. ``attempts`` counts the first try."""

    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0


class _AttemptNumber:
    """The one field of a ``RetryCallState`` that tenacity's exponential waits read."""

    __slots__ = ("attempt_number",)

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


class _WaitHonouringRetryAfter:
    """The wait after a failed attempt: exponential backoff with full jitter, ``Retry-After`` as a floor.

    ``offset`` is how many attempts ran before tenacity's loop started (its attempt 1 is our ``offset + 1``).
    """

    def __init__(self, policy: RetryPolicy, offset: int = 0) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
        self._max = policy.max_wait
        self._offset = offset

    def after(self, attempt_number: int, exc: BaseException | None) -> float:
        wait = self._jitter(_AttemptNumber(attempt_number))  # type: ignore[arg-type]
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            wait = max(wait, min(float(retry_after), self._max))
        return float(wait)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.after(state.attempt_number + self._offset, exc)


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run ``call`` until it succeeds, a non-retryable error is raised, or attempts run out.

    Fast path: the first attempt is a plain call (building tenacity's machinery costs about 50 µs, as much as
    the rest of a loopback request's client code); only a :class:`RetryableError` enters tenacity's loop, for
    the remaining ``attempts - 1`` tries, with the same waits as one loop over all of them.
    """
    try:
        return await call()
    except RetryableError as exc:
        attempts = max(1, policy.attempts)
        if attempts == 1:
            raise
        wait = _WaitHonouringRetryAfter(policy, offset=1)
        await asyncio.sleep(wait.after(1, exc))
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(attempts - 1),
        wait=wait,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
