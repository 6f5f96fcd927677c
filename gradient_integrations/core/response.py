"""What `/v1/responses` sends back, read leniently, and the one normalized result the adapters map from.

The documented body carries both Responses-style `output[]` items (`message` with `output_text` parts,
bare `text` items, `function_call`, `reasoning` with `reasoning_text`) and chat-style `choices[].message`;
`created` or `created_at`; usage as `input_tokens/output_tokens` or `prompt_tokens/completion_tokens`.
Every field is optional and unknown fields are kept (`extra="allow"`), so a new server field is never
an error. `parse_response()` reduces any of those shapes to a `ResponseResult`, and the stream assembler
finishes through the same `finalize()` so a streamed call yields the identical result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ChoiceBody",
    "OutputItemBody",
    "ResponseBody",
    "ResponseResult",
    "StreamChunkBody",
    "ToolCall",
    "Usage",
    "finalize",
    "parse_response",
    "parse_usage",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class OutputContentBody(_Lenient):
    type: str | None = None
    text: str | None = None


class OutputItemBody(_Lenient):
    type: str | None = None
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[OutputContentBody] | str | None = None
    text: str | None = None  # bare `{"type": "text", "text": ...}` items (Stainless SDK shape)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None


class FunctionBody(_Lenient):
    name: str | None = None
    arguments: str | None = None


class ToolCallBody(_Lenient):
    id: str | None = None
    index: int | None = None
    type: str | None = None
    function: FunctionBody | None = None


class MessageBody(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallBody] | None = None


class ChoiceBody(_Lenient):
    index: int | None = None
    finish_reason: str | None = None
    message: MessageBody | None = None
    delta: MessageBody | None = None


class ResponseBody(_Lenient):
    id: str | None = None
    object: str | None = None
    created: int | None = None
    created_at: int | None = None
    model: str | None = None
    status: str | None = None
    output: list[OutputItemBody] | None = None
    choices: list[ChoiceBody] | None = None
    usage: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None


class StreamChunkBody(_Lenient):
    """DO's `response.chunk`: chat-completions-like `choices[].delta`, usage on the last chunk."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[ChoiceBody] | None = None
    usage: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, whichever naming the server used."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call. `arguments` is the raw JSON text the model produced (it may be invalid)."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ResponseResult:
    """One model turn, normalized from any documented body shape or from a stream."""

    id: str = ""
    model: str = ""
    created: int | None = None
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    status: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details(usage: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        value = usage.get(name)
        if isinstance(value, dict):
            return value
    return {}


def parse_usage(usage: dict[str, Any] | None) -> Usage | None:
    """Read Responses-style or chat-style usage; None when absent."""
    if not usage:
        return None
    input_tokens = _int(usage.get("input_tokens", usage.get("prompt_tokens")))
    output_tokens = _int(usage.get("output_tokens", usage.get("completion_tokens")))
    total = _int(usage.get("total_tokens")) or input_tokens + output_tokens
    input_details = _details(usage, "input_tokens_details", "prompt_tokens_details")
    output_details = _details(usage, "output_tokens_details", "completion_tokens_details")
    cached = _int(input_details.get("cached_tokens")) or _int(usage.get("cache_read_input_tokens"))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total,
        cached_tokens=cached,
        reasoning_tokens=_int(output_details.get("reasoning_tokens")),
    )


def finalize(result: ResponseResult, *, finish_reason: str | None, status: str | None) -> ResponseResult:
    """Fill finish_reason and status from each other, the same way for bodies and streams."""
    if finish_reason is None:
        if status == "incomplete":
            finish_reason = "length"
        elif status in ("failed", "cancelled"):
            finish_reason = "error"
        else:
            finish_reason = "tool_calls" if result.tool_calls else "stop"
    if status is None:
        status = {"length": "incomplete", "error": "failed"}.get(finish_reason, "completed")
    result.finish_reason = finish_reason
    result.status = status
    return result


def _output_parts(items: list[OutputItemBody]) -> tuple[list[str], list[str], list[ToolCall]]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for item in items:
        kind = item.type
        if kind == "function_call":
            call_id = item.call_id or item.id or f"call_{len(calls)}"
            calls.append(ToolCall(id=call_id, name=item.name or "", arguments=item.arguments or ""))
            continue
        if kind == "text" and item.text is not None:
            texts.append(item.text)
            continue
        content = item.content
        if isinstance(content, str):
            (reasoning if kind == "reasoning" else texts).append(content)
            continue
        for part in content or []:
            if part.text is None:
                continue
            # An item without `type` (the DO docs' elided example) is told apart by its parts.
            if part.type == "reasoning_text" or kind == "reasoning":
                reasoning.append(part.text)
            else:
                texts.append(part.text)
    return texts, reasoning, calls


def _choice_tool_calls(message: MessageBody) -> list[ToolCall]:
    calls = []
    for index, call in enumerate(message.tool_calls or []):
        function = call.function or FunctionBody()
        calls.append(
            ToolCall(
                id=call.id or f"call_{index}", name=function.name or "", arguments=function.arguments or ""
            )
        )
    return calls


def parse_response(raw: dict[str, Any]) -> ResponseResult:
    """Normalize a non-streaming body. `output[]` wins where it has a part; `choices` fills the rest."""
    body = ResponseBody.model_validate(raw)
    texts, reasoning, calls = _output_parts(body.output or [])
    finish_reason: str | None = None
    choice = body.choices[0] if body.choices else None
    if choice is not None:
        finish_reason = choice.finish_reason
        message = choice.message or MessageBody()
        if not texts and message.content:
            texts = [message.content]
        if not reasoning and message.reasoning_content:
            reasoning = [message.reasoning_content]
        if not calls:
            calls = _choice_tool_calls(message)
    if finish_reason is None and body.incomplete_details:
        finish_reason = "length"
    result = ResponseResult(
        id=body.id or "",
        model=body.model or "",
        created=body.created if body.created is not None else body.created_at,
        text="".join(texts),
        reasoning="".join(reasoning),
        tool_calls=calls,
        usage=parse_usage(body.usage),
        raw=raw,
    )
    return finalize(result, finish_reason=finish_reason, status=body.status)
