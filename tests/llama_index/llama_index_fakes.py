"""What the LlamaIndex adapter tests put on the shared fake endpoint (`tests/fakes.py`'s `FakeEndpoint`).

`sse`, `text_chunks` and `body` build the replies; `FAKE_BASE_URL` and `FAKE_KEY` are what the models are
built with. `WEATHER` is a small LlamaIndex tool the unit tests share.

(This directory has no `__init__.py` on purpose: as a package it would be named `llama_index` and shadow
the library, so its modules carry distinctive names instead.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city."""
    return f"{city}: 18 {unit}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)
