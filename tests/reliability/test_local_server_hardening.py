"""The local server against a hostile client: no single request or connection may freeze it or blow it up.

Each test is one finding of the red team, replayed against a running `LocalServer`:

- a 400-byte tool schema whose `$defs` node refers to itself several times (per-level caps multiplied to
  28 MB and 13 s of blocked event loop): answered small, while other requests keep being served;
- a request body over the limit (a 32 MB body took 1.7 GB): `413` in DO's error shape, checked against
  `Content-Length` before reading and counted while reading a chunked body; the server stays healthy;
- JSON nested 100,000 deep (a `RecursionError`: 500), bytes that are not UTF-8, lone surrogates: `400`;
- half-sent requests (connected and silent, half a head, a head whose body never comes, a head trickled in a
  byte at a time, an endless head): closed by the server within its (here short) timeouts, after a `408`
  or `431` when part of a request came; with httptools and with h11;
- a client that disconnects mid-body: no traceback in the server's log.

The timeouts are set short (`SHORT`) so the tests are quick; the assertions give the server generous
multiples of them (`WITHIN`), never tight wall-clock bounds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gradient_integrations.local import LocalServer, create_app
from gradient_integrations.local import connections as local_connections

from ._support import MODEL

SHORT = 0.5  # head_timeout, body_timeout, keep_alive_timeout of the servers below
WITHIN = 10.0  # how long a test waits for what should take SHORT
BODY_LIMIT = 64 * 1024
HEAD_LIMIT = 8 * 1024
DO_ERROR_FIELDS = {"id", "message", "request_id"}


def _server() -> LocalServer:
    return LocalServer(
        max_body_bytes=BODY_LIMIT,
        max_head_bytes=HEAD_LIMIT,
        head_timeout=SHORT,
        body_timeout=SHORT,
        keep_alive_timeout=SHORT,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with _server() as running:
        yield running


@pytest.fixture(params=["httptools", "h11"])
def any_protocol_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalServer]:
    """A server on httptools (the default) or on uvicorn's h11 fallback (used when httptools is missing)."""
    if request.param == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        monkeypatch.setattr(local_connections, "AutoHTTPProtocol", H11Protocol)
    with _server() as running:
        yield running


def _post(server: LocalServer, body: Any, *, timeout: float = WITHIN, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, (bytes, Iterator)) else json.dumps(body).encode()
    with httpx.Client(base_url=server.base_url, timeout=timeout) as http:
        return http.post(
            "/v1/responses", content=content, headers={"content-type": "application/json"}, **kwargs
        )


