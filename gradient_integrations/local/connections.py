"""The HTTP protocol `LocalServer` runs: uvicorn's own, plus deadlines for half-sent requests and a size cap
for request heads.

uvicorn times out only idle keep-alive connections, and only once a response has been sent. A client that
connects and sends nothing, sends half a request head and stops (a "slowloris" client), or promises a body
(`Content-Length`, chunked) and never finishes it, would hold its connection, its buffered bytes and, for
the body, a waiting request handler, for ever; and with httptools a request head has no size limit at all
(200 MB of header lines is 200 MB of server memory). `limited_protocol()` subclasses uvicorn's protocol
(httptools when installed, else h11) to add:

- `head_timeout` (default `DEFAULT_HEAD_TIMEOUT`, 10 s): while no request is being answered, a connection
  must complete a request head (request line and headers) within this many seconds of opening, or of the
  first byte of that head (a head trickled in a byte at a time is cut off all the same). Otherwise the
  connection is closed, after a `408` in DO's error body if part of a head had arrived.
- `body_timeout` (default `DEFAULT_BODY_TIMEOUT`, 30 s): the whole body must arrive within this many seconds
  of the head; otherwise `408` in DO's error body and the connection is closed (the app, still waiting for
  the body, sees the client disconnect).
- `max_head_bytes` (default `DEFAULT_MAX_HEAD_BYTES`, 64 KiB): a larger request head gets `431` and the
  connection is closed. The bytes are counted as they arrive (an overshoot of at most one read of the
  socket is possible); h11 enforces the same limit itself (`h11_max_incomplete_event_size`), with a `400`.

A whole request in one read (the usual case) starts no timer at all. The body's size is the app's limit
(`app.GradientApp.max_body_bytes`); after the response, uvicorn's `timeout_keep_alive` closes a connection
that stays idle.
"""

from __future__ import annotations

import asyncio
import http
import os
from typing import Any, cast

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .app import error_id
from .wire import dumps, error_body

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_HEAD_TIMEOUT", "DEFAULT_MAX_HEAD_BYTES", "limited_protocol"]

DEFAULT_HEAD_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_HEAD_BYTES = 64 * 1024


class _RequestLimits(asyncio.Protocol):
    """Mixed in before uvicorn's protocol class (h11 or httptools), whose attributes it reads: `transport`,
    `loop`, and `cycle`, the request being answered: None or `response_complete` between requests, with
    `more_body` true until the request's body has arrived. One timer at a time: the head's or the body's."""

    head_timeout: float
    body_timeout: float
    max_head_bytes: int
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._arm(self.head_timeout)  # a connection that never sends a byte is timed too

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        between_requests = cycle is None or cycle.response_complete
        super().data_received(data)
        if self.transport.is_closing():
            return
        current = self.cycle
        if current is not cycle:  # a request head is complete: the app has the request now
            self._head_bytes = 0
            self._disarm()
            if current.more_body:  # and its body is still to come
                self._arm(self.body_timeout)
        elif not between_requests:
            if not current.more_body:
                self._disarm()  # the body is complete
        else:
            # Part of a head (or of a body the app answered without reading it).
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._disarm()
                self._refuse(
                    431,
                    f"Request head (request line and headers) larger than {self.max_head_bytes} bytes; "
                    "send fewer or shorter headers.",
                )
            elif self._deadline is None:
                self._arm(self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # the body is late
            if not cycle.more_body:
                return  # it came after all
            if cycle.response_started:
                self.transport.close()  # too late for an error answer
                return
            message = f"Request body not complete within {self.body_timeout:g} s; send the whole request."
            self._refuse(408, message)
        elif self._head_bytes:
            message = f"Request head not complete within {self.head_timeout:g} s; send the whole request."
            self._refuse(408, message)
        else:
            self.transport.close()  # nothing was asked: nothing to answer

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with DO's error body and close: the connection is in no state to go on."""
        request_id = os.urandom(8).hex()
        body = dumps(error_body(error_id(status), message, request_id)).encode()
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"x-request-id: {request_id}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def limited_protocol(
    *,
    head_timeout: float = DEFAULT_HEAD_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
) -> type[asyncio.Protocol]:
    """uvicorn's default HTTP protocol class, with these limits: pass it as `uvicorn.Config(http=...)`,
    together with `h11_max_incomplete_event_size=max_head_bytes` for h11."""
    for name, seconds in (("head_timeout", head_timeout), ("body_timeout", body_timeout)):
        if not seconds > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {seconds!r}")
    if isinstance(max_head_bytes, bool) or not isinstance(max_head_bytes, int) or max_head_bytes < 1:
        raise ValueError(f"max_head_bytes must be a positive number of bytes, got {max_head_bytes!r}")
    namespace = {
        "head_timeout": float(head_timeout),
        "body_timeout": float(body_timeout),
        "max_head_bytes": max_head_bytes,
    }
    protocol = type("LimitedHTTPProtocol", (_RequestLimits, AutoHTTPProtocol), namespace)
    return cast("type[asyncio.Protocol]", protocol)
