"""The one retry policy: which failures are retried, and how long to wait before the next attempt.

Same rules as DO's official SDK: `x-should-retry` wins; else 408, 409, 429 and >= 500 are retried, as are
connection errors and timeouts. The wait is the server's when it says one within 60 s (`quota.Quota.wait`):
`retry-after-ms`, then `retry-after` (seconds or an HTTP date), then the reset time of a rate limit the
quota headers report exhausted (`x-ratelimit-reset-*`, `ratelimit-reset`); otherwise exponential backoff
from 0.5 s, doubling, capped at 8 s, with up to 25 % jitter. A stream is never retried once its first
event has arrived: the client only consults the policy before it hands the response to the stream decoder.

Under a call deadline (`Settings.deadline`) the client passes the seconds left as `remaining`: a retry
whose wait would not end before then is not made, so no wait, Retry-After included, runs past the deadline
and the caller gets the real failure at once instead of a timeout after a pointless wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from .quota import parse_quota

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait. `sleep`/`async_sleep` are swappable for tests."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def should_retry_status(self, response: httpx.Response) -> bool:
        verdict = response.headers.get("x-should-retry")
        if verdict == "true":
            return True
        if verdict == "false":
            return False
        return response.status_code in RETRYABLE_STATUSES or response.status_code >= 500

    def backoff(self, retries_done: int) -> float:
        delay = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        return delay * (1.0 - self.jitter * random.random())

    def wait_after_status(
        self, retries_done: int, response: httpx.Response, remaining: float | None = None
    ) -> float | None:
        """Seconds to wait before retrying this response, or None when it must not be retried."""
        if retries_done >= self.max_retries or not self.should_retry_status(response):
            return None
        quota = parse_quota(response.headers)
        asked = quota.wait() if quota is not None else None
        if asked is not None and 0 <= asked <= MAX_RETRY_AFTER:
            return _within(asked, remaining)
        return _within(self.backoff(retries_done), remaining)

    def wait_after_error(self, retries_done: int, remaining: float | None = None) -> float | None:
        """Seconds to wait after a connection error or timeout, or None when retries are used up."""
        if retries_done >= self.max_retries:
            return None
        return _within(self.backoff(retries_done), remaining)


def _within(wait: float, remaining: float | None) -> float | None:
    """`wait`, or None when it would not end before the deadline (`remaining` seconds away)."""
    return wait if remaining is None or wait < remaining else None
