"""`ResponsesClient`: the only code that sends HTTP. Sync and async share everything but the I/O.

Shared (in `_ClientBase`): building the httpx request, the retry decisions, mapping failures to typed
errors, logging, and the `ResponseReader` that turns SSE payloads and JSON bodies into deltas and a result.
Each of the two send loops and the two stream loops below is a handful of lines that differ only by `await`.

One sync `httpx.Client` per instance, and one `httpx.AsyncClient` per instance and event loop, are created
lazily and pooled; callers may inject their own clients or transports (tests and benchmarks do), which are
then never closed here. An async pool's connections belong to the loop that opened them, so each loop gets
its own pool, closed on that loop when it shuts down (see `pools`) or by `aclose()`.

Time limits follow the rule in `settings`: each attempt gets the configured httpx timeouts (on a stream,
read = `Settings.stream_read_timeout`); under a deadline they are cut to the time left, retries that could
not start before it are not made, and a stream checks the clock after each event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx
from httpx_sse import EventSource
from pydantic import SecretStr

from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    StreamConnectionError,
    StreamTimeoutError,
    status_error_from_response,
)
from .pools import AsyncPool, close_on_loop_shutdown, run_to_first_yield, running_loop
from .reader import ResponseReader, StreamDelta
from .request import ResponseRequest
from .response import ResponseResult
from .retry import RetryPolicy
from .settings import (
    DEFAULT_LIMITS,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    Settings,
    TimeoutLike,
    _shorter,
    is_loopback,
    missing_key_error,
)
from .streams import AsyncResponseStream, ResponseStream

__all__ = ["AsyncResponseStream", "ResponseStream", "ResponsesClient"]

logger = logging.getLogger("gradient_integrations")

_VERSION = "0.1.0"
# Header names are kept lower-case so merging layers replaces case-insensitively: a caller's
# `authorization` or `accept` must replace ours, never travel alongside it as a second header.
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_SSE_HEADERS = {
    "content-type": "application/json",
    "accept": "text/event-stream",
    "cache-control": "no-store",
}


def _lower_names(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        raise APIError(
            f"Endpoint returned invalid JSON (status {response.status_code}): {response.text[:200]!r}",
            request=response.request,
        ) from None
    if not isinstance(body, dict):
        raise APIError(f"Endpoint returned JSON that is not an object: {type(body).__name__}")
    return body


def _is_event_stream(response: httpx.Response) -> bool:
    # Either form may answer either request: a stream request answered with JSON (a proxy, an old server)
    # or a plain request answered with SSE is read all the same.
    return "text/event-stream" in response.headers.get("content-type", "")


def _body_lost(response: httpx.Response, exc: httpx.TransportError) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Timed out reading the body ({type(exc).__name__})", request=response.request)
    return APIConnectionError(f"Connection lost reading the body: {exc}", request=response.request)


def _left(deadline_at: float | None) -> float | None:
    """Seconds until the deadline (negative once it passed), None without one."""
    return None if deadline_at is None else deadline_at - time.monotonic()


# A timer may fire a hair before the instant it was set for: a read cut to end at the deadline counts as
# the deadline passing when it ends within this margin of it.
_DEADLINE_SLACK = 0.001


_Client = TypeVar("_Client", bound="_ClientBase")


class _ClientBase:
    """Settings, request building and the retry/error decisions shared by both I/O flavours."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        require_key: bool = True,
    ) -> None:
        if retry_policy is not None and max_retries is None:
            max_retries = retry_policy.max_retries
        settings = Settings.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            stream_idle_timeout=stream_idle_timeout,
            deadline=deadline,
            default_headers=default_headers,
            require_key=require_key,
        )
        self._attach(settings, http_client, http_async_client, transport, async_transport, retry_policy)

    @classmethod
    def from_settings(
        cls: type[_Client],
        settings: Settings,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> _Client:
        """A client for settings the caller already resolved (the adapters validate theirs up front)."""
        client = cls.__new__(cls)
        client._attach(settings, http_client, http_async_client, transport, async_transport, retry_policy)
        return client

    def _attach(
        self,
        settings: Settings,
        http_client: httpx.Client | None,
        http_async_client: httpx.AsyncClient | None,
        transport: httpx.BaseTransport | None,
        async_transport: httpx.AsyncBaseTransport | None,
        retry_policy: RetryPolicy | None,
    ) -> None:
        self.settings = settings
        # An explicit max_retries applies to a given policy too, instead of being silently ignored.
        policy = retry_policy or RetryPolicy()
        self.retry_policy = dataclasses.replace(policy, max_retries=settings.max_retries)
        self._http = http_client
        self._ahttp = http_async_client  # injected: used on every loop, never closed here
        self._owns_http = http_client is None
        self._http_finalizer: Callable[[], object] | None = None  # closes the sync pool this instance opened
        # The pools this instance opened, one per event loop (None: no asyncio loop, e.g. under trio).
        self._async_pools: dict[asyncio.AbstractEventLoop | None, AsyncPool] = {}
        self._transport = transport
        # Parsed once: httpx re-parses a URL string on every request, a measurable share of the overhead.
        self._url = httpx.URL(self.settings.responses_url)
        self._async_transport = async_transport
        self._headers = _lower_names(
            {"User-Agent": f"gradient-integrations/{_VERSION}", **self.settings.default_headers}
        )
        timeout = settings.timeout
        self._timeouts = {
            False: timeout,
            # httpx's read timeout bounds each socket read: on a stream, the wait for the next chunk.
            True: httpx.Timeout(
                connect=timeout.connect,
                read=settings.stream_read_timeout,
                write=timeout.write,
                pool=timeout.pool,
            ),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    # -- pickling: settings and policy only, never live connections. The key needs nothing here: it is an
    # AccessKey, which pickles as "read it from the environment".
    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "retry_policy": self.retry_policy}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._attach(state["settings"], None, None, None, None, state["retry_policy"])

    # -- copying: in-process copies keep the key (only a pickle must drop it) ----------------------------
    def __copy__(self: _Client) -> _Client:
        # Injected transports and httpx clients are shared; pools this instance created are not, since
        # each owner closes its own.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        if self._owns_http:
            clone._http = None
            clone._http_finalizer = None
        clone._async_pools = {}
        return clone

    def __deepcopy__(self: _Client, memo: dict[int, Any]) -> _Client:
        return self.__copy__()

    # -- request building --------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self.settings.api_key is None and not is_loopback(self.settings.base_url):
            raise missing_key_error(self.settings.base_url)
        return _lower_names(self.settings.auth_headers())

    def _request_parts(
        self, request: ResponseRequest, *, stream: bool, extra_headers: Mapping[str, str] | None
    ) -> tuple[bytes, dict[str, str], httpx.Timeout]:
        # build_request runs the cross-field checks, but a ResponseRequest made directly or by
        # model_copy(update=...) skips them: repeat them here, before anything is sent.
        request._check_tool_choice()
        headers = {
            **(_SSE_HEADERS if stream else _JSON_HEADERS),
            **self._headers,
            **(_lower_names(extra_headers) if extra_headers else {}),
            **self._auth_headers(),
        }
        return _encode(request.to_body(stream=stream)), headers, self._timeouts[stream]

    # -- the deadline (shared by both loops) -------------------------------------------------------
    def _deadline_at(self) -> float | None:
        """When this call's deadline passes, on the monotonic clock; None without a deadline."""
        deadline = self.settings.deadline
        return None if deadline is None else time.monotonic() + deadline

    def _deadline_passed(self, deadline_at: float | None) -> bool:
        return deadline_at is not None and time.monotonic() >= deadline_at - _DEADLINE_SLACK

    def _fit_to_deadline(
        self, http_request: httpx.Request, timeout: httpx.Timeout, deadline_at: float | None, retries: int
    ) -> None:
        """Cut this attempt's httpx limits to the time left before the deadline, or raise if none is left."""
        left = _left(deadline_at)
        if left is None:
            return
        if left <= 0:
            raise APITimeoutError(
                f"Deadline of {self.settings.deadline} s passed before attempt {retries + 1}",
                request=http_request,
            )
        limits = timeout.as_dict()
        http_request.extensions["timeout"] = {name: _shorter(limit, left) for name, limit in limits.items()}

    # -- retry and error decisions (shared by both loops) -----------------------------------------
    def _wait_after_status(
        self, retries: int, response: httpx.Response, started: float, deadline_at: float | None
    ) -> float:
        """Wait before retrying this error response, or raise its typed error."""
        wait = self.retry_policy.wait_after_status(retries, response, _left(deadline_at))
        self._log(response.request, response.status_code, started, wait, retries)
        if wait is None:
            raise status_error_from_response(response)
        return wait

    def _wait_after_error(
        self,
        retries: int,
        exc: httpx.TransportError,
        request: httpx.Request,
        started: float,
        deadline_at: float | None,
    ) -> float:
        """Wait before retrying after a transport failure, or raise the typed connection error."""
        wait = self.retry_policy.wait_after_error(retries, _left(deadline_at))
        self._log(request, type(exc).__name__, started, wait, retries)
        if wait is not None:
            return wait
        if isinstance(exc, httpx.TimeoutException):
            if self._deadline_passed(deadline_at):
                message = f"Deadline of {self.settings.deadline} s passed ({type(exc).__name__})"
            else:
                message = f"Request timed out ({type(exc).__name__})"
            raise APITimeoutError(message, request=request) from exc
        raise APIConnectionError(f"Connection error ({type(exc).__name__}): {exc}", request=request) from exc

    def _log(
        self, request: httpx.Request, outcome: object, started: float, wait: float | None, retries: int
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s %s -> %s in %.1f ms", request.method, request.url, outcome, elapsed_ms)
        if wait is not None:
            logger.debug(
                "retrying in %.2f s (retry %d of %d)", wait, retries + 1, self.retry_policy.max_retries
            )

    def _deadline_error(self, reader: ResponseReader) -> StreamTimeoutError:
        message = f"Deadline of {self.settings.deadline} s passed before the stream ended"
        return StreamTimeoutError(message, partial=reader.snapshot())

    def _mid_stream_failure(
        self, reader: ResponseReader, exc: httpx.TransportError, deadline_at: float | None
    ) -> NoReturn:
        # Both a StreamError (with what arrived) and an APIConnectionError, like the same failure before
        # the stream began; a timeout is also an APITimeoutError.
        if isinstance(exc, httpx.TimeoutException):
            if self._deadline_passed(deadline_at):
                raise self._deadline_error(reader) from exc
            limit = self.settings.stream_read_timeout
            raise reader.error(f"No stream chunk within {limit} s", StreamTimeoutError) from exc
        message = f"Stream connection lost ({type(exc).__name__}): {exc}"
        raise reader.error(message, StreamConnectionError) from exc


class ResponsesClient(_ClientBase):
    """Calls `POST <base_url>/v1/responses`: `create`/`stream` (sync) and `acreate`/`astream` (async)."""

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def http_client(self) -> httpx.Client:
        if self._http is None:
            http = httpx.Client(
                timeout=self.settings.timeout, limits=DEFAULT_LIMITS, transport=self._transport
            )
            # A client dropped without `close()` (a model built per request, a test) closes its sockets
            # when collected, as its async pools do, instead of leaving them to warn as unclosed.
            self._http_finalizer = weakref.finalize(self, http.close)
            self._http = http
        return self._http

    @property
    def http_async_client(self) -> httpx.AsyncClient:
        """The async pool of the running event loop (an injected client is used on every loop)."""
        if self._ahttp is not None:
            return self._ahttp
        # Pooled connections belong to the event loop that opened them: reused from another loop (a
        # second `asyncio.run`, a new pytest loop, a loop in another thread) they fail with "Event loop
        # is closed", so each loop gets its own pool.
        loop = running_loop()
        pool = self._async_pools.get(loop)
        if pool is None or pool.http.is_closed:
            pool = self._open_async_pool(loop)
        return pool.http

    def _open_async_pool(self, loop: asyncio.AbstractEventLoop | None) -> AsyncPool:
        # Forget the pools of loops that have closed: shut down properly, they closed their pool; closed
        # without `shutdown_asyncgens()`, their connections can no longer be closed by anyone.
        for other in [other for other in self._async_pools if other is not None and other.is_closed()]:
            del self._async_pools[other]
        http = httpx.AsyncClient(
            timeout=self.settings.timeout, limits=DEFAULT_LIMITS, transport=self._async_transport
        )
        closer = None
        if loop is not None:
            closer = close_on_loop_shutdown(http)
            run_to_first_yield(closer)
        pool = self._async_pools[loop] = AsyncPool(http, closer)
        return pool

    def close(self) -> None:
        """Close the sync pool. Async pools need their loop: `aclose()`, or they close with their loop."""
        if self._http_finalizer is not None:
            self._http_finalizer()  # closes the pool now, not when this client is collected
            self._http_finalizer = self._http = None

    async def aclose(self) -> None:
        """Close the running loop's async pool and the sync pool (other loops' pools close with them)."""
        pool = self._async_pools.pop(running_loop(), None)
        if pool is not None:
            if pool.closer is not None:
                await pool.closer.aclose()  # its `finally` closes the pool, and the loop forgets it
            else:
                await pool.http.aclose()
        self.close()

    def __enter__(self) -> ResponsesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ResponsesClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- sync I/O ----------------------------------------------------------------------------------
    def _send(
        self,
        request: ResponseRequest,
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None,
        deadline_at: float | None,
    ) -> httpx.Response:
        content, headers, timeout = self._request_parts(request, stream=stream, extra_headers=extra_headers)
        http = self.http_client
        http_request = http.build_request(
            "POST", self._url, content=content, headers=headers, timeout=timeout
        )
        retries = 0
        while True:
            self._fit_to_deadline(http_request, timeout, deadline_at, retries)
            started = time.perf_counter()
            try:
                response = http.send(http_request, stream=True)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started, deadline_at)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                response.read()
                response.close()
                wait = self._wait_after_status(retries, response, started, deadline_at)
            self.retry_policy.sleep(wait)
            retries += 1

    def create(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """One non-streaming call, retried per the policy; returns the normalized result."""
        deadline_at = self._deadline_at()
        response = self._send(request, stream=False, extra_headers=extra_headers, deadline_at=deadline_at)
        reader = ResponseReader()
        try:
            for _ in self._read(response, reader, deadline_at):
                pass
        finally:
            response.close()
        return reader.result()

    def stream(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseStream:
        """A streaming call. Nothing is sent until the returned stream is iterated."""
        return ResponseStream(self, request, extra_headers)

    def _open_stream(
        self, request: ResponseRequest, extra_headers: Mapping[str, str] | None, reader: ResponseReader
    ) -> tuple[httpx.Response, Generator[StreamDelta, None, None]]:
        """Send a stream request (with retries); the response and its deltas. The caller closes both."""
        deadline_at = self._deadline_at()
        response = self._send(request, stream=True, extra_headers=extra_headers, deadline_at=deadline_at)
        return response, self._read(response, reader, deadline_at)

    def _read(
        self, response: httpx.Response, reader: ResponseReader, deadline_at: float | None
    ) -> Generator[StreamDelta, None, None]:
        """A successful response's answer as deltas, in whichever form the server chose to send it."""
        if not _is_event_stream(response):
            try:
                response.read()
            except httpx.TransportError as exc:
                raise _body_lost(response, exc) from exc
            yield from reader.feed_body(_decode_json(response))
            return
        try:
            for event in EventSource(response).iter_sse():
                yield from reader.feed(event.data)
                if reader.done:
                    return
                if deadline_at is not None and self._deadline_passed(deadline_at):
                    raise self._deadline_error(reader)
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, exc, deadline_at)
        reader.result()  # raises: the connection ended without an end marker

    # -- async I/O ---------------------------------------------------------------------------------
    async def _asend(
        self,
        request: ResponseRequest,
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None,
        deadline_at: float | None,
    ) -> httpx.Response:
        content, headers, timeout = self._request_parts(request, stream=stream, extra_headers=extra_headers)
        http = self.http_async_client
        http_request = http.build_request(
            "POST", self._url, content=content, headers=headers, timeout=timeout
        )
        retries = 0
        while True:
            self._fit_to_deadline(http_request, timeout, deadline_at, retries)
            started = time.perf_counter()
            try:
                response = await http.send(http_request, stream=True)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started, deadline_at)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                await response.aread()
                await response.aclose()
                wait = self._wait_after_status(retries, response, started, deadline_at)
            await self.retry_policy.async_sleep(wait)
            retries += 1

    async def acreate(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """Async `create`."""
        deadline_at = self._deadline_at()
        response = await self._asend(
            request, stream=False, extra_headers=extra_headers, deadline_at=deadline_at
        )
        reader = ResponseReader()
        try:
            async for _ in self._aread(response, reader, deadline_at):
                pass
        finally:
            await response.aclose()
        return reader.result()

    def astream(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> AsyncResponseStream:
        """Async `stream`. Nothing is sent until the returned stream is iterated."""
        return AsyncResponseStream(self, request, extra_headers)

    async def _aopen_stream(
        self, request: ResponseRequest, extra_headers: Mapping[str, str] | None, reader: ResponseReader
    ) -> tuple[httpx.Response, AsyncGenerator[StreamDelta, None]]:
        """Async `_open_stream`."""
        deadline_at = self._deadline_at()
        response = await self._asend(
            request, stream=True, extra_headers=extra_headers, deadline_at=deadline_at
        )
        return response, self._aread(response, reader, deadline_at)

    async def _aread(
        self, response: httpx.Response, reader: ResponseReader, deadline_at: float | None
    ) -> AsyncGenerator[StreamDelta, None]:
        """Async `_read`."""
        if not _is_event_stream(response):
            try:
                await response.aread()
            except httpx.TransportError as exc:
                raise _body_lost(response, exc) from exc
            for delta in reader.feed_body(_decode_json(response)):
                yield delta
            return
        try:
            async for event in EventSource(response).aiter_sse():
                for delta in reader.feed(event.data):
                    yield delta
                if reader.done:
                    return
                if deadline_at is not None and self._deadline_passed(deadline_at):
                    raise self._deadline_error(reader)
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, exc, deadline_at)
        reader.result()  # raises: the connection ended without an end marker
