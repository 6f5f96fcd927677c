"""The `openai` stream dialect: vLLM/OpenAI typed `response.*` events for one `ScriptedTurn`.

Event order follows OpenAI's Responses streaming schema (what vLLM's Responses API emits), so the `openai`
SDK's `responses.create(stream=True)` and `responses.stream(...)` read it: `response.created`,
`response.in_progress`, then per output item `response.output_item.added`, its content part or arguments
events (`response.content_part.added`, `response.output_text.delta`/`.done`, `response.reasoning_text.delta`/
`.done`, `response.function_call_arguments.delta`/`.done`, `response.content_part.done`),
`response.output_item.done`, and finally `response.completed` (or `response.incomplete`) carrying the full
response object. Every event has a `sequence_number`; there is no `data: [DONE]`. Built-in tool items
(`web_search_call`, `knowledge_base_retrieval_call`, `mcp_list_tools`, `mcp_call`) and the message's
`response.output_text.annotation.added` events stream as OpenAI's do (`tool_events`).

`EventSequence`, `event_bytes` and `delta_events` (the per-word hot path) are shared with `vllm_events`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.request import ResponseRequest
from .model import ScriptedTurn, split_pieces
from .tool_events import SERVER_ITEM_TYPES, Emit, annotation_events, server_item_events
from .wire import AnswerMeta, dumps, output_dicts, request_echo, responses_usage

__all__ = [
    "EventSequence",
    "delta_events",
    "event_bytes",
    "openai_error_event",
    "openai_stream_events",
    "openai_terminal_event",
]


class EventSequence:
    """The `sequence_number` counter of one stream: each call returns the next number, from 0."""

    def __init__(self) -> None:
        self.number = -1

    def __call__(self) -> int:
        self.number += 1
        return self.number


def event_bytes(kind: str, payload: dict[str, Any], *, type_last: bool = False) -> bytes:
    """One typed SSE event: an `event:` line naming `kind`, and `payload` with `type` first (or last)."""
    body = {**payload, "type": kind} if type_last else {"type": kind, **payload}
    return b"event: " + kind.encode() + b"\ndata: " + dumps(body).encode() + b"\n\n"


def delta_events(
    kind: str,
    before: dict[str, Any],
    after: dict[str, Any],
    pieces: list[str],
    sequence: EventSequence,
    *,
    type_last: bool = False,
) -> Iterator[bytes]:
    """The hot path: one `kind` event per piece, built from precomputed bytes around the piece.

    Keys in order: `type` (unless `type_last`), `before`, `delta`, `after`, `sequence_number`, then `type`
    when `type_last`.
    """
    head = before if type_last else {"type": kind, **before}
    opening = dumps(head)[:-1] + ("," if head else "") + '"delta":'
    prefix = b"event: " + kind.encode() + b"\ndata: " + opening.encode()
    middle = (("," + dumps(after)[1:-1]) if after else "").encode() + b',"sequence_number":'
    closing = ((',"type":' + dumps(kind)) if type_last else "").encode() + b"}\n\n"
    for piece in pieces:
        yield prefix + dumps(piece).encode() + middle + str(sequence()).encode() + closing


def response_object(
    turn: ScriptedTurn | None, meta: AnswerMeta, request: ResponseRequest, status: str
) -> dict[str, Any]:
    """The OpenAI-shaped response object (`created_at`, `error`, ...), with DO's `created` kept too."""
    incomplete = turn is not None and turn.status == "incomplete"
    body: dict[str, Any] = {
        "id": meta.response_id,
        "object": "response",
        "created_at": meta.created,
        "created": meta.created,
        "model": meta.model,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": request.instructions,
        "metadata": request.metadata or {},
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "tool_choice": "auto",
        "tools": [],
        "text": request.text or {"format": {"type": "text"}},
        "usage": None,
    }
    body.update(request_echo(request))
    if turn is not None:
        body["output"] = output_dicts(turn, meta)
        usage = responses_usage(turn)
        # OpenAI's usage object also names cache writes (Anthropic-style caching is the only writer).
        usage["input_tokens_details"]["cache_write_tokens"] = turn.cache_created_tokens or 0
        body["usage"] = usage
    return body


