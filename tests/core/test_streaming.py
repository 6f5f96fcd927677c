"""The stream assembler, event by event: documented sample streams, tool-call pieces, usage, end markers.

Unit tests feed SSE `data` payloads straight into `ResponseReader`; the fixture streams (DO's
`response.chunk` example, DO's chat-chunk example, a vLLM typed-event stream) also go through the client.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fakes import FakeEndpoint, sse_reply

from gradient_integrations.core import (
    ResponseReader,
    StreamDelta,
    StreamError,
    ToolCall,
    ToolCallChunk,
    Usage,
    build_request,
    parse_response,
)

from ._support import acollect, collect, load_bytes, load_json, make_client


def feed_all(*payloads: dict[str, Any] | str) -> tuple[ResponseReader, list[StreamDelta]]:
    assembler = ResponseReader()
    deltas: list[StreamDelta] = []
    for payload in payloads:
        deltas += assembler.feed(payload if isinstance(payload, str) else json.dumps(payload))
    return assembler, deltas


def chunk(delta: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta}]
    return {
        "id": "resp-1",
        "object": "response.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
        **extra,
    }


def tool_piece(
    arguments: str, *, call_id: str | None = None, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    piece: dict[str, Any] = {"function": {"arguments": arguments}, **extra}
    if call_id:
        piece.update(id=call_id, type="function")
        piece["function"]["name"] = name
    return chunk({"tool_calls": [piece]})


# -- documented sample streams -----------------------------------------------------------------------
async def test_do_response_chunk_example() -> None:
    script = FakeEndpoint(sse_reply([load_bytes("do_response_chunk_stream.sse")]))
    client = make_client(script)
    stream = client.stream(build_request(model="openai-gpt-oss-20b", input="Capital of France?"))
    deltas, error = collect(stream)
    assert error is None
    assert deltas == [
        StreamDelta("reasoning", text="Let me think..."),
        StreamDelta("text", text="Paris"),
        StreamDelta(
            "finish", usage=Usage(72, 35, 107, cached_tokens=0, reasoning_tokens=17), finish_reason="stop"
        ),
    ]
    result = stream.result
    assert (result.id, result.model, result.created) == ("resp-1", "openai-gpt-oss-20b", 1721596428)
    assert (result.text, result.reasoning, result.status) == ("Paris", "Let me think...", "completed")
    adeltas, aerror = await acollect(client.astream(build_request(model="m", input="x")))
    assert (adeltas, aerror) == (deltas, None)


def test_do_chat_chunk_example_without_usage() -> None:
    script = FakeEndpoint(sse_reply([load_bytes("do_description_chat_stream.sse")]))
    stream = make_client(script).stream(build_request(model="m", input="hi"))
    deltas, error = collect(stream)
    assert error is None
    assert [d.text for d in deltas if d.kind == "text"] == ["Hello", "!"]
    assert deltas[-1] == StreamDelta("finish", usage=None, finish_reason="stop")
    assert stream.result.text == "Hello!" and stream.result.usage is None


def test_vllm_typed_stream_equals_its_non_streamed_body() -> None:
    script = FakeEndpoint(sse_reply([load_bytes("vllm_typed_stream.sse")]))
    stream = make_client(script).stream(build_request(model="m", input="hi"))
    deltas, error = collect(stream)
    assert error is None
    assert stream.result == parse_response(load_json("vllm_responses_body.json"))
    tool_chunks = [d.tool_call for d in deltas if d.kind == "tool_call"]
    # A typed call goes out once, whole, when its complete copy arrives; the repeats add nothing.
    assert tool_chunks == [ToolCallChunk(0, "call_paris", "get_weather", '{"city": "Paris"}')]


# -- tool-call pieces --------------------------------------------------------------------------------
def test_do_pieces_without_index_new_id_starts_a_call_no_id_continues_last() -> None:
    assembler, deltas = feed_all(
        tool_piece('{"ci', call_id="call_1", name="get_weather"),
        tool_piece('ty": "Paris"}'),
        tool_piece("", call_id="call_2", name="get_time"),
        tool_piece('{"tz": '),
        tool_piece('"UTC"}'),
        chunk({}, **{"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        "[DONE]",
    )
    assert [d.tool_call.index for d in deltas if d.tool_call] == [0, 0, 1, 1, 1]
    assert deltas[0].tool_call == ToolCallChunk(0, "call_1", "get_weather", '{"ci')
    assert deltas[1].tool_call == ToolCallChunk(0, None, None, 'ty": "Paris"}')
    result = assembler.result()
    assert result.tool_calls == [
        ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_2", "get_time", '{"tz": "UTC"}'),
    ]
    assert (result.finish_reason, result.status) == ("tool_calls", "completed")


def test_do_pieces_repeating_their_id_stay_one_call() -> None:
    # DO's schema marks `id` required on every piece: a repeated id continues its call.
    assembler, _ = feed_all(
        tool_piece("{", call_id="call_1", name="f"),
        tool_piece("}", call_id="call_1", name="f"),
        "[DONE]",
    )
    assert assembler.result().tool_calls == [ToolCall("call_1", "f", "{}")]


def test_chat_style_indexed_pieces_may_interleave() -> None:
    assembler, deltas = feed_all(
        tool_piece("{", call_id="a", name="f", index=0),
        tool_piece("{", call_id="b", name="g", index=1),
        tool_piece('"x":1}', index=0),
        tool_piece('"y":2}', index=1),
        "[DONE]",
    )
    assert [d.tool_call.index for d in deltas if d.tool_call] == [0, 1, 0, 1]
    assert assembler.result().tool_calls == [ToolCall("a", "f", '{"x":1}'), ToolCall("b", "g", '{"y":2}')]


def test_piece_without_id_before_any_call_starts_an_anonymous_call() -> None:
    assembler, _ = feed_all(tool_piece("{}"), "[DONE]")
    assert assembler.result().tool_calls == [ToolCall("call_0", "", "{}")]


# -- usage, finish and end markers -------------------------------------------------------------------
def test_usage_arrives_once_in_the_finish_delta_even_if_sent_on_several_chunks() -> None:
    first = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    last = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assembler, deltas = feed_all(
        chunk({"content": "a"}, usage=first),
        chunk({"content": "b"}, usage=None),
        chunk(None),  # empty choices, no usage: a keep-alive
        chunk(None, usage=last),
        "[DONE]",
    )
    assert [d.kind for d in deltas] == ["text", "text", "finish"]
    assert [d.usage for d in deltas] == [None, None, Usage(5, 3, 8)]
    assert assembler.result().usage == Usage(5, 3, 8)


def test_nothing_after_the_end_marker_counts() -> None:
    assembler, deltas = feed_all(
        chunk({"content": "a"}), "[DONE]", "[DONE]", chunk({"content": "late"}), "garbage"
    )
    assert [d.kind for d in deltas] == ["text", "finish"]
    assert assembler.result().text == "a"


def test_blank_and_whitespace_payloads_are_ignored() -> None:
    assembler = ResponseReader()
    assert assembler.feed("") == [] and assembler.feed("  \n ") == []
    assert assembler.events == 0 and not assembler.done


@pytest.mark.parametrize(
    ("end", "finish_reason", "status"),
    [
        ({"type": "response.completed", "response": {"status": "completed"}}, "stop", "completed"),
        ({"type": "response.incomplete", "response": {"status": "incomplete"}}, "length", "incomplete"),
        ({"type": "response.incomplete", "response": {}}, "length", "incomplete"),
    ],
)
def test_typed_end_events(end: dict[str, Any], finish_reason: str, status: str) -> None:
    assembler, deltas = feed_all({"type": "response.output_text.delta", "delta": "hi"}, end)
    assert deltas[-1] == StreamDelta("finish", finish_reason=finish_reason)
    result = assembler.result()
    assert (result.text, result.finish_reason, result.status) == ("hi", finish_reason, status)


def test_typed_unknown_and_informational_events_are_ignored() -> None:
    assembler, deltas = feed_all(
        {"type": "response.created", "response": {"id": "r1", "model": "m", "created_at": 7}},
        {"type": "response.output_item.added", "item": {"type": "message", "id": "msg"}},
        {"type": "response.content_part.added", "part": {"type": "output_text", "text": ""}},
        {"type": "response.output_text.delta", "delta": "a"},
        {"type": "response.output_text.done", "text": "a"},
        {"type": "response.brand_new_event", "delta": "must not show"},
        {"type": "response.completed", "response": {"status": "completed"}},
    )
    assert [d.kind for d in deltas] == ["text", "finish"]
    result = assembler.result()
    assert (result.id, result.model, result.created, result.text) == ("r1", "m", 7, "a")


def test_typed_function_call_arguments_only_in_item_done() -> None:
    item = {"type": "function_call", "id": "fc", "call_id": "call_x", "name": "f"}
    assembler, _ = feed_all(
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}},
        {"type": "response.output_item.done", "output_index": 0, "item": {**item, "arguments": '{"a":1}'}},
        {"type": "response.completed", "response": {}},
    )
    assert assembler.result().tool_calls == [ToolCall("call_x", "f", '{"a":1}')]


def test_result_before_the_end_is_a_stream_error_with_the_partial() -> None:
    assembler, _ = feed_all(chunk({"content": "half"}))
    assert not assembler.done
    assert assembler.snapshot().text == "half"
    with pytest.raises(StreamError, match="ended before") as caught:
        assembler.result()
    assert caught.value.partial.text == "half"


async def test_streams_expose_the_text_and_reasoning_received_so_far() -> None:
    """What each delta added is already in `stream.text` / `stream.reasoning` when the delta is yielded."""
    body = (
        b"".join(
            f"data: {json.dumps(payload)}\n\n".encode()
            for payload in (
                chunk({"reasoning_content": "Think"}),
                chunk({"content": "Hel"}),
                chunk({"content": "lo"}),
                chunk(None, usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}),
            )
        )
        + b"data: [DONE]\n\n"
    )
    client = make_client(FakeEndpoint(sse_reply([body])))
    expected = [("Think", ""), ("Think", "Hel"), ("Think", "Hello"), ("Think", "Hello")]

    stream = client.stream(build_request(model="m", input="hi"))
    assert [(stream.reasoning, stream.text) for _ in stream] == expected
    assert stream.result.text == "Hello"
    astream = client.astream(build_request(model="m", input="hi"))
    assert [(astream.reasoning, astream.text) async for _ in astream] == expected


def test_text_so_far_only_grows_and_reads_consistently_from_another_thread() -> None:
    """LlamaIndex responses read the text lazily, from whichever thread: every read, while the reader is
    being fed in another thread, is a prefix of the final text at least as long as the one before it."""
    assembler = ResponseReader()
    pieces = [f"w{index} " for index in range(5000)]  # many internal blocks of joined pieces
    seen: list[str] = []
    feeding = threading.Event()

    def read_while_fed() -> None:
        while not feeding.is_set():
            seen.append(assembler.text)

    reader_thread = threading.Thread(target=read_while_fed)
    reader_thread.start()
    for index, piece in enumerate(pieces):
        assembler.feed(json.dumps(chunk({"content": piece})))
        if index % 700 == 0:
            assert assembler.text == "".join(pieces[: index + 1])
    feeding.set()
    reader_thread.join()
    assembler.feed("[DONE]")
    final = assembler.result().text
    assert final == "".join(pieces)
    assert len(seen) > 1
    assert all(final.startswith(text) for text in seen)
    assert [len(text) for text in seen] == sorted(len(text) for text in seen)
