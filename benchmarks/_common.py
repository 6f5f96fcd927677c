"""Shared by every benchmark: the one canned answer, in-process transports, timing, and result records.

Fairness rests on this module. Every contender gets byte-for-byte the same answer for its endpoint:
`responses_body` for `/v1/responses` (a full OpenAI-shaped Response, which is also what DO documents),
`chat_completion_body` for `/v1/chat/completions`, and for streams the same text pieces framed as DO
`response.chunk` events, OpenAI typed `response.*` events, or `chat.completion.chunk` events. The bytes
are built once, before timing, and served by `canned_transport` (an `httpx.MockTransport` keyed by URL
path, so no contender pays for request parsing in the fake server).

Timing interleaves contenders round by round (`time_interleaved`) so drift on a shared machine hits
all of them alike, and reports medians of per-call means. Results are plain dataclasses (`Section`,
`Row`, `Target`) that `run.py` renders to Markdown and JSON.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

MODEL = "llama3.3-70b-instruct"
PROMPT = "What is the capital of France?"
ANSWER = "The capital of France is Paris."
FAKE_ROOT = "https://bench.invalid"  # in-process transports only: never resolved
FAKE_KEY = "bench-not-a-real-key"  # peers refuse to start without some key; nothing checks it
_CREATED = 1_747_247_763
_SSE = "text/event-stream"
_JSON = "application/json"


# -- the canned answer -------------------------------------------------------------------------------
def _usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12 + output_tokens,
    }


def responses_body(text: str = ANSWER) -> dict[str, Any]:
    """A complete `/v1/responses` body: valid for the openai SDK's `Response` and for DO's schema."""
    return {
        "id": "resp_bench",
        "object": "response",
        "created_at": _CREATED,
        "model": MODEL,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "output": [
            {
                "type": "message",
                "id": "msg_bench",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": _usage(max(1, len(text.split()))),
    }


def chat_completion_body(text: str = ANSWER) -> dict[str, Any]:
    """The same answer as a `/v1/chat/completions` body."""
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": _CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": len(text.split()), "total_tokens": 20},
    }


def answer_pieces(count: int) -> list[str]:
    """`count` stream pieces: words alternating with single spaces, `w0`, ` `, `w1`, ` `, ...

    LangChain's `GenericFakeChatModel` splits its answer with `re.split(r"(\\s)", text)`, so given
    `"".join(pieces)` it streams these very pieces (plus one empty closing piece when `count` is even,
    which matches the closing finish chunk every real stream below ends with).
    """
    return [f"w{index // 2}" if index % 2 == 0 else " " for index in range(count)]


def _sse(payloads: Iterator[dict[str, Any]], *, done: bool) -> bytes:
    parts = [f"data: {json.dumps(payload, separators=(',', ':'))}\n\n" for payload in payloads]
    if done:
        parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def do_stream(pieces: Sequence[str]) -> bytes:
    """DO's documented `response.chunk` stream: one delta per piece, a finish chunk, a usage chunk."""
    head = {"id": "resp_bench", "object": "response.chunk", "created": _CREATED, "model": MODEL}

    def events() -> Iterator[dict[str, Any]]:
        for piece in pieces:
            yield {**head, "choices": [{"index": 0, "delta": {"content": piece}}]}
        yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield {**head, "choices": [], "usage": _usage(len(pieces))}

    return _sse(events(), done=True)


def chat_stream(pieces: Sequence[str]) -> bytes:
    """The same pieces as `chat.completion.chunk` events (chat-completions clients)."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": _CREATED, "model": MODEL}

    def events() -> Iterator[dict[str, Any]]:
        for piece in pieces:
            yield {**head, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        usage = {"prompt_tokens": 12, "completion_tokens": len(pieces), "total_tokens": 12 + len(pieces)}
        yield {**head, "choices": [], "usage": usage}

    return _sse(events(), done=True)


def typed_stream(pieces: Sequence[str]) -> bytes:
    """The same pieces as OpenAI/vLLM typed Responses events (what the openai SDK's stream expects)."""
    final = responses_body("".join(pieces))
    final["usage"] = _usage(len(pieces))
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    item = {"type": "message", "id": "msg_bench", "role": "assistant", "status": "in_progress", "content": []}
    where = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}

    def events() -> Iterator[dict[str, Any]]:
        yield {"type": "response.created", "response": started}
        yield {"type": "response.output_item.added", "output_index": 0, "item": item}
        part = {"type": "output_text", "text": "", "annotations": []}
        yield {"type": "response.content_part.added", **where, "part": part}
        for piece in pieces:
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": "".join(pieces), "logprobs": []}
        yield {"type": "response.output_item.done", "output_index": 0, "item": final["output"][0]}
        yield {"type": "response.completed", "response": final}

    numbered = ({**event, "sequence_number": number} for number, event in enumerate(events()))
    return _sse(numbered, done=False)


# -- in-process transport ----------------------------------------------------------------------------
class SlicedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Prebuilt bytes handed out in network-sized slices, as a socket would, for sync and async clients."""

    def __init__(self, data: bytes, slice_size: int = 16_384) -> None:
        self._data = data
        self._slice = slice_size

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._data), self._slice):
            yield self._data[start : start + self._slice]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), self._slice):
            yield self._data[start : start + self._slice]


def canned_transport(routes: Mapping[str, bytes], *, stream: bool = False) -> httpx.MockTransport:
    """Serve `routes[url.path]` for any request: JSON bodies, or SSE (sliced) when `stream`."""
    content_type = _SSE if stream else _JSON

    def handle(request: httpx.Request) -> httpx.Response:
        body = routes[request.url.path]
        headers = {"content-type": content_type}
        if stream:
            return httpx.Response(200, headers=headers, stream=SlicedBody(body))
        return httpx.Response(200, headers=headers, content=body)

    return httpx.MockTransport(handle)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# -- timing ------------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no samples: run at least one round")
    return float(statistics.median(values))


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf")


def time_interleaved(
    contenders: Mapping[str, Callable[[], object]], *, rounds: int, batch: int
) -> dict[str, list[float]]:
    """Seconds per call for each contender: one sample per round, each the mean over `batch` calls."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(batch):
                call()
            samples[name].append((time.perf_counter() - started) / batch)
    return samples


# -- result records ----------------------------------------------------------------------------------
@dataclass
class Row:
    """One contender's figures; `values` keys match the section's column keys."""

    contender: str
    values: dict[str, float]
    note: str = ""


@dataclass
class Target:
    """A stated goal, `measured <= limit` to be met."""

    description: str
    measured: float
    limit: float
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.measured <= self.limit


@dataclass
class Column:
    key: str
    header: str
    digits: int = 2


@dataclass
class Section:
    """One measurement's table, its targets and the notes that explain any cost."""

    key: str
    title: str
    method: str
    columns: list[Column]
    rows: list[Row]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, contender: str) -> Row:
        for row in self.rows:
            if row.contender == contender:
                return row
        raise KeyError(f"no row for contender {contender!r} in section {self.key!r}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = [{**asdict(target), "met": target.met} for target in self.targets]
        return data
