"""A stream that breaks raises `StreamError` carrying what arrived, after yielding everything before it.

Each broken stream first delivers "Hello" and " wor" (and, for one case, a tool call piece), then fails:
an error chunk, `response.failed`, an `error` event, malformed JSON, a non-object event, a connection
that ends without an end marker (between or inside events), a dropped connection, a read timeout. The
deltas before the failure must reach the caller first, the error's `.partial` must hold them, and the
request must not be re-sent (a stream is never retried once it has started). A transport failure (dropped,
reset, timed out) is also an `APIConnectionError`, like the same failure before the stream began; what
the server said (an error event, `response.failed`) or sent (malformed data) is not.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fakes import FakeEndpoint, Reply, sse_reply

from gradient_integrations.core import (
    APIConnectionError,
    APITimeoutError,
    ResponseFailedError,
    ResponsesClient,
    StreamError,
    StreamTimeoutError,
    ToolCall,
    build_request,
)
from gradient_integrations.core.errors import StreamConnectionError
from gradient_integrations.local import LocalServer

from ._support import SleepRecorder, acollect, collect, make_client, sse_event

HEAD = {"id": "resp-1", "object": "response.chunk", "created": 1, "model": "m"}
DO_START = "".join(
    sse_event(json.dumps({**HEAD, "choices": [{"index": 0, "delta": {"content": piece}}]}))
    for piece in ("Hello", " wor")
)
TYPED_START = "".join(
    sse_event(json.dumps({"type": "response.output_text.delta", "item_id": "m1", "delta": piece}))
    for piece in ("Hello", " wor")
)

# name -> (bytes before the failure, failing tail, exception raised by the body after them, message part)
BROKEN: dict[str, tuple[str, str, BaseException | None, str]] = {
    "do error chunk": (
        DO_START,
        sse_event(json.dumps({"error": {"message": "upstream overloaded", "code": "overloaded"}})),
        None,
        "upstream overloaded (overloaded)",
    ),
    "do error string": (DO_START, sse_event('{"error": "boom"}'), None, "Stream error: boom"),
    "response.failed": (
        TYPED_START,
        sse_event(
            json.dumps(
                {
                    "type": "response.failed",
                    "response": {
                        "status": "failed",
                        "error": {"code": "server_error", "message": "model crashed"},
                    },
                }
            )
        ),
        None,
        "model crashed (server_error)",
    ),
    "typed error event": (
        TYPED_START,
        sse_event(json.dumps({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"})),
        None,
        "slow down (rate_limit_exceeded)",
    ),
    "malformed json": (DO_START, sse_event('{"choices": [{"delta": '), None, "Malformed JSON"),
    "non-object json": (DO_START, sse_event("[1, 2, 3]"), None, "not a JSON object"),
    "truncated between events": (DO_START, "", None, "ended before [DONE]"),
    "truncated inside an event": (
        DO_START,
        'data: {"choices": [{"delta": {"content": "ld"}}',
        None,
        "ended before",
    ),
    "connection dropped": (
        DO_START,
        "",
        httpx.RemoteProtocolError("peer closed connection"),
        "connection lost",
    ),
    "read timeout": (TYPED_START, "", httpx.ReadTimeout("timed out"), "No stream event within"),
    "connection reset": (DO_START, "", httpx.ReadError("connection reset by peer"), "connection lost"),
}
# The transport failures: caught by `except APIConnectionError` like the same failure before the stream
# began, and a StreamError with `.partial` all the same. What the server said or sent is neither.
TRANSPORT = {"connection dropped", "read timeout", "connection reset"}
SERVER_SAID_FAILED = {"do error chunk", "do error string", "response.failed", "typed error event"}


def _check_kind(name: str, error: StreamError) -> None:
    assert isinstance(error, StreamConnectionError) is (name in TRANSPORT)
    assert isinstance(error, APIConnectionError) is (name in TRANSPORT)
    assert isinstance(error, (StreamTimeoutError, APITimeoutError)) is (name == "read timeout")
    assert isinstance(error, ResponseFailedError) is (name in SERVER_SAID_FAILED)


def _script(name: str) -> FakeEndpoint:
    start, tail, failure, _ = BROKEN[name]
    # The failing tail goes in its own chunk so the good events are delivered before it is even read.
    return FakeEndpoint(
        sse_reply([start.encode(), tail.encode()] if tail else [start.encode()], fail_after=failure)
    )


@pytest.mark.parametrize("name", BROKEN)
def test_sync_stream_error_after_earlier_deltas(name: str) -> None:
    script = _script(name)
    sleeper = SleepRecorder()
    stream = make_client(script, sleeper=sleeper).stream(build_request(model="m", input="hi"))
    deltas, error = collect(stream)
    assert [(d.kind, d.text) for d in deltas] == [("text", "Hello"), ("text", " wor")]
    assert isinstance(error, StreamError)
    assert BROKEN[name][3] in str(error)
    assert error.partial.text == "Hello wor"
    assert error.partial.finish_reason is None  # it never finished
    assert stream.result.text == "Hello wor"
    assert (script.count, sleeper.waits) == (1, [])  # not re-sent
    _check_kind(name, error)


@pytest.mark.parametrize("name", BROKEN)
async def test_async_stream_error_after_earlier_deltas(name: str) -> None:
    script = _script(name)
    sleeper = SleepRecorder()
    client = make_client(script, sleeper=sleeper)
    stream = client.astream(build_request(model="m", input="hi"))
    deltas, error = await acollect(stream)
    assert [(d.kind, d.text) for d in deltas] == [("text", "Hello"), ("text", " wor")]
    assert isinstance(error, StreamError)
    assert BROKEN[name][3] in str(error)
    assert error.partial.text == "Hello wor"
    assert stream.result.text == "Hello wor"
    assert (script.count, sleeper.waits) == (1, [])
    _check_kind(name, error)
    await client.aclose()


def test_partial_keeps_reasoning_and_tool_calls() -> None:
    events = [
        {**HEAD, "choices": [{"index": 0, "delta": {"reasoning_content": "Hmm."}}]},
        {
            **HEAD,
            "choices": [{"index": 0, "delta": {"tool_calls": [{"id": "c1", "function": {"name": "f"}}]}}],
        },
        {**HEAD, "choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": '{"a":'}}]}}]},
        {"error": {"message": "gone"}},
    ]
    script = FakeEndpoint(sse_reply(["".join(sse_event(json.dumps(e)) for e in events).encode()]))
    deltas, error = collect(make_client(script).stream(build_request(model="m", input="hi")))
    assert [d.kind for d in deltas] == ["reasoning", "tool_call", "tool_call"]
    assert error is not None
    assert error.partial.reasoning == "Hmm."
    assert error.partial.tool_calls == [ToolCall("c1", "f", '{"a":')]


def test_deltas_are_yielded_as_chunks_arrive_not_after_the_body() -> None:
    pulled: list[int] = []
    pieces = [DO_START.encode(), sse_event(json.dumps({"error": {"message": "late failure"}})).encode()]

    def body() -> Iterator[bytes]:
        for number, piece in enumerate(pieces):
            pulled.append(number)
            yield piece

    class LazyReply(Reply):
        def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    script = FakeEndpoint(LazyReply())
    stream = iter(make_client(script).stream(build_request(model="m", input="hi")))
    first = next(stream)
    assert first.text == "Hello"
    assert pulled == [0]  # the failing chunk has not even been read yet
    assert next(stream).text == " wor"
    with pytest.raises(StreamError, match="late failure"):
        next(stream)
    assert pulled == [0, 1]


def test_closing_a_stream_early_closes_the_response() -> None:
    closed: list[bool] = []
    blob = (DO_START + sse_event("[DONE]")).encode()

    class Tracked(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield blob

        def close(self) -> None:
            closed.append(True)

    class TrackedReply(Reply):
        def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Tracked())

    with make_client(FakeEndpoint(TrackedReply())).stream(build_request(model="m", input="hi")) as stream:
        assert next(iter(stream)).text == "Hello"
    assert closed == [True]


async def test_closing_an_async_stream_early_closes_the_response() -> None:
    closed: list[bool] = []
    blob = (DO_START + sse_event("[DONE]")).encode()

    class Tracked(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield blob

        async def aclose(self) -> None:
            closed.append(True)

    class TrackedReply(Reply):
        def build(self, request: httpx.Request, *, is_async: bool) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Tracked())

    client = make_client(FakeEndpoint(TrackedReply()))
    async with client.astream(build_request(model="m", input="hi")) as stream:
        assert (await stream.__anext__()).text == "Hello"
    assert closed == [True]
    await client.aclose()


@pytest.mark.parametrize("run_async", [False, True])
async def test_a_dropped_connection_on_real_sockets_is_a_connection_error_with_its_partial(
    local_server: LocalServer, run_async: bool
) -> None:
    # `except APIConnectionError` catches a connection lost before the answer and one lost during it.
    client = ResponsesClient(base_url=local_server.base_url)
    request = build_request(model="llama3.3-70b-instruct", input="tell me about the sea " * 5)
    fault = {"x-gradient-fault": "disconnect_mid_stream:2"}
    delivered: list[str] = []
    with pytest.raises(APIConnectionError) as caught:
        if run_async:
            async for delta in client.astream(request, extra_headers=fault):
                delivered.append(delta.text)
        else:
            for delta in client.stream(request, extra_headers=fault):
                delivered.append(delta.text)
    error = caught.value
    assert isinstance(error, StreamConnectionError) and not isinstance(error, APITimeoutError)
    assert delivered and error.partial.text == "".join(delivered)
    client.close()
    await client.aclose()
