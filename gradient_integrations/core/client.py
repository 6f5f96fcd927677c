"""`ResponsesClient`: the only code that sends HTTP. Sync and async share everything but the I/O.

Shared (in `_ClientBase`): building the httpx request, the retry decisions, mapping failures to typed
errors, logging, and the `ResponseReader` that turns SSE payloads and JSON bodies into deltas and a result.
Each of the two send loops and the two stream loops below is a handful of lines that differ only by `await`.

One sync `httpx.Client` and one `httpx.AsyncClient` are created lazily per instance and pooled; callers
may inject their own clients or transports (tests and benchmarks do), which are then never closed here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx
from httpx_sse import EventSource
from pydantic import SecretStr

from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    StreamTimeoutError,
    status_error_from_response,
)
from .reader import ResponseReader, StreamDelta
from .request import ResponseRequest
from .response import ResponseResult
from .retry import RetryPolicy
from .settings import DEFAULT_LIMITS, DEFAULT_STREAM_IDLE_TIMEOUT, Settings, TimeoutLike, is_loopback

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


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
    return APIConnectionError(f"Connection lost reading the body: {exc}", request=response.request)


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
        self._ahttp = http_async_client
        self._owns_http = http_client is None
        self._owns_ahttp = http_async_client is None
        self._ahttp_loop: asyncio.AbstractEventLoop | None = None
        self._transport = transport
        # Parsed once: httpx re-parses a URL string on every request, a measurable share of the overhead.
        self._url = httpx.URL(self.settings.responses_url)
        self._async_transport = async_transport
        self._headers = _lower_names(
            {"User-Agent": f"gradient-integrations/{_VERSION}", **self.settings.default_headers}
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    # -- pickling: never the key, never live connections; the key is re-resolved from the env -----------
    def __getstate__(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "base_url": settings.base_url,
            "timeout": settings.timeout,
            "max_retries": settings.max_retries,
            "stream_idle_timeout": settings.stream_idle_timeout,
            "default_headers": dict(settings.default_headers),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state, require_key=False)  # type: ignore[misc]

    # -- copying: in-process copies keep the key (only a pickle must drop it) ----------------------------
    def __copy__(self: _Client) -> _Client:
        # Injected transports and httpx clients are shared; pools this instance created are not, since
        # each owner closes its own.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        if self._owns_http:
            clone._http = None
        if self._owns_ahttp:
            clone._ahttp = None
        return clone

    def __deepcopy__(self: _Client, memo: dict[int, Any]) -> _Client:
        return self.__copy__()

    # -- request building --------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self.settings.api_key is None and not is_loopback(self.settings.base_url):
            raise ConfigurationError(
                f"No access key for {self.settings.base_url}: set GRADIENT_MODEL_ACCESS_KEY "
                "(or MODEL_ACCESS_KEY, DIGITALOCEAN_INFERENCE_KEY) or pass api_key=..."
            )
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
        timeout = self.settings.timeout
        if stream and self.settings.stream_idle_timeout is not None:
            # httpx's read timeout bounds each socket read: on a stream that is the gap between chunks.
            timeout = httpx.Timeout(
                connect=timeout.connect,
                read=self.settings.stream_idle_timeout,
                write=timeout.write,
                pool=timeout.pool,
            )
        return _encode(request.to_body(stream=stream)), headers, timeout

    # -- retry and error decisions (shared by both loops) -----------------------------------------
    def _wait_after_status(self, retries: int, response: httpx.Response, started: float) -> float:
        """Wait before retrying this error response, or raise its typed error."""
        wait = self.retry_policy.wait_after_status(retries, response)
        self._log(response.request, response.status_code, started, wait, retries)
        if wait is None:
            raise status_error_from_response(response)
        return wait

    def _wait_after_error(
        self, retries: int, exc: httpx.TransportError, request: httpx.Request, started: float
    ) -> float:
        """Wait before retrying after a transport failure, or raise the typed connection error."""
        wait = self.retry_policy.wait_after_error(retries)
        self._log(request, type(exc).__name__, started, wait, retries)
        if wait is not None:
            return wait
        if isinstance(exc, httpx.TimeoutException):
            raise APITimeoutError(f"Request timed out ({type(exc).__name__})", request=request) from exc
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

    @staticmethod
    def _mid_stream_failure(
        reader: ResponseReader, exc: httpx.TransportError, idle: float | None
    ) -> NoReturn:
        if isinstance(exc, httpx.TimeoutException):
            raise reader.error(f"No stream chunk within {idle} s", StreamTimeoutError) from exc
        raise reader.error(f"Stream connection lost ({type(exc).__name__}): {exc}") from exc


class ResponsesClient(_ClientBase):
    """Calls `POST <base_url>/v1/responses`: `create`/`stream` (sync) and `acreate`/`astream` (async)."""

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def http_client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.settings.timeout, limits=DEFAULT_LIMITS, transport=self._transport
            )
        return self._http

    @property
    def http_async_client(self) -> httpx.AsyncClient:
        loop = _running_loop()
        if self._ahttp is not None and self._owns_ahttp and self._ahttp_loop is not loop:
            # Pooled connections belong to the event loop that opened them: reused from another loop
            # (a second `asyncio.run`, a new pytest loop) they fail with "Event loop is closed".
            # That loop is gone or foreign, so the old client cannot be closed from here; drop it.
            self._ahttp = None
        if self._ahttp is None:
            self._ahttp = httpx.AsyncClient(
                timeout=self.settings.timeout, limits=DEFAULT_LIMITS, transport=self._async_transport
            )
            self._ahttp_loop = loop
        return self._ahttp

    def close(self) -> None:
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    async def aclose(self) -> None:
        if self._ahttp is not None and self._owns_ahttp:
            await self._ahttp.aclose()
            self._ahttp = None
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
        self, request: ResponseRequest, *, stream: bool, extra_headers: Mapping[str, str] | None
    ) -> httpx.Response:
        content, headers, timeout = self._request_parts(request, stream=stream, extra_headers=extra_headers)
        http = self.http_client
        http_request = http.build_request(
            "POST", self._url, content=content, headers=headers, timeout=timeout
        )
        retries = 0
        while True:
            started = time.perf_counter()
            try:
                response = http.send(http_request, stream=True)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                response.read()
                response.close()
                wait = self._wait_after_status(retries, response, started)
            self.retry_policy.sleep(wait)
            retries += 1

    def create(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """One non-streaming call, retried per the policy; returns the normalized result."""
        response = self._send(request, stream=False, extra_headers=extra_headers)
        reader = ResponseReader()
        try:
            for _ in self._read(response, reader):
                pass
        finally:
            response.close()
        return reader.result()

    def stream(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseStream:
        """A streaming call. Nothing is sent until the returned stream is iterated."""
        return ResponseStream(self, request, extra_headers)

    def _iter_stream(
        self, request: ResponseRequest, extra_headers: Mapping[str, str] | None, reader: ResponseReader
    ) -> Generator[StreamDelta, None, None]:
        response = self._send(request, stream=True, extra_headers=extra_headers)
        try:
            yield from self._read(response, reader)
        finally:
            response.close()

    def _read(self, response: httpx.Response, reader: ResponseReader) -> Generator[StreamDelta, None, None]:
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
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, exc, self.settings.stream_idle_timeout)
        reader.result()  # raises: the connection ended without an end marker

    # -- async I/O ---------------------------------------------------------------------------------
    async def _asend(
        self, request: ResponseRequest, *, stream: bool, extra_headers: Mapping[str, str] | None
    ) -> httpx.Response:
        content, headers, timeout = self._request_parts(request, stream=stream, extra_headers=extra_headers)
        http = self.http_async_client
        http_request = http.build_request(
            "POST", self._url, content=content, headers=headers, timeout=timeout
        )
        retries = 0
        while True:
            started = time.perf_counter()
            try:
                response = await http.send(http_request, stream=True)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                await response.aread()
                await response.aclose()
                wait = self._wait_after_status(retries, response, started)
            await self.retry_policy.async_sleep(wait)
            retries += 1

    async def acreate(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """Async `create`."""
        response = await self._asend(request, stream=False, extra_headers=extra_headers)
        reader = ResponseReader()
        try:
            async for _ in self._aread(response, reader):
                pass
        finally:
            await response.aclose()
        return reader.result()

    def astream(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> AsyncResponseStream:
        """Async `stream`. Nothing is sent until the returned stream is iterated."""
        return AsyncResponseStream(self, request, extra_headers)

    async def _aiter_stream(
        self, request: ResponseRequest, extra_headers: Mapping[str, str] | None, reader: ResponseReader
    ) -> AsyncGenerator[StreamDelta, None]:
        response = await self._asend(request, stream=True, extra_headers=extra_headers)
        try:
            async for delta in self._aread(response, reader):
                yield delta
        finally:
            await response.aclose()

    async def _aread(
        self, response: httpx.Response, reader: ResponseReader
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
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, exc, self.settings.stream_idle_timeout)
        reader.result()  # raises: the connection ended without an end marker


class _AssembledStream:
    """What a sync and an async stream share: the reader, and what it has received so far."""

    _reader: ResponseReader

    @property
    def result(self) -> ResponseResult:
        """The assembled `ResponseResult`: complete after the finish delta, what arrived before it."""
        return self._reader.result() if self._reader.done else self._reader.snapshot()

    @property
    def text(self) -> str:
        """The answer text received so far (all of it once the stream has ended)."""
        return self._reader.text

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far."""
        return self._reader.reasoning


class ResponseStream(_AssembledStream):
    """Iterate for `StreamDelta`s; `result` is the assembled `ResponseResult` (partial until the end)."""

    def __init__(
        self, client: ResponsesClient, request: ResponseRequest, extra_headers: Mapping[str, str] | None
    ) -> None:
        self._reader = ResponseReader()
        self._deltas = client._iter_stream(request, extra_headers, self._reader)

    def __iter__(self) -> Iterator[StreamDelta]:
        return self._deltas

    def __next__(self) -> StreamDelta:
        return next(self._deltas)

    def close(self) -> None:
        self._deltas.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncResponseStream(_AssembledStream):
    """Async counterpart of `ResponseStream`."""

    def __init__(
        self, client: ResponsesClient, request: ResponseRequest, extra_headers: Mapping[str, str] | None
    ) -> None:
        self._reader = ResponseReader()
        self._deltas = client._aiter_stream(request, extra_headers, self._reader)

    def __aiter__(self) -> AsyncIterator[StreamDelta]:
        return self._deltas

    async def __anext__(self) -> StreamDelta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        await self._deltas.aclose()

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
