"""The one response reader: SSE events and whole JSON bodies in, normalized deltas and a `ResponseResult` out.

No I/O. Everything the endpoint can send goes through `ResponseReader`, so a streamed answer and the same
answer sent as JSON become the same result by construction:

* a JSON body is read as what it is on the wire: the `response` object of a stream's final event
  (`response.completed` / `.incomplete` / `.failed`), so `feed_body()` and a stream's end share one path;
* every Responses output item lives in one table keyed by its position (`output_index`), never by id alone.
  vLLM streams deltas under item ids that differ from the ids in `response.completed`, and repeats each item
  in `response.output_item.done` and again in the completed payload: content arrives for an item at most
  once, from its deltas when there were any, otherwise from the first whole copy of the item.

Dialects, detected per event so a server may mix them:

(a) DO's `response.chunk` and chat-style chunks: `choices[].delta` with `content`, `reasoning_content` /
    `reasoning`, `tool_calls`; a usage-only last chunk; then `data: [DONE]`. Tool-call pieces without `index`:
    a new `id` starts a call, a piece without `id` continues the last one.
(b) vLLM / OpenAI typed events (`response.*`, `error`), with or without `sequence_number`; no `[DONE]`: the
    stream ends with `response.completed`, `response.incomplete` (a normal end, finish reason from
    `incomplete_details.reason`) or `response.failed` (`ResponseFailedError`, with the partial result).

Rules worth knowing (`docs/wire.md`, "What the endpoint sends", lists every shape with its source):

* **Tool-call ids: the first id seen wins.** A stream's chunks carry the `call_id` of
  `response.output_item.added`; when the completed payload names the same call differently (vLLM), the final
  message and the history replayed to the model keep the streamed id, so a tool result always answers the id
  the caller saw. Name and arguments are likewise taken from the first source that has them.
* **Reasoning** is an item's `reasoning_text` content; an item that has only `summary` parts (OpenAI) gives
  its summaries, joined by a blank line. A chat message gives `reasoning_content` or `reasoning`.
* **Built-in tools** (`server_items`): an output item of any type but `message`, `reasoning`,
  `function_call` and `text` is a server-side tool's run (`web_search_call`, `mcp_call`, ...), kept once per
  position as a `ServerToolCall` from its first whole copy (`output_item.done`, else the final payload), and
  never a tool call for the caller. Annotations on the text (`url_citation`, `file_citation`) become
  `Citation`s, from `output_text.annotation.added` events when they came, else from the whole message.
* **Headers** (`read_headers`, called by the client): the route a `router:<name>` model took
  (`x-model-router-selected-route`) and the quota headers (`quota`).
* Events that carry nothing the result keeps are ignored on purpose: `content_part.*`, `reasoning_part.*`,
  `reasoning_summary_part.*`, a built-in tool's progress (`web_search_call.searching`, ...), `*.done` text
  events whose deltas arrived, `in_progress`, unknown types, `sequence_number` (vLLM sends `-1`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import (
    APIResponseValidationError,
    GradientError,
    ResponseFailedError,
    StreamError,
    StreamValidationError,
)
from .quota import Quota, quota_from, quota_headers
from .response import ResponseResult, ToolCall, Usage
from .server_items import CONTENT_ITEM_TYPES, Citation, ServerToolCall, citation, server_tool_call

__all__ = ["ResponseReader", "StreamDelta", "ToolCallChunk", "parse_response", "parse_usage"]

DeltaKind = Literal["text", "reasoning", "tool_call", "server_tool", "citation", "finish"]
ROUTE_HEADER = "x-model-router-selected-route"

# What reading valid JSON of an undocumented shape can raise in here (pydantic's ValidationError is a
# ValueError); each becomes a typed error, so the caller's `except` for this package's errors holds.
_SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError)


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
    server_tool: ServerToolCall | None = None  # a built-in tool's whole run (`server_tool`)
    citation: Citation | None = None  # one annotation on the text (`citation`)


class _TextBuffer:
    """A stream's text so far: many small deltas kept in about their own size, readable from any thread.

    A list of token-sized strings costs ~65 bytes of object overhead per piece (8x a 1 MB answer), so every
    `_BLOCK` loose pieces are joined into one block: O(n) in all. The text only ever grows, and the
    writer never changes a list a reader may hold: it appends to the current list, and compacts by building
    a new list and swapping it in with one assignment. So `value()` (one `"".join` of the list it finds,
    atomic under the GIL) is consistent from any thread, without a lock, and has at least everything
    appended before it was called (LlamaIndex responses read their text lazily, from whichever thread).
    """

    __slots__ = ("_loose", "_pieces")
    _BLOCK = 256

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._loose = 0  # pieces at the end of `_pieces` not yet joined into a block

    def append(self, text: str) -> None:
        self._pieces.append(text)
        self._loose += 1
        if self._loose >= self._BLOCK:
            pieces = self._pieces
            self._pieces = [*pieces[: -self._loose], "".join(pieces[-self._loose :])]
            self._loose = 0

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def value(self) -> str:
        pieces = self._pieces
        return pieces[0] if len(pieces) == 1 else "".join(pieces)


@dataclass(slots=True)
class _Call:
    """One tool call. `whole` (arguments from a complete copy) wins over the concatenated `pieces`."""

    id: str | None
    name: str | None
    pieces: list[str] = field(default_factory=list)
    whole: str | None = None
    sent: bool = False  # its first chunk went out: the only one that carries id and name

    def arguments(self) -> str:
        return self.whole if self.whole is not None else "".join(self.pieces)


@dataclass(slots=True)
class _Item:
    """One Responses output item, as far as it has arrived. `sources` says which content came already."""

    type: str | None
    call: int | None = None  # index into the reader's calls, for function_call items
    sources: set[str] = field(default_factory=set)  # "text", "refusal", "reasoning", "summary", ...
    summary_part: int = -1


_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.text.delta"})
_TEXT_DONE = frozenset({"response.output_text.done", "response.text.done"})
_REASONING_DELTAS = frozenset({"response.reasoning_text.delta", "response.reasoning.delta"})
_REASONING_DONE = frozenset({"response.reasoning_text.done", "response.reasoning.done"})
_END_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
    "response.done": None,
}
# `incomplete_details.reason` -> the finish reason LangChain and LlamaIndex users know.
_INCOMPLETE_REASONS = {
    "max_output_tokens": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
}
_SUMMARY_SEPARATOR = "\n\n"
# An item's reasoning comes from its content or from its summaries: either one fills both.
_SAME_CONTENT = {"reasoning": ("reasoning", "summary"), "summary": ("reasoning", "summary")}


class ResponseReader:
    """Reads one answer, streamed or whole, into deltas and keeps what the final `ResponseResult` needs."""

    def __init__(self) -> None:
        self.done = False
        self.events = 0
        self._id = ""
        self._model = ""
        self._created: int | None = None
        self._text = _TextBuffer()
        self._reasoning = _TextBuffer()
        self._refusal: list[str] = []
        self._items: list[_Item] = []
        self._item_ids: dict[str, int] = {}
        self._calls: list[_Call] = []
        self._chat_calls: dict[object, int] = {}
        self._last_call: int | None = None
        self._chat_content = False  # content came as chat deltas: output items would repeat it
        self._usage: Usage | None = None
        self._raw: dict[str, Any] | None = None  # the final payload, or the whole JSON body
        self._raw_usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._status: str | None = None
        self._server_calls: list[ServerToolCall] = []
        self._citations: list[Citation] = []
        self._route: str | None = None
        self._quota: Quota | None = None

    def read_headers(self, headers: Mapping[str, str]) -> None:
        """The answer's headers (a case-insensitive mapping): the router's route and the quota left."""
        found = quota_headers(headers, ROUTE_HEADER)  # one pass over the headers for both
        self._route = found.pop(ROUTE_HEADER, None) or None
        self._quota = quota_from(found)

    # -- input -------------------------------------------------------------------------------------
    def feed(self, data: str) -> list[StreamDelta]:
        """Read one SSE event's data. Raises `StreamError` (with the partial result) on bad input."""
        if self.done:
            return []  # anything after the end (a `[DONE]` after `response.completed`, noise) is ignored
        payload = data.strip()
        if not payload:
            return []
        if payload == "[DONE]":
            return self._end(None)
        try:
            event = json.loads(payload)
        except ValueError:
            raise self.error(
                f"Malformed JSON in stream event: {payload[:200]!r}", StreamValidationError
            ) from None
        if not isinstance(event, dict):
            raise self.error(f"Stream event is not a JSON object: {payload[:200]!r}", StreamValidationError)
        self.events += 1
        kind = event.get("type")
        try:
            if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
                return self._typed(kind, event)
            if event.get("error"):
                raise self.error(_error_message(event.get("error")), ResponseFailedError)
            return self._chunk(event)
        except GradientError:
            raise
        except _SHAPE_ERRORS as exc:
            # Valid JSON of a shape no dialect documents (a string where an object belongs, an unhashable
            # index): a typed stream error that keeps what arrived, never a bare TypeError from in here.
            message = f"Stream event of an unexpected shape ({exc}): {payload[:200]!r}"
            raise self.error(message, StreamValidationError) from exc

    def feed_body(self, body: dict[str, Any]) -> list[StreamDelta]:
        """Read a whole JSON body: the same path as a stream's final event, so both give one result.

        A body that carries an error object and does not say it completed (`{"error": {...}}` with a 200,
        or `"status": "failed"`) raises `ResponseFailedError`, as the same object does inside a stream.
        """
        error = body.get("error")
        if error and body.get("status") != "completed":
            raise self.error(_error_message(error), ResponseFailedError)
        try:
            return self._final(body, None)
        except GradientError:
            raise
        except _SHAPE_ERRORS as exc:
            message = f"Response body of an unexpected shape ({exc}): {json.dumps(body)[:200]!r}"
            raise APIResponseValidationError(message) from exc

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
        """Everything read so far (the `partial` of a failed stream)."""
        calls = [
            ToolCall(id=call.id or f"call_{index}", name=call.name or "", arguments=call.arguments())
            for index, call in enumerate(self._calls)
        ]
        return ResponseResult(
            id=self._id,
            model=self._model,
            created=self._created,
            text=self._text.value(),
            reasoning=self._reasoning.value(),
            refusal="".join(self._refusal),
            tool_calls=calls,
            usage=self._usage,
            finish_reason=self._finish_reason,
            status=self._status,
            server_tool_calls=list(self._server_calls),
            citations=list(self._citations),
            route=self._route,
            quota=self._quota,
            raw=self._raw if self._raw is not None else self._chunk_raw(),
        )

    def _chunk_raw(self) -> dict[str, Any]:
        """`raw` for an answer with no final payload (DO's chunk stream): its id, model and usage."""
        raw: dict[str, Any] = {"id": self._id, "object": "response", "model": self._model}
        if self._raw_usage is not None:
            raw["usage"] = self._raw_usage
        return raw

    def result(self) -> ResponseResult:
        """The final result; raises `StreamError` if the answer never reached its end."""
        if not self.done:
            raise self.error("Stream ended before [DONE] or response.completed")
        return self.snapshot()

    def error(self, message: str, cls: type[StreamError] = StreamError) -> StreamError:
        return cls(message, partial=self.snapshot())

    # -- dialect (a): response.chunk / chat chunks -------------------------------------------------
    def _chunk(self, chunk: dict[str, Any]) -> list[StreamDelta]:
        self._meta(chunk)
        deltas: list[StreamDelta] = []
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                deltas.extend(self._choice(choice))
        self._take_usage(chunk.get("usage"))
        return deltas

    def _choice(self, choice: dict[str, Any], *, fill: bool = False) -> list[StreamDelta]:
        """A chat `delta` or whole `message`; with `fill`, only the parts no output item supplied."""
        if not fill:
            self._chat_content = True
        whole = "delta" not in choice
        message = _object(choice.get("delta") if not whole else choice.get("message"), "choices[].delta")
        deltas: list[StreamDelta] = []
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and not (fill and self._reasoning):
            deltas.extend(self._add_reasoning(reasoning))
        content = message.get("content")
        if isinstance(content, str) and not (fill and self._text):
            deltas.extend(self._add_text(content))
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal and not (fill and self._refusal):
            self._refusal.append(refusal)
        annotations = _list(message.get("annotations"), "choices[].message.annotations")
        if annotations and not (fill and self._citations):
            deltas.extend(self._add_citations(annotations))  # OpenAI chat's nested `url_citation` form
        if not (fill and self._calls):
            for position, piece in enumerate(_list(message.get("tool_calls"), "tool_calls")):
                # A whole message lists whole calls: each entry is its own call, whatever its id.
                deltas.append(
                    self._chat_tool_piece(_object(piece, "tool_calls[]"), position if whole else None)
                )
        if choice.get("finish_reason"):
            self._finish_reason = str(choice["finish_reason"])
        return deltas

    def _chat_tool_piece(self, piece: dict[str, Any], position: int | None) -> StreamDelta:
        function = _object(piece.get("function"), "tool_calls[].function")
        call_id = _text(piece.get("id"), "tool_calls[].id") or None
        name = _text(function.get("name"), "tool_calls[].function.name")
        arguments = _text(function.get("arguments"), "tool_calls[].function.arguments") or ""
        if piece.get("index") is not None and type(piece["index"]) is not int:
            raise TypeError(f"tool_calls[].index is a {type(piece['index']).__name__}, not an integer")
        if position is not None:
            key: object = ("whole", position)
        elif piece.get("index") is not None:
            key = ("index", piece["index"])
        elif call_id is not None:
            key = ("id", call_id)
        else:  # DO's spec: a piece with neither continues the last call
            key = None if self._last_call is not None else ("anonymous", len(self._calls))
        index = self._last_call if key is None else self._chat_calls.get(key)
        if index is None:
            index = self._chat_calls[key] = self._new_call(call_id, name)
        call = self._calls[index]
        call.id, call.name, call.sent = call.id or call_id, call.name or name, True
        call.pieces.append(arguments)
        self._last_call = index
        # Chat pieces go out as they come, the id and name only on the piece that brought them.
        return StreamDelta("tool_call", tool_call=ToolCallChunk(index, call_id, name, arguments))

    # -- dialect (b): typed response.* events -----------------------------------------------------
    def _typed(self, kind: str, event: dict[str, Any]) -> list[StreamDelta]:
        if kind in _TEXT_DELTAS:
            item = self._item_for(event, "message")
            item.sources.add("text")
            return self._add_text(str(event.get("delta") or ""))
        if kind in _REASONING_DELTAS:
            return self._reasoning_delta(self._item_for(event, "reasoning"), "reasoning", event)
        if kind == "response.reasoning_summary_text.delta":
            return self._reasoning_delta(self._item_for(event, "reasoning"), "summary", event)
        if kind == "response.function_call_arguments.delta":
            call = self._typed_call(self._item_for(event, "function_call"), {})
            call.pieces.append(str(event.get("delta") or ""))
            return []
        if kind == "response.output_item.added":
            body = _item_body(event)
            item = self._item_for(event, body.get("type"), body)
            if body.get("type") == "function_call":
                self._typed_call(item, body)
            return []
        if kind == "response.output_item.done":
            body = _item_body(event)
            return self._whole_item(self._item_for(event, body.get("type"), body), body)
        if kind in _TEXT_DONE:
            return self._fill(self._item_for(event, "message"), "text", event.get("text"))
        if kind in _REASONING_DONE:
            return self._fill(self._item_for(event, "reasoning"), "reasoning", event.get("text"))
        if kind == "response.output_text.annotation.added":
            item = self._item_for(event, "message")
            item.sources.add("annotations")
            return self._add_citations([event.get("annotation")])
        if kind == "response.refusal.delta":
            self._item_for(event, "message").sources.add("refusal")
            self._refusal.append(str(event.get("delta") or ""))
            return []
        if kind == "response.refusal.done":
            return self._fill(self._item_for(event, "message"), "refusal", event.get("refusal"))
        if kind == "response.function_call_arguments.done":
            return self._whole_call(self._item_for(event, "function_call"), event)
        if kind in ("response.created", "response.in_progress", "response.queued"):
            response = event.get("response")
            if isinstance(response, dict):
                self._meta(response)
            return []
        if kind in _END_EVENTS:
            return self._final(_object(event.get("response"), f"{kind}.response"), _END_EVENTS[kind])
        if kind == "error":
            raise self.error(_error_message(event.get("error") or event), ResponseFailedError)
        return []  # informational events (content_part.*, *_part.*, tool progress, unknown types)

    def _reasoning_delta(self, item: _Item, source: str, event: dict[str, Any]) -> list[StreamDelta]:
        # An item gives its reasoning from one source: content (`reasoning_text`) or its summaries.
        other = "summary" if source == "reasoning" else "reasoning"
        if other in item.sources:
            return []
        item.sources.add(source)
        text = str(event.get("delta") or "")
        if source == "summary":
            part = event.get("summary_index")
            if isinstance(part, int) and part != item.summary_part:
                if item.summary_part >= 0 and text:
                    text = _SUMMARY_SEPARATOR + text
                item.summary_part = part
        return self._add_reasoning(text)

    # -- the item table ----------------------------------------------------------------------------
    def _item_for(self, event: dict[str, Any], kind: Any, body: dict[str, Any] | None = None) -> _Item:
        """The item an event is about: by `output_index`, else by a known item id, else by arrival."""
        position = event.get("output_index")
        if type(position) is int and 0 <= position < len(self._items) and body is None:
            item = self._items[position]  # the hot path: a delta for an item already known
            if item.type is None and isinstance(kind, str):
                item.type = kind
            return item
        item_id = event.get("item_id") or (body or {}).get("id")
        if not isinstance(position, int) or position < 0:
            position = self._item_ids.get(item_id) if isinstance(item_id, str) else None
        if position is None:
            # No position given: a delta continues the last item of its kind; a whole item is the next one.
            last = self._items[-1] if self._items else None
            same = last is not None and last.type in (None, kind)
            position = len(self._items) - 1 if body is None and same else len(self._items)
        return self._item_at(position, kind, item_id)

    def _item_at(self, position: int, kind: Any, item_id: Any) -> _Item:
        while len(self._items) <= position:
            self._items.append(_Item(type=None))
        item = self._items[position]
        if item.type is None and isinstance(kind, str):
            item.type = kind
        if isinstance(item_id, str) and item_id not in self._item_ids:
            self._item_ids[item_id] = position
        return item

    def _typed_call(self, item: _Item, body: dict[str, Any]) -> _Call:
        """The call of a function_call item, made on its first event (the first id and name seen win)."""
        if item.call is None:
            call_id = body.get("call_id") or body.get("id")
            item.call = self._new_call(call_id if isinstance(call_id, str) else None, body.get("name"))
        call = self._calls[item.call]
        if call.name is None and isinstance(body.get("name"), str):
            call.name = body["name"]
        return call

    def _whole_call(self, item: _Item, body: dict[str, Any]) -> list[StreamDelta]:
        """A complete copy of a call: its arguments win over the deltas, and the call goes out whole.

        Typed streams send each call as one chunk, once a complete copy arrives (`arguments.done`,
        `output_item.done`, or the final payload): vLLM's argument deltas do not always add up to the
        arguments it reports (`{}` then `{"text": ...}`), and a chunk cannot take back what it sent.
        """
        call = self._typed_call(item, body)
        arguments = body.get("arguments")
        if call.whole is None and isinstance(arguments, str) and arguments:
            call.whole = arguments
        return self._send_call(item.call) if item.call is not None else []

    def _whole_item(self, item: _Item, body: dict[str, Any]) -> list[StreamDelta]:
        """A whole item (`output_item.done`, a final payload, a JSON body): fills in what has not arrived."""
        kind = body.get("type") or item.type
        if kind == "function_call":
            return self._whole_call(item, body)
        if isinstance(kind, str) and kind not in CONTENT_ITEM_TYPES:
            return self._server_item(item, body)
        if kind == "text":  # the Stainless SDK's bare `{"type": "text", "text": ...}` item
            return self._fill(item, "text", body.get("text"))
        content = body.get("content")
        if isinstance(content, str):
            return self._fill(item, "reasoning" if kind == "reasoning" else "text", content)
        texts: list[str] = []
        reasoning: list[str] = []
        refusals: list[str] = []
        annotations: list[Any] = []
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            if part.get("annotations"):  # usually an empty list: skip the check's call
                annotations.extend(_list(part["annotations"], "content[].annotations"))
            if isinstance(part.get("refusal"), str):
                refusals.append(part["refusal"])
            elif isinstance(part.get("text"), str):
                # An item without `type` (the DO docs' elided example) is told apart by its parts.
                is_reasoning = part.get("type") == "reasoning_text" or kind == "reasoning"
                (reasoning if is_reasoning else texts).append(part["text"])
        deltas = self._fill(item, "reasoning", "".join(reasoning) if reasoning else None)
        if kind == "reasoning" and not reasoning:
            summaries = [p.get("text") for p in body.get("summary") or () if isinstance(p, dict)]
            texts_only = [text for text in summaries if isinstance(text, str)]
            if texts_only:
                deltas += self._fill(item, "summary", _SUMMARY_SEPARATOR.join(texts_only))
        deltas += self._fill(item, "text", "".join(texts) if texts else None)
        deltas += self._fill(item, "refusal", "".join(refusals) if refusals else None)
        if annotations and "annotations" not in item.sources:
            item.sources.add("annotations")  # a stream's annotation events came first, or these count
            deltas += self._add_citations(annotations)
        return deltas

    def _server_item(self, item: _Item, body: dict[str, Any]) -> list[StreamDelta]:
        """A built-in tool's item: kept from its first whole copy (later copies repeat it)."""
        if "server" in item.sources or not body:
            return []
        item.sources.add("server")
        call = server_tool_call(body)
        self._server_calls.append(call)
        return [StreamDelta("server_tool", server_tool=call)]

    def _add_citations(self, annotations: list[Any]) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        for annotation in annotations:
            if isinstance(annotation, dict) and annotation.get("type"):  # an untyped one says nothing
                found = citation(annotation)
                self._citations.append(found)
                deltas.append(StreamDelta("citation", citation=found))
        return deltas

    def _fill(self, item: _Item, source: str, value: Any) -> list[StreamDelta]:
        """Content from a whole copy: taken only if nothing of its kind arrived for this item yet."""
        if not isinstance(value, str) or not value:
            return []
        if any(name in item.sources for name in _SAME_CONTENT.get(source, (source,))):
            return []
        item.sources.add(source)
        if source == "text":
            return self._add_text(value)
        if source in ("reasoning", "summary"):
            return self._add_reasoning(value)
        self._refusal.append(value)  # refusal
        return []

    # -- the end -----------------------------------------------------------------------------------
    def _final(self, response: dict[str, Any], status: str | None) -> list[StreamDelta]:
        """A final event's `response`, or a whole JSON body: every item once, usage, the finish state."""
        _check_shape(response)
        self._meta(response)
        self._raw = response
        deltas: list[StreamDelta] = []
        output = response.get("output") if not self._chat_content else None
        for position, body in enumerate(output if isinstance(output, list) else ()):
            if isinstance(body, dict):
                item = self._item_at(position, body.get("type"), None)
                deltas += self._whole_item(item, body)
        choices = response.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            deltas += self._choice(choices[0], fill=True)
        self._take_usage(response.get("usage"))
        status = response.get("status") or status
        details = response.get("incomplete_details")
        if status is None and isinstance(details, dict) and details:
            status = "incomplete"  # no status, but the details say the answer was cut
        if status == "failed":
            error = response.get("error") or "the server reported status 'failed'"
            raise self.error(_error_message(error), ResponseFailedError)
        if status == "incomplete" and self._finish_reason is None:
            reason = details.get("reason") if isinstance(details, dict) else None
            self._finish_reason = _INCOMPLETE_REASONS.get(str(reason), str(reason) if reason else "length")
        return deltas + self._end(status if isinstance(status, str) else None)

    def _end(self, status: str | None) -> list[StreamDelta]:
        self.done = True
        deltas = [delta for index in range(len(self._calls)) for delta in self._send_call(index)]
        finish = self._finish_reason
        if finish is None:
            if status == "incomplete":
                finish = "length"
            elif status == "cancelled":
                finish = "error"
            else:
                finish = "tool_calls" if self._calls else "stop"
        if status is None:
            status = {"length": "incomplete", "error": "failed"}.get(finish, "completed")
        self._finish_reason, self._status = finish, status
        return [*deltas, StreamDelta("finish", usage=self._usage, finish_reason=finish)]

    # -- shared helpers ----------------------------------------------------------------------------
    def _meta(self, response: dict[str, Any]) -> None:
        if self._id and self._model and self._created is not None:
            return  # known already: every DO chunk repeats them
        if response.get("id") and not self._id:
            self._id = str(response["id"])
        if response.get("model") and not self._model:
            self._model = str(response["model"])
        created = (
            response.get("created") if response.get("created") is not None else response.get("created_at")
        )
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

    def _new_call(self, call_id: str | None, name: Any) -> int:
        self._calls.append(_Call(id=call_id, name=name if isinstance(name, str) else None))
        return len(self._calls) - 1

    def _send_call(self, index: int) -> list[StreamDelta]:
        call = self._calls[index]
        if call.sent:
            return []
        call.sent = True
        chunk = ToolCallChunk(index, call.id, call.name, call.arguments())
        return [StreamDelta("tool_call", tool_call=chunk)]

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict) and usage:
            self._raw_usage = usage
            self._usage = parse_usage(usage)


