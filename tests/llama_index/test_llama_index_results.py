"""Core results and stream deltas -> `ChatResponse`: blocks, usage counts, and the one streaming mapper
(cumulative content, text delta, tool-call pieces assembled by index, final response == non-stream)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from llama_index.core.base.llms.types import ChatResponse, TextBlock, ThinkingBlock, ToolCallBlock

from gradient_integrations.core import ResponseResult, StreamDelta, ToolCall, ToolCallChunk, Usage
from gradient_integrations.llama_index._results import ChatStreamState, chat_response_from_result

USAGE = Usage(input_tokens=11, output_tokens=7, total_tokens=18, cached_tokens=4, reasoning_tokens=3)


@dataclass
class FixedSource:
    """A core stream as `ChatStreamState` sees it: `feed` takes a delta in first, as the core does before
    yielding it, so `text` and `reasoning` are what was received so far."""

    result: ResponseResult
    text: str = ""
    reasoning: str = ""

    def feed(self, state: ChatStreamState, delta: StreamDelta) -> ChatResponse:
        if delta.kind == "text":
            self.text += delta.text
        elif delta.kind == "reasoning":
            self.reasoning += delta.text
        return state.apply(delta, self)


def test_result_maps_to_thinking_text_and_tool_call_blocks_in_order() -> None:
    result = ResponseResult(
        id="resp_9",
        model="openai-gpt-oss-20b",
        text="Checking.",
        reasoning="Need the weather.",
        tool_calls=[ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')],
        usage=USAGE,
        finish_reason="tool_calls",
        status="completed",
        raw={"id": "resp_9"},
    )
    response = chat_response_from_result(result)
    thinking, text, call = response.message.blocks
    assert isinstance(thinking, ThinkingBlock) and thinking.content == "Need the weather."
    assert thinking.num_tokens == 3
    assert isinstance(text, TextBlock) and response.message.content == "Checking."
    assert isinstance(call, ToolCallBlock)
    assert (call.tool_call_id, call.tool_name, call.tool_kwargs) == (
        "call_1",
        "get_weather",
        '{"city": "Paris"}',
    )
    assert response.message.additional_kwargs["tool_calls"] == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
    ]
    assert response.raw == {"id": "resp_9"}
    assert response.delta is None


def test_usage_is_reported_under_llama_index_openai_names_plus_details() -> None:
    response = chat_response_from_result(ResponseResult(text="x", usage=USAGE, finish_reason="stop"))
    assert response.additional_kwargs == {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "cached_tokens": 4,
        "reasoning_tokens": 3,
        "finish_reason": "stop",
        "status": None,
        "model": "",
        "id": "",
    }


def test_answer_without_text_or_calls_has_empty_content_not_none() -> None:
    response = chat_response_from_result(ResponseResult(text=""))
    assert response.message.content == ""
    assert "prompt_tokens" not in response.additional_kwargs  # no usage reported -> no made-up zeros


def test_tool_only_answer_has_no_text_block() -> None:
    response = chat_response_from_result(ResponseResult(tool_calls=[ToolCall("c", "f", "{}")]))
    assert [type(block) for block in response.message.blocks] == [ToolCallBlock]
    assert response.message.content is None


def test_stream_state_accumulates_text_and_reports_each_delta() -> None:
    state = ChatStreamState()
    source = FixedSource(ResponseResult())
    first = source.feed(state, StreamDelta("text", text="Hello"))
    second = source.feed(state, StreamDelta("text", text=" world"))
    assert (first.delta, first.message.content) == ("Hello", "Hello")
    assert (second.delta, second.message.content) == (" world", "Hello world")
    assert second.raw == dataclasses.asdict(StreamDelta("text", text=" world"))  # built without asdict
    assert "prompt_tokens" not in second.additional_kwargs and "finish_reason" not in second.additional_kwargs


def test_stream_state_reports_reasoning_as_thinking_delta_without_text_delta() -> None:
    state = ChatStreamState()
    response = FixedSource(ResponseResult()).feed(state, StreamDelta("reasoning", text="hmm"))
    assert response.delta == ""
    assert response.additional_kwargs == {"thinking_delta": "hmm"}
    assert (
        isinstance(response.message.blocks[0], ThinkingBlock) and response.message.blocks[0].content == "hmm"
    )


def test_stream_state_assembles_interleaved_tool_call_pieces_by_index() -> None:
    state = ChatStreamState()
    source = FixedSource(ResponseResult())
    pieces = [
        ToolCallChunk(0, "call_a", "get_weather", '{"ci'),
        ToolCallChunk(1, "call_b", "get_time", '{"zone"'),
        ToolCallChunk(0, None, None, 'ty": "Rome"}'),
        ToolCallChunk(1, None, None, ': "CET"}'),
    ]
    responses = [source.feed(state, StreamDelta("tool_call", tool_call=piece)) for piece in pieces]
    calls = [block for block in responses[-1].message.blocks if isinstance(block, ToolCallBlock)]
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("call_a", "get_weather", '{"city": "Rome"}'),
        ("call_b", "get_time", '{"zone": "CET"}'),
    ]
    partial = [block for block in responses[0].message.blocks if isinstance(block, ToolCallBlock)]
    assert [(c.tool_name, c.tool_kwargs) for c in partial] == [("get_weather", '{"ci')]
    assert all(response.delta == "" for response in responses)


def test_finish_delta_yields_the_same_response_as_a_non_streaming_call() -> None:
    result = ResponseResult(
        id="r", model="m", text="Hi", usage=USAGE, finish_reason="stop", status="completed"
    )
    state = ChatStreamState()
    source = FixedSource(result)
    source.feed(state, StreamDelta("text", text="Hi"))
    final = source.feed(state, StreamDelta("finish", usage=USAGE, finish_reason="stop"))
    whole = chat_response_from_result(result)
    assert final.delta == ""
    assert final.message == whole.message
    assert final.additional_kwargs == whole.additional_kwargs
    assert final.additional_kwargs["prompt_tokens"] == 11
