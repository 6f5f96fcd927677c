"""LangChain messages <-> the core's wire items and results. Pure functions, no I/O.

In (`messages_to_input`): System -> system item; Human -> user item; AI -> reasoning items it carried,
an assistant item with its text, then one `function_call` item per tool call; Tool -> a
`function_call_output` matched by `call_id` (an error status stays visible to the model). Anthropic-style
`tool_use` / `tool_result` / `thinking` blocks and LangChain v1 `tool_call` / `reasoning` blocks map to
the same items. The endpoint is text-only and its messages have only `role` and `content`: text blocks
are joined into one string, a message `name` is not sent, and an image/audio/file block raises
`InvalidRequestError` naming the message and block before any request.

Out (`message_from_result`, `ChunkMapper`): a `ResponseResult` becomes an `AIMessage` (text,
`tool_calls` / `invalid_tool_calls`, `usage_metadata`, `response_metadata`, reasoning in
`additional_kwargs["reasoning_content"]`, which LangChain turns into a reasoning block for
`output_version="v1"`); each `StreamDelta` becomes one `ChatGenerationChunk`, the same way for sync and
async streams, and the `finish` delta becomes the last chunk carrying usage and metadata exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call as make_invalid_tool_call
from langchain_core.messages.tool import tool_call as make_tool_call
from langchain_core.messages.tool import tool_call_chunk as make_tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from ..core import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InvalidRequestError,
    MessageItem,
    ReasoningItem,
    ReasoningText,
    ResponseResult,
    StreamDelta,
    Usage,
)
from ..core import ToolCall as WireToolCall
from ..core.request import InputText, check_tool_results, message_content

__all__ = [
    "PROVIDER",
    "ChunkMapper",
    "StreamSource",
    "WireItem",
    "message_from_result",
    "messages_to_input",
    "response_metadata_from",
    "tool_calls_from",
    "usage_metadata_from",
]

PROVIDER = "gradient"

WireItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem

_TEXT_BLOCKS = frozenset({"text", "input_text", "output_text"})
_REASONING_BLOCKS = frozenset({"reasoning", "thinking"})
_CALL_BLOCKS = frozenset({"tool_use", "tool_call", "function_call", "tool_call_chunk", "invalid_tool_call"})
_MEDIA_BLOCKS = frozenset(
    {"image", "image_url", "input_image", "audio", "input_audio", "file", "input_file", "video", "document"}
)
# Signed/encrypted reasoning of another provider: it cannot be replayed to this endpoint, and it is not text.
_SKIPPED_BLOCKS = frozenset({"redacted_thinking"})
_CHAT_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant"}
_CHAT_ROLES |= {"system": "system", "developer": "developer"}


# -- messages in ---------------------------------------------------------------------------------------
def messages_to_input(messages: Sequence[BaseMessage]) -> list[WireItem]:
    """The request's `input` items for a LangChain conversation, in order."""
    items: list[WireItem] = []
    owners: list[int] = []
    for index, message in enumerate(messages):
        converted = _message_items(index, message)
        items.extend(converted)
        owners.extend([index] * len(converted))
    check_tool_results(items, owners, label="messages")
    return items


def _message_items(index: int, message: BaseMessage) -> list[WireItem]:
    if isinstance(message, SystemMessage):
        role = "developer" if message.additional_kwargs.get("__openai_role__") == "developer" else "system"
        return [MessageItem(role=role, content=_content_of(index, message.content))]
    if isinstance(message, HumanMessage):
        return _user_items(index, message)
    if isinstance(message, AIMessage):
        return _assistant_items(index, message)
    if isinstance(message, ToolMessage):
        return [_tool_output(index, message)]
    if isinstance(message, ChatMessage) and message.role in _CHAT_ROLES:
        role = _CHAT_ROLES[message.role]
        if role == "assistant":
            return _assistant_items(index, AIMessage(content=message.content))
        return [MessageItem(role=role, content=_content_of(index, message.content))]
    raise InvalidRequestError(
        f"messages[{index}]",
        f"{type(message).__name__} (role {getattr(message, 'role', message.type)!r}) is not supported; "
        "use SystemMessage, HumanMessage, AIMessage or ToolMessage",
    )


