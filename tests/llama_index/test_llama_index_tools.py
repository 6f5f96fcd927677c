"""Tool mapping: LlamaIndex tools -> flat Responses tools, tool_choice resolution, trimming parallel
calls, and tool calls -> `ToolSelection`s (lenient while streaming, strict once complete)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock, ToolCallBlock
from llama_index_fakes import WEATHER

from gradient_integrations.core import InvalidRequestError, NamedToolChoice
from gradient_integrations.llama_index._tools import (
    keep_first_tool_call,
    resolve_tool_choice,
    tool_selections,
    tool_specs,
)


def response_with(*blocks: Any, complete: bool = True) -> ChatResponse:
    extra = {"finish_reason": "tool_calls"} if complete else {}
    return ChatResponse(message=ChatMessage(role="assistant", blocks=list(blocks)), additional_kwargs=extra)


def test_tool_specs_are_flat_responses_tools() -> None:
    (spec,) = tool_specs([WEATHER], strict=False)
    assert spec["type"] == "function" and spec["name"] == "get_weather"
    assert "Current weather for a city." in spec["description"]
    assert spec["parameters"]["required"] == ["city"]
    assert set(spec["parameters"]["properties"]) == {"city", "unit"}
    assert "function" not in spec and "strict" not in spec


def test_strict_tool_specs_close_the_schema() -> None:
    (spec,) = tool_specs([WEATHER], strict=True)
    assert spec["strict"] is True
    assert spec["parameters"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("choice", "required", "expected"),
    [
        (None, False, "auto"),
        (None, True, "required"),
        ("none", True, "none"),
        ("any", False, "required"),
        ("get_weather", False, NamedToolChoice.of("get_weather")),
        ({"type": "function", "name": "get_weather"}, False, NamedToolChoice.of("get_weather")),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            False,
            NamedToolChoice.of("get_weather"),
        ),
    ],
)
def test_resolve_tool_choice(choice: Any, required: bool, expected: Any) -> None:
    assert resolve_tool_choice(choice, required) == expected


def test_unusable_tool_choice_is_rejected_naming_the_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve_tool_choice({"type": "function"}, False)
    assert caught.value.field == "tool_choice"


def test_keep_first_tool_call_trims_blocks_and_the_listed_calls() -> None:
    response = response_with(
        TextBlock(text="two calls"),
        ToolCallBlock(tool_call_id="a", tool_name="f", tool_kwargs="{}"),
        ToolCallBlock(tool_call_id="b", tool_name="g", tool_kwargs="{}"),
    )
    response.message.additional_kwargs["tool_calls"] = [{"call_id": "a"}, {"call_id": "b"}]
    keep_first_tool_call(response)
    assert [b.tool_call_id for b in response.message.blocks if isinstance(b, ToolCallBlock)] == ["a"]
    assert response.message.additional_kwargs["tool_calls"] == [{"call_id": "a"}]
    assert response.message.content == "two calls"


def test_tool_selections_parse_complete_arguments() -> None:
    response = response_with(
        ToolCallBlock(tool_call_id="a", tool_name="get_weather", tool_kwargs='{"city": "Paris"}'),
        ToolCallBlock(tool_call_id="b", tool_name="ping", tool_kwargs=""),
        ToolCallBlock(tool_call_id="c", tool_name="given", tool_kwargs={"x": 1}),
    )
    selections = tool_selections(response, error_on_no_tool_call=True)
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("a", "get_weather", {"city": "Paris"}),
        ("b", "ping", {}),
        ("c", "given", {"x": 1}),
    ]


def test_partial_arguments_parse_leniently_while_streaming() -> None:
    response = response_with(
        ToolCallBlock(
            tool_call_id="a", tool_name="get_weather", tool_kwargs='{"city": "Paris", "unit": "cel'
        ),
        ToolCallBlock(tool_call_id="b", tool_name="", tool_kwargs=""),  # name not streamed in yet
        complete=False,
    )
    (selection,) = tool_selections(response, error_on_no_tool_call=False)
    assert selection.tool_kwargs["city"] == "Paris"  # the unfinished value is llama-index's business


def test_invalid_arguments_in_a_complete_answer_reach_the_tool_as_empty() -> None:
    response = response_with(
        ToolCallBlock(tool_call_id="a", tool_name="get_weather", tool_kwargs="city=Paris")
    )
    (selection,) = tool_selections(response, error_on_no_tool_call=True)
    assert selection.tool_kwargs == {}


def test_no_tool_call_raises_only_when_asked() -> None:
    response = response_with(TextBlock(text="just text"))
    assert tool_selections(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="just text"):
        tool_selections(response, error_on_no_tool_call=True)
