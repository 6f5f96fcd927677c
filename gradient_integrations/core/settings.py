"""Where the access key, endpoint, timeouts and retry count come from, in one documented order.

Key:      explicit `api_key` > GRADIENT_MODEL_ACCESS_KEY > MODEL_ACCESS_KEY > DIGITALOCEAN_INFERENCE_KEY.
Endpoint: explicit `base_url` > GRADIENT_INFERENCE_ENDPOINT > https://inference.do-ai.run.
The endpoint may be given with or without a trailing `/v1` and `/`; requests go to `<root>/v1/responses`.
A URL copied from DO's docs with the path included (`.../v1/responses`) is read as its root; one ending in
another API path (`/v1/chat/completions`, `/v1/embeddings`, ...) is a ConfigurationError naming the root.
A loopback endpoint (the local server) needs no key; any other endpoint without one is a ConfigurationError.

Time limits, in seconds, each > 0 (else a ConfigurationError naming it); None means "default":

  timeout              each attempt's httpx limits: connect, read (the longest wait for the next bytes),
                       write, pool. A number sets them all but caps connect at 5 s; `(connect, read)` or an
                       `httpx.Timeout` set them one by one. Default 60 s, 5 s to connect (DO's SDK).
                       On top of those per-read limits, an attempt must have its response headers, and a
                       JSON answer its whole body, within connect + read seconds: a server trickling bytes
                       cannot hold an attempt open longer.
  stream_idle_timeout  the longest wait for the next stream *event* is min(read timeout,
                       stream_idle_timeout). Bytes that complete no event (`: keep-alive` comments, a
                       trickled line) do not restart it. Default None: the read timeout alone.
  deadline             the whole call: every attempt, every wait between retries (Retry-After included) and
                       the whole stream. A retry whose wait would not end before the deadline is not made
                       (the failure is raised as it is). When it passes: APITimeoutError, or
                       StreamTimeoutError (with `.partial`) once a stream has begun. Default None: until an
                       answer begins, (max_retries + 1) x (connect + read); a stream that has begun then
                       runs as long as its events keep coming. `math.inf`: no limit at all.

These limits are enforced on every socket read and write of the pools the client opens (`deadlines`); with
an injected httpx client or transport they are checked between reads and events instead.

Size: `max_response_bytes` (default 16 MiB) bounds a JSON answer, decompressed, and each stream line and
event; over it, ResponseTooLargeError (StreamValidationError in a stream), and reading stops.

Plain http: the key is sent over `http://` only to a loopback host (127.0.0.0/8, ::1, localhost) unless
`allow_insecure_http=True`; any other `http://` endpoint with a key is a ConfigurationError.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from .errors import ConfigurationError, InvalidRequestError
from .secrets import API_KEY_ENV_VARS, AccessKey, key_from_environment

__all__ = [
    "API_KEY_ENV_VARS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ENDPOINT_ENV_VAR",
    "Settings",
    "check_headers",
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
# A JSON answer (decompressed), one stream line, one stream event. The largest real answers (a long
# reasoning trace, a completed event repeating the whole output) are well under 1 MB.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
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


def insecure_http_error(base_url: str) -> ConfigurationError:
    return ConfigurationError(
        f"Refusing to send the access key in cleartext to {base_url}: use https, or pass "
        "allow_insecure_http=True if this http endpoint is on a network you trust (a proxy, a container "
        "host). Loopback addresses (127.0.0.1, ::1, localhost) need neither."
    )


def resolve_api_key(explicit: str | SecretStr | None = None) -> AccessKey | None:
    """The key from the argument or the first env var that is set, as an `AccessKey`."""
    return AccessKey.of(explicit) or key_from_environment()


def normalize_base_url(base_url: str | None = None) -> str:
    """`https://host[/v1][/]` -> `https://host`; falls back to the env var, then the DO default."""
    return _normalized_root((base_url or os.environ.get(ENDPOINT_ENV_VAR) or DEFAULT_BASE_URL).strip())


# Paths of DO's other inference routes: a base_url ending in one is a copy-paste of the wrong URL.
_OTHER_API_PATHS = ("/chat/completions", "/completions", "/embeddings", "/models", "/batches", "/messages")


# Cached: adapters resolve the endpoint on every call (LangChain asks for `_identifying_params` each
# time), and parsing a URL costs about as much as the rest of our per-call work (benchmarks/).
@functools.lru_cache(maxsize=64)
def _normalized_root(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"base_url is not a valid URL ({exc}): {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}")
    url = url.rstrip("/")
    # The full endpoint URL, as DO's docs print it: the root is what the user meant.
    for suffix in ("/v1/responses", "/responses"):
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
            break
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    for path in _OTHER_API_PATHS:
        if url.endswith(path):
            root = url[: -len(path)].removesuffix("/v1")
            raise ConfigurationError(
                f"base_url: {url!r} ends in the API path {path!r}; pass the endpoint's root, "
                f"base_url={root!r}; this library adds /v1/responses (and /v1/embeddings, /v1/models, "
                "/v1/batches) itself"
            )
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


# RFC 9110 token characters for a header name; a value may not hold CR, LF or NUL (header injection).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


def check_headers(headers: object, field: str) -> dict[str, str]:
    """`headers` as a lower-cased dict, or InvalidRequestError naming the bad name or value."""
    if not isinstance(headers, Mapping):
        raise InvalidRequestError(
            field, f"must be a mapping of header names to strings, got {type(headers).__name__}"
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidRequestError(field, f"{name!r} is not a valid header name")
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"{field}[{name!r}]",
                f"header values must be strings, got {type(value).__name__}: pass str(value)",
            )
        if _HEADER_VALUE_FORBIDDEN.search(value):
            raise InvalidRequestError(f"{field}[{name!r}]", "a header value may not contain CR, LF or NUL")
        checked[name.lower()] = value
    return checked


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

    Time limits (the module docstring has the whole rule): `timeout` bounds each read, and an attempt's
    headers (and JSON body) to `attempt_limit`, connect + read; on a stream the wait for the next event is
    `stream_read_timeout`, min(timeout.read, stream_idle_timeout); `deadline`, when set, bounds the whole
    call, retries and stream included, else `start_deadline` bounds it until its answer begins.
    """

    base_url: str
    api_key: SecretStr | None = field(repr=False)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_retries: int = DEFAULT_MAX_RETRIES
    stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT
    default_headers: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    allow_insecure_http: bool = False

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
        max_response_bytes: int | None = None,
        allow_insecure_http: bool = False,
    ) -> Settings:
        root = normalize_base_url(base_url)
        key = resolve_api_key(api_key)
        loopback = is_loopback(root)
        if key is None and require_key and not loopback:
            raise missing_key_error(root)
        if key is not None and root.startswith("http:") and not loopback and allow_insecure_http is not True:
            raise insecure_http_error(root)
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {retries}")
        resolved_timeout = _as_timeout(timeout)
        _check_seconds("stream_idle_timeout", stream_idle_timeout)
        _check_seconds("deadline", deadline)
        size = DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigurationError(f"max_response_bytes must be a whole number of bytes > 0, got {size!r}")
        try:
            headers = check_headers(default_headers or {}, "default_headers")
        except InvalidRequestError as exc:
            raise ConfigurationError(str(exc)) from None
        if "authorization" in headers:
            raise ConfigurationError("default_headers must not carry Authorization: pass api_key instead")
        return cls(
            base_url=root,
            api_key=key,
            timeout=resolved_timeout,
            max_retries=retries,
            stream_idle_timeout=stream_idle_timeout,
            default_headers=headers,
            deadline=deadline,
            max_response_bytes=size,
            allow_insecure_http=allow_insecure_http is True,
        )

    @classmethod
    def of(cls, owner: Any) -> Settings:
        """The settings an adapter class holds as fields of these names (`stream_idle_timeout` optional:
        embeddings do not stream). The key is checked when a call is made, not here, so a model can be
        built and pickled without one."""
        return cls.resolve(
            api_key=owner.api_key,
            base_url=owner.base_url,
            timeout=owner.timeout,
            max_retries=owner.max_retries,
            stream_idle_timeout=getattr(owner, "stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT),
            deadline=owner.deadline,
            max_response_bytes=owner.max_response_bytes,
            allow_insecure_http=owner.allow_insecure_http,
            default_headers=owner.default_headers,
            require_key=False,
        )

    @property
    def responses_url(self) -> str:
        return self.url("responses")

    def url(self, path: str) -> str:
        """The URL of an endpoint path under `/v1` (`responses`, `embeddings`, `models`)."""
        return f"{self.base_url}/v1/{path}"

    @property
    def stream_read_timeout(self) -> float | None:
        """The longest wait between two stream chunks: min(timeout.read, stream_idle_timeout); None: none."""
        return _shorter(self.timeout.read, self.stream_idle_timeout)

    @property
    def attempt_limit(self) -> float | None:
        """Seconds an attempt has to get its headers (and a JSON answer its body): connect + read."""
        read = self.timeout.read
        return None if read is None else read + (self.timeout.connect or 0.0)

    @property
    def start_deadline(self) -> float | None:
        """Seconds for a call until its answer begins (all of a JSON call); None: no limit."""
        if self.deadline is not None:
            return None if math.isinf(self.deadline) else self.deadline
        attempt = self.attempt_limit
        return None if attempt is None else attempt * (self.max_retries + 1)

    @property
    def stream_deadline(self) -> float | None:
        """Seconds for a whole streamed call: the explicit deadline only; None: no limit."""
        deadline = self.deadline
        return None if deadline is None or math.isinf(deadline) else deadline

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
