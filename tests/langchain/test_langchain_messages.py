"""Every mapping rule of `_messages`: LangChain messages -> wire items, results and deltas -> messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_support import do_chunks

from gradient_integrations.core import (
    InvalidRequestError,
    ResponseReader,
    ResponseResult,
    StreamDelta,
    ToolCall,
    ToolCallChunk,
    Usage,
)
from gradient_integrations.langchain._messages import (
    ChunkMapper,
    message_from_result,
    messages_to_input,
    tool_calls_from,
)


def wire(*messages: BaseMessage) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude_none=True) for item in messages_to_input(list(messages))]


def called(*call_ids: str) -> AIMessage:
    """The assistant turn that made these tool calls: a tool result must follow its call."""
    return AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": call_id} for call_id in call_ids])


def reasoning_item(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": [{"type": "reasoning_text", "text": text}], "summary": []}


# -- messages in ---------------------------------------------------------------------------------------
def test_system_and_human_strings_become_role_items() -> None:
    assert wire(SystemMessage("Be brief."), HumanMessage("Hi")) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_system_message_marked_developer_keeps_that_role() -> None:
    message = SystemMessage("Rules", additional_kwargs={"__openai_role__": "developer"})
    assert wire(message) == [{"role": "developer", "content": "Rules"}]


def test_text_blocks_are_joined_into_one_string_and_extra_keys_dropped() -> None:
    content: list[str | dict[str, Any]] = [
        {"type": "text", "text": "first", "id": "b1"},
        "second",
        {"type": "input_text", "text": "third"},
    ]
    assert wire(HumanMessage(content)) == [{"role": "user", "content": "first\nsecond\nthird"}]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "text", "text": "first", "cache_control": {"type": "ephemeral"}},  # langchain-anthropic
        {"type": "text", "text": "first", "extras": {"cache_control": {"type": "ephemeral"}}},  # v1 block
    ],
)
def test_a_cache_breakpoint_keeps_the_text_parts_where_the_caller_put_them(block: dict[str, Any]) -> None:
    # Anthropic models on DO cache the prompt up to the breakpoint ("Use Prompt Caching").
    assert wire(SystemMessage([block, "second"])) == [
        {
            "role": "system",
            "content": [
                {"type": "input_text", "text": "first", "cache_control": {"type": "ephemeral"}},
                {"type": "input_text", "text": "second"},
            ],
        }
    ]


def test_message_name_is_not_sent_but_the_message_is() -> None:
    assert wire(HumanMessage("hello", name="example_user")) == [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("kind", ["image", "image_url", "audio", "input_audio", "file", "document", "video"])
def test_media_blocks_are_rejected_naming_message_and_block(kind: str) -> None:
    human = HumanMessage([{"type": "text", "text": "look"}, {"type": kind, "url": "https://x.test/a"}])
    with pytest.raises(InvalidRequestError) as caught:
        messages_to_input([SystemMessage("s"), human])
    assert caught.value.field == "messages[1].content[1]"
    assert "text only" in str(caught.value) and repr(kind) in str(caught.value)


def test_unknown_block_type_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]\.content\[0\].*'mystery'"):
        messages_to_input([HumanMessage([{"type": "mystery"}])])


def test_ai_message_with_tool_calls_becomes_assistant_item_and_function_calls() -> None:
    message = AIMessage(
        "Let me check.",
        tool_calls=[
            {"name": "get_weather", "args": {"city": "東京"}, "id": "call_1", "type": "tool_call"},
            {"name": "get_time", "args": {}, "id": "call_2", "type": "tool_call"},
        ],
    )
    items = wire(message)
    assert items[0] == {"role": "assistant", "content": "Let me check."}
    assert items[1] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "東京"}',  # unicode kept, not \\u-escaped
    }
    assert items[2]["call_id"] == "call_2" and json.loads(items[2]["arguments"]) == {}


def test_ai_message_with_only_tool_calls_sends_no_empty_assistant_item() -> None:
    message = AIMessage("", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}])
    assert [item.get("type") for item in wire(message)] == ["function_call"]


def test_empty_ai_message_still_keeps_its_turn() -> None:
    assert wire(AIMessage("")) == [{"role": "assistant", "content": ""}]


def test_anthropic_tool_use_block_and_tool_calls_are_sent_once() -> None:
    message = AIMessage(
        [
            {"type": "text", "text": "Hmm let me think about that"},
            {"type": "tool_use", "input": {"fav_color": "purple"}, "id": "foo", "name": "color_picker"},
        ],
        tool_calls=[
            {"name": "color_picker", "args": {"fav_color": "purple"}, "id": "foo", "type": "tool_call"}
        ],
    )
    items = wire(message)
    assert items == [
        {"role": "assistant", "content": "Hmm let me think about that"},
        {
            "type": "function_call",
            "call_id": "foo",
            "name": "color_picker",
            "arguments": '{"fav_color": "purple"}',
        },
    ]


def test_thinking_blocks_are_replayed_as_reasoning_and_redacted_thinking_is_skipped() -> None:
    message = AIMessage(
        [
            {"type": "thinking", "thinking": "A greeting.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Hello!"},
        ]
    )
    assert wire(message) == [reasoning_item("A greeting."), {"role": "assistant", "content": "Hello!"}]


def test_reasoning_content_in_additional_kwargs_is_replayed_first() -> None:
    message = AIMessage("42", additional_kwargs={"reasoning_content": "6 times 7"})
    assert wire(message) == [reasoning_item("6 times 7"), {"role": "assistant", "content": "42"}]


def test_v1_content_blocks_map_to_reasoning_text_and_calls() -> None:
    message = AIMessage(
        [
            {"type": "reasoning", "reasoning": "think"},
            {"type": "text", "text": "answer"},
            {"type": "tool_call", "id": "c9", "name": "lookup", "args": {"q": "x"}},
        ]
    )
    assert wire(message) == [
        reasoning_item("think"),
        {"role": "assistant", "content": "answer"},
        {"type": "function_call", "call_id": "c9", "name": "lookup", "arguments": '{"q": "x"}'},
    ]


def test_openai_responses_reasoning_summary_is_replayed_as_text() -> None:
    block = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}]}
    assert wire(AIMessage([block, "ok"]))[0] == reasoning_item("plan")


def test_invalid_tool_calls_are_replayed_with_their_raw_arguments() -> None:
    message = AIMessage(
        "",
        invalid_tool_calls=[
            {"type": "invalid_tool_call", "id": "bad1", "name": "f", "args": "{oops", "error": "x"}
        ],
    )
    assert wire(message) == [{"type": "function_call", "call_id": "bad1", "name": "f", "arguments": "{oops"}]


def test_tool_call_without_id_is_rejected() -> None:
    message = AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": None, "type": "tool_call"}])
    with pytest.raises(InvalidRequestError) as caught:
        messages_to_input([HumanMessage("q"), message])
    assert caught.value.field == "messages[1].tool_calls[0].id"


def test_tool_message_becomes_function_call_output_by_call_id() -> None:
    assert wire(called("call_1"), ToolMessage("sunny", tool_call_id="call_1"))[1:] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    ]


def test_tool_message_list_content_is_joined() -> None:
    message = ToolMessage([{"type": "text", "text": "a"}, "b"], tool_call_id="c")
    assert wire(called("c"), message)[1]["output"] == "a\nb"


def test_tool_error_status_stays_visible_to_the_model() -> None:
    failed = ToolMessage("division by zero", tool_call_id="c", status="error")
    already_said = ToolMessage("Error: Missing required argument 'b'.", tool_call_id="d", status="error")
    assert wire(called("c"), failed)[1]["output"] == "Error: division by zero"
    assert wire(called("d"), already_said)[1]["output"] == "Error: Missing required argument 'b'."


def test_tool_message_with_image_is_rejected() -> None:
    message = ToolMessage([{"type": "image", "base64": "AAAA", "mime_type": "image/png"}], tool_call_id="c")
    with pytest.raises(InvalidRequestError, match="text only"):
        messages_to_input([message])


def test_anthropic_tool_result_blocks_become_outputs_before_the_user_text() -> None:
    human = HumanMessage(
        [
            {"type": "tool_result", "tool_use_id": "t1", "content": "72F"},
            {
                "type": "tool_result",
                "tool_use_id": "t2",
                "content": [{"type": "text", "text": "nope"}],
                "is_error": True,
            },
            {"type": "text", "text": "Thanks"},
        ]
    )
    assert wire(called("t1", "t2"), human)[2:] == [
        {"type": "function_call_output", "call_id": "t1", "output": "72F"},
        {"type": "function_call_output", "call_id": "t2", "output": "Error: nope"},
        {"role": "user", "content": "Thanks"},
    ]


def test_chat_message_roles_are_mapped_and_unknown_messages_rejected() -> None:
    assert wire(ChatMessage(role="developer", content="d"), ChatMessage(role="assistant", content="a")) == [
        {"role": "developer", "content": "d"},
        {"role": "assistant", "content": "a"},
    ]
    with pytest.raises(InvalidRequestError, match=r"messages\[0\].*FunctionMessage"):
        messages_to_input([FunctionMessage(name="f", content="x")])


# -- results out ---------------------------------------------------------------------------------------
def result(**fields: Any) -> ResponseResult:
    base: dict[str, Any] = {"id": "resp_9", "model": "served-model", "created": 5, "text": "hi"}
    base |= {"finish_reason": "stop", "status": "completed"}
    return ResponseResult(**(base | fields))


def test_result_maps_text_usage_metadata_and_id() -> None:
    usage = Usage(input_tokens=10, output_tokens=4, total_tokens=14, cached_tokens=6, reasoning_tokens=2)
    message = message_from_result(result(usage=usage), requested_model="asked-model")
    assert message.content == "hi" and message.id == "resp_9"
    assert message.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
        "input_token_details": {"cache_read": 6},
        "output_token_details": {"reasoning": 2},
    }
    assert message.response_metadata == {
        "model_provider": "gradient",
        "model_name": "served-model",
        "id": "resp_9",
        "finish_reason": "stop",
        "status": "completed",
        "created": 5,
    }


def test_model_name_falls_back_to_the_requested_model() -> None:
    message = message_from_result(result(model=""), requested_model="asked-model")
    assert message.response_metadata["model_name"] == "asked-model"


def test_reasoning_is_kept_and_becomes_a_v1_reasoning_block() -> None:
    message = message_from_result(result(reasoning="step 1", text="done"), requested_model="m")
    assert message.additional_kwargs == {"reasoning_content": "step 1"}
    assert [block["type"] for block in message.content_blocks] == ["reasoning", "text"]
    assert message.content_blocks[0].get("reasoning") == "step 1"


def test_tool_calls_parse_and_bad_json_becomes_invalid_tool_calls() -> None:
    calls = [
        ToolCall(id="c1", name="add", arguments='{"a": 1, "b": 2}'),
        ToolCall(id="c2", name="noargs", arguments=""),
        ToolCall(id="c3", name="broken", arguments='{"a": '),
        ToolCall(id="c4", name="listy", arguments="[1, 2]"),
    ]
    valid, invalid = tool_calls_from(calls)
    assert [(call["id"], call["name"], call["args"]) for call in valid] == [
        ("c1", "add", {"a": 1, "b": 2}),
        ("c2", "noargs", {}),
    ]
    assert [(call["id"], call["args"]) for call in invalid] == [("c3", '{"a": '), ("c4", "[1, 2]")]
    assert "JSON object" in (invalid[1]["error"] or "")


def test_result_with_tool_calls_fills_tool_calls_and_content_blocks() -> None:
    message = message_from_result(
        result(
            text="",
            tool_calls=[ToolCall(id="c1", name="f", arguments='{"x": "y"}')],
            finish_reason="tool_calls",
        ),
        requested_model="m",
    )
    assert message.tool_calls == [{"name": "f", "args": {"x": "y"}, "id": "c1", "type": "tool_call"}]
    assert [block["type"] for block in message.content_blocks] == ["tool_call"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


class _Finished:
    def __init__(self, value: ResponseResult) -> None:
        self.reads = 0
        self._value = value

    @property
    def result(self) -> ResponseResult:
        self.reads += 1
        return self._value


def piece(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> StreamDelta:
    return StreamDelta(
        "tool_call", tool_call=ToolCallChunk(index=index, id=call_id, name=name, arguments=arguments)
    )


def test_chunk_mapper_maps_each_delta_kind_and_reads_the_result_only_at_the_end() -> None:
    source = _Finished(result(usage=Usage(1, 2, 3)))
    to_chunk = ChunkMapper(source, requested_model="m")
    text = to_chunk(StreamDelta("text", text="He")).message
    thought = to_chunk(StreamDelta("reasoning", text="hmm")).message
    call = to_chunk(piece(0, '{"a"', "c1", "f")).message
    assert source.reads == 0
    last = to_chunk(StreamDelta("finish", usage=Usage(1, 2, 3))).message
    assert source.reads == 1
    assert text.content == "He" and text.chunk_position is None
    assert thought.content == "" and thought.additional_kwargs == {"reasoning_content": "hmm"}
    assert isinstance(call, AIMessageChunk)
    assert call.tool_call_chunks == [
        {"name": "f", "args": '{"a"', "id": "c1", "index": 2, "type": "tool_call_chunk"}
    ]
    assert isinstance(last, AIMessageChunk) and last.chunk_position == "last"
    assert last.usage_metadata is not None and last.usage_metadata["total_tokens"] == 3
    assert last.response_metadata["model_name"] == "served-model" and last.id == "resp_9"


def test_chunk_mapper_omits_usage_when_not_wanted() -> None:
    to_chunk = ChunkMapper(_Finished(result(usage=Usage(1, 2, 3))), requested_model="m", include_usage=False)
    last = to_chunk(StreamDelta("finish", usage=Usage(1, 2, 3))).message
    assert isinstance(last, AIMessageChunk) and last.usage_metadata is None


def interleaved() -> list[StreamDelta]:
    return [
        StreamDelta("reasoning", text="plan"),
        StreamDelta("text", text="Calling"),
        piece(0, '{"a": ', "c1", "add"),
        piece(1, '{"x": 1}', "c2", "mul"),
        piece(0, "1}"),  # a late piece of the first call
        StreamDelta("text", text=" done"),
        StreamDelta("finish"),
    ]


def test_every_block_gets_its_own_index_and_late_pieces_keep_their_calls() -> None:
    to_chunk = ChunkMapper(_Finished(result()), requested_model="m")
    chunks = [to_chunk(delta).message for delta in interleaved()]
    indexes = [
        chunk.tool_call_chunks[0]["index"]
        for chunk in chunks
        if isinstance(chunk, AIMessageChunk) and chunk.tool_call_chunks
    ]
    assert indexes == [2, 3, 2]


def test_v1_mode_emits_text_and_reasoning_as_indexed_blocks() -> None:
    to_chunk = ChunkMapper(_Finished(result()), requested_model="m", blocks=True)
    contents = [to_chunk(delta).message.content for delta in interleaved()]
    assert contents[0] == [{"type": "reasoning", "reasoning": "plan", "index": 0}]
    assert contents[1] == [{"type": "text", "text": "Calling", "index": 1}]
    assert contents[2:5] == [[], [], []]  # tool calls travel in tool_call_chunks
    assert contents[5] == [{"type": "text", "text": " done", "index": 4}]


def test_streamed_chunks_aggregate_to_the_same_message_as_the_result() -> None:
    assembler = ResponseReader()
    events = do_chunks(
        ["Sure", "."],
        reasoning=["think ", "hard"],
        tool_calls=[("call_a", "add", ['{"a": 1,', ' "b": 2}']), ("call_b", "mul", ['{"x": 3}'])],
        finish_reason="tool_calls",
    )

    class Source:
        @property
        def result(self) -> ResponseResult:
            return assembler.result()

    to_chunk = ChunkMapper(Source(), requested_model="m")
    full: AIMessageChunk | None = None
    for event in events:
        for delta in assembler.feed(event if isinstance(event, str) else json.dumps(event)):
            chunk = to_chunk(delta).message
            assert isinstance(chunk, AIMessageChunk)
            full = chunk if full is None else full + chunk
    assert full is not None
    expected = message_from_result(assembler.result(), requested_model="m")
    assert full.content == expected.content == "Sure."
    assert full.tool_calls == expected.tool_calls
    assert [call["args"] for call in full.tool_calls] == [{"a": 1, "b": 2}, {"x": 3}]
    assert full.additional_kwargs == expected.additional_kwargs == {"reasoning_content": "think hard"}
    assert full.usage_metadata == expected.usage_metadata
    assert full.response_metadata == expected.response_metadata
