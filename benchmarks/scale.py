"""Measurement 5: scale. (a) Converting long histories into a request; (b) memory while streaming 1 MB.

(a) A conversation of 10 / 100 / 1,000 / 10,000 alternating user and assistant messages becomes the
request body each client would send: ours through the adapters' request builders (`ChatGradient._prepare`,
`GradientLLM._request`, the one path every call goes through, including validation) and the core's
`to_body`; langchain-openai through `ChatOpenAI._get_request_payload`; DO's langchain-gradient through
its per-message `_convert_message` (it validates nothing). Even a plain O(n) loop costs more per item
at 10,000 items than at 1,000 (more objects than the CPU caches hold), so a reference row builds one
dict per message, and linear means: the per-message cost grows from 1,000 to 10,000 messages by at most
1.25x what the reference's grows.

(b) A 1 MiB answer streamed in 8-character pieces (131,072 deltas, about two tokens each) from an
`httpx.MockTransport`, consumed by counting characters and keeping nothing. The figure is the peak of
`tracemalloc` above the baseline taken just before the stream starts, in multiples of the answer's size;
the prebuilt SSE bytes exist before the baseline and do not count. A framework floor (the same pieces
streamed by a bare LangChain model, and by a bare LlamaIndex LLM) shows what the framework itself keeps.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from httpx_sse import connect_sse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_gradient import ChatGradient as DOChatGradient  # type: ignore[import-untyped]
from langchain_openai import ChatOpenAI
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.langchain._messages import messages_to_input
from gradient_integrations.llama_index import GradientLLM

from ._common import (
    FAKE_KEY,
    FAKE_ROOT,
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
)
from ._floors import FixedChunksChatModel, llama_index_floor

CHAT_GRADIENT = "ours: ChatGradient (LangChain messages)"
GRADIENT_LLM = "ours: GradientLLM (LlamaIndex messages)"
OPENAI_RESPONSES = "langchain-openai ChatOpenAI (Responses) payload"
OPENAI_CHAT = "langchain-openai ChatOpenAI (chat completions) payload"
DO_LANGCHAIN = "DO langchain-gradient message conversion"
REFERENCE = "reference: one dict per message (a plain O(n) loop, no library)"

RAW = "raw httpx + httpx-sse + json.loads loop (keeps nothing)"
CORE = "ours: core ResponsesClient.stream"
CHAT_STREAM = "ours: ChatGradient.stream"
LLM_STREAM = "ours: GradientLLM.stream_chat"
LANGCHAIN_FLOOR = "langchain-core floor: bare chat model streaming the pieces"
LLAMA_FLOOR = "llama-index-core floor: bare LLM streaming the pieces"


# -- (a) history conversion --------------------------------------------------------------------------
def _text(index: int) -> str:
    return f"Message {index}: what did we decide about the quarterly numbers, and why?"


def langchain_history(size: int) -> list[BaseMessage]:
    return [HumanMessage(_text(i)) if i % 2 == 0 else AIMessage(_text(i)) for i in range(size)]


def llama_history(size: int) -> list[ChatMessage]:
    roles = (MessageRole.USER, MessageRole.ASSISTANT)
    return [ChatMessage(role=roles[i % 2], content=_text(i)) for i in range(size)]


def conversion_contenders() -> dict[str, tuple[Callable[[int], Any], Callable[[Any], object]]]:
    """Per contender: (build a history of n messages, convert it into a request body)."""
    chat = ChatGradient(model=MODEL, api_key=FAKE_KEY, base_url=FAKE_ROOT)
    llm = GradientLLM(model=MODEL, api_key=FAKE_KEY, base_url=FAKE_ROOT)
    peer = {"model": MODEL, "api_key": FAKE_KEY, "base_url": f"{FAKE_ROOT}/v1"}
    openai_responses = ChatOpenAI(**peer, use_responses_api=True)
    openai_chat = ChatOpenAI(**peer)
    do_chat = DOChatGradient(model=MODEL, api_key=FAKE_KEY)
    return {
        CHAT_GRADIENT: (
            langchain_history,
            lambda h: chat._prepare(h, None, {}).request.to_body(stream=False),
        ),
        GRADIENT_LLM: (llama_history, lambda h: llm._request(h, {})[0].to_body(stream=False)),
        OPENAI_RESPONSES: (langchain_history, openai_responses._get_request_payload),
        OPENAI_CHAT: (langchain_history, openai_chat._get_request_payload),
        DO_LANGCHAIN: (langchain_history, lambda h: [do_chat._convert_message(m) for m in h]),
        REFERENCE: (langchain_history, lambda h: [{"role": m.type, "content": m.content} for m in h]),
    }


def _history_section(sizes: Sequence[int], budget: int) -> Section:
    contenders = conversion_contenders()
    seconds: dict[str, dict[int, float]] = {name: {} for name in contenders}
    for size in sizes:
        repeats = max(3, min(100, budget // size))
        for name, (build, convert) in contenders.items():
            history = build(size)
            convert(history)  # warm-up
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                convert(history)
                samples.append(time.perf_counter() - started)
            seconds[name][size] = median(samples)
    notes = _split_notes(sizes[-2] if len(sizes) > 1 else sizes[0])
    middle, largest = (1_000, 10_000) if 10_000 in sizes else (sizes[-2], sizes[-1])

    def growth(name: str) -> float:
        return ratio(seconds[name][largest] / largest, seconds[name][middle] / middle)

    rows = []
    for name, by_size in seconds.items():
        values = {f"ms_{size}": by_size[size] * 1e3 for size in sizes}
        values["us_per_message"] = by_size[largest] / largest * 1e6
        values["growth"] = growth(name)
        rows.append(Row(name, values))
    targets = []
    for name in (CHAT_GRADIENT, GRADIENT_LLM):
        if 1_000 in sizes:
            targets.append(Target(f"{name}: 1,000 messages <= 5 ms", seconds[name][1_000] * 1e3, 5.0, "ms"))
        description = f"{name}: linear (per-message growth {middle:,} -> {largest:,}, x the O(n) reference's)"
        targets.append(Target(description, ratio(growth(name), growth(REFERENCE)), 1.25))
    return Section(
        key="scale_history",
        title="5a. Converting a history of N messages into the request body",
        method=(
            "Alternating user/assistant text messages; median of repeated conversions per size "
            f"(at least 3, about {budget:,} messages converted per size and contender)."
        ),
        columns=[Column(f"ms_{size}", f"{size:,} msgs (ms)", 3) for size in sizes]
        + [
            Column("us_per_message", f"µs/message at {largest:,}", 2),
            Column("growth", f"per-message cost {largest:,} vs {middle:,}"),
        ],
        rows=rows,
        targets=targets,
        notes=notes,
    )


def _split_notes(size: int) -> list[str]:
    """Time ChatGradient's three steps separately at one size, so the cost is attributed, not guessed."""
    history = langchain_history(size)
    items = messages_to_input(history)
    request = build_request(model=MODEL, input=items)
    steps: dict[str, Callable[[], object]] = {
        "mapping LangChain messages to wire items (ours)": lambda: messages_to_input(history),
        "validating the request (ours, pydantic)": lambda: build_request(model=MODEL, input=items),
        "serializing the body (ours, pydantic model_dump)": lambda: request.to_body(stream=False),
    }
    spent = {}
    for step, call in steps.items():
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        spent[step] = median(samples) * 1e3
    parts = ", ".join(f"{step} {ms:.2f} ms" for step, ms in spent.items())
    return [f"ChatGradient at {size:,} messages, step by step: {parts}."]


