"""Test helpers for the LangChain adapter: replies for the shared fake endpoint, and a model wired to it.

The endpoint is `tests/fakes.py`'s `FakeEndpoint`: it records every request and plays scripted replies,
here a JSON body (`json_reply`) or a DO `response.chunk` SSE stream (`sse_reply` over `do_chunks`), both
as ready `httpx.Response`s. `model_on(endpoint)` builds a `ChatGradient` whose sync and async httpx
clients both go to it, so a test can assert on the exact body that was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
from fakes import FakeEndpoint

from gradient_integrations.langchain import ChatGradient

TEST_KEY = "sk-do-unit-test-key-0123456789"
MODEL = "test-model"
USAGE = {
    "input_tokens": 11,
    "output_tokens": 7,
    "total_tokens": 18,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens_details": {"reasoning_tokens": 3},
}


def json_reply(
    text: str = "Hello there!",
    *,
    tool_calls: Sequence[tuple[str, str, str]] = (),
    reasoning: str = "",
    usage: dict[str, Any] | None = None,
    model: str = MODEL,
    status: str = "completed",
    response_id: str = "resp_unit_1",
) -> httpx.Response:
    """A Responses-style body: optional reasoning item, message item, `function_call` items."""
    output: list[dict[str, Any]] = []
    if reasoning:
        output.append({"type": "reasoning", "content": [{"type": "reasoning_text", "text": reasoning}]})
    if text:
        output.append(
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
        )
    for call_id, name, arguments in tool_calls:
        output.append({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments})
    body = {
        "id": response_id,
        "object": "response",
        "created": 1_700_000_000,
        "model": model,
        "status": status,
        "output": output,
        "usage": USAGE if usage is None else usage,
    }
    return httpx.Response(200, json=body)


def do_chunks(
    pieces: Iterable[str] = ("Hello", " there", "!"),
    *,
    reasoning: Iterable[str] = (),
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
    usage: dict[str, Any] | None = None,
    finish_reason: str = "stop",
    model: str = MODEL,
) -> list[dict[str, Any] | str]:
    """DO `response.chunk` events: reasoning, text, tool-call pieces, a usage chunk, then [DONE]."""
    head = {"id": "resp_stream_1", "object": "response.chunk", "created": 1_700_000_001, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events: list[dict[str, Any] | str] = [chunk({"reasoning_content": piece}) for piece in reasoning]
    events += [chunk({"content": piece}) for piece in pieces]
    for index, (call_id, name, arguments) in enumerate(tool_calls):
        first, *rest = arguments
        call = {"index": index, "id": call_id, "type": "function"}
        events.append(chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": first}}]}))
        events += [chunk({"tool_calls": [{"index": index, "function": {"arguments": a}}]}) for a in rest]
    events.append(chunk({}, finish_reason))
    events.append({**head, "choices": [], "usage": USAGE if usage is None else usage})
    events.append("[DONE]")
    return events


def sse_reply(events: Iterable[dict[str, Any] | str]) -> httpx.Response:
    lines = [f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n" for event in events]
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content="".join(lines).encode())


def model_on(endpoint: FakeEndpoint, **fields: Any) -> ChatGradient:
    """A ChatGradient whose sync and async clients both talk to `endpoint`."""
    params: dict[str, Any] = {
        "model": MODEL,
        "api_key": TEST_KEY,
        "base_url": "https://inference.example.test",
        "max_retries": 0,
        "http_client": httpx.Client(transport=endpoint.transport),
        "http_async_client": httpx.AsyncClient(transport=endpoint.async_transport),
    }
    return ChatGradient(**{**params, **fields})