def _check_shape(response: dict[str, Any]) -> None:
    """The documented types of the fields a result is built from (OpenAI's Response, DO's chunk).

    A body that breaks them is not an answer we can trust to be complete, so it is refused (TypeError,
    made a typed error by the caller) rather than read as an empty one. Runs once per answer: kept cheap.
    """
    for name in ("id", "model", "status"):
        value = response.get(name)
        if value is not None and type(value) is not str:
            raise TypeError(f"'{name}' is a {type(value).__name__}, not a string")
    output = response.get("output")
    if output is not None:
        if type(output) is not list:
            raise TypeError(f"'output' is a {type(output).__name__}, not a list")
        for position, item in enumerate(output):
            if type(item) is not dict:
                raise TypeError(f"output[{position}] is a {type(item).__name__}, not an object")
    for name, kind in (("choices", list), ("usage", dict)):
        value = response.get(name)
        if value is not None and type(value) is not kind:
            raise TypeError(f"'{name}' is a {type(value).__name__}, not a {kind.__name__}")


def _item_body(event: dict[str, Any]) -> dict[str, Any]:
    item = _object(event.get("item"), "item")
    _text(item.get("name"), "item.name")
    return item


# Checks of the fields the reader relies on. Absent (None) is fine; a value of another type raises
# TypeError, which `feed` / `feed_body` turn into the typed error with what arrived so far.
def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{where} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{where} is a {type(value).__name__}, not a list")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where} is a {type(value).__name__}, not a string")
    return value


