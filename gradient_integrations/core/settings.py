"""Where the access key, endpoint, timeouts and retry count come from, in one documented order.

Key:      explicit `api_key` > GRADIENT_MODEL_ACCESS_KEY > MODEL_ACCESS_KEY > DIGITALOCEAN_INFERENCE_KEY.
Endpoint: explicit `base_url` > GRADIENT_INFERENCE_ENDPOINT > https://inference.do-ai.run.
The endpoint may be given with or without a trailing `/v1` and `/`; requests go to `<root>/v1/responses`.
A loopback endpoint (the local server) needs no key; any other endpoint without one is a ConfigurationError.

Time limits, in seconds, each > 0 (else a ConfigurationError naming it); None means "no limit" / "default":

  timeout              each attempt's httpx limits: connect, read (the longest wait for the next bytes),
                       write, pool. A number sets them all but caps connect at 5 s; `(connect, read)` or an
                       `httpx.Timeout` set them one by one. Default 60 s, 5 s to connect (DO's SDK).
  stream_idle_timeout  the longest wait between two stream chunks is min(read timeout, stream_idle_timeout):
                       it can only shorten the read timeout on streams, never lengthen it. Default None:
                       the read timeout alone.
  deadline             the whole call: every attempt, every wait between retries (Retry-After included) and
                       the whole stream. A retry whose wait would not end before the deadline is not made
                       (the failure is raised as it is); each attempt's limits are cut to the time left when
                       it starts; a stream checks the clock after each event. When it passes: APITimeoutError,
                       or StreamTimeoutError (with `.partial`) once a stream has begun. A read already
                       waiting ends by its own (cut) limit, so a stream that stalls late can outlive the
                       deadline by at most one such wait. Default None: no limit.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from .errors import ConfigurationError
from .secrets import API_KEY_ENV_VARS, AccessKey, key_from_environment

__all__ = [
    "API_KEY_ENV_VARS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ENDPOINT_ENV_VAR",
    "Settings",
    "is_loopback",
    "missing_key_error",
    "normalize_base_url",
    "resolve_api_key",
]

ENDPOINT_ENV_VAR = "GRADIENT_INFERENCE_ENDPOINT"
DEFAULT_BASE_URL = "https://inference.do-ai.run"
# Same as DO's official (Stainless) SDK: 60 s overall/read, 5 s to connect, 2 retries.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
# None: a stream waits for each chunk as long as the read timeout allows (see the module docstring).
DEFAULT_STREAM_IDLE_TIMEOUT: float | None = None
# The openai SDK's pool, not DO's SDK's (100 connections, 20 kept alive): model calls last seconds, so a
# burst of parallel calls wider than 100 would queue behind whole generations, and httpcore's queue
# scans every connection for every waiting request (benchmarks/RESULTS.md, 2b, measures a 500-call burst
# on both pools).
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

TimeoutLike = float | tuple[float, float] | httpx.Timeout | None


def missing_key_error(base_url: str) -> ConfigurationError:
    """The one error for a remote endpoint without a key, raised by `Settings.resolve` and at call time."""
    return ConfigurationError(
        f"No access key for {base_url}: pass api_key=... or set one of "
        f"{', '.join(API_KEY_ENV_VARS)} (checked in that order). "
        "A loopback base_url (the local server) needs no key."
    )


def resolve_api_key(explicit: str | SecretStr | None = None) -> AccessKey | None:
    """The key from the argument or the first env var that is set, as an `AccessKey`."""
    return AccessKey.of(explicit) or key_from_environment()


def normalize_base_url(base_url: str | None = None) -> str:
    """`https://host[/v1][/]` -> `https://host`; falls back to the env var, then the DO default."""
    return _normalized_root((base_url or os.environ.get(ENDPOINT_ENV_VAR) or DEFAULT_BASE_URL).strip())


# Cached: adapters resolve the endpoint on every call (LangChain asks for `_identifying_params` each
# time), and parsing a URL costs about as much as the rest of our per-call work (benchmarks/).
@functools.lru_cache(maxsize=64)
def _normalized_root(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}")
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


@functools.lru_cache(maxsize=64)
def is_loopback(base_url: str) -> bool:
    host = httpx.URL(base_url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_seconds(name: str, value: float | None) -> None:
    # `not value > 0` also refuses NaN, which every comparison would otherwise let through.
    if value is not None and not value > 0:
        raise ConfigurationError(f"{name} must be > 0 seconds, got {value}")


def _as_timeout(timeout: TimeoutLike) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        for part in ("connect", "read", "write", "pool"):
            _check_seconds(f"timeout.{part}", getattr(timeout, part))
        return timeout
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ConfigurationError(f"timeout as a tuple must be (connect, read), got {timeout!r}")
        connect, read = timeout
        _check_seconds("timeout.connect", connect)
        _check_seconds("timeout.read", read)
        return httpx.Timeout(read, connect=connect)
    _check_seconds("timeout", timeout)
    return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_TIMEOUT.connect or 5.0))


def _shorter(first: float | None, second: float | None) -> float | None:
    """The smaller of two limits where None means no limit."""
    if first is None:
        return second
    return first if second is None else min(first, second)


@dataclass(frozen=True)
class Settings:
    """Resolved, validated settings for one core client. Never shows the key in its repr.

    Time limits (the module docstring has the whole rule): `timeout` bounds each attempt; on a stream the
    wait between two chunks is `stream_read_timeout`, min(timeout.read, stream_idle_timeout); `deadline`,
    when set, bounds the whole call, retries and stream included.
    """

    base_url: str
    api_key: SecretStr | None = field(repr=False)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_retries: int = DEFAULT_MAX_RETRIES
    stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT
    default_headers: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
        default_headers: Mapping[str, str] | None = None,
        require_key: bool = True,
        deadline: float | None = None,
    ) -> Settings:
        root = normalize_base_url(base_url)
        key = resolve_api_key(api_key)
        if key is None and require_key and not is_loopback(root):
            raise missing_key_error(root)
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {retries}")
        resolved_timeout = _as_timeout(timeout)
        _check_seconds("stream_idle_timeout", stream_idle_timeout)
        _check_seconds("deadline", deadline)
        headers = dict(default_headers or {})
        if any(name.lower() == "authorization" for name in headers):
            raise ConfigurationError("default_headers must not carry Authorization: pass api_key instead")
        return cls(
            base_url=root,
            api_key=key,
            timeout=resolved_timeout,
            max_retries=retries,
            stream_idle_timeout=stream_idle_timeout,
            default_headers=headers,
            deadline=deadline,
        )

    @property
    def responses_url(self) -> str:
        return f"{self.base_url}/v1/responses"

    @property
    def stream_read_timeout(self) -> float | None:
        """The longest wait between two stream chunks: min(timeout.read, stream_idle_timeout); None: none."""
        return _shorter(self.timeout.read, self.stream_idle_timeout)

    def auth_headers(self) -> dict[str, str]:
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}

    # Immutable, so a copy is the object itself. Pickling needs nothing special: the key is an
    # AccessKey, which pickles as "read it from the environment".
    def __copy__(self) -> Settings:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Settings:
        return self
