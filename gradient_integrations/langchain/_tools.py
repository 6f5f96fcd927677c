"""LangChain tools and `tool_choice` values -> the endpoint's flat function tools and tool choice.

Pure functions. A tool may be anything LangChain's `convert_to_openai_tool` accepts (a `BaseTool`, a
function, a pydantic class, a TypedDict, a JSON schema, an OpenAI or Anthropic tool dict); the endpoint
takes only function tools in the flat Responses form `{"type": "function", "name", "description",
"parameters", "strict"}`. Anything else, and any `tool_choice` that names no bound tool, raises
`InvalidRequestError` here, before a request exists (duplicate names: when the request is built).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ValidationError

from ..core import FunctionTool, InvalidRequestError

__all__ = ["ToolLike", "tool_choice_to_wire", "tool_names", "tool_to_wire", "tools_to_wire"]

ToolLike: TypeAlias = Mapping[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool
WireToolChoice: TypeAlias = str | dict[str, Any]

_KEYWORD_CHOICES = {"auto": "auto", "none": "none", "required": "required", "any": "required"}


def tool_to_wire(tool: ToolLike, *, strict: bool | None = None, field: str = "tools[0]") -> dict[str, Any]:
    """One tool in the flat function form. `strict`, when given, overrides the tool's own flag."""
    try:
        converted = convert_to_openai_tool(tool, strict=strict)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(field, f"cannot be turned into a function tool: {exc}") from None
    kind = converted.get("type")
    if kind != "function":
        raise InvalidRequestError(
            field,
            f"tool type {kind!r} is not supported: the Gradient endpoint accepts function tools only "
            "(a LangChain tool, a function, a pydantic class or a JSON schema)",
        )
    # Chat-completions nesting `{"type": "function", "function": {...}}` or the flat Responses form.
    function = converted.get("function", converted)
    wire: dict[str, Any] = {"type": "function", "name": function.get("name")}
    if function.get("description"):
        wire["description"] = function["description"]
    wire["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    tool_strict = strict if strict is not None else function.get("strict")
    if tool_strict is not None:
        wire["strict"] = tool_strict
    try:
        FunctionTool.model_validate(wire)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        location = ".".join(str(part) for part in error["loc"])
        raise InvalidRequestError(
            f"{field}.{location}", f"{error['msg']} (names may use letters, digits, '_' and '-', at most 64)"
        ) from None
    return wire


def tools_to_wire(tools: Sequence[ToolLike], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Every tool in the flat function form.

    Duplicate names are left to the core's request check (raised when a call is built, before it is
    sent): LangChain expects `bind_tools` itself to accept them.
    """
    return [tool_to_wire(tool, strict=strict, field=f"tools[{index}]") for index, tool in enumerate(tools)]


def tool_names(wire_tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(tool["name"]) for tool in wire_tools]


def _named(name: str, names: Sequence[str]) -> dict[str, Any]:
    if name not in names:
        raise InvalidRequestError(
            "tool_choice",
            f"names tool {name!r}, which is not among the bound tools {list(names)}; "
            "bind that tool or choose one of these names",
        )
    return {"type": "function", "function": {"name": name}}


def _keyword(choice: str, names: Sequence[str]) -> str:
    wire = _KEYWORD_CHOICES[choice]
    if wire == "required" and not names:
        raise InvalidRequestError("tool_choice", f"{choice!r} forces a tool call but no tools are bound")
    return wire


def tool_choice_to_wire(choice: Any, names: Sequence[str]) -> WireToolChoice | None:
    """`auto|none|required|any`, `True`/`False`, a tool name or a tool-choice dict -> the wire value.

    `any` (LangChain's and Anthropic's word) and `True` mean "call some tool": the endpoint's `required`.
    Dicts may be the chat form `{"type": "function", "function": {"name"}}`, the Responses form
    `{"type": "function", "name"}`, or Anthropic's `{"type": "tool", "name"}` / `{"type": "any"}`.
    """
    if choice is None:
        return None
    if isinstance(choice, bool):
        return _keyword("required", names) if choice else "none"
    if isinstance(choice, str):
        if choice in _KEYWORD_CHOICES:
            return _keyword(choice, names)
        return _named(choice, names)
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind in _KEYWORD_CHOICES:
            return _keyword(str(kind), names)
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if kind in ("function", "tool") and isinstance(name, str):
            return _named(name, names)
    raise InvalidRequestError(
        "tool_choice",
        f"{choice!r} is not understood; use 'auto', 'none', 'required', 'any', a bound tool's name "
        "or {'type': 'function', 'function': {'name': ...}}",
    )