def parse_response(raw: dict[str, Any]) -> ResponseResult:
    """Read a whole (non-streaming) body into a `ResponseResult`, through the one reader."""
    reader = ResponseReader()
    reader.feed_body(raw)
    return reader.result()


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
    written = 0
    if not _CACHE_WRITTEN.isdisjoint(usage) or not _CACHE_WRITTEN.isdisjoint(input_details):
        written = _first(input_details, usage) or _ephemeral(usage)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total,
        cached_tokens=cached,
        reasoning_tokens=_int(output_details.get("reasoning_tokens")),
        cache_creation_tokens=written,
    )


# Prompt-cache counts under every name they arrive by. Reads: OpenAI's `input_tokens_details.cached_tokens`,
# DO's chat usage and Anthropic's `cache_read_input_tokens`. Writes: DO's chat usage (`completion_usage.yml`)
# `cache_created_input_tokens`, Anthropic's `cache_creation_input_tokens` and `cache_creation.ephemeral_*`.
# Checked for first (C-speed set tests): most answers carry none, and this runs on every one.
_CACHE_WRITE_NAMES = (
    "cache_creation_input_tokens",
    "cache_created_input_tokens",
    "cache_creation_tokens",
    "cache_write_tokens",
)
_CACHE_WRITTEN = frozenset({*_CACHE_WRITE_NAMES, "cache_creation"})


def _first(details: dict[str, Any], usage: dict[str, Any]) -> int:
    for source in (details, usage):
        for name in _CACHE_WRITE_NAMES:
            value = _int(source.get(name))
            if value:
                return value
    return 0


def _ephemeral(usage: dict[str, Any]) -> int:
    """Anthropic's `cache_creation: {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}`, summed."""
    creation = usage.get("cache_creation")
    if not isinstance(creation, dict):
        return 0
    return sum(_int(value) for key, value in creation.items() if key.startswith("ephemeral_"))


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or json.dumps(error)[:300]
        code = error.get("code") or error.get("type") or error.get("id")
        return f"Stream error: {message}" + (f" ({code})" if code and code != "error" else "")
    return f"Stream error: {error}"
