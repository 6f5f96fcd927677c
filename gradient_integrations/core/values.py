"""Typed constructors for the request's structured values: tools, `tool_choice`, `text.format`.

Each takes every spelling a user brings from LangChain, LlamaIndex, OpenAI's chat and Responses APIs or
Anthropic, and returns the one form the endpoint takes, or raises `InvalidRequestError` naming the field.
The adapters turn framework objects (LangChain tools, LlamaIndex tools, TypedDicts...) into JSON schemas
and dicts; everything from there on is here, so both adapters send the same bytes for the same intent.

Strict schemas follow OpenAI's strict-mode rules (`strict_schema`): every object closed with
`additionalProperties: false`, every property listed in `required`, optional ones made nullable instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, TypeAdapter, ValidationError

from .builtin_tools import BuiltInToolValue, built_in_tool, is_server_side
from .errors import InvalidRequestError, first_validation_error
from .request import FunctionTool, NamedToolChoice

__all__ = [
    "ToolChoiceValue",
    "function_tool",
    "json_schema_format",
    "request_tool",
    "request_tools",
    "strict_schema",
    "text_format",
    "tool_choice",
]

ToolChoiceValue: TypeAlias = Literal["none", "auto", "required"] | NamedToolChoice

# "any" is LangChain's and Anthropic's word for "call some tool".
_CHOICE_WORDS: dict[str, Literal["none", "auto", "required"]] = {
    "none": "none",
    "auto": "auto",
    "required": "required",
    "any": "required",
}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


# -- function tools -------------------------------------------------------------------------------------
def function_tool(
    tool: FunctionTool | Mapping[str, Any], *, strict: bool | None = None, field: str = "tools[0]"
) -> FunctionTool:
    """A function tool from the flat Responses form or the chat form `{"type": "function", "function": {}}`.

    `strict`, when given, overrides the tool's own flag; a strict tool's parameters follow OpenAI's rules.
    """
    if isinstance(tool, FunctionTool):
        if strict is None or strict == tool.strict:
            return tool
        tool = tool.model_dump(exclude_none=True)
    if not isinstance(tool, Mapping):
        raise InvalidRequestError(field, f"must be a function tool dict, got {type(tool).__name__}")
    kind = tool.get("type", "function")
    if kind != "function":
        raise InvalidRequestError(
            field,
            f"tool type {kind!r} is not a function tool (a LangChain or LlamaIndex tool, a function, a "
            "pydantic class or a JSON schema); built-in tools (web_search, knowledge_base_retrieval, mcp) "
            "are passed in tools as they are",
        )
    nested = tool.get("function")
    spec: Mapping[str, Any] = nested if isinstance(nested, Mapping) else tool
    flat: dict[str, Any] = {key: value for key, value in spec.items() if key != "type"}
    flat["type"] = "function"
    flat["parameters"] = spec.get("parameters") or dict(_EMPTY_PARAMETERS)
    if strict is not None:
        flat["strict"] = strict
    if flat.get("strict"):
        flat["parameters"] = strict_schema(flat["parameters"])
    try:
        return FunctionTool.model_validate(flat)
    except ValidationError as exc:
        location, message = first_validation_error(exc)
        hint = " (names may use letters, digits, '_' and '-', at most 64)" if location == "name" else ""
        raise InvalidRequestError(f"{field}.{location}", f"{message}{hint}") from None


def request_tool(
    tool: FunctionTool | BuiltInToolValue | Mapping[str, Any], *, strict: bool | None = None, field: str
) -> FunctionTool | BuiltInToolValue:
    """One tool of the request: a function tool (the caller runs it) or a built-in tool (DO runs it)."""
    if is_server_side(tool):
        return built_in_tool(tool, field=field)  # type: ignore[arg-type]  # a Mapping or a built-in value
    return function_tool(tool, strict=strict, field=field)  # type: ignore[arg-type]  # not a built-in one


def request_tools(
    tools: Sequence[FunctionTool | BuiltInToolValue | Mapping[str, Any]] | None,
) -> list[FunctionTool | BuiltInToolValue] | None:
    """Every tool in its wire form; None or an empty list sends no `tools` at all."""
    if not tools:
        return None
    if isinstance(tools, (str, bytes, Mapping)):
        raise InvalidRequestError("tools", "must be a list of tools")
    return [request_tool(tool, field=f"tools[{index}]") for index, tool in enumerate(tools)]


# -- tool_choice ----------------------------------------------------------------------------------------
def tool_choice(
    choice: Any, names: Sequence[str] | None = None, *, built_in: int = 0
) -> ToolChoiceValue | None:
    """`auto|none|required|any`, `True`/`False`, a tool name or a tool-choice dict -> the wire value.

    Dicts may be the chat form `{"type": "function", "function": {"name"}}`, the Responses form
    `{"type": "function", "name"}`, or Anthropic's `{"type": "tool", "name"}` / `{"type": "any"}`.
    With `names` (the bound function tools; `built_in`: how many built-in tools are bound beside them) a
    name that is not bound, or a forced call with no tools at all, is refused now; without it
    `build_request` checks the same against the request's tools.
    """
    if choice is None or isinstance(choice, NamedToolChoice):
        return _checked(choice, names, built_in)
    if isinstance(choice, bool):
        return _checked("required" if choice else "none", names, built_in)
    if isinstance(choice, str):
        return _checked(_CHOICE_WORDS.get(choice) or NamedToolChoice.of(choice), names, built_in)
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind in _CHOICE_WORDS:
            return _checked(_CHOICE_WORDS[kind], names, built_in)
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if kind in ("function", "tool", None) and isinstance(name, str) and name:
            return _checked(NamedToolChoice.of(name), names, built_in)
    raise InvalidRequestError(
        "tool_choice",
        f"{choice!r} is not understood; use 'auto', 'none', 'required', 'any', a tool's name "
        "or {'type': 'function', 'function': {'name': ...}}",
    )


def _checked(
    choice: ToolChoiceValue | None, names: Sequence[str] | None, built_in: int = 0
) -> ToolChoiceValue | None:
    if names is None or choice is None:
        return choice
    if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
        raise InvalidRequestError(
            "tool_choice",
            f"names tool {choice.function.name!r}, which is not among the bound tools {list(names)}; "
            "bind that tool or choose one of these names",
        )
    if choice == "required" and not names and not built_in:  # a built-in tool may be the one forced
        raise InvalidRequestError("tool_choice", "forces a tool call but no tools are bound")
    return choice


# -- text.format ----------------------------------------------------------------------------------------
def json_schema_format(
    schema: Mapping[str, Any], *, name: str | None = None, description: str | None = None, strict: bool | None
) -> dict[str, Any]:
    """`text.format` asking for JSON valid under `schema` (constrained decoding on the endpoint)."""
    if not isinstance(schema, Mapping):
        raise InvalidRequestError("text.format.schema", f"must be a JSON schema dict, got {type(schema)}")
    title = name or schema.get("title") or "response"
    fmt: dict[str, Any] = {"type": "json_schema", "name": _NAME_UNSAFE.sub("_", str(title))[:64]}
    if description or schema.get("description"):
        fmt["description"] = description or schema["description"]
    fmt["schema"] = strict_schema(schema) if strict else dict(schema)
    if strict is not None:
        fmt["strict"] = strict
    return fmt


def text_format(value: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """`response_format` in any common spelling -> the Responses `text.format` value.

    Accepts OpenAI's chat form `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`,
    the Responses form `{"type": "json_schema", "name", "schema"}`, `{"type": "json_object"}`,
    `{"type": "text"}`, a bare JSON schema, or a pydantic class / TypedDict / dataclass.
    """
    if isinstance(value, type):
        return json_schema_format(_type_schema(value), name=value.__name__, strict=strict)
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            "response_format",
            "must be a pydantic class, a JSON schema, {'type': 'json_schema', 'json_schema': {...}} "
            f"or {{'type': 'json_object'}}, got {type(value).__name__}",
        )
    kind = value.get("type")
    if kind in ("json_object", "text"):
        return {"type": kind}
    if kind == "json_schema":
        inner = value.get("json_schema", value)
        if not isinstance(inner, Mapping) or not isinstance(inner.get("schema"), Mapping):
            raise InvalidRequestError(
                "response_format.json_schema.schema", "is missing: give the JSON schema"
            )
        return json_schema_format(
            inner["schema"],
            name=inner.get("name"),
            description=inner.get("description"),
            strict=strict if strict is not None else inner.get("strict"),
        )
    if kind == "object" or "properties" in value:
        return json_schema_format(value, strict=strict)
    raise InvalidRequestError(
        "response_format",
        f"type {kind!r} is not understood; use 'json_schema', 'json_object' or 'text', or pass a schema",
    )


def _type_schema(cls: type) -> dict[str, Any]:
    try:
        if issubclass(cls, BaseModel):
            return cls.model_json_schema()
        return TypeAdapter(cls).json_schema()
    except Exception as exc:  # pydantic raises several kinds for types it cannot describe
        raise InvalidRequestError(
            "response_format", f"{cls.__name__} has no JSON schema ({type(exc).__name__}: {exc})"
        ) from None


# -- OpenAI's strict-mode schema rules ------------------------------------------------------------------
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "not", "additionalProperties", "contains")


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `schema` under OpenAI's strict rules; a schema already strict comes back equal."""
    return _strict_node(schema)


