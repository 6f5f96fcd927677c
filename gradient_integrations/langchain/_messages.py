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

import dataclasses
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
    Citation,
    FunctionCallItem,
    FunctionCallOutputItem,
    InvalidRequestError,
    MessageItem,
    ReasoningItem,
    ReasoningText,
    ResponseResult,
    ServerToolCall,
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
    "citation_block",
    "message_from_result",
    "messages_to_input",
    "response_metadata_from",
    "server_tool_blocks",
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
# Not replayed: signed/encrypted reasoning of another provider (it cannot be, and it is not text), and what
# built-in tools did on DO's side (the answer's text holds what they found; the endpoint keeps no state
# to point back at them, so the items would be refused as input).
_SKIPPED_BLOCKS = frozenset(
    {
        "redacted_thinking",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
        "web_search_call",
        "web_search_result",
        "file_search_call",
        "mcp_call",
        "mcp_list_tools",
        "knowledge_base_retrieval_call",
        "code_interpreter_call",
    }
)
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


def _parts_of(index: int, content: str | list[Any]) -> list[tuple[str, Any]]:
    """A message's text parts, each with its `cache_control` (langchain-anthropic's spelling, top level
    or in a v1 block's `extras`) or None; any block but text is an error naming it."""
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
    return parts


def _content_of(index: int, content: str | list[Any]) -> str | list[InputText]:
    """A prompt message's content: its text, or `input_text` parts when a block carries `cache_control`."""
    return message_content(_parts_of(index, content), f"messages[{index}].content")


def _text_of(index: int, content: str | list[Any]) -> str:
    """A message's text; text blocks are joined by newlines (as vLLM joins text parts)."""
    return "\n".join(text for text, _ in _parts_of(index, content))


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
    """LangChain's usage: prompt-cache reads (`cache_read`) and, when there were any, writes
    (`cache_creation`, Anthropic models) in `input_token_details`."""
    details = InputTokenDetails(cache_read=usage.cached_tokens)
    if usage.cache_creation_tokens:
        details["cache_creation"] = usage.cache_creation_tokens
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=details,
        output_token_details=OutputTokenDetails(reasoning=usage.reasoning_tokens),
    )


def response_metadata_from(result: ResponseResult, *, requested_model: str) -> dict[str, Any]:
    """`id`, `model_name` (the served model, else the requested one), `finish_reason`, `status`, `created`;
    for a router (`router:<name>`), `requested_model` and the `selected_route`; the `quota` left."""
    metadata: dict[str, Any] = {
        "model_provider": PROVIDER,
        "model_name": result.model or requested_model,
        "id": result.id,
        "finish_reason": result.finish_reason,
        "status": result.status,
        "created": result.created,
        "selected_route": result.route,
        "web_searches": result.web_searches,  # billed apart from tokens (`core.usage.WEB_SEARCH_USD`)
        "quota": dataclasses.asdict(result.quota) if result.quota is not None else None,
    }
    if requested_model.startswith("router:"):
        metadata["requested_model"] = requested_model  # `model_name` is the model the router chose
    return {key: value for key, value in metadata.items() if value not in (None, "", 0)}


def server_tool_blocks(call: ServerToolCall, index: int | None = None) -> list[dict[str, Any]]:
    """A built-in tool's run as LangChain v1's `server_tool_call` and `server_tool_result` blocks (as
    langchain-core reads OpenAI's items: `web_search`, `remote_mcp`, ... with the MCP tool in `extras`)."""
    started: dict[str, Any] = {
        "type": "server_tool_call",
        "id": call.id,
        "name": call.name,
        "args": call.args,
    }
    extras = {"tool_name": call.tool_name, "server_label": call.server_label}
    if any(extras.values()):
        started["extras"] = {key: value for key, value in extras.items() if value}
    result: dict[str, Any] = {
        "type": "server_tool_result",
        "tool_call_id": call.id,
        "status": "error" if call.failed else "success",
    }
    if call.output is not None:
        result["output"] = call.output
    if call.error:
        result["extras"] = {"error": call.error}
    if index is not None:
        started["index"], result["index"] = index, index + 1
    return [started, result]


