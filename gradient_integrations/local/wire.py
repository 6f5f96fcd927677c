"""`/v1/responses` answers on the wire: the JSON body and DO's `response.chunk` stream, from a `ScriptedTurn`.

The non-stream body is built from the core's own body models (`core.response`), so the server and the client
share one description of the shape; built-in tool items (`web_search_call`, `mcp_call`, ...) are kept as the
platform wrote them (their `null`s matter), between the reasoning and the message. The message's text part
carries the turn's `annotations`; DO's stream has no form for them, so its finish chunk carries them in
OpenAI Chat Completions' form (`chat_annotations`). Stream chunks are the hot path (a 10,000-word stream
is 10,000 chunks), so they are bytes built from a precomputed prefix and suffix with no per-chunk model
validation; the tests validate every chunk against DO's `create_response_stream_response.yml` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.request import NamedToolChoice, ResponseRequest
from ..core.response import OutputContentBody, OutputItemBody, ResponseBody
from .model import ScriptedTurn

__all__ = [
    "DONE",
    "AnswerMeta",
    "chat_annotations",
    "do_stream_events",
    "dumps",
    "error_body",
    "output_dicts",
    "response_body",
    "responses_usage",
    "sse_data",
]

DONE = b"data: [DONE]\n\n"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse_data(payload: Any) -> bytes:
    return b"data: " + dumps(payload).encode() + b"\n\n"


@dataclass(frozen=True, slots=True)
class AnswerMeta:
    """Identity shared by every chunk of one answer. `suffix` makes the per-item ids unique."""

    response_id: str
    suffix: str
    created: int
    model: str

    def item_id(self, prefix: str, index: int = 0) -> str:
        return f"{prefix}_{self.suffix}" + (f"_{index}" if index else "")


def error_body(error_id: str, message: str, request_id: str) -> dict[str, str]:
    """DO's error body (`shared/models/error.yml`)."""
    return {"id": error_id, "message": message, "request_id": request_id}


def responses_usage(turn: ScriptedTurn) -> dict[str, Any]:
    """DO's `response_usage.yml` (the same numbers for JSON and stream answers). An Anthropic-style cached
    request also reports DO's `completion_usage.yml` names at the top level: `cache_created_input_tokens`
    and `cache_read_input_tokens` (the latter equal to `cached_tokens`)."""
    output = turn.output_tokens
    usage: dict[str, Any] = {
        "input_tokens": turn.input_tokens,
        "input_tokens_details": {"cached_tokens": turn.cached_tokens},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": turn.reasoning_tokens, "tool_output_tokens": 0},
        "total_tokens": turn.input_tokens + output,
    }
    if turn.cache_created_tokens is not None:
        usage["cache_created_input_tokens"] = turn.cache_created_tokens
        usage["cache_read_input_tokens"] = turn.cached_tokens
    return usage


