"""LangChain tools -> the core's request tools. Pure functions.

A function tool may be anything LangChain's `convert_to_openai_tool` accepts (a `BaseTool`, a function, a
pydantic class, a TypedDict, a JSON schema, an OpenAI or Anthropic tool dict); the core's
`values.request_tool` turns the result into the endpoint's flat function tool and validates it, so a tool
the endpoint would reject (a bad name, an unknown type) raises `InvalidRequestError` when it is bound.
A built-in tool (a dict such as `{"type": "web_search"}` or a core `WebSearchTool`, ...) becomes the core's
typed value and stays one in the binding, so an MCP server's `authorization` is masked in traces.
`tool_choice` values are the core's too (`values.tool_choice`); duplicate names are checked when the
request is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from ..core import InvalidRequestError
from ..core.builtin_tools import BuiltInToolValue, is_built_in_tool, is_server_side
from ..core.values import request_tool

__all__ = ["ToolLike", "tool_names", "tool_to_wire", "tools_for_call", "tools_to_wire"]

_FUNCTION_KEYS = frozenset({"function", "parameters", "properties", "input_schema"})

ToolLike: TypeAlias = Mapping[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool


def tool_to_wire(
    tool: ToolLike | BuiltInToolValue, *, strict: bool | None = None, field: str = "tools[0]"
) -> dict[str, Any] | BuiltInToolValue:
    """One function tool in the flat form, or a built-in tool's typed value. `strict`, when given,
    overrides a function tool's own flag."""
    if _is_server_side(tool):
        return request_tool(tool, field=field)  # type: ignore[arg-type, return-value]  # a built-in one
    try:
        converted = convert_to_openai_tool(tool, strict=strict)  # type: ignore[arg-type]  # not built-in
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(field, f"cannot be turned into a function tool: {exc}") from None
    return request_tool(converted, strict=strict, field=field).model_dump(exclude_none=True)


def tools_to_wire(
    tools: Sequence[ToolLike | BuiltInToolValue], *, strict: bool | None = None
) -> list[dict[str, Any] | BuiltInToolValue]:
    """Every tool in its wire form: flat function dicts and built-in tool values.

    Duplicate names are left to the core's request check (raised when a call is built, before it is
    sent): LangChain expects `bind_tools` itself to accept them.
    """
    return [tool_to_wire(tool, strict=strict, field=f"tools[{index}]") for index, tool in enumerate(tools)]


def tools_for_call(tools: Sequence[ToolLike | BuiltInToolValue]) -> list[Any]:
    """Per-call tools: ones already in wire form (every tool `bind_tools` bound) pass as they are, for the
    core to validate with the request; anything else is converted as `bind_tools` does."""
    return [
        tool
        if _is_flat_function(tool) or is_built_in_tool(tool)
        else tool_to_wire(tool, field=f"tools[{index}]")
        for index, tool in enumerate(tools)
    ]


def _is_flat_function(tool: object) -> bool:
    return isinstance(tool, Mapping) and tool.get("type") == "function" and isinstance(tool.get("name"), str)


def _is_server_side(tool: object) -> bool:
    """The core's `is_server_side`, but for the dicts LangChain converts into function tools: a JSON
    schema (`"type": "object"`) or one with a function's keys."""
    if not is_server_side(tool):
        return False
    return not isinstance(tool, Mapping) or (
        tool.get("type") != "object" and not _FUNCTION_KEYS.intersection(tool)
    )


def tool_names(wire_tools: Sequence[Mapping[str, Any] | BuiltInToolValue]) -> list[str]:
    """The names of the function tools among `wire_tools` (built-in tools have none)."""
    return [str(tool["name"]) for tool in wire_tools if isinstance(tool, Mapping)]