def _block_error(index: int, position: int, kind: object) -> InvalidRequestError:
    field = f"messages[{index}].content[{position}]"
    if kind in _MEDIA_BLOCKS:
        return InvalidRequestError(
            field,
            f"a {kind!r} block cannot be sent: the Gradient /v1/responses endpoint accepts text only; "
            "remove the block or describe its content in text",
        )
    return InvalidRequestError(
        field, f"content block type {kind!r} is not supported here; use text blocks or plain strings"
    )


def _blocks(content: str | list[Any]) -> list[Any]:
    return [content] if isinstance(content, str) else list(content)


def _content_of(index: int, content: str | list[Any]) -> str | list[InputText]:
    """A prompt message's content: its text, or `input_text` parts when a block carries `cache_control`
    (langchain-anthropic's spelling, top level or in a v1 block's `extras`)."""
    parts: list[tuple[str, Any]] = []
    for position, block in enumerate(_blocks(content)):
        if isinstance(block, str):
            parts.append((block, None))
        elif isinstance(block, Mapping) and block.get("type") in _TEXT_BLOCKS:
            extras = block.get("extras")
            control = block.get("cache_control") or (
                extras.get("cache_control") if isinstance(extras, Mapping) else None
            )
            parts.append((str(block.get("text") or ""), control))
        else:
            raise _block_error(index, position, block.get("type") if isinstance(block, Mapping) else block)
    return message_content(parts, f"messages[{index}].content")


def _text_of(index: int, content: str | list[Any]) -> str:
    """A message's text; text blocks are joined by newlines (as vLLM joins text parts)."""
    texts: list[str] = []
    for position, block in enumerate(_blocks(content)):
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping) and block.get("type") in _TEXT_BLOCKS:
            texts.append(str(block.get("text") or ""))
        else:
            raise _block_error(index, position, block.get("type") if isinstance(block, Mapping) else block)
    return "\n".join(texts)


def _as_error(text: str) -> str:
    # The endpoint has no error flag on tool outputs, so the failure is said in the text the model reads.
    return text if text.lower().startswith("error") else f"Error: {text}"


def _user_items(index: int, message: HumanMessage) -> list[WireItem]:
    outputs: list[WireItem] = []
    texts: list[Any] = []
    for position, block in enumerate(_blocks(message.content)):
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            # Anthropic puts tool results in the user turn; here they are function_call_output items.
            output = _text_of(index, block.get("content") or "")
            outputs.append(
                FunctionCallOutputItem(
                    call_id=_call_id(block.get("tool_use_id"), f"messages[{index}].content[{position}]"),
                    output=_as_error(output) if block.get("is_error") else output,
                )
            )
        elif isinstance(block, Mapping) and block.get("type") not in _TEXT_BLOCKS:
            raise _block_error(index, position, block.get("type"))
        else:
            texts.append(block)
    if texts or not outputs:
        outputs.append(MessageItem(role="user", content=_content_of(index, texts)))
    return outputs


def _call_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(
            field, "has no tool call id; the endpoint matches tool results to calls by id, so set one"
        )
    return value


def _arguments(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {}, ensure_ascii=False)


def _reasoning_text(block: Mapping[str, Any]) -> str:
    if block.get("type") == "thinking":
        return str(block.get("thinking") or "")
    if isinstance(block.get("reasoning"), str):
        return str(block["reasoning"])
    # OpenAI Responses reasoning items keep their text in `summary` parts.
    return "".join(
        str(part.get("text", "")) for part in block.get("summary") or () if isinstance(part, Mapping)
    )


