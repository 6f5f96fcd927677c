"""`ChatMessage` -> wire input items: roles, text, tool calls in both storage forms, tool results, and
the errors for anything the text-only endpoint cannot take (raised before any request)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from gradient_integrations.core import InvalidRequestError
from gradient_integrations.llama_index._messages import to_input_items


def dumped(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in to_input_items(messages)]


def test_roles_map_to_message_items_in_order() -> None:
    items = dumped(
        [
            ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
            ChatMessage(role=MessageRole.DEVELOPER, content="dev rule"),
            ChatMessage(role=MessageRole.USER, content="hi"),
            ChatMessage(role=MessageRole.ASSISTANT, content="hello"),
            ChatMessage(role=MessageRole.CHATBOT, content="also assistant"),
            ChatMessage(role=MessageRole.MODEL, content="and this"),
        ]
    )
    assert [(item["role"], item["content"]) for item in items] == [
        ("system", "be brief"),
        ("developer", "dev rule"),
        ("user", "hi"),
        ("assistant", "hello"),
        ("assistant", "also assistant"),
        ("assistant", "and this"),
    ]


def test_several_text_blocks_join_like_message_content() -> None:
    message = ChatMessage(role="user", blocks=[TextBlock(text="first"), TextBlock(text="second")])
    assert dumped([message])[0]["content"] == message.content == "first\nsecond"


def test_assistant_tool_call_blocks_become_function_calls_after_the_text() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[
            TextBlock(text="let me check"),
            ToolCallBlock(tool_call_id="call_a", tool_name="get_weather", tool_kwargs='{"city": "Paris"}'),
            ToolCallBlock(tool_call_id="call_b", tool_name="get_time", tool_kwargs={"zone": "CET"}),
        ],
    )
    assert dumped([message]) == [
        {"role": "assistant", "content": "let me check"},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call", "call_id": "call_b", "name": "get_time", "arguments": '{"zone": "CET"}'},
    ]


@pytest.mark.parametrize(
    "stored",
    [
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
    ],
    ids=["responses-shape", "chat-completions-shape"],
)
def test_tool_calls_in_additional_kwargs_are_replayed(stored: dict[str, Any]) -> None:
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [stored]})
    assert dumped([message]) == [
        {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": '{"city": "Oslo"}'}
    ]


def test_blocks_win_over_additional_kwargs_so_a_call_is_not_sent_twice() -> None:
    call = {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{}"}
    message = ChatMessage(
        role="assistant",
        blocks=[ToolCallBlock(tool_call_id="call_a", tool_name="f", tool_kwargs="{}")],
        additional_kwargs={"tool_calls": [call]},
    )
    assert [item["type"] for item in dumped([message])] == ["function_call"]


def called(call_id: str) -> ChatMessage:
    """The assistant turn that made this tool call: a tool result must follow its call."""
    return ChatMessage(
        role="assistant", blocks=[ToolCallBlock(tool_name="f", tool_kwargs="{}", tool_call_id=call_id)]
    )


@pytest.mark.parametrize("key", ["tool_call_id", "call_id"])
def test_tool_results_are_matched_by_call_id(key: str) -> None:
    message = ChatMessage(role=MessageRole.TOOL, content="18 degrees", additional_kwargs={key: "call_a"})
    assert dumped([called("call_a"), message])[1:] == [
        {"type": "function_call_output", "call_id": "call_a", "output": "18 degrees"}
    ]


def test_tool_result_without_call_id_names_the_field_and_the_fix() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        to_input_items([ChatMessage(role="user", content="q"), ChatMessage(role="tool", content="42")])
    assert caught.value.field == "messages[1].additional_kwargs.tool_call_id"
    assert "tool_call_id" in str(caught.value) and "role='tool'" in str(caught.value)


def test_replayed_tool_call_without_id_is_rejected() -> None:
    message = ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_name="f", tool_kwargs="{}")])
    with pytest.raises(InvalidRequestError) as caught:
        to_input_items([message])
    assert caught.value.field == "messages[0].blocks[0].tool_call_id"


@pytest.mark.parametrize(
    "block",
    [
        ImageBlock(url="https://example.com/cat.png"),
        AudioBlock(url="https://example.com/a.mp3", format="mp3"),
        VideoBlock(url="https://example.com/v.mp4"),
        DocumentBlock(data=b"%PDF-1.4 tiny", document_mimetype="application/pdf"),
    ],
    ids=["image", "audio", "video", "document"],
)
def test_media_blocks_are_rejected_with_the_block_named(block: Any) -> None:
    message = ChatMessage(role="user", blocks=[TextBlock(text="look"), block])
    with pytest.raises(InvalidRequestError) as caught:
        to_input_items([ChatMessage(role="system", content="s"), message])
    assert caught.value.field == "messages[1].blocks[1]"
    assert type(block).__name__ in str(caught.value) and "text only" in str(caught.value)


def test_media_inside_a_tool_result_is_rejected_too() -> None:
    message = ChatMessage(
        role="tool",
        blocks=[ImageBlock(url="https://example.com/x.png")],
        additional_kwargs={"tool_call_id": "c"},
    )
    with pytest.raises(InvalidRequestError, match="ImageBlock"):
        to_input_items([message])


def test_citable_content_is_sent_as_its_text() -> None:
    cited = CitableBlock(title="doc", source="s3://x", content=[TextBlock(text="cited fact")])
    message = ChatMessage(role="tool", blocks=[cited], additional_kwargs={"tool_call_id": "c"})
    assert dumped([called("c"), message])[1]["output"] == "cited fact"


def test_thinking_and_cache_points_add_no_text() -> None:
    message = ChatMessage(
        role="assistant",
        blocks=[
            ThinkingBlock(content="private reasoning"),
            CachePoint(cache_control=CacheControl(type="ephemeral")),
            TextBlock(text="answer"),
        ],
    )
    assert dumped([message]) == [{"role": "assistant", "content": "answer"}]


def test_a_cache_point_marks_the_text_before_it_as_a_cache_breakpoint() -> None:
    # As llama-index's Anthropic LLM reads a CachePoint; Anthropic models on DO cache up to it.
    message = ChatMessage(
        role="system",
        blocks=[
            TextBlock(text="long shared context"),
            CachePoint(cache_control=CacheControl(type="ephemeral", ttl="1h")),
            TextBlock(text="rules"),
        ],
    )
    assert dumped([message, ChatMessage(role="user", content="q")])[0] == {
        "role": "system",
        "content": [
            {
                "type": "input_text",
                "text": "long shared context",
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            },
            {"type": "input_text", "text": "rules"},
        ],
    }


def test_empty_assistant_turn_is_dropped_but_an_empty_conversation_is_an_error() -> None:
    items = dumped([ChatMessage(role="user", content="q"), ChatMessage(role="assistant", content="")])
    assert items == [{"role": "user", "content": "q"}]
    with pytest.raises(InvalidRequestError, match="messages"):
        to_input_items([])


def test_a_tool_call_block_outside_an_assistant_message_is_rejected() -> None:
    message = ChatMessage(role="user", blocks=[ToolCallBlock(tool_call_id="c", tool_name="f")])
    with pytest.raises(InvalidRequestError, match="assistant message"):
        to_input_items([message])


@pytest.mark.parametrize("role", ["user", "system", "tool"])
def test_a_message_whose_content_llama_index_dropped_is_rejected(role: str) -> None:
    # ChatMessage silently keeps no blocks for content that is neither a string nor a block list.
    message = ChatMessage(role=role, content={"sum": 3}, additional_kwargs={"tool_call_id": "c1"})
    assert message.blocks == []
    with pytest.raises(InvalidRequestError) as caught:
        to_input_items([ChatMessage(role="user", content="q"), message])
    assert caught.value.field == "messages[1]" and "content=str(value)" in str(caught.value)
