"""Test doubles for the LlamaIndex adapter tests: an in-process fake `/v1/responses` endpoint.

`FakeEndpoint` answers from a list of replies (the last one repeats) through `httpx.MockTransport` and
records every request, so a unit test can prove what was sent, or that nothing was. `sse`, `text_chunks`
and `body` build the replies. `WEATHER` is a small LlamaIndex tool the unit tests share.

(This directory has no `__init__.py` on purpose: as a package it would be named `llama_index` and shadow
the library, so its modules carry distinctive names instead.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from llama_index.core.tools import FunctionTool

FAKE_BASE_URL = "https://gradient.test"
FAKE_KEY = "sk-do-v1-unit-test-key-0123456789"


def sse(*events: dict[str, Any] | str) -> bytes:
    """An SSE body: each event as a `data:` line (dicts as JSON, strings verbatim)."""
    lines = [f"data: {json.dumps(event) if isinstance(event, dict) else event}\n\n" for event in events]
    return "".join(lines).encode()


def text_chunks(*pieces: str, usage: dict[str, int] | None = None) -> bytes:
    """A DO `response.chunk` stream of text pieces, a usage chunk and `[DONE]`."""
    events: list[dict[str, Any] | str] = [
        {"id": "resp_1", "object": "response.chunk", "model": "m", "choices": [{"delta": {"content": p}}]}
        for p in pieces
    ]
    events.append({"id": "resp_1", "object": "response.chunk", "choices": [], "usage": usage or {}})
    return sse(*events, "[DONE]")


def body(text: str = "", *, calls: Sequence[tuple[str, str, str]] = (), **extra: Any) -> dict[str, Any]:
    """A non-streaming `/v1/responses` body with `output` items."""
    output: list[dict[str, Any]] = []
    if text:
        output.append(
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
        )
    output.extend(
        {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
        for call_id, name, arguments in calls
    )
    return {
        "id": "resp_1",
        "object": "response",
        "model": "m",
        "status": "completed",
        "output": output,
        **extra,
    }


@dataclass
class Reply:
    status: int = 200
    json_body: dict[str, Any] | None = None
    sse_body: bytes | None = None

    def to_response(self) -> httpx.Response:
        if self.sse_body is not None:
            return httpx.Response(
                self.status, content=self.sse_body, headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(self.status, json=self.json_body if self.json_body is not None else {})


@dataclass
class FakeEndpoint:
    """Replies in order (the last repeats) and records each request."""

    replies: list[Reply] = field(default_factory=lambda: [Reply(json_body=body("ok"))])
    requests: list[httpx.Request] = field(default_factory=list)

    def reply_json(self, payload: dict[str, Any], status: int = 200) -> None:
        self.replies = [Reply(status=status, json_body=payload)]

    def reply_sse(self, payload: bytes) -> None:
        self.replies = [Reply(sse_body=payload)]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        return reply.to_response()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city."""
    return f"{city}: 18 {unit}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)