def _strict_node(node: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(node)
    for key in _SCHEMA_MAPS:
        children = out.get(key)
        if isinstance(children, Mapping):
            out[key] = {name: _strict_any(child) for name, child in children.items()}
    for key in _SCHEMA_LISTS:
        children = out.get(key)
        if isinstance(children, list):
            out[key] = [_strict_any(child) for child in children]
    for key in _SCHEMA_VALUES:
        if isinstance(out.get(key), Mapping):
            out[key] = _strict_node(out[key])
    if out.get("type") == "object" or "properties" in out:
        properties: dict[str, Any] = dict(out.get("properties") or {})
        required = set(out.get("required") or ())
        for name, child in properties.items():
            if name not in required:
                properties[name] = _nullable(child)
        out["properties"] = properties
        out["required"] = list(properties)
        out["additionalProperties"] = False
    if "default" in out and out["default"] is None:
        del out["default"]  # strict mode has no defaults; nullable already says "may be absent"
    return out


def _strict_any(node: Any) -> Any:
    return _strict_node(node) if isinstance(node, Mapping) else node


def _nullable(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return node
    if isinstance(kind, str) and "enum" not in node:
        return {**node, "type": [kind, "null"]}
    if isinstance(node.get("anyOf"), list):
        if any(isinstance(option, Mapping) and option.get("type") == "null" for option in node["anyOf"]):
            return node
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    return {"anyOf": [dict(node), {"type": "null"}]}
