"""Load, CI-sized: 100 concurrent streams through both adapters and the core, 0 errors, flat memory.

The full 1,000-stream run with its figures is `benchmarks/load_streams.py`. Here the streams share one
pool wide enough for all of them, every stream must assemble exactly the scripted answer, and after each
round no stream state may survive: no `ResponseReader` or `(Async)ResponseStream` is left alive once the
round is over (beyond what was alive before the first measured round), and the traced Python heap stops
growing after the first rounds (a leak of even one small object per stream would add to it every round).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from gradient_integrations.core import (
    AsyncResponseStream,
    ResponseReader,
    ResponsesClient,
    ResponseStream,
    build_request,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServerProcess

from ._support import MODEL

STREAMS = 100
WORDS = 30
PROMPT = f"[words:{WORDS}] concurrent"
ROUNDS = 5
# Allowed heap growth from the 2nd to the last round: far below one leaked stream state per stream per round.
GROWTH_LIMIT_KIB = 256


def _live_stream_state() -> int:
    gc.collect()
    return sum(
        isinstance(item, (ResponseReader, ResponseStream, AsyncResponseStream)) for item in gc.get_objects()
    )


async def _load(base_url: str) -> tuple[list[int], list[float], list[int]]:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=STREAMS, max_keepalive_connections=STREAMS))
    chat = ChatGradient(model=MODEL, base_url=base_url, http_async_client=http)
    llm = GradientLLM(model=MODEL, base_url=base_url, async_http_client=http)
    core = ResponsesClient(base_url=base_url, http_async_client=http)
    request = build_request(model=MODEL, input=PROMPT)
    expected = str((await chat.ainvoke(PROMPT)).content)
    assert len(expected.split()) == WORDS

    async def one(index: int) -> str:
        if index % 3 == 0:
            return "".join([str(chunk.content) async for chunk in chat.astream(PROMPT)])
        if index % 3 == 1:
            messages = [ChatMessage(role=MessageRole.USER, content=PROMPT)]
            return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])
        async with core.astream(request) as stream:
            return "".join([delta.text async for delta in stream if delta.kind == "text"])

    async def round_() -> int:
        answers = await asyncio.gather(*(one(index) for index in range(STREAMS)), return_exceptions=True)
        for _ in range(3):  # let the loop finish closing the streams' async generators
            await asyncio.sleep(0)
        return sum(answer != expected for answer in answers)

    errors = [await round_()]  # warm-up: imports, caches and the pool are not load
    # Earlier tests in the same process may keep a few stream objects alive (saved tracebacks, caches);
    # what this round leaves behind is measured against that baseline.
    baseline = _live_stream_state()
    tracemalloc.start()
    heap: list[float] = []
    live: list[int] = []
    try:
        for _ in range(ROUNDS):
            errors.append(await round_())
            live.append(_live_stream_state() - baseline)
            heap.append(tracemalloc.get_traced_memory()[0] / 1024)
    finally:
        tracemalloc.stop()
        await http.aclose()
    return errors, heap, live


@pytest.mark.slow
def test_concurrent_streams_complete_without_errors_and_memory_stays_flat() -> None:
    # The server runs in its own process: tracemalloc traces every thread, and an in-process server's
    # buffers would blur the client's heap figures by hundreds of KiB from round to round.
    with LocalServerProcess() as server:
        errors, heap, live = asyncio.run(_load(server.base_url))
    assert errors == [0] * (ROUNDS + 1)
    assert live == [0] * ROUNDS
    assert heap[-1] - heap[1] < GROWTH_LIMIT_KIB, [round(kib) for kib in heap]
