"""Core results and stream deltas -> LlamaIndex `ChatResponse`s. Pure functions, no I/O.

An answer becomes one assistant `ChatMessage` whose blocks are, in order: a `ThinkingBlock` with the
reasoning (gpt-oss models), a `TextBlock` with the text, and one `ToolCallBlock` per tool call (raw JSON
arguments, as llama-index's `OpenAIResponses` keeps them). The calls are also listed in
`message.additional_kwargs["tool_calls"]`, which llama-index's streaming structured-output parser reads.

Built-in tools (web search, knowledge bases, MCP) ran on DO's side: their output items are kept in
`message.additional_kwargs["built_in_tool_calls"]` and the text's annotations in `["annotations"]`, the
names llama-index's `OpenAIResponses` uses; never as `ToolCallBlock`s, so an agent never runs them again.

`ChatResponse.additional_kwargs` carries the token counts under the names llama-index's OpenAI LLM uses
(`prompt_tokens`, `completion_tokens`, `total_tokens`) plus `cached_tokens`, `reasoning_tokens` and, when
any were written, `cache_creation_tokens`, and `finish_reason`, `status`, `model` (the model that answered:
a router's choice), `id`, a router's `selected_route` and the `quota` left. Only a complete answer has
them: a streamed turn reports them once, on its last response, so usage is never counted twice.

`ChatStreamState.apply` is the single mapping from a core `StreamDelta` to the next streamed
`ChatResponse` (cumulative `message.content`, the new text as `delta`, tool-call pieces assembled by
index); the sync and async streams both call it, and its last response is built by
`chat_response_from_result` from the same result a non-streaming call maps, so both paths agree.

A streamed response's text and reasoning so far are read from the core stream when first used, not
copied as it is yielded (`_deferred`): a copy per delta made streaming an answer of n characters cost
O(n²), which a consumer of `delta` alone now never pays. The core's text only grows, so the text a
response had when it was yielded is the first `length` characters of the stream's text at any later time.
`completion_from_chat` is llama-index's chat-to-completion stream mapping, keeping the text as lazy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, Protocol

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from gradient_integrations.core import ResponseResult, StreamDelta, ToolCall, Usage

from ._deferred import DeferredCompletionResponse, DeferredTextBlock, DeferredThinkingBlock, deferred

__all__ = [
    "ChatStreamState",
    "ResultSource",
    "achat_to_completion_stream",
    "chat_response_from_result",
    "chat_to_completion_stream",
    "completion_from_chat",
    "usage_kwargs",
]


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts named as llama-index's OpenAI LLM reports them, plus cached and reasoning counts."""
    if usage is None:
        return {}
    counts = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }
    if usage.cache_creation_tokens:
        counts["cache_creation_tokens"] = usage.cache_creation_tokens
    return counts


def build_message(
    text: str, reasoning: str, calls: Sequence[ToolCall], reasoning_tokens: int | None = None
) -> ChatMessage:
    """The assistant message for one answer."""
    thinking = ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens or None) if reasoning else None
    # An empty answer still has content "" rather than None.
    return _assistant_message(thinking, TextBlock(text=text) if text or not calls else None, calls)


def _assistant_message(
    thinking: ThinkingBlock | None, text: TextBlock | None, calls: Sequence[ToolCall]
) -> ChatMessage:
    blocks: list[Any] = [block for block in (thinking, text) if block is not None]
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
    if result.server_tool_calls:
        message.additional_kwargs["built_in_tool_calls"] = [call.item for call in result.server_tool_calls]
    if result.citations:
        message.additional_kwargs["annotations"] = [found.raw for found in result.citations]
    additional: dict[str, Any] = {
        **usage_kwargs(usage),
        "finish_reason": result.finish_reason,
        "status": result.status,
        "model": result.model,
        "id": result.id,
    }
    if result.refusal:
        additional["refusal"] = result.refusal
    if result.route:
        additional["selected_route"] = result.route
    if result.web_searches:
        additional["web_searches"] = result.web_searches  # billed apart from tokens
    if result.quota is not None:
        additional["quota"] = dataclasses.asdict(result.quota)
    return ChatResponse(message=message, raw=result.raw, delta=delta, additional_kwargs=additional)


