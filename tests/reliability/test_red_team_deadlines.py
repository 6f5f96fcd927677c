"""Red team, time: a server that never quite stops talking cannot hold a call past its time limits.

httpx's read timeout bounds each socket read, so a server that sends one byte every 0.1 s (of the headers,
of a JSON body, or SSE comments between stream events) never trips it. The core must bound the whole call:

- without an explicit `deadline`, a default one derived from the timeout, (max_retries + 1) x (connect +
  read), caps every call, so `timeout=0.5, max_retries=1` ends a trickled call within ~2 s;
- `stream_idle_timeout` is the longest wait for the next *event*: comments and keep-alive lines do not
  reset it;
- an explicit `deadline` ends a stream that keeps sending real deltas, with what arrived as `.partial`;
- a `Retry-After` longer than the (default) deadline is not waited for: the 429 is raised at once;
- a JSON body that stalls after its headers is a timeout (`APITimeoutError`), not a plain connection error.

Every server here is a `RawServer` script on loopback. Scripts that would trickle "forever" give up after
`GIVE_UP` seconds (closing the connection), so a client without the limit fails the test in seconds
instead of hanging it; every bound asserted is well under `GIVE_UP`.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from typing import Any

import pytest
from core._support import SleepRecorder, acollect, collect, make_client, sse_json
from fakes import FakeEndpoint, json_reply

from gradient_integrations.core import (
    APIConnectionError,
    APITimeoutError,
    RateLimitError,
    ResponsesClient,
    StreamTimeoutError,
)

from ._raw_server import RawServer, hold, http_head, http_response, read_request, stopped
from ._red_team import HOW, OK_BODY, REQUEST, create, stream

GIVE_UP = 4.5  # seconds a "forever" script keeps going before it closes the connection
EVERY = 0.1  # seconds between two trickled pieces
SSE_HEAD = http_head(200, {"content-type": "text/event-stream", "cache-control": "no-store"})


def text_chunk(piece: str) -> bytes:
    return sse_json({"choices": [{"index": 0, "delta": {"content": piece}}]}).encode()


def trickle(conn: socket.socket, first: bytes, piece: bytes) -> None:
    """Read the request, send `first`, then `piece` every EVERY s until stopped, hung up on, or GIVE_UP."""
    read_request(conn)
    conn.sendall(first)
    until = time.monotonic() + GIVE_UP
    while not stopped(EVERY) and time.monotonic() < until:
        conn.sendall(piece)


def trickled_headers(conn: socket.socket) -> None:
    trickle(conn, b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")


def trickled_json_body(conn: socket.socket) -> None:
    head = http_head(200, {"content-type": "application/json", "content-length": "100000"})
    trickle(conn, head, b" ")


def one_delta_then_comments(conn: socket.socket) -> None:
    trickle(conn, SSE_HEAD + text_chunk("Hello"), b": keep-alive\n\n")


def steady_deltas(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(SSE_HEAD)
    until = time.monotonic() + GIVE_UP
    for n in itertools.count():
        if stopped(EVERY) or time.monotonic() >= until:
            return
        conn.sendall(text_chunk(f" {n}"))


def stalled_json_body(conn: socket.socket) -> None:
    """Headers promising 100 bytes, 10 of them, then silence until the client hangs up."""
    read_request(conn)
    conn.sendall(
        http_head(200, {"content-type": "application/json", "content-length": "100"}) + b'{"id": "r"'
    )
    hold(conn)


async def _create(client: ResponsesClient, how: str) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await create(client, how)
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


async def _stream(client: ResponsesClient, how: str) -> tuple[list[Any], BaseException | None, float]:
    started = time.monotonic()
    deltas, error = await stream(client, how)
    return deltas, error, time.monotonic() - started


# -- 2a: headers that never end ------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_trickled_headers_are_cut_by_the_default_deadline(how: str) -> None:
    # Default deadline: (1 + 1) x (0.5 connect + 0.5 read) = 2 s; each byte arrives well within 0.5 s.
    with RawServer(trickled_headers) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.5, max_retries=1)
        error, elapsed = await _create(client, how)
        await client.aclose()
    assert isinstance(error, APITimeoutError), repr(error)
    assert elapsed < 4, f"took {elapsed:.1f} s"


# -- 2b: a JSON body that never ends -------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_trickled_json_body_is_cut_by_the_default_deadline(how: str) -> None:
    # Default deadline: 1 x (0.5 + 0.5) = 1 s.
    with RawServer(trickled_json_body) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.5, max_retries=0)
        error, elapsed = await _create(client, how)
        await client.aclose()
    assert isinstance(error, APITimeoutError), repr(error)
    assert elapsed < 3, f"took {elapsed:.1f} s"


# -- 2c: comments do not reset the idle timer ----------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_keep_alive_comments_do_not_reset_the_idle_timeout(how: str) -> None:
    with RawServer(one_delta_then_comments) as server:
        client = ResponsesClient(base_url=server.base_url, stream_idle_timeout=0.5)
        deltas, error, elapsed = await _stream(client, how)
        await client.aclose()
    assert [d.text for d in deltas] == ["Hello"]
    assert isinstance(error, StreamTimeoutError), repr(error)
    assert error.partial.text == "Hello"
    assert elapsed < 3, f"took {elapsed:.1f} s"
    assert server.connections == 1  # a stream that began is never retried


# -- 2d: a steady stream ends at the deadline ----------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_steady_stream_is_cut_at_its_deadline_with_its_partial(how: str) -> None:
    with RawServer(steady_deltas) as server:
        client = ResponsesClient(base_url=server.base_url, deadline=1.0)
        deltas, error, elapsed = await _stream(client, how)
        await client.aclose()
    assert isinstance(error, StreamTimeoutError), repr(error)
    assert "deadline" in str(error).lower()
    assert deltas and error.partial.text == "".join(d.text for d in deltas) != ""
    assert 0.9 <= elapsed < 3, f"took {elapsed:.1f} s"


# -- 2e: a Retry-After beyond the default deadline is not waited for ------------------------------------
@pytest.mark.parametrize("how", ["create", "acreate", "stream", "astream"])
async def test_a_retry_after_beyond_the_default_deadline_is_not_waited_for(how: str) -> None:
    # timeout=1, max_retries=2: default deadline (2 + 1) x (1 + 1) = 6 s; the server asks for 20 s.
    script = FakeEndpoint(json_reply({"message": "slow down"}, status=429, headers={"retry-after": "20"}))
    sleeper = SleepRecorder()
    client = make_client(script, sleeper=sleeper, max_retries=2, timeout=1)
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        if how == "create":
            client.create(REQUEST)
        elif how == "acreate":
            await client.acreate(REQUEST)
        else:
            deltas, error = (
                collect(client.stream(REQUEST))
                if how == "stream"
                else await acollect(client.astream(REQUEST))
            )
            assert not deltas
            if error is not None:
                raise error
    assert time.monotonic() - started < 2
    assert all(wait < 6 for wait in sleeper.waits), sleeper.waits  # no sleep ran past the deadline
    assert script.count == 1 + len(sleeper.waits)


# -- 12a: a JSON body that stalls after its headers ----------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_json_body_that_stalls_is_a_timeout_not_a_connection_error(how: str) -> None:
    with RawServer(stalled_json_body) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=0.5, max_retries=0)
        error, elapsed = await _create(client, how)
        await client.aclose()
    assert isinstance(error, APIConnectionError), repr(error)
    assert isinstance(error, APITimeoutError), repr(error)  # not a plain APIConnectionError
    assert elapsed < 3, f"took {elapsed:.1f} s"


def test_the_raw_server_reads_whole_requests() -> None:
    # The scripts above rely on read_request taking the head and exactly Content-Length bytes of body.
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        _, body = read_request(conn)
        seen.append(body)
        conn.sendall(http_response(200, json.dumps(OK_BODY).encode()))

    with RawServer(answer) as server:
        client = ResponsesClient(base_url=server.base_url, max_retries=0)
        assert client.create(REQUEST).text == "hello"
        client.close()
    assert json.loads(seen[0])["input"] == "hi"
    assert server.requests[0].startswith(b"POST /v1/responses HTTP/1.1")
