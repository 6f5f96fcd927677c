"""Red team, answers: a 200 that is too big, malformed or a failure in disguise becomes a typed error.

- Size: a JSON body over `max_response_bytes`, a gzip bomb (~200 KB that inflates to 200 MB) under the
  default limit, and one 50 MB SSE line are refused with `ResponseTooLargeError` / `StreamValidationError`
  (both `APIResponseValidationError`s) while memory stays bounded (tracemalloc's peak) and reading stops at
  the limit (the bodies are generated lazily, 64 KB at a time, and the bytes served are counted).
- Shape: valid JSON of the wrong shape (an int id, `output` not a list of objects), undecodable gzip, and
  stream events whose parts have the wrong type after a good "hello" delta raise typed errors, never a
  pydantic `ValidationError`, `httpx.DecodingError`, `TypeError` or a silently empty success; a broken
  stream keeps "hello" as its `.partial`.
- Failure in disguise: a 200 whose body is an error object, or says `"status": "failed"`, is a
  `ResponseFailedError` carrying the server's message, not an empty answer.

All served through the shared fake endpoint (`tests/fakes.py`, no sockets), sync and async.
"""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from functools import cache
from typing import Any

import httpx
import pytest
from core._support import sse_json
from fakes import FakeEndpoint

from gradient_integrations.core import (
    APIResponseValidationError,
    ResponseFailedError,
    ResponsesClient,
    ResponseTooLargeError,
    StreamConnectionError,
    StreamError,
    StreamValidationError,
)

from ._red_team import HOW, OK_BODY, create, stream
from ._support import SECRET_KEY

BASE_URL = "https://gradient.test"
CHUNK = 64 * 1024
JSON_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = {"content-type": "text/event-stream"}
DONE = b"data: [DONE]\n\n"


# -- serving bodies as streams of chunks --------------------------------------------------------------
class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body produced lazily, piece by piece, for sync and async clients; counts what was served."""

    def __init__(self, pieces: Callable[[], Iterable[bytes]]) -> None:
        self._pieces = pieces
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces():
            self.served += len(piece)
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self.served += len(piece)
            yield piece


def chunked(blob: bytes, size: int = CHUNK) -> Callable[[], Iterator[bytes]]:
    return lambda: (blob[start : start + size] for start in range(0, len(blob), size))


class Served:
    """The replies of a fake endpoint: every request gets `status`, `headers` and a fresh ChunkStream of
    `pieces` (kept in `streams`, so a test can see each one closed)."""

    def __init__(
        self, pieces: Callable[[], Iterable[bytes]], headers: dict[str, str], status: int = 200
    ) -> None:
        self.pieces, self.headers, self.status = pieces, headers, status
        self.streams: list[ChunkStream] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        stream = ChunkStream(self.pieces)
        self.streams.append(stream)
        return httpx.Response(self.status, headers=self.headers, stream=stream, request=request)

    def client(self, **kwargs: Any) -> ResponsesClient:
        endpoint = FakeEndpoint(self)
        kwargs.setdefault("max_retries", 0)
        return ResponsesClient(
            api_key=SECRET_KEY,
            base_url=BASE_URL,
            transport=endpoint.transport,
            async_transport=endpoint.async_transport,
            **kwargs,
        )


async def _create(client: ResponsesClient, how: str) -> Any:
    try:
        return await create(client, how)
    finally:
        await client.aclose()


async def _stream(client: ResponsesClient, how: str) -> tuple[list[Any], StreamError | None]:
    try:
        return await stream(client, how)
    finally:
        await client.aclose()


def text_chunk(piece: str) -> bytes:
    return sse_json({"choices": [{"index": 0, "delta": {"content": piece}}]}).encode()


# -- 3a: a JSON body over the limit -------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_json_body_over_max_response_bytes_is_refused(how: str) -> None:
    big = {
        **OK_BODY,
        "output": [{**OK_BODY["output"][0], "content": [{"type": "output_text", "text": "x" * 3_000_000}]}],
    }
    served = Served(chunked(json.dumps(big).encode()), JSON_HEADERS)
    with pytest.raises(ResponseTooLargeError) as caught:
        await _create(served.client(max_response_bytes=1_000_000), how)
    assert isinstance(caught.value, APIResponseValidationError)
    assert "max_response_bytes" in str(caught.value)
    assert served.streams[0].served <= 1_000_000 + 2 * CHUNK  # reading stopped at the limit


@pytest.mark.parametrize("how", HOW)
async def test_a_json_body_under_max_response_bytes_is_read(how: str) -> None:
    served = Served(chunked(json.dumps(OK_BODY).encode(), size=7), JSON_HEADERS)
    result = await _create(served.client(max_response_bytes=1_000_000), how)
    assert result.text == "hello"


# -- 3b: a gzip bomb under the default limit ----------------------------------------------------------
BOMB_SIZE = 200 * 1024 * 1024


@cache
def gzip_bomb() -> bytes:
    """~200 KB of gzip that inflates to 200 MB of zeros (compressed once, a MB at a time)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(BOMB_SIZE // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.mark.parametrize("how", HOW)
async def test_a_gzip_bomb_is_refused_without_inflating_it(how: str) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 1_000_000
    served = Served(chunked(bomb), {**JSON_HEADERS, "content-encoding": "gzip"})
    client = served.client()  # default settings
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError) as caught:
            await _create(client, how)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "max_response_bytes" in str(caught.value)
    assert peak < 100 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"


