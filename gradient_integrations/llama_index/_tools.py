"""LlamaIndex tools <-> the core's function tools and tool calls. Pure functions, no I/O.

Outgoing: a `BaseTool` becomes the flat Responses tool `{type, name, description, parameters[, strict]}`
and `tool_choice` / `tool_required` become the core's `"none" | "auto" | "required"` or the named form.
Incoming: `ToolCallBlock`s become `ToolSelection`s. Arguments are parsed leniently while a stream is
still running (a half-written JSON object is normal there) and strictly once the answer is complete:
arguments that are not a JSON object then raise a `ValueError` naming the tool instead of silently
calling it with `{}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from gradient_integrations.core import InvalidRequestError

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "keep_first_tool_call",
    "resolve_tool_choice",
    "tool_selections",
    "tool_specs",
]

_CHOICE_WORDS = {"none": "none", "auto": "auto", "required": "required", "any": "required"}


def tool_specs(tools: Sequence[BaseTool], *, strict: bool) -> list[dict[str, Any]]:
    """Flat Responses tool definitions; `strict` also closes each schema to extra properties."""
    specs = []
    for tool in tools:
        function = tool.metadata.to_openai_tool(skip_length_check=True)["function"]
        parameters = dict(function.get("parameters") or {"type": "object", "properties": {}})
        if strict:
            parameters["additionalProperties"] = False
        # A plain dict: the core validates it with the request and names the offending tool.
        spec: dict[str, Any] = {"type": "function", "name": function["name"], "parameters": parameters}
        if function.get("description"):
            spec["description"] = function["description"]
        if strict:
            spec["strict"] = True
        specs.append(spec)
    return specs


def resolve_tool_choice(choice: str | dict[str, Any] | None, tool_required: bool) -> str | dict[str, Any]:
    """`None` -> "required"/"auto" by `tool_required`; a tool name or dict -> the named form."""
    if choice is None:
        return "required" if tool_required else "auto"
    if isinstance(choice, str):
        if choice in _CHOICE_WORDS:
            return _CHOICE_WORDS[choice]
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        if isinstance(name, str) and name:
            return {"type": "function", "function": {"name": name}}
    raise InvalidRequestError(
        "tool_choice",
        f"must be 'auto', 'none', 'required', a tool name or {{'type': 'function', 'name': ...}}, "
        f"got {choice!r}",
    )


def keep_first_tool_call(response: ChatResponse) -> ChatResponse:
    """Drop all tool calls but the first, for callers that did not allow parallel calls."""
    message = response.message
    calls = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    if len(calls) > 1:
        first = calls[0]
        message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock) or b is first]
        listed = message.additional_kwargs.get("tool_calls")
        if isinstance(listed, list):
            message.additional_kwargs["tool_calls"] = listed[:1]
    return response


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of a response; strict about arguments once the response is complete."""
    # Our complete answers carry a finish_reason; a streamed response without one is still partial.
    complete = "finish_reason" in response.additional_kwargs
    selections = []
    for block in response.message.blocks:
        if not isinstance(block, ToolCallBlock):
            continue
        if not block.tool_name and not complete:
            continue  # the call's name has not streamed in yet
        selections.append(
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=_arguments(block, strict=complete),
            )
        )
    if not selections and error_on_no_tool_call:
        raise ValueError(
            f"Expected at least one tool call, but the model answered with text: "
            f"{(response.message.content or '')[:200]!r}"
        )
    return selections


def _arguments(block: ToolCallBlock, *, strict: bool) -> dict[str, Any]:
    raw = block.tool_kwargs
    if isinstance(raw, dict):
        return raw
    if not raw.strip():
        return {}  # a tool without parameters is often called with empty arguments
    if strict:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError(
                f"Tool call {block.tool_name!r} (id {block.tool_call_id!r}) has arguments that are not "
                f"a JSON object: {raw[:200]!r}"
            )
        return parsed
    try:
        partial = parse_partial_json(raw)
    except ValueError:
        return {}
    return partial if isinstance(partial, dict) else {}
