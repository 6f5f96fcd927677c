"""Stream result == JSON result, for every body shape the project knows and for every recorded stream.

A JSON body is what a stream's final event carries, so the reader gives both one result by construction;
these tests hold it to that. `typed_stream_of()` turns any Responses body into the typed events a server
would send for it (vLLM's and OpenAI's event order), with the quirks the recordings show drawn at random:
vLLM's `reasoning_part` events, stream ids and call ids that differ from the completed ones, the
`"id": null` done item with stray keys, text at `content_index` 1, a trailing `[DONE]`, text cut into
arbitrary deltas. The stream must read exactly as the body does, except that a tool call keeps the
call id its chunks carried (the first id seen wins).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

from corpus import Exchange, parse_sse
from hypothesis import given, settings
from hypothesis import strategies as st
from replay import ANSWERS

from gradient_integrations.core import ResponseReader, ResponseResult, parse_response
from gradient_integrations.core.server_items import CONTENT_ITEM_TYPES

CORE_FIXTURES = Path(__file__).resolve().parents[1] / "core" / "fixtures"
# Every Responses-shaped body the project reads: its own fixtures (DO docs, Stainless, pydo, vLLM-shaped)
# and every recorded JSON body.
KNOWN_BODIES = {
    name: json.loads((CORE_FIXTURES / name).read_text(encoding="utf-8"))
    for name in (
        "seed_response.json",
        "docs_reasoning_first.json",
        "pydo_created_at.json",
        "stainless_text_items.json",
        "vllm_responses_body.json",
    )
} | {
    exchange.name: json.loads(exchange.body)
    for exchange in ANSWERS
    if not exchange.stream and "output" in json.loads(exchange.body)
}

_text = st.text(max_size=12)
_summary = st.builds(lambda text: {"type": "summary_text", "text": text}, st.text(min_size=1, max_size=10))
_items = st.one_of(
    st.builds(
        lambda parts: {
            "type": "message",
            "id": "msg_x",
            "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []} for t in parts],
        },
        st.lists(_text, min_size=1, max_size=2),
    ),
    st.builds(
        lambda text: {
            "type": "reasoning",
            "id": "rs_x",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": text}],
        },
        st.text(min_size=1, max_size=12),
    ),
    st.builds(
        lambda parts: {"type": "reasoning", "id": "rs_y", "summary": parts},
        st.lists(_summary, min_size=1, max_size=3),
    ),
    st.builds(
        lambda name, args: {
            "type": "function_call",
            "id": "fc_x",
            "call_id": f"call_{name}",
            "name": name,
            "arguments": json.dumps(args),
        },
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers() | _text, max_size=3),
    ),
    st.just({"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}}),
    st.builds(
        lambda text: {
            "type": "message",
            "id": "msg_r",
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": text}],
        },
        st.text(min_size=1, max_size=10),
    ),
)


@st.composite
def generated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    output = draw(st.lists(_items, max_size=5))
    incomplete = draw(st.booleans())
    body: dict[str, Any] = {
        "id": "resp_gen",
        "object": "response",
        "created_at": 1760000000,
        "model": "gen-model",
        "status": "incomplete" if incomplete else "completed",
        "output": output,
        "usage": draw(st.none() | st.just({"input_tokens": 3, "output_tokens": 5, "total_tokens": 8})),
    }
    if incomplete:
        body["incomplete_details"] = {"reason": "max_output_tokens"}
    return body


@dataclasses.dataclass
class Quirks:
    vllm: bool  # reasoning_part events, content_index 1, the id-null done item with stray keys
    new_ids: bool  # stream ids and call ids differ from the completed payload's
    done_marker: bool  # a `data: [DONE]` after the final event (newer vLLM builds)


def _pieces(text: str, draw: st.DrawFn) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=4))) if len(text) > 1 else []
    edges = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges) if b > a]


def typed_stream_of(body: dict[str, Any], quirks: Quirks, draw: st.DrawFn) -> list[str]:
    """The SSE `data` payloads a vLLM / OpenAI server sends for `body`, in their order."""
    events: list[dict[str, Any]] = []

    def send(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    head = {key: body[key] for key in ("id", "object", "created_at", "model") if key in body}
    send("response.created", response={**head, "status": "in_progress", "output": []})
    send("response.in_progress", response={**head, "status": "in_progress", "output": []})
    for index, item in enumerate(body.get("output") or []):
        kind = item.get("type")
        streamed_id = f"s_{index}" if quirks.new_ids else item.get("id")
        added = {key: value for key, value in item.items() if key not in ("content", "summary", "arguments")}
        added["id"] = streamed_id
        if kind == "function_call":
            added["arguments"] = ""
            if quirks.new_ids:
                added["call_id"] = f"call_streamed_{index}"
        if kind in ("message", "reasoning"):
            added["content"] = None if quirks.vllm and kind == "reasoning" else []
        if kind == "reasoning":
            added["summary"] = []
        where = {"item_id": streamed_id, "output_index": index}
        send("response.output_item.added", output_index=index, item=added)
        if kind == "message":
            for number, part in enumerate(item.get("content") or []):
                at = {**where, "content_index": number + (1 if quirks.vllm else 0)}
                send("response.content_part.added", **at, part={**part, "text": ""})
                if part.get("type") == "refusal":
                    for piece in _pieces(part["refusal"], draw):
                        send("response.refusal.delta", **at, delta=piece)
                    send("response.refusal.done", **at, refusal=part["refusal"])
                else:
                    for piece in _pieces(part["text"], draw):
                        send("response.output_text.delta", **at, delta=piece)
                    for number_of, annotation in enumerate(part.get("annotations") or []):
                        send(
                            "response.output_text.annotation.added",
                            **at,
                            annotation_index=number_of,
                            annotation=annotation,
                        )
                    send("response.output_text.done", **at, text=part["text"])
                send("response.content_part.done", **at, part=part)
        elif kind == "reasoning" and item.get("content"):
            for number, part in enumerate(item["content"]):
                at = {**where, "content_index": number}
                if quirks.vllm:
                    send("response.reasoning_part.added", **at, part={"type": "reasoning_text", "text": ""})
                for piece in _pieces(part["text"], draw):
                    send("response.reasoning_text.delta", **at, delta=piece)
                send("response.reasoning_text.done", **at, text=part["text"])
                if quirks.vllm:
                    send("response.reasoning_part.done", **at, part=part)
        elif kind == "reasoning":
            for number, part in enumerate(item.get("summary") or []):
                at = {**where, "summary_index": number}
                send("response.reasoning_summary_part.added", **at, part={"type": "summary_text", "text": ""})
                for piece in _pieces(part["text"], draw):
                    send("response.reasoning_summary_text.delta", **at, delta=piece)
                send("response.reasoning_summary_text.done", **at, text=part["text"])
                send("response.reasoning_summary_part.done", **at, part=part)
        elif kind == "function_call":
            for piece in _pieces(item["arguments"], draw):
                send("response.function_call_arguments.delta", **where, delta=piece)
            send("response.function_call_arguments.done", **where, arguments=item["arguments"])
        done = {**item, "id": streamed_id}
        if kind == "function_call":
            done["call_id"] = added.get("call_id", item.get("call_id"))
            if quirks.vllm:  # vLLM: id null, and the event's own keys stray into the item
                done |= {"id": None, "item_id": streamed_id, "output_index": index, "sequence_number": -1}
        send("response.output_item.done", output_index=index, item=done)
    final = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(body.get("status", ""))
    send(final or "response.completed", response=body)
    payloads = [json.dumps(event, ensure_ascii=False) for event in events]
    return [*payloads, "[DONE]"] if quirks.done_marker else payloads


def read_stream(payloads: list[str]) -> ResponseResult:
    reader = ResponseReader()
    for payload in payloads:
        reader.feed(payload)
    return reader.result()


def with_call_ids(result: ResponseResult, ids: list[str]) -> ResponseResult:
    calls = [dataclasses.replace(call, id=new) for call, new in zip(result.tool_calls, ids, strict=True)]
    return dataclasses.replace(result, tool_calls=calls)


def _check(body: dict[str, Any], quirks: Quirks, draw: st.DrawFn) -> None:
    payloads = typed_stream_of(copy.deepcopy(body), quirks, draw)
    streamed = read_stream(payloads)
    expected = parse_response(copy.deepcopy(body))
    if quirks.new_ids:  # the first id seen wins: the stream keeps the ids its chunks carried
        output = body.get("output") or []
        positions = [index for index, item in enumerate(output) if item.get("type") == "function_call"]
        expected = with_call_ids(expected, [f"call_streamed_{index}" for index in positions])
        # A built-in tool's item is kept from its first whole copy (`output_item.done`): its streamed id.
        servers = [i for i, item in enumerate(output) if item.get("type") not in CONTENT_ITEM_TYPES]
        calls = [
            dataclasses.replace(call, id=f"s_{index}")
            for call, index in zip(expected.server_tool_calls, servers, strict=True)
        ]
        expected = dataclasses.replace(expected, server_tool_calls=calls)
    assert streamed == expected


quirk_sets = st.builds(Quirks, st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(KNOWN_BODIES)), quirks=quirk_sets, data=st.data())
def test_every_known_body_streams_to_the_result_it_reads_as(
    name: str, quirks: Quirks, data: st.DataObject
) -> None:
    body = KNOWN_BODIES[name]
    if any("type" not in item for item in body.get("output") or []):
        quirks = dataclasses.replace(quirks, new_ids=False)  # untyped items stream as whole items only
    _check(body, quirks, data.draw)


@settings(max_examples=150, deadline=None)
@given(body=generated_bodies(), quirks=quirk_sets, data=st.data())
def test_generated_bodies_stream_to_the_result_they_read_as(
    body: dict[str, Any], quirks: Quirks, data: st.DataObject
) -> None:
    _check(body, quirks, data.draw)


STREAMS = [exchange for exchange in ANSWERS if exchange.stream]


def _final_payload(exchange: Exchange) -> dict[str, Any]:
    events, _ = parse_sse(exchange.body)
    for event in reversed(events):
        if event.data.startswith("{"):
            payload = event.json()
            if payload.get("type") in ("response.completed", "response.incomplete", "response.failed"):
                response: dict[str, Any] = payload["response"]
                return response
    raise AssertionError(f"{exchange.name}: no final event")


def _normalized(result: ResponseResult) -> tuple[Any, ...]:
    calls = [(call.name, json.loads(call.arguments)) for call in result.tool_calls]
    return (result.text, result.reasoning, calls, result.usage, result.status, result.finish_reason)


def test_every_recorded_stream_reads_as_its_own_final_payload() -> None:
    """Each real stream and the JSON body its final event carries give one result (call ids aside: the
    streamed ones win; arguments compared parsed: vLLM's whitespace differs between the two copies)."""
    compared = 0
    for exchange in STREAMS:
        payload = _final_payload(exchange)
        if payload.get("status") == "failed":
            continue
        events, _ = parse_sse(exchange.body)
        streamed = read_stream([event.data for event in events])
        assert _normalized(streamed) == _normalized(parse_response(payload)), exchange.name
        compared += 1
    assert compared >= 10