def _call_from_block(block: Mapping[str, Any], field: str) -> FunctionCallItem:
    kind = block.get("type")
    if kind == "tool_use":
        call_id, arguments = block.get("id"), block.get("input")
    elif kind == "function_call":
        call_id, arguments = block.get("call_id") or block.get("id"), block.get("arguments")
    else:  # tool_call, tool_call_chunk, invalid_tool_call
        call_id, arguments = block.get("id"), block.get("args")
    name = block.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"{field}.name", "a tool call needs the name of the tool it called")
    return FunctionCallItem(
        call_id=_call_id(call_id, f"{field}.id"), name=name, arguments=_arguments(arguments)
    )


def _assistant_items(index: int, message: AIMessage) -> list[WireItem]:
    reasoning: list[str] = []
    texts: list[str] = []
    calls: list[FunctionCallItem] = []
    for position, block in enumerate(_blocks(message.content)):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if isinstance(block, str):
            texts.append(block)
        elif kind in _TEXT_BLOCKS:
            texts.append(str(block.get("text") or ""))
        elif kind in _REASONING_BLOCKS:
            reasoning.append(_reasoning_text(block))
        elif kind in _CALL_BLOCKS:
            calls.append(_call_from_block(block, f"messages[{index}].content[{position}]"))
        elif kind not in _SKIPPED_BLOCKS:
            raise _block_error(index, position, kind)
    if not reasoning and isinstance(message.additional_kwargs.get("reasoning_content"), str):
        reasoning.append(message.additional_kwargs["reasoning_content"])
    # Tool calls live in `tool_calls` and, for Anthropic/v1 content, also as blocks: send each id once.
    seen = {call.call_id for call in calls}
    recorded: list[ToolCall | InvalidToolCall] = [*message.tool_calls, *message.invalid_tool_calls]
    for position, call in enumerate(recorded):
        if call.get("id") in seen:
            continue
        field = f"messages[{index}].tool_calls[{position}]"
        block = {
            "type": "tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "args": call.get("args"),
        }
        calls.append(_call_from_block(block, field))
        seen.add(calls[-1].call_id)
    items: list[WireItem] = [ReasoningItem(content=[ReasoningText(text=text)]) for text in reasoning if text]
    text = "\n".join(texts)
    if text or not calls:
        items.append(MessageItem(role="assistant", content=text))
    items.extend(calls)
    return items


def _tool_output(index: int, message: ToolMessage) -> FunctionCallOutputItem:
    text = _text_of(index, message.content)
    return FunctionCallOutputItem(
        call_id=_call_id(message.tool_call_id, f"messages[{index}].tool_call_id"),
        output=_as_error(text) if message.status == "error" else text,
    )


# -- results out ---------------------------------------------------------------------------------------
def usage_metadata_from(usage: Usage) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=InputTokenDetails(cache_read=usage.cached_tokens),
        output_token_details=OutputTokenDetails(reasoning=usage.reasoning_tokens),
    )


def response_metadata_from(result: ResponseResult, *, requested_model: str) -> dict[str, Any]:
    """`id`, `model_name` (the served model, else the requested one), `finish_reason`, `status`, `created`."""
    metadata = {
        "model_provider": PROVIDER,
        "model_name": result.model or requested_model,
        "id": result.id,
        "finish_reason": result.finish_reason,
        "status": result.status,
        "created": result.created,
    }
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def tool_calls_from(calls: Sequence[WireToolCall]) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Parsed tool calls; arguments that are not a JSON object become `invalid_tool_calls`."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        try:
            args = json.loads(call.arguments, strict=False) if call.arguments.strip() else {}
        except ValueError as exc:
            invalid.append(
                make_invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
            continue
        if not isinstance(args, dict):
            error = f"arguments must be a JSON object, got {type(args).__name__}"
            invalid.append(
                make_invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=error)
            )
            continue
        valid.append(make_tool_call(name=call.name, args=args, id=call.id))
    return valid, invalid


