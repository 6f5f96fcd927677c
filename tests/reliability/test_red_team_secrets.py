"""Red team, the key: whatever fails, the access key is on no surface a user can print, log or ship.

Every failure a call can meet (401, 429, 503, connection refused, a read timeout, a connection reset in
the middle of the response headers) is provoked on a real loopback socket with a recognisable key. The
servers are hostile on purpose: they echo the Authorization header into their JSON error bodies and into a
response header. Then the raised exception is searched, sync and async:

- the httpx request attached to it (`exc.request`), to its cause (`exc.__cause__.request`) and to its
  response (`exc.response.request`): their headers must not carry the key;
- `str` and `repr` of every exception in the chain, `exc.body` (the server's echoed error body);
- the whole formatted traceback *with every frame's local variables* (what Sentry-style reporters and
  `traceback.TracebackException(capture_locals=True)` show): no local may hold the headers with the key;
- with httpx and httpcore logging at DEBUG, no log line (httpcore logs the response headers it receives).
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import traceback
from collections.abc import Callable, Iterator

import httpx
import pytest

from gradient_integrations.core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    RateLimitError,
    ResponsesClient,
)
from gradient_integrations.core.settings import API_KEY_ENV_VARS

from ._raw_server import RawServer, hold, http_response, read_request, request_header
from ._red_team import HOW, OK_BODY, create
from ._support import SECRET_FRAGMENT, SECRET_KEY


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


# -- hostile servers ---------------------------------------------------------------------------------
def echoing_status(status: int) -> Callable[[socket.socket], None]:
    """Answers `status` with an error body that quotes the Authorization header it received, twice."""

    def handler(conn: socket.socket) -> None:
        head, _ = read_request(conn)
        auth = request_header(head, "authorization") or ""
        token = auth.split(" ", 1)[-1]
        body = {
            "id": "echo",
            "message": f"Invalid credentials {auth} (token={token})",
            "detail": {"received": auth, "token": token},
        }
        conn.sendall(http_response(status, json.dumps(body).encode()))

    return handler


def silent(conn: socket.socket) -> None:
    read_request(conn)
    hold(conn)


def reset_mid_headers(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
    # An abortive close (RST), as a crashing proxy would: SO_LINGER on, zero seconds.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def echo_in_header(conn: socket.socket) -> None:
    head, _ = read_request(conn)
    auth = request_header(head, "authorization") or ""
    conn.sendall(http_response(200, json.dumps(OK_BODY).encode(), {"x-echo": auth}))


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback URL nothing listens on: connecting is refused."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield f"http://127.0.0.1:{port}"


# -- the search ---------------------------------------------------------------------------------------
def _request_of(error: BaseException) -> httpx.Request | None:
    try:
        request = getattr(error, "request", None)
    except RuntimeError:  # httpx.RequestError.request before one was attached
        return None
    return request if isinstance(request, httpx.Request) else None


def _headers_text(request: httpx.Request) -> str:
    return repr([(name, value) for name, value in request.headers.raw])


def assert_key_on_no_surface(exc: BaseException) -> None:
    assert isinstance(exc, APIError), repr(exc)
    request = exc.request
    assert request is not None, "the error should say which request failed"
    assert SECRET_FRAGMENT not in (request.headers.get("authorization") or "")
    assert SECRET_FRAGMENT not in _headers_text(request)
    cause_request = _request_of(exc.__cause__) if exc.__cause__ is not None else None
    if cause_request is not None:
        assert SECRET_FRAGMENT not in (cause_request.headers.get("authorization") or "")
        assert SECRET_FRAGMENT not in _headers_text(cause_request)
    if isinstance(exc, APIStatusError):
        assert SECRET_FRAGMENT not in (exc.response.request.headers.get("authorization") or "")
        assert SECRET_FRAGMENT not in _headers_text(exc.response.request)
        assert SECRET_FRAGMENT not in repr(exc.body)
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        assert SECRET_FRAGMENT not in str(link), type(link)
        assert SECRET_FRAGMENT not in repr(link), type(link)
        link = link.__cause__ or link.__context__
    formatted = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert SECRET_FRAGMENT not in formatted, _around(formatted)


def assert_sent_the_key(server: RawServer) -> None:
    """The scenario is real: the key did go out on the wire (so there was something to leak)."""
    assert server.requests, "the server saw no request"
    assert request_header(server.requests[0], "authorization") == f"Bearer {SECRET_KEY}"


def _around(text: str) -> str:
    at = text.find(SECRET_FRAGMENT)
    return text[max(0, at - 300) : at + 60]


async def _fail(client: ResponsesClient, how: str) -> BaseException:
    try:
        await create(client, how)
    except Exception as exc:
        return exc
    raise AssertionError("the call should have failed")


# -- status errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(
    ("status", "expected"), [(401, AuthenticationError), (429, RateLimitError), (503, InternalServerError)]
)
async def test_status_errors_that_echo_the_key(status: int, expected: type[APIError], how: str) -> None:
    with RawServer(echoing_status(status)) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, expected), repr(error)
    assert "Invalid credentials" in str(error)  # the server's message is kept, scrubbed
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


# -- transport failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_connection_refused(closed_port: str, how: str) -> None:
    client = ResponsesClient(api_key=SECRET_KEY, base_url=closed_port, max_retries=0)
    error = await _fail(client, how)
    await client.aclose()
    assert isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError), repr(error)
    assert_key_on_no_surface(error)


@pytest.mark.parametrize("how", HOW)
async def test_read_timeout(how: str) -> None:
    with RawServer(silent) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, timeout=0.3, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, APITimeoutError), repr(error)
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


@pytest.mark.parametrize("how", HOW)
async def test_connection_reset_mid_response(how: str) -> None:
    with RawServer(reset_mid_headers) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        error = await _fail(client, how)
        await client.aclose()
    assert isinstance(error, APIConnectionError), repr(error)
    assert_sent_the_key(server)
    assert_key_on_no_surface(error)


# -- logs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
async def test_a_key_echoed_in_a_response_header_stays_out_of_debug_logs(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpcore")
    caplog.set_level(logging.DEBUG, logger="httpx")
    with RawServer(echo_in_header) as server:
        client = ResponsesClient(api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
        result = await create(client, how)
        await client.aclose()
    assert result.text == "hello"
    records = caplog.get_records("call")
    assert any(record.name.startswith("httpcore") for record in records), "httpcore logged nothing"
    assert any("receive_response_headers" in record.getMessage() for record in records)
    leaking = [record.getMessage() for record in records if SECRET_FRAGMENT in record.getMessage()]
    assert not leaking, leaking[0][:300]
