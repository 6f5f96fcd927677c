"""`POST /v1/chat/completions` on the same scripted model: request mapping, JSON body and chunk stream.

Peers that speak only chat completions (DO's `langchain-gradient`, llama-index `GradientAI`, `ChatOpenAI`)
are measured against the same work as the Responses clients, so a chat request is mapped onto a
`ResponseRequest` (messages -> input items, nested tools -> flat tools, `response_format` -> `text.format`,
`max_completion_tokens`/`max_tokens` -> `max_output_tokens`, `reasoning_effort` -> `reasoning.effort`, text
parts with `cache_control` -> `input_text` parts that keep it), answered by the one model, and encoded as
`chat.completion` / `chat.completion.chunk` objects. Field names in errors are the chat request's own.
Built-in tools (`web_search`, `knowledge_base_retrieval`, `mcp`) are passed as they are; their citations
come as the message's `annotations` in OpenAI Chat Completions' form (on the finish chunk when streaming).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.builtin_tools import is_built_in_tool
from ..core.errors import InvalidRequestError
from ..core.request import ResponseRequest, build_request
from ..core.response import ChoiceBody, FunctionBody, MessageBody, ToolCallBody
from .model import ScriptedTurn, split_pieces
from .wire import AnswerMeta, chat_annotations, dumps

__all__ = ["chat_body", "chat_request", "chat_stream_events", "chat_usage"]

_ROLES = ("system", "developer", "user", "assistant", "tool")
_PASSED_THROUGH = ("model", "temperature", "top_p", "stop", "parallel_tool_calls", "user", "metadata")
# Responses-side field names as a chat client knows them, longest first.
_FIELD_NAMES = (
    ("max_output_tokens", "max_completion_tokens"),
    ("text.format", "response_format"),
    ("reasoning.effort", "reasoning_effort"),
    ("input", "messages"),
)


def _text(content: Any, where: str) -> str | list[dict[str, Any]]:
    """A message's text; `input_text` parts instead when a part carries `cache_control` (kept for caching)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = [
            part
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        if any(part.get("cache_control") is not None for part in parts):
            return [
                {"type": "input_text", "text": part["text"], "cache_control": part.get("cache_control")}
                for part in parts
            ]
        return " ".join(part["text"] for part in parts)
    raise InvalidRequestError(
        where, "must be a string, null or a list of {'type': 'text', 'text': ...} parts"
    )


def _items(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError(
            "messages", "must be a non-empty list of {'role': ..., 'content': ...} objects"
        )
    items: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise InvalidRequestError(f"{where}.role", f"must be one of {list(_ROLES)}")
        role, text = message["role"], _text(message.get("content"), f"{where}.content")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise InvalidRequestError(f"{where}.tool_call_id", "is required for a 'tool' message")
            output = text if isinstance(text, str) else " ".join(part["text"] for part in text)
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
            continue
        if text or role != "assistant":
            items.append({"type": "message", "role": role, "content": text})
        for position, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not call.get("id"):
                raise InvalidRequestError(
                    f"{where}.tool_calls[{position}]", "needs 'id' and 'function': {'name', 'arguments'}"
                )
            items.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": function.get("name"),
                    "arguments": function.get("arguments") or "",
                }
            )
    return items


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise InvalidRequestError(
            "tools", "must be a list of {'type': 'function', 'function': {...}} objects"
        )
    flat: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if is_built_in_tool(tool):  # web_search, knowledge_base_retrieval, mcp: the same form as Responses'
            flat.append(tool)
            continue
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            raise InvalidRequestError(f"tools[{index}].function", "is required: {'name', 'parameters', ...}")
        flat.append({"type": "function", **function})
    return flat


def _text_format(response_format: Any) -> dict[str, Any] | None:
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"format": {"type": "json_object"}}
    if kind == "json_schema" and isinstance(response_format.get("json_schema"), dict):
        return {"format": {"type": "json_schema", **response_format["json_schema"]}}
    raise InvalidRequestError(
        "response_format",
        "must be {'type': 'text' | 'json_object'} or {'type': 'json_schema', 'json_schema': {...}}",
    )


