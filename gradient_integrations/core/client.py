"""`ResponsesClient`: the only code that sends HTTP. Sync and async share everything but the I/O.

Shared (in `_ClientBase`): building the httpx request, the retry decisions, mapping failures to typed
errors, logging, and the `ResponseReader` that turns SSE payloads and JSON bodies into deltas and a result.
Each of the two send loops and the two stream loops below is a handful of lines that differ only by `await`.

One sync `httpx.Client` per instance, and one `httpx.AsyncClient` per instance and event loop, are created
lazily and pooled; callers may inject their own clients or transports (tests and benchmarks do), which are
then never closed here. An async pool's connections belong to the loop that opened them, so each loop gets
its own pool, closed on that loop when it shuts down (see `pools`) or by `aclose()`.

Time limits follow the rule in `settings`, kept by one `CallClock` per call (`deadlines`): the pools
opened here cut every socket read and write to the time the clock has left, so trickled headers, a
trickled body or keep-alive comments cannot outlast it. Answers are read as raw bytes and framed by
`frames` within `max_response_bytes`.

The key: requests are built in `_build`, so no frame of the send loop holds the headers; a request that
ends up on an exception (`exc.request`, `exc.response.request`, the httpx cause's `.request`) has its
`Authorization` replaced by `Bearer ***` first. Pools are never shared with a forked child: each client
forgets its inherited pools in the child (`os.register_at_fork`) and opens its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx
from pydantic import SecretStr

from .._version import __version__
from . import deadlines, logs
from .catalog import ListedModel, check_model_listed, read_model_list
from .deadlines import CallClock
from .embeddings import EmbeddingRequest, EmbeddingResult, read_embeddings
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InvalidRequestError,
    ResponseTooLargeError,
    StreamConnectionError,
    StreamTimeoutError,
    StreamValidationError,
    redact,
    status_error_from_response,
)
from .frames import ACCEPT_ENCODING, Body, Decompressor, EventFramer, FrameError
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
    check_headers,
    is_loopback,
    missing_key_error,
)
from .streams import AsyncResponseStream, ResponseStream

__all__ = ["AsyncResponseStream", "ResponseStream", "ResponsesClient"]

logger = logging.getLogger("gradient_integrations")
logs.install()

# Header names are kept lower-case so merging layers replaces case-insensitively: a caller's
# `authorization` or `accept` must replace ours, never travel alongside it as a second header.
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_GET_HEADERS = {"accept": "application/json"}
_OCTET_HEADERS = {"content-type": "application/octet-stream"}
_SSE_HEADERS = {
    "content-type": "application/json",
    "accept": "text/event-stream",
    "cache-control": "no-store",
}
# An error body is read for its message only: at most this much of it.
_ERROR_BODY_BYTES = 64 * 1024
_REDACTED = "Bearer ***"


def _lower_names(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _scrubbed(request: httpx.Request) -> httpx.Request:
    """The request, its Authorization replaced: it is about to travel on an exception."""
    if "authorization" in request.headers:
        request.headers["authorization"] = _REDACTED
    return request


def encode_body(request: ResponseRequest, body: dict[str, Any]) -> bytes:
    """The request's JSON bytes; a value JSON or UTF-8 cannot carry raises InvalidRequestError naming it."""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        path, problem = _unencodable(body, "")
        if path.split(".", 1)[0].split("[", 1)[0] in request.extra_body:
            path = f"extra_body.{path}"
        raise InvalidRequestError(path or "body", problem) from exc


