"""LangChain tools -> the core's function tools. Pure functions.

A tool may be anything LangChain's `convert_to_openai_tool` accepts (a `BaseTool`, a function, a pydantic
class, a TypedDict, a JSON schema, an OpenAI or Anthropic tool dict); the core's `values.function_tool`
turns the result into the endpoint's flat function tool and validates it, so a tool the endpoint would
reject (a bad name, a non-function type) raises `InvalidRequestError` when it is bound. `tool_choice`
values are the core's too (`values.tool_choice`); duplicate names are checked when the request is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from ..core import InvalidRequestError
from ..core.values import function_tool

__all__ = ["ToolLike", "tool_names", "tool_to_wire", "tools_for_call", "tools_to_wire"]

ToolLike: TypeAlias = Mapping[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool


def tool_to_wire(tool: ToolLike, *, strict: bool | None = None, field: str = "tools[0]") -> dict[str, Any]:
    """One tool in the flat function form. `strict`, when given, overrides the tool's own flag."""
    try:
        converted = convert_to_openai_tool(tool, strict=strict)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(field, f"cannot be turned into a function tool: {exc}") from None
    # Built-in tool dicts come back as given; the core refuses them, naming what it accepts.
    return function_tool(converted, strict=strict, field=field).model_dump(exclude_none=True)


def tools_to_wire(tools: Sequence[ToolLike], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Every tool in the flat function form.

    Duplicate names are left to the core's request check (raised when a call is built, before it is
    sent): LangChain expects `bind_tools` itself to accept them.
    """
    return [tool_to_wire(tool, strict=strict, field=f"tools[{index}]") for index, tool in enumerate(tools)]


def tools_for_call(tools: Sequence[ToolLike]) -> list[Any]:
    """Per-call tools: ones already in the flat function form (every tool `bind_tools` bound) pass as they
    are, for the core to validate with the request; anything else is converted as `bind_tools` does."""
    return [
        tool if _is_flat_function(tool) else tool_to_wire(tool, field=f"tools[{index}]")
        for index, tool in enumerate(tools)
    ]


def _is_flat_function(tool: object) -> bool:
    return isinstance(tool, Mapping) and tool.get("type") == "function" and isinstance(tool.get("name"), str)


def tool_names(wire_tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(tool["name"]) for tool in wire_tools]