def _assert_healthy(server: LocalServer) -> None:
    answer = _post(server, {"model": MODEL, "input": "still there?"}, timeout=WITHIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"][-1]["content"][0]["text"] == "You said: still there?"
    assert answer.headers.get("connection") != "close"  # a healthy answer keeps the connection


def _assert_do_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()
    assert set(error) == DO_ERROR_FIELDS and error["message"].strip()
    assert answer.headers["x-request-id"] == error["request_id"]
    return error


def _read_until_closed(sock: socket.socket, limit: float = WITHIN) -> bytes:
    """Everything the server sends until it closes the connection (fails after `limit` seconds)."""
    sock.settimeout(limit)
    received = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            break
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open for {limit} s; it sent {received[:200]!r}")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.name.startswith("gradient_integrations"):
            self.seen.set()


@pytest.fixture
def server_log() -> Iterator[_Records]:
    """Every record of the app's and uvicorn's loggers (uvicorn's do not propagate to pytest's caplog)."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("gradient_integrations", "uvicorn", "uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


# -- 1. a self-referencing tool schema ---------------------------------------------------------------------
def _recursive_tool_schema() -> dict[str, Any]:
    """The red team's schema: a node with an array of nodes and eight more direct references to itself."""
    node: dict[str, Any] = {
        "type": "object",
        "properties": {"c": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
    }
    node["properties"].update({name: {"$ref": "#/$defs/n"} for name in "abcdefgh"})
    return {"type": "object", "$defs": {"n": node}, "properties": {"root": {"$ref": "#/$defs/n"}}}


def test_a_self_referencing_tool_schema_is_answered_small_while_others_are_served(
    server: LocalServer,
) -> None:
    schema = _recursive_tool_schema()
    assert len(json.dumps(schema)) < 450
    hostile = {
        "model": MODEL,
        "input": "use the tree tool",
        "tools": [{"type": "function", "name": "tree", "parameters": schema}],
        "tool_choice": "required",
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        # Several at once, so that the plain requests below are likely to meet them in flight. Before the
        # fix each one held the event loop for about 13 s, and the first plain request timed out.
        answers = [pool.submit(_post, server, hostile, timeout=60) for _ in range(4)]
        time.sleep(0.05)
        for _ in range(5):
            _assert_healthy(server)  # answered while the hostile requests run: the event loop is free
        results = [future.result() for future in answers]
    for answer in results:
        assert answer.status_code == 200, answer.text[:300]
        assert len(answer.content) < 1_000_000  # was 28 MB
        (call,) = answer.json()["output"]
        assert call["type"] == "function_call" and call["name"] == "tree"
        assert isinstance(json.loads(call["arguments"])["root"], dict)


def test_a_backtracking_pattern_in_a_tool_schema_does_not_freeze_the_server(server: LocalServer) -> None:
    # `^(a|a)*$` against 40 a's and a '!' backtracks 2**40 times in `re`, which holds the GIL: the whole
    # server process would stop. Checked with a timeout, the candidate is given up for the field name.
    parameters = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(a|a)*$", "default": "a" * 40 + "!"}},
        "required": ["code"],
    }
    hostile = {
        "model": MODEL,
        "input": "use the check tool",
        "tools": [{"type": "function", "name": "check", "parameters": parameters}],
        "tool_choice": "required",
    }
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(_post, server, hostile, timeout=60)
        time.sleep(0.05)
        _assert_healthy(server)  # answered while the hostile request runs
        answer_value = answer.result()
    assert answer_value.status_code == 200, answer_value.text[:300]
    (call,) = answer_value.json()["output"]
    assert json.loads(call["arguments"])["code"] != "a" * 40 + "!"


# -- 2. request body size ----------------------------------------------------------------------------------
def _body_of_exactly(size: int) -> bytes:
    head, tail = b'{"model": "' + MODEL.encode() + b'", "input": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_at_the_limit_is_served_and_one_byte_more_is_413_in_do_shape(server: LocalServer) -> None:
    assert _post(server, _body_of_exactly(BODY_LIMIT)).status_code == 200
    answer = _post(server, _body_of_exactly(BODY_LIMIT + 1))
    error = _assert_do_error(answer, 413)
    assert error["id"] == "request_too_large" and str(BODY_LIMIT) in error["message"]
    assert answer.headers["connection"] == "close"  # the rest of the body was never read
    _assert_healthy(server)


def test_a_chunked_body_over_the_limit_is_413_while_it_is_read(server: LocalServer) -> None:
    body = _body_of_exactly(4 * BODY_LIMIT)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    _assert_do_error(_post(server, chunks()), 413)
    _assert_healthy(server)


def test_a_huge_declared_length_is_refused_before_any_body_is_sent(server: LocalServer) -> None:
    head = f"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WITHIN) as sock:
        sock.sendall(head)
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["id"] == "request_too_large"


def test_an_answer_given_before_the_body_is_read_closes_the_connection(server: LocalServer) -> None:
    """Else uvicorn would go on reading the unread body as if it were the next request's head."""
    with httpx.Client(base_url=server.base_url, timeout=WITHIN) as http:
        answer = http.post("/v1/nowhere", content=b"x" * 1000)
        assert answer.status_code == 404 and answer.headers["connection"] == "close"
        assert http.get("/v1/models").status_code == 200  # on a new connection


def test_the_default_limits_are_the_documented_ones() -> None:
    assert create_app().max_body_bytes == 8 * 1024 * 1024
    assert local_connections.DEFAULT_HEAD_TIMEOUT == 10.0
    assert local_connections.DEFAULT_BODY_TIMEOUT == 30.0
    assert local_connections.DEFAULT_MAX_HEAD_BYTES == 64 * 1024
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(max_body_bytes=0)
    with pytest.raises(ValueError, match="head_timeout"):
        LocalServer(head_timeout=0)


# -- 3. JSON that cannot be parsed safely ------------------------------------------------------------------
def _nested(depth: int) -> bytes:
    return b'{"model": "m", "input": "x", "metadata": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[" * 60_000, "nested"),  # was a RecursionError: 500
        (b'{"model": "m", "input": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "nested"),
        (_nested(200), "nested"),  # parses, but pydantic cannot echo past ~255 levels: refused up front
        (b'{"model": "m", "input": "caf\xe9"}', "UTF-8"),  # Latin-1, not UTF-8
        (b"\xff\xfe{\x00}\x00", "UTF-8"),
        (b'{"model": "m", "input": "\\ud800"}', "surrogate"),  # was a 500 (UTF-8 cannot encode the echo)
        (b'{"model": "m", "input": "\\udfff", "stream": true}', "surrogate"),  # was a broken stream
    ],
    ids=[
        "brackets",
        "deep-input",
        "deep-metadata",
        "latin-1",
        "utf-16",
        "lone-surrogate",
        "lone-surrogate-stream",
    ],
)
def test_json_that_cannot_be_handled_safely_is_a_400_saying_why(
    server: LocalServer, content: bytes, expected: str
) -> None:
    assert expected in _assert_do_error(_post(server, content), 400)["message"]


def test_a_surrogate_pair_and_moderate_nesting_are_still_served(server: LocalServer) -> None:
    assert _post(server, b'{"model": "m", "input": "\\ud83d\\ude00"}').json()["output"][0]["content"][0][
        "text"
    ] == ("You said: \U0001f600")
    deep_tool = {"type": "object", "properties": {"a": {}}}
    for _ in range(40):
        deep_tool = {"type": "object", "properties": {"a": deep_tool}}
    body = {"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": deep_tool}]}
    assert _post(server, body).status_code == 200