# -- (b) memory while streaming ------------------------------------------------------------------------
def _count(chunks: Any) -> int:
    total = 0
    for chunk in chunks:
        text = getattr(chunk, "delta", None)
        if text is None:
            text = getattr(chunk, "text", "")
        total += len(text) if isinstance(text, str) else 0
    return total


def stream_contenders(pieces: list[str]) -> dict[str, Callable[[], int]]:
    """Per contender: stream the answer once, count its characters, keep nothing."""
    transport = canned_transport({"/v1/responses": do_stream(pieces)}, stream=True)
    raw = httpx.Client(transport=transport)
    core = ResponsesClient(api_key=FAKE_KEY, base_url=FAKE_ROOT, transport=transport)
    ours: dict[str, Any] = {"model": MODEL, "api_key": FAKE_KEY, "base_url": FAKE_ROOT}
    chat = ChatGradient(**ours, http_client=httpx.Client(transport=transport))
    llm = GradientLLM(**ours, http_client=httpx.Client(transport=transport))
    langchain_fake = FixedChunksChatModel(pieces=pieces)
    llama_fake = llama_index_floor(pieces)
    messages = [ChatMessage(role=MessageRole.USER, content=PROMPT)]

    def raw_loop() -> int:
        total = 0
        with connect_sse(raw, "POST", f"{FAKE_ROOT}/v1/responses", json={"stream": True}) as source:
            for event in source.iter_sse():
                if event.data == "[DONE]":
                    break
                for choice in json.loads(event.data)["choices"]:
                    total += len(choice["delta"].get("content") or "")
        return total

    return {
        RAW: raw_loop,
        CORE: lambda: _count(core.stream(build_request(model=MODEL, input=PROMPT))),
        CHAT_STREAM: lambda: _count(chat.stream(PROMPT)),
        LANGCHAIN_FLOOR: lambda: _count(langchain_fake.stream(PROMPT)),
        LLM_STREAM: lambda: _count(llm.stream_chat(messages)),
        LLAMA_FLOOR: lambda: _count(llama_fake.stream_chat(messages)),
    }


