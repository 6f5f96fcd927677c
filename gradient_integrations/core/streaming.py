"""Stream decoding and assembly, with no I/O: SSE `data` payloads in, normalized deltas and a result out.

Two dialects are detected per event, so a server may even mix them:

(a) DO's `response.chunk` (the spec): `choices[].delta` with `content`, `reasoning_content`, `tool_calls`,
    a usage-only last chunk with empty `choices`, then `data: [DONE]`. The spec's delta tool calls carry no
    `index`: a new `id` starts a new call and a piece without `id` continues the last one. Chat-style pieces
    that do carry `index` are keyed by it.
(b) vLLM/OpenAI typed events: `response.created`, `response.output_item.added`, `response.output_text.delta`,
    `response.function_call_arguments.delta`, `response.reasoning_text.delta`, `response.completed`,
    `response.incomplete`, `response.failed`, `error`.

Both become `StreamDelta`s (text, reasoning, a tool-call piece with a stable per-call `index`, and one
`finish` delta that carries usage once). The client feeds each SSE event's data to `StreamAssembler.feed`
from its sync or async loop: that loop is the only thing that differs between the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import StreamError
from .response import ResponseResult, ToolCall, Usage, finalize, parse_response, parse_usage

__all__ = ["StreamAssembler", "StreamDelta", "ToolCallChunk"]

DeltaKind = Literal["text", "reasoning", "tool_call", "finish"]


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A piece of one tool call. `index` is stable for the call; `id`/`name` arrive on its first piece."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """One normalized stream event. Exactly one `finish` delta ends a successful stream."""

    kind: DeltaKind
    text: str = ""
    tool_call: ToolCallChunk | None = None
    usage: Usage | None = None
    finish_reason: str | None = None


class _TextBuffer:
    """Collects a stream's many small text deltas in about their own size.

    A list of token-sized strings costs ~65 bytes of object overhead per piece (8x a 1 MB answer);
    joining every `_BLOCK` pending pieces into one block keeps the overhead negligible and stays O(n).
    `value()` leaves the joined text as the only block, so a caller that wants the whole text after
    every delta (LlamaIndex's cumulative `message.content`) shares that string instead of keeping a copy.
    """

    __slots__ = ("_blocks", "_pending")
    _BLOCK = 256

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pending: list[str] = []

    def append(self, text: str) -> None:
        pending = self._pending
        pending.append(text)
        if len(pending) >= self._BLOCK:
            self._blocks.append("".join(pending))
            pending.clear()

    def __bool__(self) -> bool:
        return bool(self._blocks or self._pending)

    def value(self) -> str:
        if len(self._blocks) == 1 and not self._pending:
            return self._blocks[0]
        joined = "".join(self._blocks + self._pending)
        self._blocks = [joined] if joined else []
        self._pending = []
        return joined


@dataclass(slots=True)
class _CallBuilder:
    id: str | None
    name: str | None
    arguments: list[str] = field(default_factory=list)


_TEXT_EVENTS = frozenset({"response.output_text.delta", "response.text.delta"})
_REASONING_EVENTS = frozenset(
    {"response.reasoning_text.delta", "response.reasoning.delta", "response.reasoning_summary_text.delta"}
)
_END_EVENTS = {"response.completed": "completed", "response.incomplete": "incomplete", "response.done": None}


class StreamAssembler:
    """Turns SSE payloads into deltas and keeps everything needed for the final `ResponseResult`."""

    def __init__(self) -> None:
        self.done = False
        self.events = 0
        self._id = ""
        self._model = ""
        self._created: int | None = None
        self._text = _TextBuffer()
        self._reasoning = _TextBuffer()
        self._calls: list[_CallBuilder] = []
        self._call_keys: dict[object, int] = {}
        self._last_call: int | None = None
        self._usage: Usage | None = None
        self._raw_usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._status: str | None = None

    # -- feeding -----------------------------------------------------------------------------------
    def feed(self, data: str) -> list[StreamDelta]:
        """Decode one SSE event's data. Raises `StreamError` (with the partial result) on bad input."""
        if self.done:
            return []  # anything after the end marker (a second [DONE], trailing noise) is ignored
        payload = data.strip()
        if not payload:
            return []
        if payload == "[DONE]":
            return self._end(status=None)
        try:
            event = json.loads(payload)
        except ValueError:
            raise self.error(f"Malformed JSON in stream event: {payload[:200]!r}") from None
        if not isinstance(event, dict):
            raise self.error(f"Stream event is not a JSON object: {payload[:200]!r}")
        self.events += 1
        kind = event.get("type")
        if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
            return self._typed(kind, event)
        if event.get("error"):
            raise self.error(_error_message(event.get("error")))
        return self._chunk(event)

    def adopt(self, result: ResponseResult) -> list[StreamDelta]:
        """Replay a whole result as deltas: for a server that answered a stream request with JSON."""
        self._meta(result.id, result.model, result.created)
        deltas = self._replay(result)
        self._usage = result.usage
        self._finish_reason = result.finish_reason
        deltas.extend(self._end(status=result.status))
        return deltas

    # -- results -----------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self._text.value()

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far."""
        return self._reasoning.value()

    def snapshot(self) -> ResponseResult:
        """Everything assembled so far (the `partial` of a failed stream)."""
        calls = [
            ToolCall(id=call.id or f"call_{index}", name=call.name or "", arguments="".join(call.arguments))
            for index, call in enumerate(self._calls)
        ]
        raw: dict[str, Any] = {"id": self._id, "object": "response", "model": self._model}
        if self._raw_usage is not None:
            raw["usage"] = self._raw_usage
        return ResponseResult(
            id=self._id,
            model=self._model,
            created=self._created,
            text=self._text.value(),
            reasoning=self._reasoning.value(),
            tool_calls=calls,
            usage=self._usage,
            finish_reason=self._finish_reason,
            status=self._status,
            raw=raw,
        )

    def result(self) -> ResponseResult:
        """The final result; raises `StreamError` if the stream never reached its end marker."""
        if not self.done:
            raise self.error("Stream ended before [DONE] or response.completed")
        return self.snapshot()

    def error(self, message: str, cls: type[StreamError] = StreamError) -> StreamError:
        return cls(message, partial=self.snapshot())

    # -- dialect (a): response.chunk / chat chunks -------------------------------------------------
    def _chunk(self, chunk: dict[str, Any]) -> list[StreamDelta]:
        self._meta(chunk.get("id"), chunk.get("model"), chunk.get("created"))
        deltas: list[StreamDelta] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                deltas.extend(self._add_reasoning(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                deltas.extend(self._add_text(content))
            for piece in delta.get("tool_calls") or ():
                deltas.append(self._chunk_tool_piece(piece))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        self._take_usage(chunk.get("usage"))
        return deltas

    def _chunk_tool_piece(self, piece: dict[str, Any]) -> StreamDelta:
        function = piece.get("function") or {}
        call_id = piece.get("id") or None
        if piece.get("index") is not None:
            key: object = ("index", piece["index"])
        elif call_id is not None:
            key = ("id", call_id)
        elif self._last_call is not None:
            return self._extend_call(self._last_call, function.get("arguments") or "")
        else:
            key = ("anonymous", len(self._calls))
        return self._call_piece(key, call_id, function.get("name"), function.get("arguments") or "")

    # -- dialect (b): typed response.* events -----------------------------------------------------
    def _typed(self, kind: str, event: dict[str, Any]) -> list[StreamDelta]:
        if kind in _TEXT_EVENTS:
            return self._add_text(str(event.get("delta") or ""))
        if kind in _REASONING_EVENTS:
            return self._add_reasoning(str(event.get("delta") or ""))
        if kind == "response.function_call_arguments.delta":
            key = _item_key(event)
            index = self._call_keys.get(key)
            if index is None:
                return [self._call_piece(key, None, None, str(event.get("delta") or ""))]
            return [self._extend_call(index, str(event.get("delta") or ""))]
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = event.get("item") or {}
            if item.get("type") != "function_call":
                return []
            key = _item_key(event)
            index = self._call_keys.get(key)
            if index is None:
                call_id = item.get("call_id") or item.get("id")
                return [self._call_piece(key, call_id, item.get("name"), item.get("arguments") or "")]
            if kind == "response.output_item.done" and not self._calls[index].arguments:
                return [self._extend_call(index, item.get("arguments") or "")]
            return []
        if kind in ("response.created", "response.in_progress"):
            response = event.get("response") or {}
            self._meta(response.get("id"), response.get("model"), _created(response))
            return []
        if kind in _END_EVENTS:
            return self._typed_end(event, _END_EVENTS[kind])
        if kind in ("response.failed", "error"):
            response = event.get("response") or {}
            source = response.get("error") or event.get("error") or event
            raise self.error(_error_message(source))
        return []  # unknown or purely informational event types are ignored

    def _typed_end(self, event: dict[str, Any], status: str | None) -> list[StreamDelta]:
        response = event.get("response") or {}
        self._meta(response.get("id"), response.get("model"), _created(response))
        self._take_usage(response.get("usage"))
        deltas: list[StreamDelta] = []
        if not (self._text or self._reasoning or self._calls) and response.get("output"):
            # The server sent the whole answer only in the final event: replay it as deltas.
            deltas = self._replay(parse_response(response))
        return deltas + self._end(status=response.get("status") or status)

    # -- shared helpers ----------------------------------------------------------------------------
    def _replay(self, result: ResponseResult) -> list[StreamDelta]:
        """A whole answer's reasoning, text and tool calls as deltas, in the order a stream sends them."""
        deltas: list[StreamDelta] = []
        if result.reasoning:
            deltas.extend(self._add_reasoning(result.reasoning))
        if result.text:
            deltas.extend(self._add_text(result.text))
        for call in result.tool_calls:
            deltas.append(self._call_piece(object(), call.id, call.name, call.arguments))
        return deltas

    def _meta(self, response_id: Any, model: Any, created: Any) -> None:
        if response_id and not self._id:
            self._id = str(response_id)
        if model and not self._model:
            self._model = str(model)
        if isinstance(created, int) and self._created is None:
            self._created = created

    def _add_text(self, text: str) -> list[StreamDelta]:
        if not text:
            return []
        self._text.append(text)
        return [StreamDelta("text", text=text)]

    def _add_reasoning(self, text: str) -> list[StreamDelta]:
        if not text:
            return []
        self._reasoning.append(text)
        return [StreamDelta("reasoning", text=text)]

    def _call_piece(self, key: object, call_id: str | None, name: str | None, arguments: str) -> StreamDelta:
        index = self._call_keys.get(key)
        if index is None:
            index = len(self._calls)
            self._call_keys[key] = index
            self._calls.append(_CallBuilder(id=call_id, name=name))
        else:
            call = self._calls[index]
            call.id = call.id or call_id
            call.name = call.name or name
        self._last_call = index
        if arguments:
            self._calls[index].arguments.append(arguments)
        return StreamDelta("tool_call", tool_call=ToolCallChunk(index, call_id, name, arguments))

    def _extend_call(self, index: int, arguments: str) -> StreamDelta:
        if arguments:
            self._calls[index].arguments.append(arguments)
        self._last_call = index
        return StreamDelta("tool_call", tool_call=ToolCallChunk(index, None, None, arguments))

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict) and usage:
            self._raw_usage = usage
            self._usage = parse_usage(usage)

    def _end(self, *, status: str | None) -> list[StreamDelta]:
        self.done = True
        result = finalize(self.snapshot(), finish_reason=self._finish_reason, status=status)
        self._finish_reason, self._status = result.finish_reason, result.status
        return [StreamDelta("finish", usage=self._usage, finish_reason=self._finish_reason)]


def _item_key(event: dict[str, Any]) -> object:
    item = event.get("item") or {}
    item_id = event.get("item_id") or item.get("id")
    if item_id:
        return ("item", item_id)
    return ("output_index", event.get("output_index", 0))


def _created(response: dict[str, Any]) -> Any:
    return response.get("created") if response.get("created") is not None else response.get("created_at")


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or json.dumps(error)[:300]
        code = error.get("code") or error.get("type") or error.get("id")
        return f"Stream error: {message}" + (f" ({code})" if code and code != "error" else "")
    return f"Stream error: {error}"
