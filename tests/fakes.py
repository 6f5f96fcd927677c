"""The fake endpoint and the recording transports every test layer uses (core, adapters, reliability, replay).

`FakeEndpoint` is a scripted `/v1/responses` (or any other) endpoint on `httpx.MockTransport`: no sockets.
It records each request it receives (so a test can prove how many were sent, and with what body and
headers) and plays its replies in order, the last one repeating. A reply is a `Reply` (a status with a
JSON body, or SSE bytes delivered piece by piece, or a transport failure), a ready `httpx.Response`
(copied for each request), or a function of the request returning either. One endpoint serves a sync client
(`.transport`) and an async one (`.async_transport`); a streamed `Reply` yields its chunks from a plain
iterator for the first and from an async iterator for the second, as a socket-backed response would.

`CountingTransport` / `AsyncCountingTransport` wrap another transport (by default one that fails the test:
nothing may be sent) and record every request that reaches them; `InFlightTransport` also records the
most requests ever in flight at once, so bounded concurrency can be asserted.

(Imported as a top-level module: `tests/` is on `sys.path` because the root `conftest.py` has no package.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = [
    "AsyncCountingTransport",
    "CountingTransport",
    "FakeEndpoint",
    "InFlightTransport",
    "Reply",
    "json_reply",
    "sse_reply",
]


# -- replies -----------------------------------------------------------------------------------------
@dataclass
class Reply:
    """One scripted answer: a status with JSON or SSE bytes (optionally chunked), or a transport failure."""

    status: int = 200
    json_body: Any = None
    chunks: Sequence[bytes] | None = None  # SSE body, delivered piece by piece
    fail_after: BaseException | None = None  # raised by the body iterator after `chunks`
    raises: BaseException | None = None  # raised instead of answering (e.g. httpx.ConnectError)
    headers: dict[str, str] = field(default_factory=dict)

    def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
        if self.raises is not None:
            raise self.raises
        headers = dict(self.headers)
        if self.chunks is None:
            headers.setdefault("content-type", "application/json")
            content = json.dumps(self.json_body).encode() if self.json_body is not None else b""
            return httpx.Response(self.status, headers=headers, content=content, request=request)
        headers.setdefault("content-type", "text/event-stream; charset=utf-8")
        stream: Any = self._aiter() if is_async else self._iter()
        return httpx.Response(self.status, headers=headers, content=stream, request=request)

    def _iter(self) -> Iterator[bytes]:
        yield from self.chunks or ()
        if self.fail_after is not None:
            raise self.fail_after

    async def _aiter(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks or ():
            yield chunk
        if self.fail_after is not None:
            raise self.fail_after


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, json_body=body, headers=headers or {})


def sse_reply(
    chunks: Sequence[bytes], *, fail_after: BaseException | None = None, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(chunks=list(chunks), fail_after=fail_after, headers=headers or {})


ReplyLike = Reply | httpx.Response | Callable[[httpx.Request], httpx.Response | Reply]
# What an endpoint built without replies answers: a minimal completed response saying "ok".
OK_BODY: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "model": "m",
    "status": "completed",
    "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}],
}


# -- the endpoint ------------------------------------------------------------------------------------
class FakeEndpoint:
    """Records every request and plays `replies` in order (the last one repeats)."""

    def __init__(self, *replies: ReplyLike) -> None:
        self.replies: list[ReplyLike] = list(replies) or [json_reply(OK_BODY)]
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self)
        self.async_transport = httpx.MockTransport(self._answer_async)

    def reply(self, *replies: ReplyLike) -> None:
        """Replace the script: from now on, answer with `replies` (the last one repeats)."""
        assert replies, "an endpoint needs at least one reply"
        self.replies = list(replies)

    def reply_json(self, body: Any, status: int = 200) -> None:
        self.reply(json_reply(body, status))

    def reply_sse(self, body: bytes) -> None:
        self.reply(sse_reply([body]))

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    @property
    def body(self) -> dict[str, Any]:
        """The body of the one request received."""
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.bodies[0]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The sync handler (also usable as `httpx.MockTransport(endpoint)`)."""
        return self._answer(request, is_async=False)

    async def _answer_async(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request, is_async=True)

    def _answer(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Reply):
            return reply.build(request, is_async=is_async)
        if isinstance(reply, httpx.Response):
            # A Response's stream can be read once; each request gets a fresh copy.
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        answer = reply(request)
        return answer.build(request, is_async=is_async) if isinstance(answer, Reply) else answer


# -- recording transports ----------------------------------------------------------------------------
class _NoNetwork(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The default inner transport: any request that gets this far is a bug in the test or the code."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")


class _Recorder:
    requests: list[httpx.Request]

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


class CountingTransport(_Recorder, httpx.BaseTransport):
    """Records each request (retries included), then hands it to `inner` (default: fail, nothing is sent)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner: httpx.BaseTransport = inner or _NoNetwork()
        self.requests = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncCountingTransport(_Recorder, httpx.AsyncBaseTransport):
    """Async twin of `CountingTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner: httpx.AsyncBaseTransport = inner or _NoNetwork()
        self.requests = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class InFlightTransport(AsyncCountingTransport):
    """Async, over a real transport: also records the most requests ever in flight (until answered)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(inner or httpx.AsyncHTTPTransport())
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()  # the request is in flight until its whole answer has arrived
            return response
        finally:
            self.in_flight -= 1
