"""Hostile SSE streams: whatever the framing, a streamed answer assembles to the non-streamed one.

Hypothesis draws an answer (multi-byte text, reasoning, tool calls with split arguments, usage), renders
it in both stream dialects (DO `response.chunk` chunks and typed `response.*` events) wrapped in noise a
real proxy or server may add (comments, keep-alive blank lines, `event:`/`id:`/`retry:` fields, chunks
with empty `choices`, unknown event types, multi-line `data`, duplicate `[DONE]`, any of LF / CRLF / CR
line endings), then cuts the bytes at arbitrary points: inside a multi-byte UTF-8 sequence, between a CR
and its LF, inside a field name. The core client reads those pieces through a mock transport, sync and
async, and its result must equal `create()` on the same answer as one JSON body, with exactly one
`finish` delta and the text/tool-call deltas adding up to the result.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradient_integrations.core import ResponseResult, ResponsesClient, StreamDelta, build_request

BASE_URL = "http://127.0.0.1:9"  # never dialled: every request goes to the mock transport
RESPONSE_ID, MODEL, CREATED = "resp_hostile", "openai-gpt-oss-120b", 1_760_000_000

# Text that exercises the decoder: multi-byte UTF-8 (2, 3 and 4 bytes), JSON escapes, SSE-looking text.
_ALPHABET = st.sampled_from([*'ab ,."\\/:{}é€😀\u2028中\t\n\r', "data: ", "[DONE]", ": x"])
_PIECE = st.lists(_ALPHABET, min_size=1, max_size=6).map("".join)


@dataclass(frozen=True)
class Call:
    call_id: str
    name: str
    argument_pieces: tuple[str, ...]

    @property
    def arguments(self) -> str:
        return "".join(self.argument_pieces)


@dataclass(frozen=True)
class Answer:
    text_pieces: tuple[str, ...]
    reasoning_pieces: tuple[str, ...]
    calls: tuple[Call, ...]
    input_tokens: int
    output_tokens: int

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    @property
    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": len(self.reasoning_pieces)},
        }


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True), max_size=3, unique=True))
    calls = tuple(
        Call(
            call_id=f"call_{index}",
            name=name,
            # Arguments are JSON text cut into pieces anywhere, as a model streams them.
            argument_pieces=tuple(_cut(json.dumps({"q": draw(_PIECE)}, ensure_ascii=False), draw)),
        )
        for index, name in enumerate(names)
    )
    return Answer(
        text_pieces=tuple(draw(st.lists(_PIECE, max_size=6))),
        reasoning_pieces=tuple(draw(st.lists(_PIECE, max_size=3))),
        calls=calls,
        input_tokens=draw(st.integers(0, 5000)),
        output_tokens=draw(st.integers(0, 5000)),
    )


def _cut(text: str, draw: st.DrawFn) -> list[str]:
    points = sorted(set(draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=3))))
    bounds = [0, *[p for p in points if 0 < p < len(text)], len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds) if end > start]


# -- the non-streamed body ----------------------------------------------------------------------------
def json_body(answer: Answer) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if answer.reasoning_pieces:
        reasoning = "".join(answer.reasoning_pieces)
        output.append(
            {"type": "reasoning", "id": "rs_1", "content": [{"type": "reasoning_text", "text": reasoning}]}
        )
    text = "".join(answer.text_pieces)
    output.append(
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
    )
    for call in answer.calls:
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{call.call_id}",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED,
        "model": MODEL,
        "status": "completed",
        "output": output,
        "usage": answer.usage,
    }


# -- the two stream dialects, as lists of (event name, JSON payload or "[DONE]") ----------------------
Event = tuple[str | None, Any]


def do_chunk_events(answer: Answer) -> list[Event]:
    def chunk(delta: dict[str, Any], **extra: Any) -> Event:
        body = {
            "id": RESPONSE_ID,
            "object": "response.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta}],
            **extra,
        }
        return None, body

    events = [chunk({"role": "assistant", "reasoning_content": piece}) for piece in answer.reasoning_pieces]
    events += [chunk({"content": piece}) for piece in answer.text_pieces]
    for call in answer.calls:
        # DO's spec: the first piece of a call carries its id and name, later pieces only arguments.
        first, *rest = call.argument_pieces or ("",)
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "id": call.call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": first},
                        }
                    ]
                }
            )
        )
        events += [chunk({"tool_calls": [{"function": {"arguments": piece}}]}) for piece in rest]
    final: Event = (
        None,
        {
            "id": RESPONSE_ID,
            "object": "response.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "delta": {}, "finish_reason": answer.finish_reason}],
        },
    )
    usage: Event = (
        None,
        {
            "id": RESPONSE_ID,
            "object": "response.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [],
            "usage": answer.usage,
        },
    )
    return [*events, final, usage, (None, "[DONE]")]


def typed_events(answer: Answer) -> list[Event]:
    def event(kind: str, **fields: Any) -> Event:
        return kind, {"type": kind, **fields}

    response = {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED,
        "model": MODEL,
        "status": "in_progress",
        "output": [],
    }
    events = [event("response.created", response=response)]
    # Each event names its item's position in the completed `output` (json_body's order), as servers do.
    message = 1 if answer.reasoning_pieces else 0
    events += [
        event("response.reasoning_text.delta", item_id="rs_1", output_index=0, delta=piece)
        for piece in answer.reasoning_pieces
    ]
    events += [
        event("response.output_text.delta", item_id="msg_1", output_index=message, delta=piece)
        for piece in answer.text_pieces
    ]
    for index, call in enumerate(answer.calls, start=message + 1):
        item = {
            "type": "function_call",
            "id": f"fc_{index}",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "",
        }
        events.append(event("response.output_item.added", output_index=index, item=item))
        events += [
            event(
                "response.function_call_arguments.delta",
                item_id=f"fc_{index}",
                output_index=index,
                delta=piece,
            )
            for piece in call.argument_pieces
        ]
        done = {**item, "arguments": call.arguments}
        events.append(event("response.output_item.done", output_index=index, item=done))
    completed = {**json_body(answer)}
    events.append(event("response.completed", response=completed))
    return events


# -- framing with noise -------------------------------------------------------------------------------
NOISE: list[Event] = [
    ("comment", ": keep-alive"),
    ("blank", ""),
    ("unknown-typed", {"type": "response.brand_new_event", "detail": {"x": 1}}),
    ("unknown-untyped", {"type": "ping"}),
    ("empty-choices", {"id": RESPONSE_ID, "object": "response.chunk", "choices": []}),
    ("fields", "id: 7\nretry: 1500"),
]


@st.composite
def sse_documents(draw: st.DrawFn, events: list[Event]) -> bytes:
    """The events as SSE text with noise between them, one line-ending style, as UTF-8 bytes."""
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines: list[str] = []
    for name, payload in events:
        for _ in range(draw(st.integers(0, 2))):
            lines.extend(_noise_lines(draw(st.sampled_from(NOISE))))
        if name is not None and draw(st.booleans()):
            lines.append(f"event: {name}")
        if payload == "[DONE]":
            lines.append("data: [DONE]")
        else:
            multiline = draw(st.booleans())
            # `indent` puts JSON over several `data:` lines; the decoder must rejoin them with "\n".
            text = json.dumps(payload, ensure_ascii=False, indent=1 if multiline else None)
            space = draw(st.sampled_from(["data: ", "data:"]))
            lines.extend(f"{space}{line}" for line in text.split("\n"))
        lines.append("")
    if draw(st.booleans()):  # a second end marker, then trailing noise: both must be ignored
        lines += ["data: [DONE]", "", ": bye", ""]
    return eol.join(lines).encode() + eol.encode()


def _noise_lines(noise: Event) -> list[str]:
    kind, payload = noise
    if kind == "comment":
        return [str(payload)]
    if kind == "blank":
        return [""]
    if kind == "fields":
        return [*str(payload).split("\n"), ""]
    event_line = ["event: response.brand_new_event"] if kind == "unknown-typed" else []
    return [*event_line, f"data: {json.dumps(payload)}", ""]


@st.composite
def cut_points(draw: st.DrawFn, size: int) -> list[int]:
    points = draw(st.lists(st.integers(1, max(1, size - 1)), max_size=24))
    return sorted({p for p in points if 0 < p < size})


# -- a transport that hands the body over in the drawn pieces -------------------------------------------
class PiecewiseBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def _pieces(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def _client(stream_pieces: list[bytes], body: dict[str, Any]) -> ResponsesClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            headers = {"content-type": "text/event-stream; charset=utf-8"}
            return httpx.Response(200, headers=headers, stream=PiecewiseBody(stream_pieces))
        return httpx.Response(200, json=body)

    transport = httpx.MockTransport(answer)
    return ResponsesClient(base_url=BASE_URL, transport=transport, async_transport=transport, max_retries=0)


def _check(deltas: list[StreamDelta], streamed: ResponseResult, expected: ResponseResult) -> None:
    assert streamed == expected
    assert [delta.kind for delta in deltas].count("finish") == 1
    assert deltas[-1].kind == "finish"
    assert deltas[-1].usage == expected.usage  # usage travels once, on the finish delta
    assert "".join(d.text for d in deltas if d.kind == "text") == expected.text
    assert "".join(d.text for d in deltas if d.kind == "reasoning") == expected.reasoning
    arguments: dict[int, str] = {}
    for delta in deltas:
        if delta.tool_call is not None:
            arguments[delta.tool_call.index] = (
                arguments.get(delta.tool_call.index, "") + delta.tool_call.arguments
            )
    assert [arguments[index] for index in sorted(arguments)] == [
        call.arguments for call in expected.tool_calls
    ]


def _run_both(answer: Answer, document: bytes, points: list[int]) -> None:
    body = json_body(answer)
    client = _client(_pieces(document, points), body)
    request = build_request(model=MODEL, input="hostile")
    expected = client.create(request)
    assert expected.text == "".join(answer.text_pieces)
    assert [(c.id, c.name, c.arguments) for c in expected.tool_calls] == [
        (c.call_id, c.name, c.arguments) for c in answer.calls
    ]

    with client.stream(request) as stream:
        deltas = list(stream)
        _check(deltas, stream.result, expected)

    async def consume() -> tuple[list[StreamDelta], ResponseResult]:
        async with client.astream(request) as stream:
            return [delta async for delta in stream], stream.result

    async_deltas, async_result = asyncio.run(consume())
    _check(async_deltas, async_result, expected)
    assert async_deltas == deltas  # sync and async see the very same deltas


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(answer=answers(), data=st.data())
def test_do_chunk_dialect_survives_any_framing_and_split(answer: Answer, data: st.DataObject) -> None:
    document = data.draw(sse_documents(do_chunk_events(answer)), label="document")
    points = data.draw(cut_points(len(document)), label="cuts")
    _run_both(answer, document, points)


@_SETTINGS
@given(answer=answers(), data=st.data())
def test_typed_event_dialect_survives_any_framing_and_split(answer: Answer, data: st.DataObject) -> None:
    document = data.draw(sse_documents(typed_events(answer)), label="document")
    points = data.draw(cut_points(len(document)), label="cuts")
    _run_both(answer, document, points)


def test_split_inside_multibyte_character_and_between_cr_and_lf() -> None:
    """The two classic decoder traps, placed deliberately rather than left to chance."""
    answer = Answer(("😀€", " é"), (), (), 3, 2)
    document = "".join(
        f"data: {payload if payload == '[DONE]' else json.dumps(payload, ensure_ascii=False)}\r\n\r\n"
        for _, payload in do_chunk_events(answer)
    ).encode()
    emoji = document.index("😀".encode())
    first_crlf = document.index(b"\r\n")
    points = sorted({emoji + 1, emoji + 2, emoji + 3, first_crlf + 1})
    assert document[first_crlf + 1 : first_crlf + 2] == b"\n"  # the cut falls between CR and LF
    _run_both(answer, document, points)


def test_every_single_byte_split_of_a_small_typed_stream() -> None:
    """One byte per read: the most fragmented delivery possible still assembles exactly."""
    answer = Answer(("中文", " ok"), ("hmm",), (Call("call_0", "lookup", ('{"q"', ': "é"}')),), 5, 4)
    lines = []
    for name, payload in typed_events(answer):
        lines += [f"event: {name}", f"data: {json.dumps(payload, ensure_ascii=False)}", ""]
    document = "\r\n".join(lines).encode() + b"\r\n"
    _run_both(answer, document, list(range(1, len(document))))
