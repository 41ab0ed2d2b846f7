"""Retries with exponential backoff and full jitter, shared by every network backend.

Only :class:`twofaced.errors.RetryableError` is retried (rate limits, 5xx, timeouts, dropped connections);
a server's ``Retry-After`` is honoured as a floor on the wait. Auth and bad-request errors surface at once,
and so does a refused connection (:class:`ConnectError`): nothing listens there, and the engine stops the run
with the store intact rather than burn minutes of backoff on every item.
"""

from __future__ import annotations

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


class _WaitHonouringRetryAfter:
    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
        self._max = policy.max_wait

    def __call__(self, state: RetryCallState) -> float:
        wait = self._jitter(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            wait = max(wait, min(float(retry_after), self._max))
        return wait


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run ``call`` until it succeeds, a non-retryable error is raised, or attempts run out."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=_WaitHonouringRetryAfter(policy),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
