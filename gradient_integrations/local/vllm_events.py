"""The `vllm` stream dialect: typed `response.*` events exactly as vLLM's Responses API sends them.

Modelled on the recorded gpt-oss streams (`tests/fixtures/recorded/vllm/`), quirks included, so clients
meet on loopback what they meet on a real vLLM deployment:

- `event:` lines naming the `type`, a `sequence_number` on every event, `type` the last key of each event;
  the stream ends after `response.completed` (also for a truncated answer, with `status: incomplete`),
  with no `data: [DONE]`;
- reasoning items stream between `response.reasoning_part.added` / `.done`; their `output_item.added`
  has `content: null`, and in the completed response their `status` is null;
- the ids the stream uses differ from the completed response's: a reasoning item streams as `msg_<hex>`
  and completes as `rs_<hex>`, a message streams as one `msg_<hex>` and completes as another, a function
  call streams as `fc_<hex>` with one `call_id` and completes as another `fc_<hex>` with another `call_id`;
- a function call's `response.output_item.done` item has `"id": null` and the stray keys `item_id` (the
  streamed id), `output_index` and `sequence_number: -1`; `function_call_arguments.done` names the tool;
- message text is content part 1 (`content_index: 1`), messages have `phase: null`, and usage carries
  vLLM's per-turn details (`input_tokens_per_turn`, `tool_output_tokens`, ...).

The response object has vLLM's keys (`created_at`, `background`, `kv_transfer_params`, ...), not DO's.
vLLM runs no built-in tools; their items and the text's annotations stream as OpenAI's do (`tool_events`),
with `type` last, and keep their ids in `response.completed`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from ..core.request import NamedToolChoice, ResponseRequest
from .model import ScriptedTurn, split_pieces
from .openai_events import EventSequence, delta_events, event_bytes
from .tool_events import SERVER_ITEM_TYPES, Emit, annotation_events, server_item_events
from .wire import AnswerMeta, output_dicts, responses_usage

__all__ = ["vllm_response_object", "vllm_stream_events", "vllm_terminal_event"]

_TEXT_CONTENT_INDEX = 1  # gpt-oss builds put the message text in content part 1


def vllm_terminal_event(
    turn: ScriptedTurn, meta: AnswerMeta, request: ResponseRequest, sequence: EventSequence
) -> bytes:
    """`response.completed`, also for a truncated answer (vLLM then says `status: incomplete`)."""
    response = vllm_response_object(turn, meta, request, turn.status)
    return _event("response.completed", {"response": response, "sequence_number": sequence()})


def vllm_response_object(
    turn: ScriptedTurn | None, meta: AnswerMeta, request: ResponseRequest, status: str
) -> dict[str, Any]:
    """vLLM's response object (its keys, in its order); `turn=None` gives the in-progress one."""
    choice = request.tool_choice
    incomplete = turn is not None and turn.status == "incomplete"
    return {
        "id": meta.response_id,
        "created_at": meta.created,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": request.instructions,
        "metadata": request.metadata,
        "model": meta.model,
        "object": "response",
        "output": [] if turn is None else _completed_output(turn, meta),
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "tool_choice": choice.model_dump(mode="json")
        if isinstance(choice, NamedToolChoice)
        else choice or "auto",
        "tools": [tool.model_dump(mode="json", exclude_none=True) for tool in request.tools or ()],
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "background": False,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": None,
        "previous_response_id": None,
        "prompt": None,
        "reasoning": request.reasoning,
        "service_tier": "auto",
        "status": status,
        "text": request.text,
        "top_logprobs": None,
        "truncation": "disabled",
        "usage": None if turn is None else _usage(turn),
        "user": request.user,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "kv_transfer_params": None,
        "input_messages": None,
        "output_messages": None,
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return event_bytes(kind, payload, type_last=True)


def _hex(meta: AnswerMeta, label: str) -> str:
    """16 hex digits, distinct per answer and label (vLLM's ids look like `msg_a8e6149a1e573d1b`)."""
    return hashlib.blake2b(f"{meta.suffix}/{label}".encode(), digest_size=8).hexdigest()


def _item_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    return str(content[0].get("text") or "") if isinstance(content, list) and content else ""


def _usage(turn: ScriptedTurn) -> dict[str, Any]:
    usage = responses_usage(turn)
    inputs, outputs = usage["input_tokens_details"], usage["output_tokens_details"]
    inputs["input_tokens_per_turn"] = [usage["input_tokens"]]
    inputs["cached_tokens_per_turn"] = [inputs["cached_tokens"]]
    outputs["output_tokens_per_turn"] = [usage["output_tokens"]]
    outputs["tool_output_tokens_per_turn"] = [outputs["tool_output_tokens"]]
    return usage


# -- items: one builder per type, for the added, done and completed copies --------------------------------
def _reasoning_item(item_id: str, content: list[dict[str, Any]] | None, status: str | None) -> dict[str, Any]:
    return {
        "id": item_id,
        "summary": [],
        "type": "reasoning",
        "content": content,
        "encrypted_content": None,
        "status": status,
    }


def _message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "content": content,
        "role": "assistant",
        "status": status,
        "type": "message",
        "phase": None,
    }


def _call_item(
    item_id: str | None, call_id: str, name: str, arguments: str, status: str | None
) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
        "type": "function_call",
        "id": item_id,
        "namespace": None,
        "status": status,
    }


def _reasoning_part(text: str) -> dict[str, Any]:
    return {"text": text, "type": "reasoning_text"}


