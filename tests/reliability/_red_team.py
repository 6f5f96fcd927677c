"""What the red-team suites share: the request, a complete answer, and one call made sync or async.

Every red-team test runs in both I/O flavours (`HOW`); `create` and `stream` make the one call a test is
about in the flavour it is given, so each suite keeps only what it measures around that call.
"""

from __future__ import annotations

from typing import Any

from core._support import acollect, collect

from gradient_integrations.core import (
    ResponseResult,
    ResponsesClient,
    StreamDelta,
    StreamError,
    build_request,
)

from ._support import MODEL

__all__ = ["HOW", "OK_BODY", "REQUEST", "create", "stream"]

HOW = ["sync", "async"]
REQUEST = build_request(model=MODEL, input="hi")
OK_BODY: dict[str, Any] = {  # a minimal complete /v1/responses body answering "hello"
    "id": "resp_1",
    "object": "response",
    "created_at": 1_760_000_000,
    "model": MODEL,
    "status": "completed",
    "output": [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]}
    ],
}


async def create(client: ResponsesClient, how: str) -> ResponseResult:
    """`REQUEST` through `create` (sync) or `acreate` (async)."""
    return client.create(REQUEST) if how == "sync" else await client.acreate(REQUEST)


async def stream(client: ResponsesClient, how: str) -> tuple[list[StreamDelta], StreamError | None]:
    """`REQUEST` streamed sync or async: every delta, and the StreamError that ended it (None: completed)."""
    return collect(client.stream(REQUEST)) if how == "sync" else await acollect(client.astream(REQUEST))
