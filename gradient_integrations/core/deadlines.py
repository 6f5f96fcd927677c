"""The call clock: wall-clock limits that every socket read, write and connect of our own pools obeys.

httpx's timeouts bound each socket operation, so a server that keeps bytes flowing (headers or a body
trickled a byte at a time, SSE comments every second) never trips one. This module closes that gap:

* `CallClock` is one call's clock. `until` is the instant the current phase must end by (getting the
  response headers, reading a JSON body, or waiting for the next stream event); `ends` is the whole call's
  deadline. The client moves `until` as the call goes from phase to phase.
* `use(clock)` makes a clock the current one (a context variable, so threads and asyncio tasks each have
  their own). The client sets it before every step that reads from the network.
* `cap_backend(transport)` wraps the network backend of a transport's connection pool so that every
  socket operation's timeout is cut to the time left on the current clock; when none is left it fails at
  once with the timeout httpx expects (`ReadTimeout`, `WriteTimeout`, `ConnectTimeout`). Sync and async
  alike: the limit is enforced where the bytes are read, not by a watchdog.

A caller's injected `httpx.Client`/transport is not wrapped (it is theirs): there the client still checks
the clock between events and cuts each attempt's httpx limits to the time left (see `client`).
"""

from __future__ import annotations

import contextvars
import ssl
import time
import typing
from typing import Any

import httpcore
import httpx

__all__ = ["CallClock", "cap_backend", "use"]


class CallClock:
    """One call's limits on the monotonic clock: `until` for the current phase, `ends` for the whole call."""

    __slots__ = ("ends", "until")

    def __init__(self, ends: float | None) -> None:
        self.ends = ends
        self.until = ends

    def phase(self, seconds: float | None) -> None:
        """Start a phase that must end within `seconds` (None: no limit of its own), and by `ends`."""
        if seconds is None:
            self.until = self.ends
            return
        end = time.monotonic() + seconds
        self.until = end if self.ends is None or end < self.ends else self.ends

    def left(self) -> float | None:
        """Seconds left in the current phase (negative once it passed); None without a limit."""
        return None if self.until is None else self.until - time.monotonic()

    def call_left(self) -> float | None:
        """Seconds left before the whole call's deadline; None without one."""
        return None if self.ends is None else self.ends - time.monotonic()


_current: contextvars.ContextVar[CallClock | None] = contextvars.ContextVar(
    "gradient_integrations_call_clock", default=None
)


# `use(clock)` makes `clock` the current call's clock in this thread or task; the client calls it before
# every network step. The context variable's own `set`: no Python frame on the hot path.
use = _current.set


def _cut(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    clock = _current.get()
    if clock is None or clock.until is None:
        return timeout
    left = clock.until - time.monotonic()
    if left <= 0:
        raise expired("the call's time limit passed")
    return left if timeout is None or left < timeout else timeout


class _CappedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout))
        return _CappedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CappedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _cut(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _CappedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _cut(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _CappedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncCappedStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._stream.start_tls(
            ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout)
        )
        return _AsyncCappedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncCappedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, _cut(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _AsyncCappedStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(
            path, _cut(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _AsyncCappedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def cap_backend(transport: httpx.HTTPTransport | httpx.AsyncHTTPTransport) -> bool:
    """Make the transport's pool obey the current clock; False if this httpx keeps its pool elsewhere.

    httpx has no public hook for the network backend of the pool it builds, so this reaches for the pool
    (`_pool`, stable from httpx 0.23 to 0.28) and swaps its backend (httpcore's public constructor
    argument, stored as `_network_backend`). If either is missing, the client falls back to the coarse
    checks it makes without a capped backend.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        return False
    if isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _AsyncCappedBackend(backend)  # type: ignore[union-attr]
    else:
        pool._network_backend = _CappedBackend(backend)  # type: ignore[union-attr]
    return True