def chat_request(body: dict[str, Any]) -> ResponseRequest:
    """Map a chat completions body onto a `ResponseRequest`; errors name the chat field."""
    if body.get("n") not in (None, 1):
        raise InvalidRequestError("n", "the local server answers one choice; use n=1")
    fields: dict[str, Any] = {key: body[key] for key in _PASSED_THROUGH if body.get(key) is not None}
    fields["input"] = _items(body.get("messages"))
    fields["tools"] = _tools(body.get("tools"))
    fields["text"] = _text_format(body.get("response_format"))
    if body.get("tool_choice") is not None:
        fields["tool_choice"] = body["tool_choice"]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        fields["max_output_tokens"] = limit
    if body.get("reasoning_effort") is not None:
        fields["reasoning"] = {"effort": body["reasoning_effort"]}
    try:
        return build_request(**{key: value for key, value in fields.items() if value is not None})
    except InvalidRequestError as exc:
        field = exc.field
        for responses_name, chat_name in _FIELD_NAMES:
            if field.startswith(responses_name):
                field = chat_name + field[len(responses_name) :]
                break
        if field.startswith("tools[") and ".function" not in field:
            head, _, rest = field.partition("].")
            if rest and not _built_in_at(body.get("tools"), head.removeprefix("tools[")):
                field = f"{head}].function.{rest}"
        raise InvalidRequestError(field, str(exc).removeprefix(f"{exc.field}: ")) from None


def _built_in_at(tools: Any, index: str) -> bool:
    """Whether `tools[index]` of the chat body is a built-in tool (its fields are not under `function`)."""
    position = int(index) if index.isdigit() else -1
    return isinstance(tools, list) and 0 <= position < len(tools) and is_built_in_tool(tools[position])


def chat_usage(turn: ScriptedTurn) -> dict[str, Any]:
    """Chat usage, with both DO's (`cache_read_input_tokens`) and OpenAI's detail names."""
    output = turn.output_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": output,
        "total_tokens": turn.input_tokens + output,
        "cache_read_input_tokens": turn.cached_tokens,
        "prompt_tokens_details": {"cached_tokens": turn.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
    }
    if turn.cache_created_tokens is not None:  # Anthropic-style caching (`cache_control`): DO's names
        usage["cache_created_input_tokens"] = turn.cache_created_tokens
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": turn.cache_created_tokens - turn.cache_created_1h_tokens,
            "ephemeral_1h_input_tokens": turn.cache_created_1h_tokens,
        }
    return usage


def chat_body(turn: ScriptedTurn, meta: AnswerMeta) -> dict[str, Any]:
    """The non-streaming `chat.completion` object."""
    calls = [
        ToolCallBody(
            id=call.call_id, type="function", function=FunctionBody(name=call.name, arguments=call.arguments)
        )
        for call in turn.tool_calls
    ]
    message = MessageBody(
        role="assistant", reasoning_content="".join(turn.reasoning) or None, tool_calls=calls or None
    ).model_dump(mode="json", exclude_none=True)
    message["content"] = "".join(turn.text) if turn.text or not calls else None
    message["refusal"] = None
    if turn.annotations:
        message["annotations"] = chat_annotations(turn.annotations)
    choice = ChoiceBody(index=0, finish_reason=turn.finish_reason).model_dump(mode="json", exclude_none=True)
    return {
        "id": meta.response_id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{**choice, "message": message, "logprobs": None}],
        "usage": chat_usage(turn),
    }


def chat_stream_events(turn: ScriptedTurn, meta: AnswerMeta, *, include_usage: bool) -> Iterator[bytes]:
    """`chat.completion.chunk` events, without the final `data: [DONE]`."""
    head = dumps(
        {
            "id": meta.response_id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
        }
    )
    prefix = b"data: " + head[:-1].encode() + b',"choices":[{"index":0,"delta":'
    suffix = b',"logprobs":null,"finish_reason":null}]}\n\n'
    yield prefix + b'{"role":"assistant","content":""}' + suffix
    for piece in turn.reasoning:
        yield prefix + b'{"reasoning_content":' + dumps(piece).encode() + b"}" + suffix
    for piece in turn.text:
        yield prefix + b'{"content":' + dumps(piece).encode() + b"}" + suffix
    for index, call in enumerate(turn.tool_calls):
        opening = {
            "index": index,
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield prefix + dumps({"tool_calls": [opening]}).encode() + suffix
        for piece in split_pieces(call.arguments):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            yield prefix + dumps(delta).encode() + suffix
    delta = {"annotations": chat_annotations(turn.annotations)} if turn.annotations else {}
    finish = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": turn.finish_reason}
    yield b"data: " + head[:-1].encode() + b',"choices":[' + dumps(finish).encode() + b"]}\n\n"
    if include_usage:
        yield (
            b"data: "
            + head[:-1].encode()
            + b',"choices":[],"usage":'
            + dumps(chat_usage(turn)).encode()
            + b"}\n\n"
        )