def _unencodable(value: Any, path: str) -> tuple[str, str]:
    """Where in the body the value JSON (or UTF-8) cannot carry is, and what is wrong with it."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return (
                path,
                "text contains a lone surrogate (an unpaired \\ud800-\\udfff), which UTF-8 cannot carry",
            )
        return "", ""
    if isinstance(value, float) and not math.isfinite(value):
        return path, f"{value} is not a JSON number; send a finite number or null"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}.{key}".lstrip("."), f"object keys must be strings, got {type(key).__name__}"
            found = _unencodable(item, f"{path}.{key}".lstrip("."))
            if found[1]:
                return found
        return "", ""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{path}[{index}]")
            if found[1]:
                return found
        return "", ""
    if value is None or isinstance(value, (bool, int, float)):
        return "", ""
    return (
        path,
        f"a {type(value).__name__} is not JSON-serialisable; pass str, number, bool, None, list or dict",
    )


def _decode_json(response: httpx.Response, content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        text = content[:200].decode("utf-8", "replace")
        raise APIResponseValidationError(
            f"Endpoint returned invalid JSON (status {response.status_code}): {text!r}",
            request=_scrubbed(response.request),
        ) from None
    if not isinstance(body, dict):
        raise APIResponseValidationError(
            f"Endpoint returned JSON that is not an object: {type(body).__name__}",
            request=_scrubbed(response.request),
        )
    return body


def _is_event_stream(response: httpx.Response) -> bool:
    # Either form may answer either request: a stream request answered with JSON (a proxy, an old server)
    # or a plain request answered with SSE is read all the same.
    return "text/event-stream" in response.headers.get("content-type", "")


def _longest(timeout: httpx.Timeout) -> float | None:
    """The longest of a Timeout's limits; None when one of them is unlimited."""
    limits = [timeout.connect, timeout.read, timeout.write, timeout.pool]
    return None if None in limits else max(limit for limit in limits if limit is not None)


def _raw(response: httpx.Response) -> tuple[bytes] | None:
    """The body of a response that is already read (a test transport's), else None: stream it raw."""
    return (response.content,) if response.is_stream_consumed else None


def _encoding(response: httpx.Response) -> str | None:
    """The Content-Encoding still to undo: none once httpx has read (and decoded) the body itself."""
    return None if response.is_stream_consumed else response.headers.get("content-encoding")


async def _aiter(pieces: tuple[bytes]) -> AsyncGenerator[bytes, None]:
    for piece in pieces:
        yield piece


def _error_body(response: httpx.Response) -> Body:
    try:
        return Body(_encoding(response), _ERROR_BODY_BYTES, truncate=True)
    except FrameError:
        return Body(None, _ERROR_BODY_BYTES, truncate=True)  # an unknown encoding: keep the raw bytes


# An error body is read for its message, at most `_ERROR_BODY_BYTES` of it, and scrubbed as soon as it is
# read (a server may echo the key). Read in these helpers, so the send loops' frames, which a traceback
# printed with its locals would show, never hold it.
def _error_content(response: httpx.Response) -> bytes:
    body = _error_body(response)
    try:
        for chunk in _raw(response) or response.iter_raw():
            if not body.add(chunk):
                break
        return redact(body.finish().decode("utf-8", "replace")).encode()
    except (httpx.TransportError, FrameError):
        return b""  # the status says enough; a body we cannot read adds nothing
    finally:
        response.close()


async def _aerror_content(response: httpx.Response) -> bytes:
    body = _error_body(response)
    try:
        read = _raw(response)
        async for chunk in _aiter(read) if read is not None else response.aiter_raw():
            if not body.add(chunk):
                break
        return redact(body.finish().decode("utf-8", "replace")).encode()
    except (httpx.TransportError, FrameError):
        return b""
    finally:
        await response.aclose()


def _frame_failure(response: httpx.Response, exc: FrameError) -> APIResponseValidationError:
    cls = ResponseTooLargeError if exc.too_large else APIResponseValidationError
    return cls(str(exc), request=_scrubbed(response.request))


# A timer may fire a hair before the instant it was set for: a read cut to end at the deadline counts as
# the deadline passing when it ends within this margin of it.
_DEADLINE_SLACK = 0.001


def _passed(left: float | None) -> bool:
    return left is not None and left <= _DEADLINE_SLACK


# Every client alive in this process, so a forked child can make each forget its inherited pools.
_live_clients: weakref.WeakSet[_ClientBase] = weakref.WeakSet()
# The pools a forked child inherited: kept, never used, closed or collected there. Their sockets are the
# parent's: closing them in the child could end the parent's TLS sessions, and collecting them would
# warn about unclosed sockets.
_inherited: list[object] = []