class ResultSource(Protocol):
    """A core stream (sync or async): its `result` is complete once the finish delta was seen.

    `text` and `reasoning` are everything received so far, and only ever grow.
    """

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


# `dataclasses.asdict(delta)` (a recursive copy through every field) was about a third of `apply`'s cost
# for a text delta; a text or reasoning delta's `raw` is built directly, while StreamDelta has these fields.
_PLAIN_RAW = tuple(field.name for field in dataclasses.fields(StreamDelta)) == (
    "kind",
    "text",
    "tool_call",
    "usage",
    "finish_reason",
    "server_tool",
    "citation",
)


def _raw(delta: StreamDelta) -> dict[str, Any]:
    """`dataclasses.asdict(delta)`."""
    if _PLAIN_RAW and delta.kind in ("text", "reasoning"):
        return {
            "kind": delta.kind,
            "text": delta.text,
            "tool_call": None,
            "usage": None,
            "finish_reason": delta.finish_reason,
            "server_tool": None,
            "citation": None,
        }
    return dataclasses.asdict(delta)


def _prefix(source: ResultSource, part: Literal["text", "reasoning"], length: int) -> str:
    """The first `length` characters of the stream's text or reasoning: what it had when asked for."""
    text: str = getattr(source, part)
    return text if len(text) == length else text[:length]


class ChatStreamState:
    """What one streamed turn has produced so far.

    The text and reasoning so far are the core stream's own (`source.text`), read when a response's
    content is first used (see the module docstring); this state keeps only their lengths. The core's
    text is safe to read from any thread while the stream is being read, and only grows, so a response's
    text is the first `length` characters of it whenever it is read.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _PendingCall] = {}
        self._text_length = 0
        self._reasoning_length = 0

    def apply(self, delta: StreamDelta, source: ResultSource) -> ChatResponse:
        """Fold `delta` into the state and return the response to yield for it."""
        if delta.kind == "finish":
            return chat_response_from_result(source.result, delta="")
        additional: dict[str, Any] = {}
        text_delta = ""
        if delta.kind == "text":
            text_delta = delta.text
            self._text_length += len(text_delta)
        elif delta.kind == "reasoning":
            additional["thinking_delta"] = delta.text  # what llama-index agents stream as thinking
            self._reasoning_length += len(delta.text)
        elif delta.server_tool is not None:
            additional["built_in_tool_call"] = delta.server_tool.item  # it ran on DO's side
        elif delta.citation is not None:
            additional["annotation"] = delta.citation.raw
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
        thinking: ThinkingBlock | None = None
        text: TextBlock | None = None
        if self._reasoning_length:
            read = partial(_prefix, source, "reasoning", self._reasoning_length)
            thinking = deferred(DeferredThinkingBlock, read, num_tokens=None)
        if self._text_length:
            text = deferred(DeferredTextBlock, partial(_prefix, source, "text", self._text_length))
        elif not calls:
            text = TextBlock(text="")
        return ChatResponse(
            message=_assistant_message(thinking, text, calls),
            delta=text_delta,
            raw=_raw(delta),
            additional_kwargs=additional,
        )


def completion_from_chat(response: ChatResponse) -> CompletionResponse:
    """llama-index's `stream_chat_response_to_completion_response` for one response, its text lazy."""
    message = response.message
    return deferred(
        DeferredCompletionResponse,
        lambda: message.content or "",
        additional_kwargs={**message.additional_kwargs, **response.additional_kwargs},
        delta=response.delta,
        raw=response.raw,
    )


def chat_to_completion_stream(responses: ChatResponseGen) -> CompletionResponseGen:
    for response in responses:
        yield completion_from_chat(response)


async def achat_to_completion_stream(responses: ChatResponseAsyncGen) -> CompletionResponseAsyncGen:
    async for response in responses:
        yield completion_from_chat(response)
