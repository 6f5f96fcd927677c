"""Measurement 8: streaming a long answer through LlamaIndex, against llama-index-core's own floor.

Every LlamaIndex stream response carries the whole text so far (`message.content`), and llama-index's
own LLMs build it as they yield (`content += delta`): a copy of everything so far per delta, O(n²) for an
answer of n characters. `GradientLLM` reads that text from the core stream only when a response's content
is used, so a consumer of `delta` (printing, forwarding, query engines' token generators) streams in O(n).

The answer is 0.5, 1 and 2 MiB of text in 64-character deltas (8,192 to 32,768 deltas), the same pieces
for every contender: ours read them as DO `response.chunk` events from an `httpx.MockTransport` (prebuilt
SSE bytes in 16 KiB slices, no sockets), the llama-index floor (`_floors.FixedAnswerLLM`, the least a
LlamaIndex `CustomLLM` does: `text += piece` and a `ChatResponse` per piece, through llama-index-core's
callbacks) hands out the prebuilt pieces with no HTTP at all. Each contender's text is checked against
the answer before anything is timed; timed runs count characters and keep nothing. Two consumers: one
reads `delta` only; the other reads `message.content` of every response (as llama-index's `FunctionAgent`
does), which costs a copy of the text so far per response whoever builds it. Timing: interleaved rounds,
median. Linear means: the cost per delta grows from the smallest to the largest answer by at most 1.25x
what our core's grows (the core is O(n), measured in the same rounds, so machine drift divides out).

Memory: tracemalloc peak above the baseline taken just before the stream starts, at the largest size, in
multiples of the answer (the prebuilt SSE bytes and pieces exist before the baseline and do not count).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.llama_index import GradientLLM

from ._common import (
    FAKE_KEY,
    MODEL,
    PROMPT,
    Column,
    Row,
    Section,
    Target,
    canned_transport,
    do_stream,
    median,
    ratio,
    time_interleaved,
)
from ._floors import llama_index_floor

ROOT = "http://127.0.0.1:9"  # loopback, so the core sends the key over http; never dialled (mock transport)
PIECE = 64  # characters per delta

CORE = "ours: core ResponsesClient.stream (HTTP + SSE + JSON, keeps the text once)"
LLM = "ours: GradientLLM.stream_chat"
LLM_ASYNC = "ours: GradientLLM.astream_chat"
LLM_COMPLETE = "ours: GradientLLM.stream_complete"
FLOOR = "llama-index floor: CustomLLM.stream_chat, content += delta (no HTTP)"
LLM_CONTENT = "ours: GradientLLM.stream_chat, reading message.content every time"
FLOOR_CONTENT = "llama-index floor, reading message.content every time"


def answer(size: int) -> list[str]:
    """`size` characters in PIECE-character pieces."""
    return [f"{index:07d} ".ljust(PIECE, "x") for index in range(size // PIECE)]


FLOOR_OF = {LLM_CONTENT: FLOOR_CONTENT, FLOOR_CONTENT: FLOOR_CONTENT}  # else FLOOR


def _new_text(item: Any, content: bool) -> str:
    """What `item` adds to the answer: a LlamaIndex response's `delta` (or, with `content`, the end of
    its `message.content` that is new), a core delta's `text`."""
    if content:
        so_far = item.message.content or ""
        return str(so_far[len(so_far) - len(item.delta or "") :])
    text = getattr(item, "delta", None)
    return str(getattr(item, "text", "") if text is None else text)


class Consumer:
    """Reads a stream to its end; returns the text if `keep`, else counts it and keeps nothing."""

    def __init__(self, keep: bool, content: bool = False) -> None:
        self.keep, self.content = keep, content

    def __call__(self, items: Iterable[Any]) -> str | int:
        parts: list[str] = []
        count = 0
        for item in items:
            text = _new_text(item, self.content)
            count += len(text)
            if self.keep:
                parts.append(text)
        return "".join(parts) if self.keep else count

    async def read_async(self, items: AsyncIterable[Any]) -> str | int:
        parts: list[str] = []
        count = 0
        async for item in items:
            text = _new_text(item, self.content)
            count += len(text)
            if self.keep:
                parts.append(text)
        return "".join(parts) if self.keep else count


@contextmanager
def contenders(
    pieces: list[str], loop: asyncio.AbstractEventLoop, *, keep: bool = False
) -> Iterator[dict[str, Callable[[], str | int]]]:
    """One zero-argument call per contender that consumes the whole stream (see `Consumer`)."""
    transport = canned_transport({"/v1/responses": do_stream(pieces)}, stream=True)
    core = ResponsesClient(api_key=FAKE_KEY, base_url=ROOT, transport=transport)
    http, ahttp = httpx.Client(transport=transport), httpx.AsyncClient(transport=transport)
    llm = GradientLLM(model=MODEL, api_key=FAKE_KEY, base_url=ROOT, http_client=http, async_http_client=ahttp)
    floor = llama_index_floor(pieces)
    messages = [ChatMessage(role=MessageRole.USER, content=PROMPT)]
    deltas, contents = Consumer(keep), Consumer(keep, content=True)

    async def astream() -> str | int:
        return await deltas.read_async(await llm.astream_chat(messages))

    async def aclose() -> None:
        await llm.aclose()
        await ahttp.aclose()

    try:
        yield {
            CORE: lambda: deltas(core.stream(build_request(model=MODEL, input=PROMPT))),
            LLM: lambda: deltas(llm.stream_chat(messages)),
            LLM_ASYNC: lambda: loop.run_until_complete(astream()),
            LLM_COMPLETE: lambda: deltas(llm.stream_complete(PROMPT)),
            FLOOR: lambda: deltas(floor.stream_chat(messages)),
            LLM_CONTENT: lambda: contents(llm.stream_chat(messages)),
            FLOOR_CONTENT: lambda: contents(floor.stream_chat(messages)),
        }
    finally:
        loop.run_until_complete(aclose())
        llm.close()
        http.close()
        core.close()


