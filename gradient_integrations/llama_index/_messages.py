"""LlamaIndex `ChatMessage`s -> the core's `/v1/responses` input items. Pure functions, no I/O.

One message can become several items: an assistant turn that called tools is its text (a `message`
item) followed by one `function_call` item per call, and a tool result is a `function_call_output`
matched to its call by `call_id`. Tool calls are read from `ToolCallBlock`s (current llama-index-core)
or, for messages built elsewhere, from `additional_kwargs["tool_calls"]` in either the Responses shape
(`{"type": "function_call", "call_id", "name", "arguments"}`) or the chat-completions shape
(`{"id", "function": {"name", "arguments"}}`).

The endpoint is text-only: image, audio, video and document blocks raise `InvalidRequestError` naming
the message and block, before any request is sent. Reasoning (`ThinkingBlock`) is output only and is not
replayed, as llama-index's `OpenAIResponses` does without server-side storage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from pydantic import BaseModel

from gradient_integrations.core import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InvalidRequestError,
    MessageItem,
)
from gradient_integrations.core.request import InputItem, InputText, check_tool_results, message_content

__all__ = ["to_input_items"]

WireRole = Literal["system", "developer", "user", "assistant"]
_MEDIA_BLOCKS = (ImageBlock, AudioBlock, VideoBlock, DocumentBlock)
# Roles the endpoint knows; llama-index's other assistant-like roles are sent as "assistant".
_ROLE_MAP: dict[MessageRole, WireRole] = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "developer",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}
_EMPTY_ALLOWED = (MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL)


def to_input_items(messages: Sequence[ChatMessage]) -> list[InputItem]:
    """Map a conversation to input items, raising `InvalidRequestError` for anything unsendable."""
    if not messages:
        raise InvalidRequestError("messages", "is empty; pass at least one ChatMessage")
    items: list[InputItem] = []
    owners: list[int] = []
    for index, message in enumerate(messages):
        converted = _message_items(message, f"messages[{index}]")
        items.extend(converted)
        owners.extend([index] * len(converted))
    if not items:
        raise InvalidRequestError("messages", "contain no text, tool call or tool result to send")
    check_tool_results(items, owners, label="messages")
    return items


def _message_items(message: ChatMessage, where: str) -> list[InputItem]:
    role = message.role
    if not message.blocks and not message.additional_kwargs.get("tool_calls"):
        if role in _EMPTY_ALLOWED:
            return []  # an empty assistant turn carries nothing worth sending
        # ChatMessage keeps only str or block-list content: anything else vanishes without a word.
        raise InvalidRequestError(
            where,
            "has no content: pass text, e.g. ChatMessage(role=..., content=str(value)); "
            "llama-index drops content that is neither a string nor a list of blocks",
        )
    if role in (MessageRole.TOOL, MessageRole.FUNCTION):
        return [_tool_result(message, where)]
    wire_role = _ROLE_MAP.get(role)
    if wire_role is None:  # a MessageRole added after this was written
        raise InvalidRequestError(f"{where}.role", f"role {role.value!r} is not supported")
    if wire_role != "assistant":
        return [MessageItem(role=wire_role, content=_content_of(message, where))]
    text = _text_of(message, where, calls_allowed=True)
    items: list[InputItem] = []
    if text:
        items.append(MessageItem(role="assistant", content=text))
    for call_id, name, arguments in _tool_calls_of(message, where):
        items.append(FunctionCallItem(call_id=call_id, name=name, arguments=arguments))
    return items


def _tool_result(message: ChatMessage, where: str) -> FunctionCallOutputItem:
    call_id = message.additional_kwargs.get("tool_call_id") or message.additional_kwargs.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(
            f"{where}.additional_kwargs.tool_call_id",
            "a tool message needs the id of the call it answers: "
            "ChatMessage(role='tool', content=..., additional_kwargs={'tool_call_id': <call id>})",
        )
    return FunctionCallOutputItem(call_id=call_id, output=_text_of(message, where, calls_allowed=False))


def _parts_of(message: ChatMessage, where: str, *, calls_allowed: bool) -> list[tuple[str, Any]]:
    """The message's text parts, one per block with text, each with the cache breakpoint a `CachePoint`
    right after it marks (as llama-index's Anthropic LLM reads it) or None; media blocks are an error."""
    parts: list[tuple[str, Any]] = []
    for index, block in enumerate(message.blocks):
        if isinstance(block, CachePoint):
            if parts:
                control = block.cache_control
                parts[-1] = (parts[-1][0], {"type": control.type, "ttl": control.ttl})
            continue
        texts = list(_block_texts(block, f"{where}.blocks[{index}]", calls_allowed))
        if texts:
            parts.append(("\n".join(texts), None))
    return parts


def _content_of(message: ChatMessage, where: str) -> str | list[InputText]:
    """A prompt message's content: its text, or `input_text` parts when a `CachePoint` marks a breakpoint."""
    return message_content(_parts_of(message, where, calls_allowed=False), f"{where}.blocks")


def _text_of(message: ChatMessage, where: str, *, calls_allowed: bool) -> str:
    """The message's text, joined like `ChatMessage.content`; media blocks are an error."""
    return "\n".join(text for text, _ in _parts_of(message, where, calls_allowed=calls_allowed))


def _block_texts(block: Any, where: str, calls_allowed: bool) -> Iterator[str]:
    if isinstance(block, TextBlock):
        yield block.text
    elif isinstance(block, CitableBlock):
        # Citable content (e.g. a tool's cited sources) is sent as its plain text.
        for index, inner in enumerate(block.content):
            yield from _block_texts(inner, f"{where}.content[{index}]", calls_allowed)
    elif isinstance(block, CitationBlock):
        yield from _block_texts(block.cited_content, f"{where}.cited_content", calls_allowed)
    elif isinstance(block, _MEDIA_BLOCKS):
        kind = type(block).__name__
        raise InvalidRequestError(
            where,
            f"{kind} is not supported: the Gradient /v1/responses endpoint accepts text only; "
            "send the content as text (e.g. a description or extracted text) instead",
        )
    elif isinstance(block, ToolCallBlock):
        if not calls_allowed:  # otherwise _tool_calls_of sends it as a function_call item
            raise InvalidRequestError(where, "a ToolCallBlock belongs in an assistant message")
    elif not isinstance(block, (ThinkingBlock, CachePoint)):
        # (Reasoning is not replayed, and a cache hint means nothing to this endpoint.)
        raise InvalidRequestError(where, f"{type(block).__name__} is not supported by this endpoint")


def _tool_calls_of(message: ChatMessage, where: str) -> list[tuple[str, str, str]]:
    """(call_id, name, arguments JSON) for each tool call of an assistant message."""
    blocks = [
        (index, block) for index, block in enumerate(message.blocks) if isinstance(block, ToolCallBlock)
    ]
    if blocks:
        return [
            _call_triple(block.tool_call_id, block.tool_name, block.tool_kwargs, f"{where}.blocks[{index}]")
            for index, block in blocks
        ]
    calls = message.additional_kwargs.get("tool_calls") or []
    triples = []
    for index, call in enumerate(calls):
        data = call.model_dump() if isinstance(call, BaseModel) else call
        if not isinstance(data, Mapping):
            raise InvalidRequestError(
                f"{where}.additional_kwargs.tool_calls[{index}]", "must be a dict describing one call"
            )
        nested = data.get("function")
        function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
        triples.append(
            _call_triple(
                data.get("call_id") or data.get("id"),
                function.get("name"),
                function.get("arguments", {}),
                f"{where}.additional_kwargs.tool_calls[{index}]",
            )
        )
    return triples


def _call_triple(call_id: Any, name: Any, arguments: Any, where: str) -> tuple[str, str, str]:
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(
            f"{where}.tool_call_id",
            "a replayed tool call needs the id its tool result refers to; keep the id the model returned",
        )
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"{where}.tool_name", "a replayed tool call needs the tool's name")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return call_id, name, arguments