def _text_part(
    text: str, logprobs: list[Any] | None, annotations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"annotations": annotations or [], "text": text, "type": "output_text", "logprobs": logprobs}


def _completed_output(turn: ScriptedTurn, meta: AnswerMeta) -> list[dict[str, Any]]:
    """The output of `response.completed`: the streamed items under other ids (and other call ids)."""
    output: list[dict[str, Any]] = []
    for index, item in enumerate(output_dicts(turn, meta)):
        done = _hex(meta, f"done{index}")
        if item["type"] in SERVER_ITEM_TYPES:
            output.append(item)
        elif item["type"] == "reasoning":
            output.append(_reasoning_item(f"rs_{done}", [_reasoning_part(_item_text(item))], None))
        elif item["type"] == "message":
            part = _text_part(_item_text(item), None, turn.annotations)
            output.append(_message_item(f"msg_{done}", [part], "completed"))
        else:
            name, arguments = item.get("name") or "", item.get("arguments") or ""
            output.append(_call_item(f"fc_{done}", f"call_{done}", name, arguments, None))
    return output


# -- the stream ---------------------------------------------------------------------------------------------
def vllm_stream_events(
    turn: ScriptedTurn, meta: AnswerMeta, request: ResponseRequest, sequence: EventSequence
) -> Iterator[bytes]:
    """All events but the terminal one, numbered by `sequence` (the terminal event continues it)."""
    started = vllm_response_object(None, meta, request, "in_progress")
    yield _event("response.created", {"response": started, "sequence_number": sequence()})
    yield _event("response.in_progress", {"response": started, "sequence_number": sequence()})

    def emit(kind: str, payload: dict[str, Any]) -> bytes:
        return _event(kind, {**payload, "sequence_number": sequence()})

    for index, item in enumerate(output_dicts(turn, meta)):
        streamed = _hex(meta, f"stream{index}")
        if item["type"] in SERVER_ITEM_TYPES:
            yield from server_item_events(item, index, emit)
            continue
        if item["type"] == "reasoning":
            item_id = f"msg_{streamed}"
            yield _item_event("added", _reasoning_item(item_id, None, "in_progress"), index, sequence)
            text = _item_text(item)
            yield from _content(item_id, index, 0, turn.reasoning, text, sequence, emit, reasoning=True)
            done = _reasoning_item(item_id, [_reasoning_part(text)], "completed")
        elif item["type"] == "message":
            item_id = f"msg_{streamed}"
            yield _item_event("added", _message_item(item_id, [], "in_progress"), index, sequence)
            text = _item_text(item)
            yield from _content(
                item_id, index, _TEXT_CONTENT_INDEX, turn.text, text, sequence, emit, turn.annotations
            )
            done = _message_item(item_id, [_text_part(text, None, turn.annotations)], "completed")
        else:
            item_id, name, arguments = f"fc_{streamed}", item.get("name") or "", item.get("arguments") or ""
            call_id = item.get("call_id") or ""
            yield _item_event("added", _call_item(item_id, call_id, name, "", "in_progress"), index, sequence)
            yield from _arguments(item_id, index, name, arguments, sequence)
            # vLLM's quirk: the done item loses its id and carries event fields inside it.
            stray = {"item_id": item_id, "output_index": index, "sequence_number": -1}
            done = {**_call_item(None, call_id, name, arguments, "completed"), **stray}
        yield _item_event("done", done, index, sequence)


def _item_event(stage: str, item: dict[str, Any], output_index: int, sequence: EventSequence) -> bytes:
    payload = {"item": item, "output_index": output_index, "sequence_number": sequence()}
    return _event(f"response.output_item.{stage}", payload)


def _content(
    item_id: str,
    output_index: int,
    content_index: int,
    pieces: list[str],
    text: str,
    sequence: EventSequence,
    emit: Emit,
    annotations: list[dict[str, Any]] | None = None,
    *,
    reasoning: bool = False,
) -> Iterator[bytes]:
    """A content part's events: part added, one delta per piece, annotations, text done, part done."""
    part_kind, text_kind = (
        ("response.reasoning_part", "response.reasoning_text")
        if reasoning
        else ("response.content_part", "response.output_text")
    )
    logprobs: dict[str, Any] = {} if reasoning else {"logprobs": []}
    where = {"content_index": content_index, "item_id": item_id, "output_index": output_index}
    added = _reasoning_part("") if reasoning else _text_part("", [])
    yield _event(part_kind + ".added", {**where, "part": added, "sequence_number": sequence()})
    after = {"item_id": item_id, **logprobs, "output_index": output_index}
    yield from delta_events(
        text_kind + ".delta", {"content_index": content_index}, after, pieces, sequence, type_last=True
    )
    yield from annotation_events(annotations or [], where, emit)
    text_done = {"content_index": content_index, **after, "sequence_number": sequence(), "text": text}
    yield _event(text_kind + ".done", text_done)
    part = _reasoning_part(text) if reasoning else _text_part(text, None, annotations)
    yield _event(part_kind + ".done", {**where, "part": part, "sequence_number": sequence()})


def _arguments(
    item_id: str, output_index: int, name: str, arguments: str, sequence: EventSequence
) -> Iterator[bytes]:
    where = {"item_id": item_id, "output_index": output_index}
    yield from delta_events(
        "response.function_call_arguments.delta", {}, where, split_pieces(arguments), sequence, type_last=True
    )
    done = {"arguments": arguments, "item_id": item_id, "name": name, "output_index": output_index}
    done["sequence_number"] = sequence()
    yield _event("response.function_call_arguments.done", done)
