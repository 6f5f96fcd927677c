"""Tool conversion (`_tools`): every LangChain tool form and every rejection (tool_choice: tests/core)."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeEndpoint
from langchain_core.tools import tool
from langchain_support import json_reply, model_on
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from gradient_integrations.core import InvalidRequestError
from gradient_integrations.langchain._tools import tool_to_wire, tools_to_wire

ADD_PARAMETERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def add_function(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Add(BaseModel):
    """Add two integers."""

    a: int = Field(description="first")
    b: int = Field(description="second")


class AddDict(TypedDict):
    """Add two integers."""

    a: int
    b: int


def shape(wire: dict[str, Any]) -> tuple[str, str, str, set[str]]:
    return wire["type"], wire["name"], wire.get("description", ""), set(wire["parameters"]["properties"])


@pytest.mark.parametrize(
    ("given", "name"),
    [
        (add, "add"),
        (add_function, "add_function"),
        (Add, "Add"),
        (AddDict, "AddDict"),
        ({"title": "add_schema", "description": "Add two integers.", **ADD_PARAMETERS}, "add_schema"),
        (
            {
                "type": "function",
                "function": {
                    "name": "add_chat",
                    "description": "Add two integers.",
                    "parameters": ADD_PARAMETERS,
                },
            },
            "add_chat",
        ),
        (
            {
                "type": "function",
                "name": "add_flat",
                "description": "Add two integers.",
                "parameters": ADD_PARAMETERS,
            },
            "add_flat",
        ),
        (
            {"name": "add_anthropic", "description": "Add two integers.", "input_schema": ADD_PARAMETERS},
            "add_anthropic",
        ),
    ],
)
def test_every_tool_form_becomes_a_flat_function_tool(given: Any, name: str) -> None:
    wire = tool_to_wire(given)
    assert shape(wire) == ("function", name, "Add two integers.", {"a", "b"})
    assert "function" not in wire and "strict" not in wire


def test_strict_is_set_on_request_and_overrides_the_tools_own_flag() -> None:
    flat = {"type": "function", "name": "f", "parameters": ADD_PARAMETERS, "strict": True}
    assert tool_to_wire(flat)["strict"] is True
    assert tool_to_wire(flat, strict=False)["strict"] is False
    strict_model = tool_to_wire(Add, strict=True)
    assert strict_model["strict"] is True
    assert strict_model["parameters"]["additionalProperties"] is False


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    assert tool_to_wire({"type": "function", "name": "ping"})["parameters"] == {
        "type": "object",
        "properties": {},
    }


def test_an_unknown_tool_type_is_refused_with_the_escape_hatch() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        tools_to_wire([add, {"type": "code_interpreter"}])
    assert caught.value.field == "tools[1]"
    assert "BuiltInTool(type='code_interpreter', ...)" in str(caught.value)


def test_invalid_tool_name_names_the_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        tools_to_wire([{"type": "function", "name": "has spaces", "parameters": ADD_PARAMETERS}])
    assert caught.value.field == "tools[0].name"


def test_duplicate_tool_names_bind_but_fail_before_the_request() -> None:
    endpoint = FakeEndpoint(json_reply())
    bound = model_on(endpoint).bind_tools([add, {"type": "function", "name": "add"}])
    with pytest.raises(InvalidRequestError, match="tool names must be unique"):
        bound.invoke("hi")
    assert endpoint.requests == []


def test_built_in_tools_bind_beside_function_tools_and_may_be_the_forced_call() -> None:
    endpoint = FakeEndpoint(json_reply(), json_reply())
    model = model_on(endpoint)
    model.bind_tools([{"type": "web_search", "max_results": 2}, add], tool_choice="add").invoke("hi")
    model.bind_tools(
        [{"type": "knowledge_base_retrieval", "knowledge_base_id": "kb"}], tool_choice="any"
    ).invoke("hi")
    first, second = endpoint.bodies
    assert [tool["type"] for tool in first["tools"]] == ["web_search", "function"]
    assert first["tools"][0] == {"type": "web_search", "max_results": 2}
    assert first["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert second["tools"] == [{"type": "knowledge_base_retrieval", "knowledge_base_id": "kb"}]
    assert second["tool_choice"] == "required"  # a built-in tool may be the one forced
    with pytest.raises(InvalidRequestError, match="not among the bound tools"):
        model.bind_tools([{"type": "web_search"}], tool_choice="web_search")  # only function tools by name