def peak_extra_bytes(run: Callable[[], int]) -> tuple[int, int]:
    """(peak bytes allocated above the starting baseline, the run's own result)."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline, result


def _memory_section(size: int) -> Section:
    pieces = [f"{index:07d} " for index in range(size // 8)]
    for warm_up in stream_contenders(pieces[:64]).values():
        warm_up()  # first-call allocations (lazy imports, schema caches) are not the stream's
    rows = []
    peaks: dict[str, float] = {}
    for name, run in stream_contenders(pieces).items():
        started = time.perf_counter()
        peak, characters = peak_extra_bytes(run)
        elapsed = time.perf_counter() - started
        if characters != size:
            raise AssertionError(f"{name} streamed {characters} characters, expected {size}")
        peaks[name] = peak / size
        rows.append(Row(name, {"peak_mb": peak / 2**20, "x_answer": peak / size, "seconds": elapsed}))
    notes = [
        f"ChatGradient.stream keeps {peaks[CHAT_STREAM]:.1f}x the answer at its peak; langchain-core alone "
        f"keeps {peaks[LANGCHAIN_FLOOR]:.1f}x for the same pieces (BaseChatModel.stream holds every chunk "
        f"to merge them for on_llm_end); our core keeps {peaks[CORE]:.1f}x.",
        f"GradientLLM.stream_chat peaks at {peaks[LLM_STREAM]:.1f}x; a bare LlamaIndex LLM at "
        f"{peaks[LLAMA_FLOOR]:.1f}x (LlamaIndex stream responses carry the whole text so far).",
    ]
    return Section(
        key="scale_memory",
        title=f"5b. Peak extra memory while streaming a {size / 2**20:g} MiB answer",
        method=(
            f"{len(pieces):,} deltas of 8 characters from an `httpx.MockTransport`; tracemalloc peak above "
            "the baseline taken just before each stream (seconds include tracemalloc's own slowdown)."
        ),
        columns=[
            Column("peak_mb", "peak extra (MiB)", 2),
            Column("x_answer", "x answer size", 2),
            Column("seconds", "seconds (traced)", 2),
        ],
        rows=rows,
        targets=[
            Target("core stream peak <= 3x the answer", peaks[CORE], 3.0),
            Target("ChatGradient.stream peak <= 3x the answer", peaks[CHAT_STREAM], 3.0),
            Target("GradientLLM.stream_chat peak <= 3x the answer", peaks[LLM_STREAM], 3.0),
        ],
        notes=notes,
    )


def run(*, smoke: bool = False) -> list[Section]:
    if smoke:
        return [_history_section([10, 100], budget=200), _memory_section(16 * 1024)]
    return [_history_section([10, 100, 1_000, 10_000], budget=20_000), _memory_section(2**20)]