def _forget_pools_after_fork() -> None:
    for client in list(_live_clients):
        client._forget_pools()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


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
        max_response_bytes: int | None = None,
        allow_insecure_http: bool = False,
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
            max_response_bytes=max_response_bytes,
            allow_insecure_http=allow_insecure_http,
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
        self._async_transport = async_transport
        # Pools built here get a backend that obeys the call clock; injected ones are the caller's.
        self._capped = {
            "sync": transport is None and http_client is None,
            "async": async_transport is None and http_async_client is None,
        }
        _live_clients.add(self)
        # Parsed once: httpx re-parses a URL string on every request, a measurable share of the overhead.
        self._url = httpx.URL(self.settings.responses_url)
        self._embeddings_url = httpx.URL(self.settings.url("embeddings"))
        self._models_url = httpx.URL(self.settings.url("models"))
        self._listed_models: tuple[ListedModel, ...] | None = None  # `GET /v1/models`, once
        # Every request's fixed headers. A pool opened here carries them as its defaults; a caller's httpx
        # client gets them on each request (merging headers per request costs a few µs per call).
        self._headers = _lower_names(
            {
                "User-Agent": f"gradient-integrations/{__version__}",
                "accept-encoding": ACCEPT_ENCODING,  # what `frames` decodes: no br or zstd
                **self.settings.default_headers,
            }
        )
        # Derived once (Settings is frozen): every call reads them.
        self._attempt_limit = settings.attempt_limit
        self._start_deadline = settings.start_deadline
        self._idle = settings.stream_read_timeout
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
        # The longest httpx limit per kind (None: one is unlimited): an attempt with more time left than
        # this needs no cut.
        self._longest = {kind: _longest(limits) for kind, limits in self._timeouts.items()}

    def _forget_pools(self) -> None:
        """In a forked child: drop the pools inherited from the parent (never closing them), open new ones."""
        if self._owns_http and self._http is not None:
            _inherited.append(self._http)
            if self._http_finalizer is not None:
                self._http_finalizer.detach()  # type: ignore[attr-defined]
            self._http = self._http_finalizer = None
        if self._async_pools:
            _inherited.append(self._async_pools)
            self._async_pools = {}

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
        _live_clients.add(clone)
        return clone

    def __deepcopy__(self: _Client, memo: dict[int, Any]) -> _Client:
        return self.__copy__()

    # -- request building --------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self.settings.api_key is None and not is_loopback(self.settings.base_url):
            raise missing_key_error(self.settings.base_url)
        return _lower_names(self.settings.auth_headers())

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        request: ResponseRequest,
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        """The httpx request; every check on the caller's input runs here, before anything is sent.

        The headers (with the key) live only in this frame: a traceback of a failed send, printed with its
        local variables, never shows them.
        """
        request.check()
        content = encode_body(request, request.to_body(stream=stream))
        return self._http_request(
            http, "POST", self._url, content, stream=stream, extra_headers=extra_headers
        )

    def _http_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        content: bytes | None,
        *,
        stream: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """Any request to the endpoint, with the key and every header layer (the frame `_build` explains)."""
        headers = {
            **(_GET_HEADERS if content is None else _SSE_HEADERS if stream else _JSON_HEADERS),
            **({} if getattr(http, "_gradient_defaults", False) else self._headers),
            **(check_headers(extra_headers, "extra_headers") if extra_headers is not None else {}),
            **self._auth_headers(),
        }
        return http.build_request(
            method, url, content=content, headers=headers, timeout=self._timeouts[stream]
        )

    def _presigned_request(
        self, http: httpx.Client | httpx.AsyncClient, method: str, url: str, content: bytes | None
    ) -> httpx.Request:
        """A request to a presigned object-store URL (Batch Inference files). The URL is its own credential
        and its host is not the endpoint's: no Authorization goes there, neither ours nor an injected
        client's default header (its `auth` is turned off in the send loop), and the body goes as
        `application/octet-stream`, which the signature tolerates (`inference_upload_batch_file.yml`)."""
        headers = _OCTET_HEADERS if content is not None else {}
        request = http.build_request(
            method, url, content=content, headers=headers, timeout=self._timeouts[False]
        )
        request.headers.pop("authorization", None)
        return request

    def _split_lines(self, pending: bytearray, chunk: bytes, response: httpx.Response) -> list[bytes]:
        """Complete lines of a downloaded JSONL file; the rest stays in `pending` (each line is bounded by
        `max_response_bytes`, so a file without newlines cannot fill memory)."""
        pending += chunk
        end = pending.rfind(b"\n")
        if end < 0:
            if len(pending) > self.settings.max_response_bytes:
                raise ResponseTooLargeError(
                    f"A line of the downloaded file is larger than max_response_bytes "
                    f"({self.settings.max_response_bytes:,} bytes)",
                    request=_scrubbed(response.request),
                )
            return []
        lines = bytes(pending[:end]).split(b"\n")
        del pending[: end + 1]
        return lines

    # -- the call clock (shared by both loops) -----------------------------------------------------
    def _clock(self) -> CallClock:
        """A new call's clock: its deadline runs until the answer begins (all of a JSON call)."""
        limit = self._start_deadline
        return CallClock(None if limit is None else time.monotonic() + limit)

    def _begin_attempt(
        self, http_request: httpx.Request, clock: CallClock, retries: int, capped: bool, stream: bool
    ) -> None:
        """Start an attempt's phase: headers (and a JSON body) within connect + read. Raise if time is up."""
        if _passed(clock.call_left()):
            raise APITimeoutError(
                f"{self._limit_text()} passed before attempt {retries + 1}", request=_scrubbed(http_request)
            )
        clock.phase(self._attempt_limit)
        deadlines.use(clock)
        if not capped and clock.until is not None:
            # An injected client's sockets do not watch the clock: cut this attempt's httpx limits instead
            # (from the configured ones, so an earlier attempt's cut is not kept).
            left = clock.until - time.monotonic()
            longest = self._longest[stream]
            if longest is None or left < longest:
                limits = self._timeouts[stream].as_dict()
                http_request.extensions["timeout"] = {
                    name: _shorter(cut, left) for name, cut in limits.items()
                }
            elif retries:
                http_request.extensions["timeout"] = self._timeouts[stream].as_dict()

    def _begin_stream(self, clock: CallClock) -> None:
        """The answer is a stream and it began: from now on only an explicit deadline bounds the call."""
        if self.settings.stream_deadline is None:
            clock.ends = None
        clock.phase(self._idle)

    def _limit_text(self) -> str:
        if self.settings.deadline is not None:
            return f"Deadline of {self.settings.deadline} s"
        return (
            f"Time limit of {self.settings.start_deadline} s (max_retries + 1 attempts of connect + read "
            "seconds; pass deadline= to change it)"
        )

    # -- retry and error decisions (shared by both loops) -----------------------------------------
    def _wait_after_status(
        self,
        retries: int,
        response: httpx.Response,
        content: bytes,
        started: float,
        clock: CallClock,
        final: frozenset[int] = frozenset(),
    ) -> float:
        """Wait before retrying this error response (its body read), or raise its typed error. A status in
        `final` is this call's answer, not a transient failure (a 409 from Batch Inference's cancel)."""
        wait = (
            None
            if response.status_code in final
            else self.retry_policy.wait_after_status(retries, response, clock.call_left())
        )
        self._log(response.request, response.status_code, started, wait, retries)
        if wait is None:
            _scrubbed(response.request)
            raise status_error_from_response(response, content)
        return wait

    def _wait_after_error(
        self,
        retries: int,
        exc: httpx.TransportError,
        request: httpx.Request,
        started: float,
        clock: CallClock,
    ) -> float:
        """Wait before retrying after a transport failure, or raise the typed connection error."""
        wait = self.retry_policy.wait_after_error(retries, clock.call_left())
        self._log(request, type(exc).__name__, started, wait, retries)
        if wait is not None:
            return wait
        _scrubbed(request)  # also the cause's: httpx's exception holds this same request
        if isinstance(exc, httpx.TimeoutException):
            if _passed(clock.call_left()):
                message = f"{self._limit_text()} passed ({type(exc).__name__})"
            elif _passed(clock.left()):
                message = (
                    f"No complete answer within {self.settings.attempt_limit} s (connect + read timeout) "
                    f"({type(exc).__name__})"
                )
            else:
                message = f"Request timed out ({type(exc).__name__})"
            raise APITimeoutError(message, request=request) from exc
        raise APIConnectionError(f"Connection error ({type(exc).__name__}): {exc}", request=request) from exc

    def _body_lost(
        self, response: httpx.Response, exc: httpx.TransportError, clock: CallClock
    ) -> APIConnectionError:
        request = _scrubbed(response.request)
        if isinstance(exc, httpx.TimeoutException):
            if _passed(clock.call_left()):
                return APITimeoutError(f"{self._limit_text()} passed reading the body", request=request)
            return APITimeoutError(f"Timed out reading the body ({type(exc).__name__})", request=request)
        return APIConnectionError(f"Connection lost reading the body: {exc}", request=request)

    def _log(
        self, request: httpx.Request, outcome: object, started: float, wait: float | None, retries: int
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        url = request.url
        if b"signature" in url.query.lower():  # a presigned URL's query is its credential: not for logs
            url = url.copy_with(query=b"<signed>")
        logger.debug("%s %s -> %s in %.1f ms", request.method, url, outcome, elapsed_ms)
        if wait is not None:
            logger.debug(
                "retrying in %.2f s (retry %d of %d)", wait, retries + 1, self.retry_policy.max_retries
            )

    def _stream_timeout(self, reader: ResponseReader, clock: CallClock) -> StreamTimeoutError:
        if _passed(clock.call_left()):
            message = f"{self._limit_text()} passed before the stream ended"
        else:
            message = f"No stream event within {self.settings.stream_read_timeout} s"
        return StreamTimeoutError(message, partial=reader.snapshot())

    def _mid_stream_failure(
        self, reader: ResponseReader, response: httpx.Response, exc: httpx.TransportError, clock: CallClock
    ) -> NoReturn:
        # Both a StreamError (with what arrived) and an APIConnectionError, like the same failure before
        # the stream began; a timeout is also an APITimeoutError.
        _scrubbed(response.request)
        if isinstance(exc, httpx.TimeoutException):
            raise self._stream_timeout(reader, clock) from exc
        message = f"Stream connection lost ({type(exc).__name__}): {exc}"
        raise reader.error(message, StreamConnectionError) from exc

    def _stream_events(
        self, reader: ResponseReader, decompressor: Decompressor, framer: EventFramer, chunk: bytes
    ) -> list[str]:
        try:
            if decompressor.identity:
                return framer.feed(chunk)
            return [event for piece in decompressor.pieces(chunk) for event in framer.feed(piece)]
        except FrameError as exc:
            raise reader.error(str(exc), StreamValidationError) from None

    def _json_reader(self, response: httpx.Response) -> Body:
        """A collector for this JSON answer's body; one declared larger than the limit is refused unread."""
        limit = self.settings.max_response_bytes
        encoding = _encoding(response)
        if encoding is None and not response.is_stream_consumed:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ResponseTooLargeError(
                    f"The response body ({declared} bytes) is larger than max_response_bytes ({limit:,} "
                    "bytes); nothing was read. Raise max_response_bytes if such answers are expected.",
                    request=_scrubbed(response.request),
                )
        try:
            return Body(encoding, limit)
        except FrameError as exc:
            raise _frame_failure(response, exc) from None

    def _stream_decompressor(self, response: httpx.Response) -> Decompressor:
        try:
            return Decompressor(_encoding(response), self.settings.max_response_bytes)
        except FrameError as exc:
            raise _frame_failure(response, exc) from None


class ResponsesClient(_ClientBase):
    """Calls `POST <base_url>/v1/responses`: `create`/`stream` (sync) and `acreate`/`astream` (async);
    also `POST /v1/embeddings` (`embed`/`aembed`) and `GET /v1/models` (`list_models`/`alist_models`)."""

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def http_client(self) -> httpx.Client:
        if self._http is None:
            transport = self._transport
            if transport is None:
                transport = httpx.HTTPTransport(limits=DEFAULT_LIMITS)
                self._capped["sync"] = deadlines.cap_backend(transport)
            http = httpx.Client(
                timeout=self.settings.timeout,
                limits=DEFAULT_LIMITS,
                transport=transport,
                headers=self._headers,
            )
            http._gradient_defaults = True  # type: ignore[attr-defined]  # carries `_headers` (see `_build`)
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
        transport = self._async_transport
        if transport is None:
            transport = httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS)
            self._capped["async"] = deadlines.cap_backend(transport)
        http = httpx.AsyncClient(
            timeout=self.settings.timeout, limits=DEFAULT_LIMITS, transport=transport, headers=self._headers
        )
        http._gradient_defaults = True  # type: ignore[attr-defined]  # carries `_headers` (see `_build`)
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
        clock: CallClock,
    ) -> httpx.Response:
        http = self.http_client
        http_request = self._build(http, request, stream=stream, extra_headers=extra_headers)
        return self._send_request(http, http_request, stream=stream, clock=clock)

    def _send_request(
        self,
        http: httpx.Client,
        http_request: httpx.Request,
        *,
        stream: bool,
        clock: CallClock,
        presigned: bool = False,
        final: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send with retries per the policy; the first success response, unread, or its typed error."""
        capped = self._capped["sync"]
        auth = None if presigned else httpx.USE_CLIENT_DEFAULT
        retries = 0
        while True:
            self._begin_attempt(http_request, clock, retries, capped, stream)
            started = time.perf_counter()
            try:
                response = http.send(http_request, stream=True, auth=auth)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started, clock)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                content = _error_content(response)
                wait = self._wait_after_status(retries, response, content, started, clock, final)
            self.retry_policy.sleep(wait)
            retries += 1

    def create(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """One non-streaming call, retried per the policy; returns the normalized result."""
        clock = self._clock()
        response = self._send(request, stream=False, extra_headers=extra_headers, clock=clock)
        reader = ResponseReader()
        try:
            for _ in self._read(response, reader, clock):
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
        clock = self._clock()
        response = self._send(request, stream=True, extra_headers=extra_headers, clock=clock)
        return response, self._read(response, reader, clock)

    def _read(
        self, response: httpx.Response, reader: ResponseReader, clock: CallClock
    ) -> Generator[StreamDelta, None, None]:
        """A successful response's answer as deltas, in whichever form the server chose to send it."""
        limit = self.settings.max_response_bytes
        reader.read_headers(response.headers)
        if not _is_event_stream(response):
            yield from reader.feed_body(_decode_json(response, self._read_body(response, clock)))
            return
        decompressor = self._stream_decompressor(response)
        self._begin_stream(clock)
        framer = EventFramer(limit)
        chunks = iter(_raw(response) or response.iter_raw())
        try:
            while True:
                deadlines.use(clock)  # again on each resume: another call may have run in between
                chunk: bytes | None = next(chunks, None)
                if chunk is None:
                    break
                events = self._stream_events(reader, decompressor, framer, chunk)
                for event in events:
                    yield from reader.feed(event)
                    if reader.done:
                        return
                if events:
                    clock.phase(self._idle)  # an event came: the idle wait restarts
                elif _passed(clock.left()):
                    raise self._stream_timeout(reader, clock)  # bytes, but no event, for too long
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, response, exc, clock)
        reader.result()  # raises: the connection ended without an end marker

    def _read_body(self, response: httpx.Response, clock: CallClock) -> bytes:
        """A JSON answer's whole body, decompressed, within `max_response_bytes` and the clock."""
        body = self._json_reader(response)
        deadlines.use(clock)
        try:
            for piece in _raw(response) or response.iter_raw():
                body.add(piece)
            return body.finish()
        except httpx.TransportError as exc:
            raise self._body_lost(response, exc, clock) from exc
        except FrameError as exc:
            raise _frame_failure(response, exc) from None

    def _fetch_json(
        self,
        method: str,
        url: httpx.URL,
        content: bytes | None,
        extra_headers: Mapping[str, str] | None,
        *,
        final: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """One JSON call to another endpoint path, with the same retries, limits and errors (statuses in
        `final` are this call's answer: raised at once, never retried)."""
        clock = self._clock()
        http = self.http_client
        http_request = self._http_request(http, method, url, content, extra_headers=extra_headers)
        response = self._send_request(http, http_request, stream=False, clock=clock, final=final)
        try:
            return _decode_json(response, self._read_body(response, clock))
        finally:
            response.close()

    # -- other endpoints ---------------------------------------------------------------------------
    def embed(
        self, request: EmbeddingRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> EmbeddingResult:
        """`POST /v1/embeddings` for one request (at most 2,048 texts; `embeddings.embed_all` splits)."""
        body = self._fetch_json("POST", self._embeddings_url, request.body(), extra_headers)
        return read_embeddings(body, len(request.texts), request.model)

    def list_models(self, *, refresh: bool = False) -> tuple[ListedModel, ...]:
        """`GET /v1/models`: the models this key can use. Listed once per client; `refresh=True` again."""
        if self._listed_models is None or refresh:
            self._listed_models = read_model_list(self._fetch_json("GET", self._models_url, None, None))
        return self._listed_models

    def check_model(self, model: str) -> None:
        """UnknownModelError ("did you mean ...") unless `GET /v1/models` lists `model`; listed once."""
        check_model_listed(model, self.list_models())

    def put_presigned(self, url: str, content: bytes) -> None:
        """`PUT` bytes to a presigned URL (no key goes there), retried per the policy like any call."""
        clock = self._clock()
        http = self.http_client
        request = self._presigned_request(http, "PUT", url, content)
        self._send_request(http, request, stream=False, clock=clock, presigned=True).close()

    def iter_presigned_lines(self, url: str) -> Generator[bytes, None, None]:
        """`GET` a presigned URL's file line by line (no key goes there), without holding the whole file."""
        clock = self._clock()
        http = self.http_client
        request = self._presigned_request(http, "GET", url, None)
        response = self._send_request(http, request, stream=True, clock=clock, presigned=True)
        pending = bytearray()
        try:
            self._begin_stream(clock)
            for chunk in response.iter_bytes():
                clock.phase(self._idle)
                deadlines.use(clock)
                yield from self._split_lines(pending, chunk, response)
        except httpx.TransportError as exc:
            raise self._body_lost(response, exc, clock) from exc
        finally:
            response.close()
        if pending:
            yield bytes(pending)

    # -- async I/O ---------------------------------------------------------------------------------
    async def _asend(
        self,
        request: ResponseRequest,
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None,
        clock: CallClock,
    ) -> httpx.Response:
        http = self.http_async_client
        http_request = self._build(http, request, stream=stream, extra_headers=extra_headers)
        return await self._asend_request(http, http_request, stream=stream, clock=clock)

    async def _asend_request(
        self,
        http: httpx.AsyncClient,
        http_request: httpx.Request,
        *,
        stream: bool,
        clock: CallClock,
        presigned: bool = False,
        final: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Async `_send_request`."""
        capped = self._capped["async"]
        auth = None if presigned else httpx.USE_CLIENT_DEFAULT
        retries = 0
        while True:
            self._begin_attempt(http_request, clock, retries, capped, stream)
            started = time.perf_counter()
            try:
                response = await http.send(http_request, stream=True, auth=auth)
            except httpx.TransportError as exc:
                wait = self._wait_after_error(retries, exc, http_request, started, clock)
            else:
                if response.is_success:
                    self._log(http_request, response.status_code, started, None, retries)
                    return response
                content = await _aerror_content(response)
                wait = self._wait_after_status(retries, response, content, started, clock, final)
            await self.retry_policy.async_sleep(wait)
            retries += 1

    async def acreate(
        self, request: ResponseRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> ResponseResult:
        """Async `create`."""
        clock = self._clock()
        response = await self._asend(request, stream=False, extra_headers=extra_headers, clock=clock)
        reader = ResponseReader()
        try:
            async for _ in self._aread(response, reader, clock):
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
        clock = self._clock()
        response = await self._asend(request, stream=True, extra_headers=extra_headers, clock=clock)
        return response, self._aread(response, reader, clock)

    async def _aread(
        self, response: httpx.Response, reader: ResponseReader, clock: CallClock
    ) -> AsyncGenerator[StreamDelta, None]:
        """Async `_read`."""
        limit = self.settings.max_response_bytes
        reader.read_headers(response.headers)
        if not _is_event_stream(response):
            for delta in reader.feed_body(_decode_json(response, await self._aread_body(response, clock))):
                yield delta
            return
        decompressor = self._stream_decompressor(response)
        self._begin_stream(clock)
        framer = EventFramer(limit)
        read = _raw(response)
        chunks = _aiter(read) if read is not None else response.aiter_raw()
        # The finally closes httpx's byte generator here, on this loop, instead of leaving it to asyncio's
        # finalizer (which a loop closed without shutdown_asyncgens() reports as a destroyed pending task).
        try:
            while True:
                deadlines.use(clock)
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                events = self._stream_events(reader, decompressor, framer, chunk)
                for event in events:
                    for delta in reader.feed(event):
                        yield delta
                    if reader.done:
                        return
                if events:
                    clock.phase(self._idle)
                elif _passed(clock.left()):
                    raise self._stream_timeout(reader, clock)
        except httpx.TransportError as exc:
            self._mid_stream_failure(reader, response, exc, clock)
        finally:
            close = getattr(chunks, "aclose", None)  # typed as an AsyncIterator; an async generator in fact
            if close is not None:
                await close()
        reader.result()  # raises: the connection ended without an end marker

    async def _aread_body(self, response: httpx.Response, clock: CallClock) -> bytes:
        """Async `_read_body`."""
        body = self._json_reader(response)
        deadlines.use(clock)
        try:
            read = _raw(response)
            if read is not None:
                body.add(read[0])
            else:
                async for piece in response.aiter_raw():
                    body.add(piece)
            return body.finish()
        except httpx.TransportError as exc:
            raise self._body_lost(response, exc, clock) from exc
        except FrameError as exc:
            raise _frame_failure(response, exc) from None

    async def _afetch_json(
        self,
        method: str,
        url: httpx.URL,
        content: bytes | None,
        extra_headers: Mapping[str, str] | None,
        *,
        final: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """Async `_fetch_json`."""
        clock = self._clock()
        http = self.http_async_client
        http_request = self._http_request(http, method, url, content, extra_headers=extra_headers)
        response = await self._asend_request(http, http_request, stream=False, clock=clock, final=final)
        try:
            return _decode_json(response, await self._aread_body(response, clock))
        finally:
            await response.aclose()

    async def aembed(
        self, request: EmbeddingRequest, *, extra_headers: Mapping[str, str] | None = None
    ) -> EmbeddingResult:
        """Async `embed`."""
        body = await self._afetch_json("POST", self._embeddings_url, request.body(), extra_headers)
        return read_embeddings(body, len(request.texts), request.model)

    async def alist_models(self, *, refresh: bool = False) -> tuple[ListedModel, ...]:
        """Async `list_models` (the same cache)."""
        if self._listed_models is None or refresh:
            body = await self._afetch_json("GET", self._models_url, None, None)
            self._listed_models = read_model_list(body)
        return self._listed_models

    async def acheck_model(self, model: str) -> None:
        """Async `check_model`."""
        check_model_listed(model, await self.alist_models())

    async def aput_presigned(self, url: str, content: bytes) -> None:
        """Async `put_presigned`."""
        clock = self._clock()
        http = self.http_async_client
        request = self._presigned_request(http, "PUT", url, content)
        response = await self._asend_request(http, request, stream=False, clock=clock, presigned=True)
        await response.aclose()

    async def aiter_presigned_lines(self, url: str) -> AsyncGenerator[bytes, None]:
        """Async `iter_presigned_lines`."""
        clock = self._clock()
        http = self.http_async_client
        request = self._presigned_request(http, "GET", url, None)
        response = await self._asend_request(http, request, stream=True, clock=clock, presigned=True)
        pending = bytearray()
        try:
            self._begin_stream(clock)
            async for chunk in response.aiter_bytes():
                clock.phase(self._idle)
                deadlines.use(clock)
                for line in self._split_lines(pending, chunk, response):
                    yield line
        except httpx.TransportError as exc:
            raise self._body_lost(response, exc, clock) from exc
        finally:
            await response.aclose()
        if pending:
            yield bytes(pending)
