"""The core's typed constructors (`core.values`): every spelling of a tool, a tool choice and a response
format becomes the one wire form, and OpenAI's strict-schema rules hold for whatever schema comes in."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from gradient_integrations.core import FunctionTool, InvalidRequestError, NamedToolChoice
from gradient_integrations.core.values import (
    function_tool,
    json_schema_format,
    request_tool,
    request_tools,
    strict_schema,
    text_format,
    tool_choice,
)

ADD = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
NAMED_ADD = NamedToolChoice.of("add")


class Address(BaseModel):
    street: str
    unit: str | None = None


class Person(BaseModel):
    """Someone we know."""

    name: str
    nickname: str | None = None
    role: Literal["admin", "user"] = "user"
    address: Address
    tags: list[str] = Field(default_factory=list)


class Point(TypedDict):
    x: int
    y: int


# -- tool_choice -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        (True, "required"),
        (False, "none"),
        ("add", NAMED_ADD),
        (NAMED_ADD, NAMED_ADD),
        ({"type": "function", "function": {"name": "add"}}, NAMED_ADD),
        ({"type": "function", "name": "add"}, NAMED_ADD),
        ({"type": "tool", "name": "add"}, NAMED_ADD),
        ({"type": "any"}, "required"),
        ({"type": "auto"}, "auto"),
    ],
)
def test_tool_choice_forms(choice: Any, expected: Any) -> None:
    assert tool_choice(choice, ["add", "mul"]) == expected
    assert tool_choice(choice) == expected  # without bound names the request build checks them


@pytest.mark.parametrize("choice", ["divide", {"type": "function", "function": {"name": "divide"}}])
def test_tool_choice_naming_an_unbound_tool_is_rejected(choice: Any) -> None:
    with pytest.raises(InvalidRequestError, match=r"tool_choice: names tool 'divide'.*\['add', 'mul'\]"):
        tool_choice(choice, ["add", "mul"])


@pytest.mark.parametrize("choice", ["any", "required", True])
def test_forcing_a_call_without_tools_is_rejected(choice: Any) -> None:
    with pytest.raises(InvalidRequestError, match="no tools are bound"):
        tool_choice(choice, [])


@pytest.mark.parametrize("choice", [{"kind": "whatever"}, {"type": "function"}, 3])
def test_unknown_tool_choice_shape_is_rejected(choice: Any) -> None:
    with pytest.raises(InvalidRequestError, match="not understood") as caught:
        tool_choice(choice, ["add"])
    assert caught.value.field == "tool_choice"


# -- function tools --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given",
    [
        {"type": "function", "name": "add", "description": "Add.", "parameters": ADD},
        {"type": "function", "function": {"name": "add", "description": "Add.", "parameters": ADD}},
        FunctionTool(name="add", description="Add.", parameters=ADD),
    ],
)
def test_function_tool_forms_become_the_flat_form(given: Any) -> None:
    tool = function_tool(given)
    assert tool.model_dump(exclude_none=True) == {
        "type": "function",
        "name": "add",
        "description": "Add.",
        "parameters": ADD,
    }


def test_a_tool_without_parameters_gets_an_empty_object() -> None:
    assert function_tool({"name": "ping"}).parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"type": "code_interpreter"}, "tools[2]", r"pass BuiltInTool\(type='code_interpreter', \.\.\.\)"),
        ({"type": "function", "name": "has spaces"}, "tools[2].name", "letters, digits"),
        ({"type": "function", "name": "x" * 65}, "tools[2].name", "at most 64"),
        ("add", "tools[2]", "must be a function tool dict"),
    ],
)
def test_tools_the_endpoint_would_reject_are_refused_naming_the_tool(
    given: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        request_tool(given, field="tools[2]")
    assert caught.value.field == field


def test_request_tools_of_nothing_sends_no_tools() -> None:
    assert request_tools(None) is None and request_tools([]) is None
    with pytest.raises(InvalidRequestError, match="must be a list"):
        request_tools({"name": "add"})  # type: ignore[arg-type]


def test_a_strict_tool_gets_a_strict_schema() -> None:
    optional_b = {**ADD, "required": ["a"]}
    tool = function_tool({"name": "add", "parameters": optional_b}, strict=True)
    assert tool.strict is True
    assert tool.parameters["required"] == ["a", "b"]
    assert tool.parameters["properties"]["b"] == {"type": ["integer", "null"]}
    assert tool.parameters["additionalProperties"] is False


# -- text.format -------------------------------------------------------------------------------------
def test_response_format_spellings_become_one_text_format() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    chat_style = {"type": "json_schema", "json_schema": {"name": "pt", "schema": schema, "strict": True}}
    responses_style = {"type": "json_schema", "name": "pt", "schema": schema, "strict": True}
    expected = {
        "type": "json_schema",
        "name": "pt",
        "schema": {**schema, "additionalProperties": False},
        "strict": True,
    }
    assert text_format(chat_style) == expected
    assert text_format(responses_style) == expected
    assert text_format({"type": "json_object"}) == {"type": "json_object"}
    assert text_format({"type": "text"}) == {"type": "text"}
    bare = text_format({"title": "Pt", **schema})
    assert (bare["name"], bare["schema"]["required"], "strict" not in bare) == ("Pt", ["x"], True)


def test_a_pydantic_class_or_typed_dict_becomes_a_named_json_schema() -> None:
    person = text_format(Person, strict=True)
    assert (person["type"], person["name"], person["strict"]) == ("json_schema", "Person", True)
    assert person["description"] == "Someone we know."
    point = text_format(Point)
    assert point["name"] == "Point" and point["schema"]["required"] == ["x", "y"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("json", "response_format"),
        ({"type": "yaml"}, "response_format"),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, "response_format.json_schema.schema"),
    ],
)
def test_unusable_response_formats_are_refused_naming_the_field(value: Any, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        text_format(value)
    assert caught.value.field == field


def test_format_names_are_made_safe_for_the_endpoint() -> None:
    fmt = json_schema_format({"type": "object", "properties": {}}, name="my answer/v2", strict=None)
    assert fmt["name"] == "my_answer_v2" and "strict" not in fmt


# -- strict schemas ----------------------------------------------------------------------------------
def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_schema(Person.model_json_schema())
    objects = _objects(schema)
    assert len(objects) >= 2  # Person and the Address in $defs
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    properties = schema["properties"]
    # Optional ones are nullable instead of absent; required ones are left alone.
    assert {"type": "null"} in properties["nickname"]["anyOf"]
    assert properties["name"] == {"title": "Name", "type": "string"}
    assert {"type": "null"} in properties["role"]["anyOf"]  # an enum with a default
    assert properties["tags"]["type"] == ["array", "null"]
    assert {"type": "null"} in schema["$defs"]["Address"]["properties"]["unit"]["anyOf"]


def test_strict_schema_is_idempotent_and_leaves_its_input_alone() -> None:
    original = Person.model_json_schema()
    snapshot = repr(original)
    once = strict_schema(original)
    assert strict_schema(once) == once
    assert repr(original) == snapshot