# -- 4. half-sent requests ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, then silent
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n",  # half a head
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        + b'{"model": "m"',  # body short
        b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":',
    ],
    ids=["silent", "half-head", "short-body", "unfinished-chunked-body"],
)
def test_a_half_sent_request_is_closed_within_the_timeout(
    any_protocol_server: LocalServer, sent: bytes, server_log: _Records
) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", any_protocol_server.port), timeout=WITHIN) as sock:
        sock.sendall(sent)
        reply = _read_until_closed(sock)
    assert time.monotonic() - started < WITHIN
    if sent:  # something was asked: the answer says why the connection ends
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
        error = json.loads(reply.partition(b"\r\n\r\n")[2])
        assert set(error) == DO_ERROR_FIELDS and error["id"] == "request_timeout"
    else:
        assert reply == b""
    _assert_healthy(any_protocol_server)
    assert not [
        record for record in server_log.records if record.exc_info or record.levelno >= logging.WARNING
    ]


def test_a_head_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline(
    any_protocol_server: LocalServer,
) -> None:
    """Each byte comes well within the timeout of the last: the deadline counts from the first byte."""
    head = b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", any_protocol_server.port), timeout=WITHIN) as sock:
        sock.settimeout(0.0)
        reply = b""
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
                reply += sock.recv(65536)
            except BlockingIOError:
                pass
            except OSError:  # the server has closed (reset): the deadline worked
                break
            if reply or time.monotonic() - started > WITHIN:
                break
            time.sleep(SHORT / 10)
        sock.setblocking(True)
        with contextlib.suppress(OSError):
            reply += _read_until_closed(sock)
    assert time.monotonic() - started < WITHIN
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]


def test_an_endless_head_is_refused_at_the_size_limit(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=WITHIN) as sock:
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n")
        reply = b""
        try:
            for index in range(64):  # 64 x 16 KiB: far past the limit (before the fix, all of it was kept)
                sock.sendall(b"X-%d: " % index + b"a" * 16 * 1024 + b"\r\n")
        except OSError:  # the server answered and closed while we were still sending
            pass
        with contextlib.suppress(OSError):
            reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["id"] == "request_header_fields_too_large"
    _assert_healthy(server)


def test_hundreds_of_half_sent_connections_are_all_closed_and_the_server_keeps_serving(
    server: LocalServer,
) -> None:
    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=WITHIN) for _ in range(200)]
    try:
        for index, sock in enumerate(sockets):
            sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n" if index % 2 else b"GET /v1/mod")
        _assert_healthy(server)  # while they hang
        for sock in sockets:
            assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in sockets:
            sock.close()
    _assert_healthy(server)


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: LocalServer) -> None:
    request = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=WITHIN) as sock:
        sock.sendall(request)
        reply = _read_until_closed(sock)  # uvicorn's keep-alive timeout: one answer, then closed when idle
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.count(b"HTTP/1.1") == 1


# -- 5. a client that goes away mid-body -------------------------------------------------------------------
def test_a_client_that_disconnects_mid_body_leaves_no_traceback(
    server: LocalServer, server_log: _Records, capfd: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        server_log.seen.clear()
        with socket.create_connection(("127.0.0.1", server.port), timeout=WITHIN) as sock:
            sock.sendall(b'POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"model": ')
            time.sleep(0.05)  # the app is now waiting for the rest of the body
        # The app notes the disconnect at DEBUG (before the fix: an ERROR with the traceback).
        assert server_log.seen.wait(WITHIN), "the server never noticed the disconnect"
    _assert_healthy(server)
    assert not [
        record for record in server_log.records if record.exc_info or record.levelno >= logging.WARNING
    ]
    assert "Traceback" not in capfd.readouterr().err
