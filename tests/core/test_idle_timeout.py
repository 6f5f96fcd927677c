"""The per-chunk idle timeout, on real loopback sockets, sync and async.

`StallingServer` (in `_loopback`) answers each request on 127.0.0.1 with a chunked `text/event-stream`
body sent on a schedule and then falls silent without closing, which is what a hung upstream looks
like. The client must give up after `stream_idle_timeout` seconds of silence with `StreamTimeoutError`
holding what arrived, yet keep reading a stream whose chunks are slow but steady even when the whole
answer takes longer than the idle timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from gradient_integrations.core import (
    APITimeoutError,
    ResponsesClient,
    RetryPolicy,
    StreamTimeoutError,
    build_request,
)

from ._loopback import StallingServer
from ._support import SleepRecorder, acollect, collect, sse_event

REQUEST = build_request(model="m", input="hi")


def text_event(piece: str) -> bytes:
    return sse_event(json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]})).encode()


DONE = sse_event("[DONE]").encode()


@pytest.fixture
def stalled() -> Iterator[StallingServer]:
    # "Hello" and " world" straight away, then silence.
    with StallingServer([(0.0, text_event("Hello")), (0.05, text_event(" world"))]) as server:
        yield server


def _client(base_url: str, idle: float, **kwargs: object) -> ResponsesClient:
    return ResponsesClient(base_url=base_url, stream_idle_timeout=idle, **kwargs)  # type: ignore[arg-type]


def test_sync_stream_stall_raises_stream_timeout_with_partial(stalled: StallingServer) -> None:
    client = _client(stalled.base_url, idle=0.3)
    started = time.monotonic()
    deltas, error = collect(client.stream(REQUEST))
    elapsed = time.monotonic() - started
    assert [d.text for d in deltas] == ["Hello", " world"]
    assert isinstance(error, StreamTimeoutError) and isinstance(error, APITimeoutError)
    assert error.partial.text == "Hello world"
    assert "0.3 s" in str(error)
    assert 0.3 <= elapsed < 5  # the idle timeout fired, not the 60 s default nor the server's hang
    assert stalled.connections == 1  # a started stream is not retried
    client.close()


async def test_async_stream_stall_raises_stream_timeout_with_partial(stalled: StallingServer) -> None:
    client = _client(stalled.base_url, idle=0.3)
    started = time.monotonic()
    deltas, error = await acollect(client.astream(REQUEST))
    elapsed = time.monotonic() - started
    assert [d.text for d in deltas] == ["Hello", " world"]
    assert isinstance(error, StreamTimeoutError)
    assert error.partial.text == "Hello world"
    assert 0.3 <= elapsed < 5
    assert stalled.connections == 1
    await client.aclose()


async def test_silence_right_after_headers_is_an_idle_timeout_too() -> None:
    with StallingServer([]) as server:
        client = _client(server.base_url, idle=0.2)
        deltas, error = collect(client.stream(REQUEST))
        adeltas, aerror = await acollect(client.astream(REQUEST))
    assert deltas == adeltas == []
    assert isinstance(error, StreamTimeoutError) and isinstance(aerror, StreamTimeoutError)
    assert error.partial.text == ""


async def test_slow_but_steady_stream_is_not_cut() -> None:
    # Seven chunks 0.15 s apart: over 1 s in all, longer than the 0.8 s idle timeout, never idle that long
    # (the wide margin keeps a busy machine's scheduling hiccups from failing the test).
    pieces = ["a", "b", "c", "d", "e", "f", "g"]
    chunks = [(0.15, text_event(p)) for p in pieces] + [(0.0, DONE)]
    with StallingServer(chunks) as server:
        client = _client(server.base_url, idle=0.8)
        started = time.monotonic()
        stream = client.stream(REQUEST)
        _, error = collect(stream)
        elapsed = time.monotonic() - started
        astream = client.astream(REQUEST)
        _, aerror = await acollect(astream)
        await client.aclose()
    assert error is None and aerror is None
    assert stream.result.text == astream.result.text == "abcdefg"
    assert elapsed > 0.8


async def test_create_timeout_before_headers_is_retried_then_api_timeout() -> None:
    sleeper = SleepRecorder()
    policy = RetryPolicy(max_retries=1, sleep=sleeper, async_sleep=sleeper.async_sleep)
    with StallingServer([], header_delay=10) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.2, retry_policy=policy)
        with pytest.raises(APITimeoutError) as caught:
            client.create(REQUEST)
        assert not isinstance(caught.value, StreamTimeoutError)
        assert server.connections == 2 and len(sleeper.waits) == 1
        with pytest.raises(APITimeoutError):
            await client.acreate(REQUEST)
        assert server.connections == 4
        await client.aclose()
