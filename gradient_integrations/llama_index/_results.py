"""Core results and stream deltas -> LlamaIndex `ChatResponse`s. Pure functions, no I/O.

An answer becomes one assistant `ChatMessage` whose blocks are, in order: a `ThinkingBlock` with the
reasoning (gpt-oss models), a `TextBlock` with the text, and one `ToolCallBlock` per tool call (raw JSON
arguments, as llama-index's `OpenAIResponses` keeps them). The calls are also listed in
`message.additional_kwargs["tool_calls"]`, which llama-index's streaming structured-output parser reads.

`ChatResponse.additional_kwargs` carries the token counts under the names llama-index's OpenAI LLM uses
(`prompt_tokens`, `completion_tokens`, `total_tokens`) plus `cached_tokens` and `reasoning_tokens`, and
`finish_reason`, `status`, `model`, `id`. Only a complete answer has them: a streamed turn reports them
once, on its last response, so usage is never counted twice.

`ChatStreamState.apply` is the single mapping from a core `StreamDelta` to the next streamed
`ChatResponse` (cumulative `message.content`, the new text as `delta`, tool-call pieces assembled by
index); the sync and async streams both call it, and its last response is built by
`chat_response_from_result` from the same result a non-streaming call maps, so both paths agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from gradient_integrations.core import ResponseResult, StreamDelta, ToolCall, Usage

__all__ = ["ChatStreamState", "ResultSource", "chat_response_from_result", "usage_kwargs"]


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts named as llama-index's OpenAI LLM reports them, plus cached and reasoning counts."""
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def build_message(
    text: str, reasoning: str, calls: Sequence[ToolCall], reasoning_tokens: int | None = None
) -> ChatMessage:
    """The assistant message for one (possibly partial) answer."""
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens or None))
    if text or not calls:
        blocks.append(TextBlock(text=text))  # an empty answer still has content "" rather than None
    blocks.extend(
        ToolCallBlock(tool_call_id=call.id or None, tool_name=call.name, tool_kwargs=call.arguments)
        for call in calls
    )
    additional: dict[str, Any] = {}
    if calls:
        additional["tool_calls"] = [
            {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": call.arguments}
            for call in calls
        ]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional)


def chat_response_from_result(result: ResponseResult, *, delta: str | None = None) -> ChatResponse:
    """A complete answer; `delta` is set when it ends a stream."""
    usage = result.usage
    message = build_message(
        result.text, result.reasoning, result.tool_calls, usage.reasoning_tokens if usage else None
    )
    additional: dict[str, Any] = {
        **usage_kwargs(usage),
        "finish_reason": result.finish_reason,
        "status": result.status,
        "model": result.model,
        "id": result.id,
    }
    if result.refusal:
        additional["refusal"] = result.refusal
    return ChatResponse(message=message, raw=result.raw, delta=delta, additional_kwargs=additional)


class ResultSource(Protocol):
    """A core stream (sync or async): its `result` is complete once the finish delta was seen."""

    @property
    def result(self) -> ResponseResult: ...

    @property
    def text(self) -> str: ...

    @property
    def reasoning(self) -> str: ...


@dataclasses.dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


class ChatStreamState:
    """What one streamed turn has produced so far."""

    def __init__(self) -> None:
        # The text and reasoning so far are the core stream's own (`source.text`): keeping a second
        # cumulative copy here would hold the answer twice.
        self._calls: dict[int, _PendingCall] = {}

    def apply(self, delta: StreamDelta, source: ResultSource) -> ChatResponse:
        """Fold `delta` into the state and return the response to yield for it."""
        if delta.kind == "finish":
            return chat_response_from_result(source.result, delta="")
        additional: dict[str, Any] = {}
        text_delta = ""
        if delta.kind == "text":
            text_delta = delta.text
        elif delta.kind == "reasoning":
            additional["thinking_delta"] = delta.text  # what llama-index agents stream as thinking
        elif delta.tool_call is not None:
            piece = delta.tool_call
            call = self._calls.setdefault(piece.index, _PendingCall())
            call.id = call.id or piece.id or ""
            call.name = call.name or piece.name or ""
            call.arguments += piece.arguments
        calls = [
            ToolCall(id=call.id, name=call.name, arguments=call.arguments)
            for _, call in sorted(self._calls.items())
        ]
        return ChatResponse(
            message=build_message(source.text, source.reasoning, calls),
            delta=text_delta,
            raw=dataclasses.asdict(delta),
            additional_kwargs=additional,
        )