def chat_annotations(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Annotations in OpenAI Chat Completions' form: `{"type": "url_citation", "url_citation": {...}}`."""
    return [
        {"type": annotation["type"], annotation["type"]: {k: v for k, v in annotation.items() if k != "type"}}
        for annotation in annotations
    ]


def output_items(turn: ScriptedTurn, meta: AnswerMeta) -> list[OutputItemBody]:
    """Output items in answer order: reasoning, then the message or the function calls."""
    items: list[OutputItemBody] = []
    if turn.reasoning:
        part = OutputContentBody(type="reasoning_text", text="".join(turn.reasoning))
        items.append(
            OutputItemBody(
                type="reasoning", id=meta.item_id("rs"), status="completed", content=[part], summary=[]
            )
        )
    if turn.text or not (turn.tool_calls or turn.reasoning or turn.server_items):
        part = OutputContentBody(type="output_text", text="".join(turn.text), annotations=turn.annotations)
        items.append(
            OutputItemBody(
                type="message", id=meta.item_id("msg"), status="completed", role="assistant", content=[part]
            )
        )
    for index, call in enumerate(turn.tool_calls):
        items.append(
            OutputItemBody(
                type="function_call",
                id=meta.item_id("fc", index),
                status="completed",
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
                content=[],  # DO's schema requires `content` on every output item
            )
        )
    return items


def output_dicts(turn: ScriptedTurn, meta: AnswerMeta) -> list[dict[str, Any]]:
    """Every output item as JSON, in answer order: reasoning, built-in tool items, message or calls."""
    items = [item.model_dump(mode="json", exclude_none=True) for item in output_items(turn, meta)]
    if turn.server_items:
        at = 1 if turn.reasoning else 0
        items[at:at] = turn.server_items
    return items


def request_echo(request: ResponseRequest) -> dict[str, Any]:
    """The request settings a response body repeats (DO's optional fields), omitting unset ones."""
    choice = request.tool_choice
    echo: dict[str, Any] = {
        "parallel_tool_calls": request.parallel_tool_calls,
        "temperature": request.temperature,
        # DO types `tool_choice` as a string: a named choice is echoed as the mode it implies.
        "tool_choice": "required" if isinstance(choice, NamedToolChoice) else choice,
        "top_p": request.top_p,
        "max_output_tokens": request.max_output_tokens,
        "user": request.user,
    }
    if request.tools:
        # Secrets (an MCP tool's `authorization`) are masked by the tool models' own serializers.
        echo["tools"] = [tool.model_dump(mode="json", exclude_none=True) for tool in request.tools]
    return {key: value for key, value in echo.items() if value is not None}


def response_body(turn: ScriptedTurn, meta: AnswerMeta, request: ResponseRequest) -> dict[str, Any]:
    """The non-streaming `/v1/responses` body (DO's `create_response_response.yml`)."""
    body: dict[str, Any] = ResponseBody(
        id=meta.response_id,
        object="response",
        created=meta.created,
        model=meta.model,
        status=turn.status,
        output=[],
        usage=responses_usage(turn),
        incomplete_details={"reason": "max_output_tokens"} if turn.status == "incomplete" else None,
        **request_echo(request),
    ).model_dump(mode="json", exclude_none=True)
    body["output"] = output_dicts(turn, meta)
    return body


def do_stream_events(turn: ScriptedTurn, meta: AnswerMeta, *, include_usage: bool) -> Iterator[bytes]:
    """DO `response.chunk` events, without the final `data: [DONE]` (the caller sends `DONE`)."""
    head = dumps(
        {"id": meta.response_id, "object": "response.chunk", "created": meta.created, "model": meta.model}
    )
    prefix = b"data: " + head[:-1].encode() + b',"choices":[{"index":0,"delta":'
    suffix = b',"finish_reason":null}]}\n\n'
    role = True  # DO: the role is present only in the first chunk
    for kind, pieces in (("reasoning_content", turn.reasoning), ("content", turn.text)):
        for piece in pieces:
            if role:
                yield prefix + dumps({"role": "assistant", kind: piece}).encode() + suffix
                role = False
            else:
                yield prefix + b'{"' + kind.encode() + b'":' + dumps(piece).encode() + b"}" + suffix
    for index, call in enumerate(turn.tool_calls):
        # DO's schema requires id, type and the full function on every tool-call piece: one piece per call.
        call_piece = {
            "index": index,
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        delta: dict[str, Any] = {"tool_calls": [call_piece]}
        if role:
            delta = {"role": "assistant", **delta}
            role = False
        yield prefix + dumps(delta).encode() + suffix
    if role:
        yield prefix + b'{"role":"assistant","content":""}' + suffix
    delta = {"annotations": chat_annotations(turn.annotations)} if turn.annotations else {}
    finish = {"index": 0, "delta": delta, "finish_reason": turn.finish_reason}
    yield b"data: " + head[:-1].encode() + b',"choices":[' + dumps(finish).encode() + b"]}\n\n"
    if include_usage:
        usage = dumps(responses_usage(turn)).encode()
        yield b"data: " + head[:-1].encode() + b',"choices":[],"usage":' + usage + b"}\n\n"