def openai_terminal_event(
    turn: ScriptedTurn, meta: AnswerMeta, request: ResponseRequest, sequence: EventSequence
) -> bytes:
    kind = "response.incomplete" if turn.status == "incomplete" else "response.completed"
    response = response_object(turn, meta, request, turn.status)
    return event_bytes(kind, {"sequence_number": sequence(), "response": response})


def openai_error_event(message: str, sequence: EventSequence) -> bytes:
    payload = {"code": "server_error", "message": message, "param": None, "sequence_number": sequence()}
    return event_bytes("error", payload)


def openai_stream_events(
    turn: ScriptedTurn, meta: AnswerMeta, request: ResponseRequest, sequence: EventSequence
) -> Iterator[bytes]:
    """All events but the terminal one, numbered by `sequence` (the terminal event continues it)."""
    started = response_object(None, meta, request, "in_progress")
    yield event_bytes("response.created", {"sequence_number": sequence(), "response": started})
    yield event_bytes("response.in_progress", {"sequence_number": sequence(), "response": started})

    def emit(kind: str, payload: dict[str, Any]) -> bytes:
        return event_bytes(kind, {"sequence_number": sequence(), **payload})

    for output_index, done in enumerate(output_dicts(turn, meta)):
        if done["type"] in SERVER_ITEM_TYPES:
            yield from server_item_events(done, output_index, emit)
            continue
        added = {**done, "status": "in_progress"}
        if done["type"] == "function_call":
            added["arguments"] = ""
            yield from _item_added(added, output_index, sequence)
            yield from _arguments(done, output_index, sequence)
        else:
            added["content"] = []
            yield from _item_added(added, output_index, sequence)
            pieces = turn.reasoning if done["type"] == "reasoning" else turn.text
            yield from _content_part(done, pieces, output_index, sequence, emit)
        yield event_bytes(
            "response.output_item.done",
            {"sequence_number": sequence(), "output_index": output_index, "item": done},
        )


def _item_added(item: dict[str, Any], output_index: int, sequence: EventSequence) -> Iterator[bytes]:
    yield event_bytes(
        "response.output_item.added",
        {"sequence_number": sequence(), "output_index": output_index, "item": item},
    )


def _content_part(
    item: dict[str, Any], pieces: list[str], output_index: int, sequence: EventSequence, emit: Emit
) -> Iterator[bytes]:
    part = item["content"][0]
    reasoning = part["type"] == "reasoning_text"
    where = {"item_id": item["id"], "output_index": output_index, "content_index": 0}
    empty_part = {**part, "text": ""}
    if "annotations" in part:
        empty_part["annotations"] = []
    yield event_bytes(
        "response.content_part.added", {"sequence_number": sequence(), **where, "part": empty_part}
    )
    kind = "response.reasoning_text" if reasoning else "response.output_text"
    extra: dict[str, Any] = {} if reasoning else {"logprobs": []}
    yield from delta_events(kind + ".delta", where, extra, pieces, sequence)
    yield from annotation_events(part.get("annotations") or [], where, emit)
    text_done: dict[str, Any] = {"sequence_number": sequence(), **where, "text": part["text"]}
    if not reasoning:
        text_done["logprobs"] = []
    yield event_bytes(kind + ".done", text_done)
    yield event_bytes("response.content_part.done", {"sequence_number": sequence(), **where, "part": part})


def _arguments(item: dict[str, Any], output_index: int, sequence: EventSequence) -> Iterator[bytes]:
    where = {"item_id": item["id"], "output_index": output_index}
    for piece in split_pieces(item["arguments"]):
        yield event_bytes(
            "response.function_call_arguments.delta", {"sequence_number": sequence(), **where, "delta": piece}
        )
    done = {"sequence_number": sequence(), **where, "name": item["name"], "arguments": item["arguments"]}
    yield event_bytes("response.function_call_arguments.done", done)
