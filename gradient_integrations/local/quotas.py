"""Rate limits and their headers on `/v1/responses` and `/v1/chat/completions`, as DO's serverless inference
sends them.

Each caller (one per `Authorization` value, kept as a digest; requests without one share a key) has three
fixed windows, each starting at its first use: requests per minute, tokens per minute and tokens per day
(`RateLimits`; the generous defaults, `DEFAULT_RATE_LIMITS`, are never reached by tests or benchmarks that
do not lower them). A request is counted when it is admitted (also when it is then refused with a `400`);
its tokens (input + output) when its answer is ready, before it is sent. A request that finds any window
used up is answered `429` with DO's body (`{"id": "too_many_requests", "message": "API rate limit
exceeded."}`), `retry-after: <whole seconds>` and the headers below, and is not counted.

Every answer of those routes (and their `429`s, staged fault ones too) carries:

    x-ratelimit-limit-requests / -remaining-requests / -reset-requests
    x-ratelimit-limit-tokens-per-minute / -remaining-tokens-per-minute / -reset-tokens-per-minute
    x-ratelimit-limit-tokens-per-day / -remaining-tokens-per-day / -reset-tokens-per-day
    ratelimit-limit / ratelimit-remaining / ratelimit-reset     (IETF draft names, for requests)

The `x-` resets are durations as OpenAI writes them (Go's format: `250ms`, `1s`, `59.5s`, `6m0s`,
`23h59m59s`; `0s` for a window not started), `ratelimit-reset` whole seconds (rounded up).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_RATE_LIMITS", "QuotaExceeded", "Quotas", "RateLimits", "Ticket", "go_duration"]

_MINUTE = 60.0
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-caller limits: requests per minute, tokens per minute, tokens per day."""

    requests_per_minute: int = 1_000_000
    tokens_per_minute: int = 1_000_000_000
    tokens_per_day: int = 100_000_000_000

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute", "tokens_per_day"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RateLimits.{name} must be a positive whole number, got {value!r}")


DEFAULT_RATE_LIMITS = RateLimits()


def go_duration(seconds: float) -> str:
    """`seconds` as Go's `time.Duration` prints it, to the millisecond: `250ms`, `59.5s`, `6m0s`, `1h0m0s`."""
    millis = math.ceil(seconds * 1000 - 1e-6)
    if millis <= 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


@dataclass(slots=True)
class _Window:
    length: float
    limit: int
    started: float | None = None
    used: int = 0

    def roll(self, now: float) -> None:
        if self.started is not None and now >= self.started + self.length:
            self.started, self.used = None, 0

    def spend(self, amount: int, now: float) -> None:
        if self.started is None:
            self.started = now
        self.used += amount

    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def reset(self, now: float) -> float:
        return 0.0 if self.started is None else max(self.started + self.length - now, 0.0)


@dataclass(slots=True)
class _Caller:
    requests: _Window
    tokens_minute: _Window
    tokens_day: _Window
    windows: tuple[_Window, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.windows = (self.requests, self.tokens_minute, self.tokens_day)


class QuotaExceeded(Exception):
    """A window is used up: answer 429 with these headers (`retry-after` included)."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("API rate limit exceeded.")
        self.headers = headers


class Ticket:
    """One admitted request: spend its tokens, then read the headers its answer carries."""

    def __init__(self, quotas: Quotas, caller: _Caller) -> None:
        self._quotas = quotas
        self._caller = caller

    def spend_tokens(self, tokens: int) -> None:
        with self._quotas.lock:
            now = self._quotas.clock()
            for window in (self._caller.tokens_minute, self._caller.tokens_day):
                window.roll(now)
                window.spend(tokens, now)

    def headers(self) -> dict[str, str]:
        with self._quotas.lock:
            return _headers(self._caller, self._quotas.clock())


class Quotas:
    """The per-caller windows of one app (bounded: the least recently seen callers are forgotten)."""

    def __init__(
        self, limits: RateLimits = DEFAULT_RATE_LIMITS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.lock = threading.Lock()
        self._callers: OrderedDict[str, _Caller] = OrderedDict()
        self._capacity = 10_000

    def admit(self, authorization: str | None) -> Ticket:
        """Count one request of this caller, or raise `QuotaExceeded` (the request is then not counted)."""
        key = hashlib.sha256(authorization.encode()).hexdigest()[:32] if authorization else "-"
        with self.lock:
            now = self.clock()
            caller = self._callers.pop(key, None) or self._new_caller()
            self._callers[key] = caller
            if len(self._callers) > self._capacity:
                self._callers.popitem(last=False)
            for window in caller.windows:
                window.roll(now)
            full = [window for window in caller.windows if window.remaining() == 0]
            if full:
                headers = _headers(caller, now)
                headers["retry-after"] = str(max(math.ceil(max(w.reset(now) for w in full)), 1))
                raise QuotaExceeded(headers)
            caller.requests.spend(1, now)
            return Ticket(self, caller)

    def _new_caller(self) -> _Caller:
        limits = self.limits
        return _Caller(
            _Window(_MINUTE, limits.requests_per_minute),
            _Window(_MINUTE, limits.tokens_per_minute),
            _Window(_DAY, limits.tokens_per_day),
        )


def _headers(caller: _Caller, now: float) -> dict[str, str]:
    headers: dict[str, str] = {}
    for window, suffix in (
        (caller.requests, "requests"),
        (caller.tokens_minute, "tokens-per-minute"),
        (caller.tokens_day, "tokens-per-day"),
    ):
        headers[f"x-ratelimit-limit-{suffix}"] = str(window.limit)
        headers[f"x-ratelimit-remaining-{suffix}"] = str(window.remaining())
        headers[f"x-ratelimit-reset-{suffix}"] = go_duration(window.reset(now))
    requests = caller.requests
    headers["ratelimit-limit"] = str(requests.limit)
    headers["ratelimit-remaining"] = str(requests.remaining())
    headers["ratelimit-reset"] = str(math.ceil(requests.reset(now)))
    return headers
