"""`ResponseStream` / `AsyncResponseStream`: one streaming call, iterated for `StreamDelta`s.

A stream is created by `ResponsesClient.stream()` / `.astream()` and sends nothing until it is first
iterated; it then asks its client to send (with retries) and reads through the client's one reader loop.
It keeps what has arrived (`text`, `reasoning`, `result`) and owns its response, which it closes as soon as
the answer ends, fails or is interrupted.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from typing import TYPE_CHECKING

import httpx

from .reader import ResponseReader, StreamDelta
from .request import ResponseRequest
from .response import ResponseResult

if TYPE_CHECKING:
    from .client import ResponsesClient

__all__ = ["AsyncResponseStream", "ResponseStream"]


class _AssembledStream:
    """What a sync and an async stream share: the request, the reader and what it has received so far.

    A stream owns its response and closes it as soon as the answer ends, fails or is interrupted, and on
    `close()`/`aclose()` or leaving its `with` block. Streams are iterator objects, not generators, on
    purpose: asyncio closes every async generator still open when its loop shuts down, so a generator
    stream inside a caller's generator that closes it too (`async with`) got closed twice at once
    ("aclose(): asynchronous generator is already running"). The reader's generator inside never awaits
    while closing, so closing it twice is harmless. A stream dropped mid-answer without a close (a
    `break`) is closed by httpx's and httpcore's own generators as they are collected, at the latest with
    its pool.
    """

    def __init__(
        self, client: ResponsesClient, request: ResponseRequest, extra_headers: Mapping[str, str] | None
    ) -> None:
        self._client = client
        self._request = request
        self._extra_headers = extra_headers
        self._reader = ResponseReader()
        self._response: httpx.Response | None = None
        self._closed = False

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

    _deltas: Generator[StreamDelta, None, None] | None = None

    def __iter__(self) -> ResponseStream:
        return self

    def __next__(self) -> StreamDelta:
        try:
            if self._deltas is None:
                if self._closed:
                    raise StopIteration
                self._response, self._deltas = self._client._open_stream(
                    self._request, self._extra_headers, self._reader
                )
            return next(self._deltas)
        except BaseException:
            self.close()  # ended, failed or interrupted: release the connection now
            raise

    def close(self) -> None:
        self._closed = True
        if self._deltas is not None:
            self._deltas.close()
        if self._response is not None:
            self._response.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncResponseStream(_AssembledStream):
    """Async counterpart of `ResponseStream`."""

    _deltas: AsyncGenerator[StreamDelta, None] | None = None

    def __aiter__(self) -> AsyncResponseStream:
        return self

    async def __anext__(self) -> StreamDelta:
        try:
            if self._deltas is None:
                if self._closed:
                    raise StopAsyncIteration
                self._response, self._deltas = await self._client._aopen_stream(
                    self._request, self._extra_headers, self._reader
                )
            return await self._deltas.__anext__()
        except BaseException:
            await self.aclose()  # ended, failed or interrupted: release the connection now
            raise

    async def aclose(self) -> None:
        self._closed = True
        if self._deltas is not None:
            await self._deltas.aclose()
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncResponseStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
