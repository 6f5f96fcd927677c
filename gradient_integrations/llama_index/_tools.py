"""LlamaIndex tools <-> the core's function tools and tool calls. Pure functions, no I/O.

Outgoing: a `BaseTool` becomes the core's flat function tool (`values.function_tool`), and `tool_choice`
/ `tool_required` become the core's tool choice (`values.tool_choice`).
Incoming: `ToolCallBlock`s become `ToolSelection`s. Arguments are parsed leniently while a stream is still
running (a half-written JSON object is normal there). Once the answer is complete, arguments cut short are
repaired by closing their open string and brackets; anything else that is not a JSON object becomes `{}`
with a warning naming the tool, so the tool fails on its missing arguments and the agent hands that error
back to the model instead of the run dying (as llama-index's `OpenAIResponses` does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from gradient_integrations.core.values import ToolChoiceValue, function_tool, tool_choice

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "keep_first_tool_call",
    "resolve_tool_choice",
    "tool_selections",
    "tool_specs",
]


def tool_specs(tools: Sequence[BaseTool], *, strict: bool) -> list[dict[str, Any]]:
    """Flat Responses tool definitions (the core's `function_tool`); a name the endpoint would reject
    raises `InvalidRequestError` naming the tool now. `strict` applies OpenAI's strict-schema rules."""
    specs = []
    for index, tool in enumerate(tools):
        function = tool.metadata.to_openai_tool(skip_length_check=True)["function"]
        spec = function_tool(function, strict=strict or None, field=f"tools[{index}]")
        specs.append(spec.model_dump(exclude_none=True))
    return specs


def resolve_tool_choice(choice: str | dict[str, Any] | None, tool_required: bool) -> ToolChoiceValue | None:
    """LlamaIndex's `tool_choice` / `tool_required` -> the core's tool choice (None: by `tool_required`)."""
    return tool_choice("required" if tool_required else "auto") if choice is None else tool_choice(choice)


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


_logger = logging.getLogger("gradient_integrations")
_NOT_JSON = object()


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of a response. Arguments never raise: see `_arguments`."""
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
                tool_kwargs=_arguments(block, complete=complete),
            )
        )
    if not selections and error_on_no_tool_call:
        raise ValueError(
            f"Expected at least one tool call, but the model answered with text: "
            f"{(response.message.content or '')[:200]!r}"
        )
    return selections


def _arguments(block: ToolCallBlock, *, complete: bool) -> dict[str, Any]:
    """A call's arguments as a dict; never raises, so a bad call cannot kill an agent.

    While a stream is running a half-written object is normal and is parsed leniently. Once the answer
    is complete, arguments cut short (max tokens, a buggy server) are repaired by closing their open
    string and brackets; anything else (garbage, or JSON that is not an object) becomes `{}`, so the tool
    fails on its missing arguments and the agent hands that error back to the model to retry, as
    llama-index's own `OpenAIResponses` does. A repair or a drop is logged, naming the tool but not the
    arguments (they may hold user data).
    """
    raw = block.tool_kwargs
    if isinstance(raw, dict):
        return raw
    if not raw.strip():
        return {}  # a tool without parameters is often called with empty arguments
    if not complete:
        try:
            partial = parse_partial_json(raw)
        except (ValueError, RecursionError):
            return {}
        return partial if isinstance(partial, dict) else {}
    parsed = _json_text(raw)
    if isinstance(parsed, dict):
        return parsed
    closed = _closed(raw) if parsed is _NOT_JSON else None
    repaired = _json_text(closed) if closed is not None else _NOT_JSON
    if isinstance(repaired, dict):
        _logger.warning(
            "Tool call %r (id %r): its %d characters of arguments were cut short; "
            "closed their open strings and brackets",
            block.tool_name,
            block.tool_call_id,
            len(raw),
        )
        return repaired
    what = "not valid JSON" if parsed is _NOT_JSON else f"a JSON {type(parsed).__name__}, not an object"
    _logger.warning(
        "Tool call %r (id %r): its %d characters of arguments are %s; calling the tool with no arguments",
        block.tool_name,
        block.tool_call_id,
        len(raw),
        what,
    )
    return {}


def _json_text(text: str) -> Any:
    """`text` parsed as JSON (raw control characters allowed in strings), or `_NOT_JSON`."""
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _closed(text: str) -> str | None:
    """`text` with an open string and open brackets closed (and a dangling comma dropped), or None when
    there is nothing to close or a bracket closes the wrong thing: no closing can fix that."""
    closers: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and (not closers or closers.pop() != char):
            return None
    if not in_string and not closers:
        return None
    if in_string:  # close it; a dangling backslash would escape the closing quote
        return (text[:-1] if escaped else text) + '"' + "".join(reversed(closers))
    return text.rstrip().removesuffix(",") + "".join(reversed(closers))
