"""Sending an event stream: batching events into few writes, and staging the mid-stream faults.

`EventStreamResponse` is a Starlette `Response` that writes SSE events it is given as bytes. Without a
pacing fault it coalesces up to `_BATCH_EVENTS` events per write (the first event goes out alone, so time to
first token stays honest) and yields to the event loop between writes, so one 10,000-word stream cannot
starve concurrent requests. The mid-stream faults (`FaultPlan`) act at exact event counts.

Dropping a connection needs the socket, which ASGI does not expose: `capture_transport` (the outermost
ASGI layer) records uvicorn's transport in the scope under `TRANSPORT_KEY`. Through `httpx.ASGITransport`
there is no transport, so a dropped connection surfaces as `ConnectionAbortedError` raised by the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .faults import FaultPlan

__all__ = ["TRANSPORT_KEY", "ConnectionDrop", "EventStreamResponse", "capture_transport", "drop_connection"]

TRANSPORT_KEY = "gradient_integrations.transport"
_BATCH_EVENTS = 64
_BATCH_BYTES = 32 * 1024


def capture_transport(app: ASGIApp) -> ASGIApp:
    """Wrap `app` so handlers can find uvicorn's transport (`send` is a bound method of its request cycle)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            scope[TRANSPORT_KEY] = transport
        await app(scope, receive, send)

    return wrapped


async def drop_connection(scope: Scope, receive: Receive, reason: str) -> None:
    """Abort the TCP connection, then wait until uvicorn has seen it go (so it neither logs nor answers)."""
    transport: Any = scope.get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionAbortedError(f"local server dropped the connection ({reason})")
    transport.abort()

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(disconnected(), timeout=2)


class ConnectionDrop(Response):
    """'Answer' by closing the connection before any response byte (`disconnect_before_headers`)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await drop_connection(scope, receive, self.reason)


class EventStreamResponse(Response):
    """A `text/event-stream` response from pre-encoded events, with the plan's mid-stream faults.

    `terminal` and `error_event` are called only when needed, after the events: in the `openai` dialect
    they continue the events' `sequence_number`s.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: Iterator[bytes],
        *,
        terminal: Callable[[], bytes],
        error_event: Callable[[], bytes],
        plan: FaultPlan,
        headers: dict[str, str],
    ) -> None:
        # Not Response.__init__: it would declare `content-length: 0`; a stream is sent chunked.
        self.status_code = 200
        self.background = None
        fields = {**headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        self.raw_headers = [(name.lower().encode(), value.encode()) for name, value in fields.items()]
        self.events = events
        self.terminal = terminal
        self.error_event = error_event
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        plan = self.plan
        cut = plan.stream_cut
        stall_at, stall_seconds = plan.stall_mid_stream or (-1, 0.0)
        delay = plan.chunk_delay_ms / 1000
        batch: list[bytes] = []
        size = 0

        async def flush() -> None:
            nonlocal size
            if batch:
                await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                batch.clear()
                size = 0
                await asyncio.sleep(0)  # let concurrent requests run between writes

        # `already_sent` counts the events before this one, the `k` of the mid-stream faults.
        for already_sent, event in enumerate(self._first_event_malformed(self.events)):
            if already_sent == cut:
                break
            if already_sent == stall_at:
                await flush()
                await asyncio.sleep(stall_seconds)
            if delay:
                await flush()
                await asyncio.sleep(delay)
            batch.append(event)
            size += len(event)
            if already_sent == 0 or delay or len(batch) >= _BATCH_EVENTS or size >= _BATCH_BYTES:
                await flush()
        await flush()
        await self._finish(scope, receive, send)

    def _first_event_malformed(self, events: Iterator[bytes]) -> Iterator[bytes]:
        if self.plan.malformed_sse:
            # The JSON is split by a bare newline: SSE parsers end the data field there and drop the rest.
            first = next(events, b"data: {}\n\n")
            middle = len(first) // 2
            yield first[:middle] + b"\n" + first[middle:]
            return  # and the stream ends without its end marker
        if self.plan.malformed_json:
            first = next(events, b"data: {}\n\n")
            yield first[: len(first) // 2] + b"\n\n"
        yield from events

    async def _finish(self, scope: Scope, receive: Receive, send: Send) -> None:
        """End the stream: normally with its end marker, or as the first stream-ending fault says."""
        plan = self.plan
        cut = plan.stream_cut
        if cut is not None and cut == plan.disconnect_mid_stream:
            await drop_connection(scope, receive, f"disconnect_mid_stream:{cut}")
            return
        if cut is not None and cut == plan.error_chunk:
            await send({"type": "http.response.body", "body": self.error_event(), "more_body": True})
        elif cut is None and not plan.malformed_sse:  # truncate_stream and malformed_sse send no end marker
            await send({"type": "http.response.body", "body": self.terminal(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
