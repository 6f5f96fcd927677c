"""One model answer, written out three ways: a non-streamed body and a stream in each SSE dialect.

`Answer` holds what a model said (reasoning pieces, text pieces, tool calls in argument pieces, usage,
how it ended). `body()` is the non-streamed `/v1/responses` JSON; `do_stream()` is DO's `response.chunk`
dialect and `typed_stream()` the vLLM/OpenAI typed-event dialect, both as SSE bytes with the framing
knobs real servers vary (line ends, comments and keep-alives, `event:`/`id:`/`retry:` lines, multi-line
`data`, `data:` without a space, empty `choices`, unknown event types, a second `[DONE]`). A correct
core gives the same `ResponseResult` for all three; `answers()` and `framings()` draw them for hypothesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import strategies as st

from ._support import sse_event

# Characters that break naive decoders: multi-byte UTF-8 of every width, and the code points that
# str.splitlines() (but not SSE) treats as line breaks. JSON leaves the latter unescaped.
TRICKY = [
    "é",
    "日本語",
    "😀",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b",
    "\x1c",
    "a\r\nb",
    "\r",
    "\n\n",
    "data: x",
    "[DONE]",
]


@dataclass
class Call:
    id: str
    name: str
    pieces: list[str]

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


@dataclass
class Answer:
    id: str = "resp_1"
    model: str = "openai-gpt-oss-20b"
    created: int = 1721596428
    reasoning: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    usage: dict[str, int] | None = None
    cut_short: bool = False  # ended by max_output_tokens

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else ("length" if self.cut_short else "stop")

    # -- the non-streamed body ---------------------------------------------------------------------
    def output(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if self.reasoning:
            part = {"type": "reasoning_text", "text": "".join(self.reasoning)}
            items.append({"type": "reasoning", "id": "rs_1", "summary": [], "content": [part]})
        if self.text:
            part = {"type": "output_text", "text": "".join(self.text), "annotations": []}
            items.append({"type": "message", "id": "msg_1", "role": "assistant", "content": [part]})
        for number, call in enumerate(self.calls):
            items.append(
                {
                    "type": "function_call",
                    "id": f"fc_{number}",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
        return items

    def responses_usage(self) -> dict[str, Any] | None:
        if self.usage is None:
            return None
        usage = self.usage
        return {
            "input_tokens": usage["input"],
            "input_tokens_details": {"cached_tokens": usage["cached"]},
            "output_tokens": usage["output"],
            "output_tokens_details": {"reasoning_tokens": usage["reasoning"], "tool_output_tokens": 0},
            "total_tokens": usage["input"] + usage["output"],
        }

    def chat_usage(self) -> dict[str, Any] | None:
        if self.usage is None:
            return None
        usage = self.usage
        return {
            "prompt_tokens": usage["input"],
            "prompt_tokens_details": {"cached_tokens": usage["cached"]},
            "completion_tokens": usage["output"],
            "completion_tokens_details": {"reasoning_tokens": usage["reasoning"]},
            "total_tokens": usage["input"] + usage["output"],
        }

    def body(self, *, created_key: str = "created") -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            created_key: self.created,
            "model": self.model,
            "status": "incomplete" if self.finish_reason == "length" else "completed",
            "output": self.output(),
        }
        if self.finish_reason == "length":
            body["incomplete_details"] = {"reason": "max_output_tokens"}
        if self.usage is not None:
            body["usage"] = self.responses_usage()
        return body

    # -- dialect (a): DO response.chunk ------------------------------------------------------------
    def do_events(self, framing: Framing) -> list[dict[str, Any] | str]:
        """Chunk payloads (and keep-alive markers "KEEPALIVE") in send order, ending with [DONE]."""
        head = {"id": self.id, "object": "response.chunk", "created": self.created, "model": self.model}
        if framing.unknown_fields:
            head["x_server_hint"] = {"shard": 3}

        def chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return {**head, "choices": [{"index": 0, "delta": delta, **extra}], "usage": None}

        events: list[dict[str, Any] | str] = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"reasoning_content": piece}) for piece in self.reasoning]
        events += [chunk({"content": piece}) for piece in self.text]
        for number, call in enumerate(self.calls):
            for position, piece in enumerate(call.pieces or [""]):
                tool: dict[str, Any] = {"function": {"arguments": piece}}
                if position == 0:
                    tool = {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": piece},
                    }
                if framing.tool_index:
                    tool["index"] = number
                events.append(chunk({"tool_calls": [tool]}))
            if framing.keepalives:
                events.append({**head, "choices": []})  # an empty-choices chunk mid-stream
        events.append(chunk({}, finish_reason=self.finish_reason))
        if self.usage is not None:
            usage = self.chat_usage() if framing.chat_usage else self.responses_usage()
            events.append({**head, "choices": [], "usage": usage})
        events.append("[DONE]")
        if framing.double_done:
            events.append("[DONE]")
        return events

    def do_stream(self, framing: Framing) -> bytes:
        return framing.encode([(None, event) for event in self.do_events(framing)])

    # -- dialect (b): vLLM/OpenAI typed events -----------------------------------------------------
    def typed_events(self, framing: Framing) -> list[tuple[str, dict[str, Any]]]:
        response = {"id": self.id, "object": "response", "created_at": self.created, "model": self.model}
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": {**response, "status": "in_progress", "output": []}}),
        ]
        if framing.unknown_fields:
            events.append(("response.in_progress", {"response": {**response, "status": "in_progress"}}))
            events.append(("response.future_event.delta", {"delta": "ignored"}))
        if not framing.final_only:
            # Every event names its item's position in the final `output`, as vLLM and OpenAI do.
            position = 0
            if self.reasoning:
                for piece in self.reasoning:
                    delta = {"item_id": "rs_1", "output_index": position, "delta": piece}
                    events.append(("response.reasoning_text.delta", delta))
                position += 1
            if self.text:
                for piece in self.text:
                    delta = {"item_id": "msg_1", "output_index": position, "delta": piece}
                    events.append(("response.output_text.delta", delta))
                done = {"item_id": "msg_1", "output_index": position, "text": "".join(self.text)}
                events.append(("response.output_text.done", done))
                position += 1
            for number, item in enumerate(self.output()[position:]):
                added = {**item, "arguments": ""}
                index = position + number
                events.append(("response.output_item.added", {"output_index": index, "item": added}))
                for piece in self.calls[number].pieces:
                    delta = {"item_id": item["id"], "output_index": index, "delta": piece}
                    events.append(("response.function_call_arguments.delta", delta))
                events.append(("response.output_item.done", {"output_index": index, "item": item}))
        final = {k: v for k, v in self.body(created_key="created_at").items() if k != "usage"}
        final["usage"] = self.responses_usage()
        end = "response.incomplete" if self.finish_reason == "length" else "response.completed"
        events.append((end, {"response": final}))
        return [
            (kind, {"type": kind, "sequence_number": n, **payload})
            for n, (kind, payload) in enumerate(events)
        ]

    def typed_stream(self, framing: Framing) -> bytes:
        events: list[tuple[str | None, dict[str, Any] | str]] = list(self.typed_events(framing))
        if framing.double_done:
            events.append((None, "[DONE]"))  # not sent by vLLM/OpenAI, but harmless after the end event
        return framing.encode(events)


@dataclass
class Framing:
    """How the SSE bytes are laid out; none of it may change the assembled result."""

    eol: Literal["\n", "\r\n", "\r"] = "\n"
    comments: bool = False  # `: keep-alive` blocks between events and comment lines inside them
    event_lines: bool = False  # `event: <type>` and `id:` lines before `data:`
    multiline_data: bool = False  # pretty-printed JSON spread over several `data:` lines
    keepalives: bool = False  # empty-choices chunks mid-stream (DO dialect)
    tool_index: bool = False  # chat-style `index` on tool-call pieces (DO's spec has none)
    chat_usage: bool = False  # prompt_tokens/completion_tokens naming on the usage chunk
    unknown_fields: bool = False  # extra keys and unknown event types
    double_done: bool = False  # a second `data: [DONE]`
    final_only: bool = False  # typed dialect: only response.completed carries the answer
    compact_data: bool = False  # `data:` with no space before the value
    retry_lines: bool = False  # `retry:` fields, alone and inside events
    ping_events: bool = False  # an untyped-dialect `{"type": "ping"}` event between the others

    def encode(self, events: list[tuple[str | None, dict[str, Any] | str]]) -> bytes:
        eol = self.eol
        out: list[str] = []
        if self.comments:
            out.append(f": keep-alive{eol}{eol}")
        if self.retry_lines:
            out.append(f"retry: 1500{eol}{eol}")
        for number, (kind, payload) in enumerate(events):
            if self.ping_events and number == 1:
                out.append(sse_event(json.dumps({"type": "ping"}), eol=eol))
            if isinstance(payload, str):
                out.append(sse_event(payload, eol=eol))
                continue
            data = json.dumps(payload, ensure_ascii=False, indent=1 if self.multiline_data else None)
            block = sse_event(data, event=kind if self.event_lines else None, eol=eol)
            if self.event_lines:
                block = f"id: {number}{eol}" + block
            if self.retry_lines:
                block = f"retry: {1000 + number}{eol}" + block
            if self.comments:
                block = f": ping {number}{eol}" + block + f":{eol}{eol}"
            out.append(block)
        text = "".join(out)
        if self.compact_data:  # every `data: ` starts a line (JSON escapes line breaks inside values)
            text = text.replace(f"{eol}data: ", f"{eol}data:")
            text = "data:" + text[6:] if text.startswith("data: ") else text
        return text.encode("utf-8")


# -- strategies --------------------------------------------------------------------------------------
pieces = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(TRICKY)), max_size=5)
_names = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    call_count = draw(st.integers(0, 3))
    calls = [
        Call(id=f"call_{n}_{draw(_names)}", name=draw(_names), pieces=draw(pieces)) for n in range(call_count)
    ]
    counts = st.integers(0, 5000)
    usage = draw(
        st.none()
        | st.fixed_dictionaries({"input": counts, "output": counts, "cached": counts, "reasoning": counts})
    )
    return Answer(
        id=draw(st.sampled_from(["resp_1", "response-abc123def456"])),
        created=draw(st.integers(0, 2**31)),
        reasoning=draw(pieces),
        text=draw(pieces),
        calls=calls,
        usage=usage,
        cut_short=draw(st.booleans()),
    )


framings = st.builds(
    Framing,
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    comments=st.booleans(),
    event_lines=st.booleans(),
    multiline_data=st.booleans(),
    keepalives=st.booleans(),
    tool_index=st.booleans(),
    chat_usage=st.booleans(),
    unknown_fields=st.booleans(),
    double_done=st.booleans(),
    final_only=st.booleans(),
    compact_data=st.booleans(),
    retry_lines=st.booleans(),
    ping_events=st.booleans(),
)
