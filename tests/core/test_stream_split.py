"""SSE splitting: both dialects, framed any way and cut at any byte, assemble to the non-streamed result.

The one place for stream-splitting tests. Hypothesis draws an answer (reasoning, text with multi-byte and
line-separator characters, tool calls in pieces, usage or none, stop/length/tool_calls), a framing (LF /
CRLF / CR line ends, comments and keep-alives, `event:`/`id:`/`retry:` lines, multi-line `data`, `data:`
without a space, empty `choices`, unknown typed and untyped events, a second `[DONE]`) and byte offsets to
cut the stream at, biased toward the inside of multi-byte characters and the gap between CR and LF. The
chunks are served through `ResponsesClient.stream` (a plain iterator) and `astream` (an async iterator)
over the fake endpoint. The deltas must rebuild the same result, the usage must arrive once, in the one
`finish` delta, sync and async must yield the same deltas, and the result must equal both
`parse_response(body)` and what `create()` returns for the same answer as one JSON body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from fakes import FakeEndpoint, json_reply, sse_reply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradient_integrations.core import ResponseResult, StreamDelta, ToolCall, build_request, parse_response

from ._answers import Answer, Call, Framing, answers, framings
from ._support import acollect, collect, make_client, split_at


def _tricky_offsets(blob: bytes) -> list[int]:
    """Offsets inside a multi-byte UTF-8 sequence or between a CR and its LF."""
    return [
        offset
        for offset in range(1, len(blob))
        if blob[offset] & 0xC0 == 0x80 or blob[offset - 1 : offset + 1] == b"\r\n"
    ]


def assert_deltas_rebuild(deltas: Sequence[StreamDelta], expected: ResponseResult) -> None:
    """The deltas alone carry the whole answer, and usage only in the single, final `finish` delta."""
    assert [delta.kind for delta in deltas].count("finish") == 1
    finish = deltas[-1]
    assert finish.kind == "finish"
    assert finish.usage == expected.usage
    assert finish.finish_reason == expected.finish_reason
    assert all(delta.usage is None for delta in deltas[:-1])
    assert "".join(d.text for d in deltas if d.kind == "text") == expected.text
    assert "".join(d.text for d in deltas if d.kind == "reasoning") == expected.reasoning
    calls: dict[int, list[str]] = {}
    ids: dict[int, str] = {}
    names: dict[int, str] = {}
    for delta in deltas:
        if delta.kind != "tool_call":
            continue
        chunk = delta.tool_call
        assert chunk is not None
        calls.setdefault(chunk.index, []).append(chunk.arguments)
        if chunk.id:
            ids.setdefault(chunk.index, chunk.id)
        if chunk.name:
            names.setdefault(chunk.index, chunk.name)
    assert sorted(calls) == list(range(len(calls)))  # indexes are dense, in order of first appearance
    rebuilt = [ToolCall(ids[index], names[index], "".join(calls[index])) for index in sorted(calls)]
    assert rebuilt == expected.tool_calls


def _run_both(chunks: list[bytes], body: dict[str, Any]) -> None:
    expected = parse_response(body)
    script = FakeEndpoint(sse_reply(chunks))
    client = make_client(script)
    request = build_request(model="openai-gpt-oss-20b", input="hi")
    assert make_client(FakeEndpoint(json_reply(body))).create(request) == expected

    stream = client.stream(request)
    deltas, error = collect(stream)
    assert error is None, error
    assert stream.result == expected
    assert_deltas_rebuild(deltas, expected)

    async def consume() -> None:
        astream = client.astream(request)
        adeltas, aerror = await acollect(astream)
        assert aerror is None, aerror
        assert astream.result == expected
        assert adeltas == deltas  # sync and async yield the very same deltas
        await client.aclose()

    asyncio.run(consume())
    assert script.count == 2
    assert all(body["stream"] is True for body in script.bodies)


@pytest.mark.slow
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(answer=answers(), framing=framings, dialect=st.sampled_from(["do", "typed"]), data=st.data())
def test_any_split_assembles_the_non_streamed_result(
    answer: Answer, framing: Framing, dialect: str, data: st.DataObject
) -> None:
    blob = answer.do_stream(framing) if dialect == "do" else answer.typed_stream(framing)
    offsets = st.integers(0, len(blob))
    tricky = _tricky_offsets(blob)
    if tricky:
        offsets = offsets | st.sampled_from(tricky)
    chunks = split_at(blob, data.draw(st.lists(offsets, max_size=60), label="cuts"))
    assert b"".join(chunks) == blob
    _run_both(chunks, answer.body())


RICH = Answer(
    reasoning=["Think ", "in 日本語 ", "and emoji 😀"],
    text=["Hé", "llo\u2028wo", "rld\x85!", " \r\n [DONE]"],
    calls=[Call("call_a", "get_weather", ['{"city": ', '"Zürich"}']), Call("call_b", "get_time", ["{}"])],
    usage={"input": 72, "output": 35, "cached": 32, "reasoning": 17},
)


@pytest.mark.parametrize("dialect", ["do", "typed"])
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_one_byte_chunks_every_boundary(dialect: str, eol: str) -> None:
    # Cutting after every byte covers every boundary at once: inside each multi-byte character and
    # between each CR and LF.
    framing = Framing(  # type: ignore[arg-type]
        eol=eol, comments=True, event_lines=True, keepalives=True, unknown_fields=True, retry_lines=True
    )
    blob = RICH.do_stream(framing) if dialect == "do" else RICH.typed_stream(framing)
    assert any(byte >= 0xF0 for byte in blob)  # 4-byte UTF-8 present
    assert (b"\r\n" in blob) is (eol == "\r\n")
    expected = parse_response(RICH.body())
    assert expected.text == "Héllo\u2028world\x85! \r\n [DONE]"
    assert expected.tool_calls == [
        ToolCall("call_a", "get_weather", '{"city": "Zürich"}'),
        ToolCall("call_b", "get_time", "{}"),
    ]
    _run_both([blob[i : i + 1] for i in range(len(blob))], RICH.body())


@pytest.mark.parametrize(
    ("dialect", "framing"),
    [
        ("do", Framing(multiline_data=True, double_done=True, compact_data=True, ping_events=True)),
        ("typed", Framing(final_only=True, compact_data=True, ping_events=True)),
    ],
)
def test_whole_blob_in_one_chunk(dialect: str, framing: Framing) -> None:
    blob = RICH.do_stream(framing) if dialect == "do" else RICH.typed_stream(framing)
    _run_both([blob], RICH.body())