def peak_extra_bytes(run: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline


def run(*, smoke: bool = False) -> list[Section]:
    sizes = [16 * 1024, 32 * 1024, 64 * 1024] if smoke else [2**19, 2**20, 2**21]
    rounds = 1 if smoke else 5
    seconds: dict[str, dict[int, float]] = {}
    loop = asyncio.new_event_loop()
    try:
        for size in sizes:
            pieces = answer(size)
            with contenders(pieces, loop, keep=True) as calls:
                for name, call in calls.items():
                    if call() != "".join(pieces):
                        raise AssertionError(f"{name} streamed text that differs from the answer")
            with contenders(pieces, loop) as calls:
                for name, samples in time_interleaved(calls, rounds=rounds, batch=1).items():
                    seconds.setdefault(name, {})[size] = median(samples)
        with contenders(answer(sizes[-1]), loop) as calls:
            peaks = {
                name: peak_extra_bytes(calls[name]) / sizes[-1] for name in (CORE, LLM, LLM_COMPLETE, FLOOR)
            }
    finally:
        # httpx's async generators that a stream leaves to the collector are finalized on this loop
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return [_time_section(seconds, sizes, rounds), _memory_section(peaks, sizes[-1])]


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _time_section(seconds: dict[str, dict[int, float]], sizes: list[int], rounds: int) -> Section:
    smallest, largest = sizes[0], sizes[-1]

    def per_delta(name: str, size: int) -> float:
        return seconds[name][size] / (size // PIECE)

    def growth(name: str) -> float:
        """Cost per delta at the largest size over that at the smallest: 1 is linear."""
        return ratio(per_delta(name, largest), per_delta(name, smallest))

    def linear(name: str) -> float:
        """`name`'s growth over the core's: the core is O(n), so machine drift is divided out."""
        return ratio(growth(name), growth(CORE))

    def vs_floor(name: str) -> float:
        return ratio(seconds[name][largest], seconds[FLOOR_OF.get(name, FLOOR)][largest])

    rows = [
        Row(
            name,
            {
                **{f"ms_{size}": by_size[size] * 1e3 for size in sizes},
                "us_per_delta": per_delta(name, largest) * 1e6,
                "growth": growth(name),
                "vs_floor": vs_floor(name),
            },
        )
        for name, by_size in seconds.items()
    ]
    at, small = _mib(largest), _mib(smallest)
    return Section(
        key="llama_index_stream",
        title=f"8a. Streaming a long answer through LlamaIndex ({', '.join(_mib(size) for size in sizes)})",
        method=(
            f"{PIECE}-character deltas; {rounds} interleaved rounds per size, median. `x floor`: against "
            "the llama-index floor consumed the same way (delta only, or message.content every time)."
        ),
        columns=[Column(f"ms_{size}", f"{_mib(size)} (ms)", 1) for size in sizes]
        + [
            Column("us_per_delta", f"µs/delta at {at}", 2),
            Column("growth", f"per-delta cost, {at} vs {small}"),
            Column("vs_floor", f"x floor at {at}"),
        ],
        rows=rows,
        targets=[
            Target(
                f"{name.removeprefix('ours: ')} linear: per-delta growth {small} -> {at}, x our core's",
                linear(name),
                1.25,
            )
            for name in (LLM, LLM_ASYNC, LLM_COMPLETE)
        ]
        + [
            Target(f"GradientLLM.stream_chat at {at} <= llama-index floor", vs_floor(LLM), 1.0),
        ],
        notes=[
            f"Per delta at {at}, GradientLLM.stream_chat costs {per_delta(LLM, largest) * 1e6:.1f} µs "
            f"(x{growth(LLM):.2f} from {small}); the llama-index floor "
            f"{per_delta(FLOOR, largest) * 1e6:.1f} µs (x{growth(FLOOR):.2f}: a copy of the text so far per "
            "delta); our core alone "
            f"{per_delta(CORE, largest) * 1e6:.1f} µs.",
            "Reading message.content of every response makes any LlamaIndex stream O(n²), ours included: "
            "each read is a copy of the text so far (ours made when read, the floor's when yielded). Those "
            "rows set no target: their cost is that copy plus each contender's own per-delta cost, and the "
            "floor's has no HTTP, SSE or JSON in it.",
        ],
    )


def _memory_section(peaks: dict[str, float], size: int) -> Section:
    return Section(
        key="llama_index_stream_memory",
        title=f"8b. Peak extra memory while streaming the {_mib(size)} answer through LlamaIndex",
        method="tracemalloc peak above the baseline taken just before the stream; the consumer reads delta.",
        columns=[Column("peak_mb", "peak extra (MiB)", 2), Column("x_answer", "x answer size", 2)],
        rows=[Row(name, {"peak_mb": peak * size / 2**20, "x_answer": peak}) for name, peak in peaks.items()],
        targets=[
            Target(
                f"GradientLLM.stream_chat peak at {_mib(size)}, x the llama-index floor's (both hold the "
                "text twice at their peak)",
                ratio(peaks[LLM], peaks[FLOOR]),
                1.05,
            )
        ],
        notes=[
            f"GradientLLM.stream_chat peaks at {peaks[LLM]:.2f}x the answer, the llama-index floor at "
            f"{peaks[FLOOR]:.2f}x (the text so far twice, as each copy is made), our core at "
            f"{peaks[CORE]:.2f}x (its buffer of the text, read delta by delta; GradientLLM's last response "
            "adds the final result, joined from that buffer while it still exists)."
        ],
    )
