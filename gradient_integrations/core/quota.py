"""Quota headers: how much of the rate limits is left, read from any answer's headers, success or error.

DO documents ("Quota-specific response headers") `x-ratelimit-{limit,remaining,reset}-{requests,
tokens-per-minute,tokens-per-day}`; its API description the IETF-draft `ratelimit-limit`, `ratelimit-
remaining`, `ratelimit-reset` and, on a 429, `retry-after` (seconds); OpenAI, for forwarded models,
`x-ratelimit-*-requests` / `*-tokens`. `parse_quota` reads all of them into one `Quota`: results carry it
(`ResponseResult.quota`), errors too (`APIStatusError.quota`), and the retry policy asks it how long the
server wants us to wait (`Quota.wait`).

`retry-after` is also read as an HTTP date, and `retry-after-ms` (Stainless SDKs) wins over it. Reset
values come as seconds (`"12"`, `"0.5"`), as Go-style durations (`"6m0s"`, `"1h2m3.5s"`, `"250ms"`,
OpenAI's form), or as a Unix time (a number past 10^9). A value that is none of these is ignored, never an
error: quota headers inform, they must not break a call.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Quota", "RateLimit", "parse_duration", "parse_quota", "quota_from", "quota_headers"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_EPOCH = 1e9  # a "reset" this large is a point in time, not a number of seconds


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One limit: its size, what is left of it, and seconds until it resets (each None if not sent)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True, slots=True)
class Quota:
    """The rate limits an answer reported. `retry_after` is the server's own "wait this long" (429s)."""

    requests: RateLimit | None = None
    tokens_per_minute: RateLimit | None = None
    tokens_per_day: RateLimit | None = None
    retry_after: float | None = None

    def wait(self) -> float | None:
        """Seconds the server asks us to wait: `retry-after`, else the reset of an exhausted limit (the
        longest, when several are); None when it does not say."""
        if self.retry_after is not None:
            return self.retry_after
        resets = [
            limit.reset
            for limit in (self.requests, self.tokens_per_minute, self.tokens_per_day)
            if limit is not None and limit.exhausted and limit.reset is not None
        ]
        return max(resets) if resets else None


def parse_duration(value: str | None) -> float | None:
    """Seconds in `value`: a number, a Go-style duration or a Unix time; None when unreadable."""
    if value is None:
        return None
    text = value.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pieces = _DURATION.findall(text)
        if not pieces or "".join(number + unit for number, unit in pieces) != text:
            return None
        return sum(float(number) * _UNITS[unit] for number, unit in pieces)
    if seconds != seconds or seconds < 0:  # NaN or negative: not a wait
        return None
    return max(0.0, seconds - time.time()) if seconds > _EPOCH else seconds


def _integer(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _limit(headers: Mapping[str, str], prefix: str, suffix: str) -> RateLimit | None:
    found = RateLimit(
        limit=_integer(headers.get(f"{prefix}limit{suffix}")),
        remaining=_integer(headers.get(f"{prefix}remaining{suffix}")),
        reset=parse_duration(headers.get(f"{prefix}reset{suffix}")),
    )
    return None if found == RateLimit() else found


_PREFIXES = ("x-ratelimit-", "ratelimit-", "retry-after")


def quota_headers(headers: Mapping[str, str], *also: str) -> dict[str, str]:
    """The quota headers among `headers` (and the headers named in `also`), by lower-case name.

    One pass over an `httpx.Headers`' raw bytes, decoding only the matches: this runs on every answer,
    and a dozen `headers.get` lookups, each walking every header, cost ten times as much.
    """
    raw = getattr(headers, "raw", None)
    if isinstance(raw, list):
        wanted = _encoded(also)
        return {
            name.lower().decode("latin-1"): value.decode("latin-1")
            for name, value in raw
            if name.lower().startswith(wanted)
        }
    prefixes = (*_PREFIXES, *also)
    return {name.lower(): value for name, value in headers.items() if name.lower().startswith(prefixes)}


@functools.cache
def _encoded(also: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(prefix.encode() for prefix in (*_PREFIXES, *also))


def parse_quota(headers: Mapping[str, str]) -> Quota | None:
    """The quota `headers` report (a case-insensitive mapping, e.g. `httpx.Headers`); None if none."""
    return quota_from(quota_headers(headers))


def quota_from(headers: dict[str, str]) -> Quota | None:
    """The quota in headers `quota_headers` picked out."""
    if not headers:
        return None
    requests = _limit(headers, "x-ratelimit-", "-requests") or _limit(headers, "ratelimit-", "")
    quota = Quota(
        requests=requests,
        tokens_per_minute=_limit(headers, "x-ratelimit-", "-tokens-per-minute")
        or _limit(headers, "x-ratelimit-", "-tokens"),
        tokens_per_day=_limit(headers, "x-ratelimit-", "-tokens-per-day"),
        retry_after=_retry_after(headers),
    )
    return None if quota == Quota() else quota


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (Stainless SDKs), else `retry-after` as seconds or as an HTTP date."""
    milliseconds = parse_duration(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    value = headers.get("retry-after")
    seconds = parse_duration(value)
    if seconds is not None or value is None:
        return seconds
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # a header we cannot read must not turn a retryable error into a crash
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)  # HTTP dates are always GMT
    return parsed.timestamp() - time.time()