def _extra_kwargs(result: ResponseResult) -> dict[str, Any]:
    """`reasoning_content` and (as ChatOpenAI names it) `refusal`, where the answer has them."""
    extra = {"reasoning_content": result.reasoning, "refusal": result.refusal}
    return {key: value for key, value in extra.items() if value}


def message_from_result(result: ResponseResult, *, requested_model: str) -> AIMessage:
    tool_calls, invalid_tool_calls = tool_calls_from(result.tool_calls)
    return AIMessage(
        content=result.text,
        additional_kwargs=_extra_kwargs(result),
        tool_calls=tool_calls,
        invalid_tool_calls=invalid_tool_calls,
        usage_metadata=usage_metadata_from(result.usage) if result.usage else None,
        response_metadata=response_metadata_from(result, requested_model=requested_model),
        id=result.id or None,
    )


class StreamSource(Protocol):
    """What the chunk mapper needs from a core stream: the assembled result (read once, at the end)."""

    @property
    def result(self) -> ResponseResult: ...


class ChunkMapper:
    """Maps one stream's deltas to chunks; `_stream` and `_astream` both use it, one instance per stream.

    It numbers content blocks the way the Responses API numbers output items: a new index whenever the
    kind of content changes or a new tool call starts. LangChain merges streamed blocks by `index`, so
    parallel tool calls never share one, and in `output_version="v1"` (`blocks=True`, where text and
    reasoning are emitted as indexed blocks) no tool call shares one with text or reasoning either.
    """

    def __init__(
        self, stream: StreamSource, *, requested_model: str, include_usage: bool = True, blocks: bool = False
    ) -> None:
        self._stream = stream
        self._requested_model = requested_model
        self._include_usage = include_usage
        self._blocks = blocks
        self._index = -1
        self._current: tuple[str, int] | None = None  # (delta kind, tool call index) of the open block
        self._call_blocks: dict[int, int] = {}

    def _block_index(self, kind: str, call: int = 0) -> int:
        if kind == "tool_call" and call in self._call_blocks:
            return self._call_blocks[call]  # a later piece of a call keeps the call's block
        if self._current != (kind, call):
            self._index += 1
            self._current = (kind, call)
        if kind == "tool_call":
            self._call_blocks[call] = self._index
        return self._index

    def __call__(self, delta: StreamDelta) -> ChatGenerationChunk:
        """One delta as one chunk. The `finish` delta is the last chunk: usage and metadata, once."""
        if delta.kind == "text":
            index = self._block_index("text")
            content: Any = (
                [{"type": "text", "text": delta.text, "index": index}] if self._blocks else delta.text
            )
            message = AIMessageChunk(content=content)
        elif delta.kind == "reasoning":
            index = self._block_index("reasoning")
            if self._blocks:
                message = AIMessageChunk(
                    content=[{"type": "reasoning", "reasoning": delta.text, "index": index}]
                )
            else:
                message = AIMessageChunk(content="", additional_kwargs={"reasoning_content": delta.text})
        elif delta.kind == "tool_call" and delta.tool_call is not None:
            piece = delta.tool_call
            index = self._block_index("tool_call", piece.index)
            chunk = make_tool_call_chunk(name=piece.name, args=piece.arguments, id=piece.id, index=index)
            message = AIMessageChunk(content=[] if self._blocks else "", tool_call_chunks=[chunk])
        else:
            message = self._last(delta)
        return ChatGenerationChunk(message=message)

    def _last(self, delta: StreamDelta) -> AIMessageChunk:
        result = self._stream.result
        usage = delta.usage or result.usage
        return AIMessageChunk(
            content=[] if self._blocks else "",
            additional_kwargs={"refusal": result.refusal} if result.refusal else {},
            usage_metadata=usage_metadata_from(usage) if usage and self._include_usage else None,
            response_metadata=response_metadata_from(result, requested_model=self._requested_model),
            id=result.id or None,
            chunk_position="last",
        )