def citation_block(found: Citation) -> dict[str, Any]:
    """An annotation as LangChain v1's `citation` (a file citation's file name is its `title`)."""
    block: dict[str, Any] = {"type": "citation"}
    for key, value in (
        ("url", found.url),
        ("title", found.title or found.filename),
        ("start_index", found.start_index),
        ("end_index", found.end_index),
    ):
        if value is not None:
            block[key] = value
    extras = {
        key: value
        for key, value in found.raw.items()
        if key not in ("type", "url", "title", "start_index", "end_index")
    }
    if found.type != "url_citation":
        extras["type"] = found.type
    if extras:
        block["extras"] = extras
    return block


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


def _extra_kwargs(result: ResponseResult, *, blocks: bool = False) -> dict[str, Any]:
    """`reasoning_content` and (as ChatOpenAI names it) `refusal`, where the answer has them; in v0
    (`blocks=False`), built-in tools' items as `tool_outputs` and the text's `annotations`, as ChatOpenAI
    keeps them (v1 has them as content blocks)."""
    extra: dict[str, Any] = {"reasoning_content": result.reasoning, "refusal": result.refusal}
    if not blocks:
        extra["tool_outputs"] = [call.item for call in result.server_tool_calls]
        extra["annotations"] = [found.raw for found in result.citations]
    return {key: value for key, value in extra.items() if value}


def _content(result: ResponseResult, blocks: bool) -> str | list[str | dict[str, Any]]:
    """The text; in v1, with built-in tools' runs or citations, the blocks that hold them too."""
    if not blocks or not (result.server_tool_calls or result.citations):
        return result.text
    content: list[str | dict[str, Any]] = [
        block for call in result.server_tool_calls for block in server_tool_blocks(call)
    ]
    text: dict[str, Any] = {"type": "text", "text": result.text}
    if result.citations:
        text["annotations"] = [citation_block(found) for found in result.citations]
    content.append(text)
    return content


def message_from_result(result: ResponseResult, *, requested_model: str, blocks: bool = False) -> AIMessage:
    """The answer as an `AIMessage`; `blocks` for `output_version="v1"`. Only function calls become
    `tool_calls`: a built-in tool already ran on DO's side, and an agent must not run it again."""
    tool_calls, invalid_tool_calls = tool_calls_from(result.tool_calls)
    return AIMessage(
        content=_content(result, blocks),
        additional_kwargs=_extra_kwargs(result, blocks=blocks),
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
        self._text_block: int | None = None  # the last text block's index, for citations

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
            index = self._text_block = self._block_index("text")
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
        elif delta.kind == "server_tool" and delta.server_tool is not None:
            message = self._server_tool(delta.server_tool)
        elif delta.kind == "citation" and delta.citation is not None:
            message = self._citation(delta.citation)
        else:
            message = self._last(delta)
        return ChatGenerationChunk(message=message)

    def _server_tool(self, call: ServerToolCall) -> AIMessageChunk:
        if not self._blocks:
            return AIMessageChunk(content="", additional_kwargs={"tool_outputs": [call.item]})
        index = self._index + 1
        self._index += 2  # the call's block, then its result's; the next delta opens a new block
        self._current = None
        return AIMessageChunk(content=server_tool_blocks(call, index))

    def _citation(self, found: Citation) -> AIMessageChunk:
        if not self._blocks:
            return AIMessageChunk(content="", additional_kwargs={"annotations": [found.raw]})
        # An annotation belongs to the text block it cites: LangChain merges the lists of equal indexes.
        index = self._text_block if self._text_block is not None else self._block_index("text")
        block = {"type": "text", "text": "", "annotations": [citation_block(found)], "index": index}
        return AIMessageChunk(content=[block])

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