# -- 3c: one enormous SSE line ------------------------------------------------------------------------
HUGE_LINE = 50 * 1024 * 1024
_FILL = b"x" * CHUNK  # one shared piece: serving the line allocates nothing per chunk


def huge_line_stream() -> Iterator[bytes]:
    yield text_chunk("hello")
    yield b'data: {"choices": [{"index": 0, "delta": {"content": "'
    for _ in range(HUGE_LINE // CHUNK):
        yield _FILL
    yield b'"}}]}\n\n'
    yield DONE


@pytest.mark.parametrize("how", HOW)
async def test_a_50_mb_stream_line_is_refused_with_its_partial(how: str) -> None:
    served = Served(huge_line_stream, SSE_HEADERS)
    client = served.client(max_response_bytes=1_000_000)
    tracemalloc.start()
    try:
        deltas, error = await _stream(client, how)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.text for d in deltas] == ["hello"]
    assert isinstance(error, StreamValidationError), repr(error)
    assert isinstance(error, APIResponseValidationError)
    assert error.partial.text == "hello"
    assert peak < 30 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"
    assert served.streams[0].served < 5 * 1024 * 1024  # reading stopped near the limit


# -- 6: valid JSON, wrong shape -----------------------------------------------------------------------
ODD_BODIES = {
    "int id": {**OK_BODY, "id": 123},
    "output a string": {**OK_BODY, "output": "x"},
    "output of ints": {**OK_BODY, "output": [1]},
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("name", sorted(ODD_BODIES))
async def test_a_json_body_of_the_wrong_shape_is_a_validation_error(name: str, how: str) -> None:
    served = Served(chunked(json.dumps(ODD_BODIES[name]).encode()), JSON_HEADERS)
    with pytest.raises(APIResponseValidationError):
        await _create(served.client(), how)


@pytest.mark.parametrize("how", HOW)
async def test_undecodable_gzip_is_a_validation_error(how: str) -> None:
    served = Served(lambda: [b"this is not gzip at all" * 10], {**JSON_HEADERS, "content-encoding": "gzip"})
    with pytest.raises(APIResponseValidationError) as caught:
        await _create(served.client(), how)
    assert not isinstance(caught.value, ResponseTooLargeError)  # undecodable, not too large


CHAT_HELLO = text_chunk("hello")
TYPED_HELLO = sse_json(
    {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "hello"}
).encode()
ODD_EVENTS: dict[str, tuple[bytes, dict[str, Any]]] = {
    "delta a string": (CHAT_HELLO, {"choices": [{"index": 0, "delta": "x"}]}),
    "tool call piece a string": (CHAT_HELLO, {"choices": [{"index": 0, "delta": {"tool_calls": ["x"]}}]}),
    "unhashable tool index": (
        CHAT_HELLO,
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": [1], "function": {"name": "f"}}]}}]},
    ),
    "int tool name (chat)": (
        CHAT_HELLO,
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": 5, "arguments": "{}"},
                            }
                        ]
                    },
                }
            ]
        },
    ),
    "item a string": (TYPED_HELLO, {"type": "response.output_item.added", "output_index": 1, "item": "x"}),
    "response a list": (TYPED_HELLO, {"type": "response.completed", "response": [1]}),
    "int tool name (typed)": (
        TYPED_HELLO,
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": 5, "arguments": ""},
        },
    ),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("name", sorted(ODD_EVENTS))
async def test_a_stream_event_of_the_wrong_shape_is_a_stream_error_with_its_partial(
    name: str, how: str
) -> None:
    hello, odd = ODD_EVENTS[name]
    served = Served(lambda: [hello, sse_json(odd).encode(), DONE], SSE_HEADERS)
    deltas, error = await _stream(served.client(), how)
    assert [d.text for d in deltas if d.kind == "text"] == ["hello"]
    assert not any(d.kind == "finish" for d in deltas), "a broken stream must not finish as a success"
    assert isinstance(error, StreamError), f"no typed error: {error!r}"
    assert not isinstance(error, StreamConnectionError)  # the bytes arrived: it is the answer that is wrong
    assert isinstance(error, StreamValidationError) and isinstance(error, APIResponseValidationError)
    assert error.partial.text == "hello"


# -- 7: a 200 that is a failure -----------------------------------------------------------------------
FAILED_BODIES = {
    "error object only": {"error": {"message": "boom", "type": "server_error"}},
    "status failed": {
        "id": "resp_1",
        "object": "response",
        "status": "failed",
        "error": {"message": "boom", "code": "server_error"},
        "output": [],
    },
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("name", sorted(FAILED_BODIES))
async def test_a_200_that_reports_a_failure_is_response_failed(name: str, how: str) -> None:
    served = Served(chunked(json.dumps(FAILED_BODIES[name]).encode()), JSON_HEADERS)
    with pytest.raises(ResponseFailedError) as caught:
        await _create(served.client(), how)
    assert "boom" in str(caught.value)
