"""Measurement 3: streaming one 10,000-chunk answer, end to end, per contender.

The answer is `_common.answer_pieces(10_000)`: the very pieces LangChain's `GenericFakeChatModel` splits
the joined text into, so the LangChain floor (the fake model streaming them with no HTTP at all) yields
the same chunks our `ChatGradient.stream` yields from an SSE stream. Every HTTP contender reads the same
pieces from an `httpx.MockTransport` that hands out the prebuilt SSE bytes in 16 KiB slices: DO
`response.chunk` events for `/v1/responses` (what the endpoint documents), OpenAI typed `response.*`
events for the openai SDK's Responses stream (and for us too, to compare on identical bytes), and
`chat.completion.chunk` events for chat-completions clients. Each contender's chunks are joined and
checked against the answer before anything is timed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from httpx_sse import connect_sse
from langchain_openai import ChatOpenAI
from llama_index.core.base.llms.types import ChatMessage

from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.langchain import ChatGradient
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
    answer_pieces,
    canned_transport,
    chat_stream,
    do_stream,
    median,
    ratio,
    time_interleaved,
    typed_stream,
)
from ._floors import langchain_floor, llama_index_floor

RAW = "raw httpx + httpx-sse + json.loads loop"
CORE = "ours: core ResponsesClient.stream"
CHAT_GRADIENT = "ours: ChatGradient.stream"
CHAT_GRADIENT_TYPED = "ours: ChatGradient.stream (typed response.* events)"
GRADIENT_LLM = "ours: GradientLLM.stream_chat"
LANGCHAIN_FLOOR = "LangChain floor: GenericFakeChatModel.stream (no HTTP)"
LLAMA_FLOOR = "llama-index floor: fixed-answer LLM.stream_chat (no HTTP)"
OPENAI_RESPONSES = "langchain-openai ChatOpenAI.stream (Responses, typed events)"
OPENAI_CHAT = "langchain-openai ChatOpenAI.stream (chat completions)"


def _text(chunks: Iterable[object]) -> str:
    """Join what a stream yielded, whatever the framework calls its text field."""
    parts: list[str] = []
    for chunk in chunks:
        text = getattr(chunk, "delta", None)  # LlamaIndex ChatResponse
        if text is None:
            text = getattr(chunk, "text", "")  # LangChain chunk, core StreamDelta
        parts.append(text if isinstance(text, str) else "")
    return "".join(parts)


def build_contenders(pieces: list[str]) -> dict[str, Callable[[], str]]:
    """One zero-argument call per contender that consumes the whole stream and returns its text."""
    do_transport = canned_transport(
        {"/v1/responses": do_stream(pieces), "/v1/chat/completions": chat_stream(pieces)}, stream=True
    )
    typed_transport = canned_transport({"/v1/responses": typed_stream(pieces)}, stream=True)
    raw = httpx.Client(transport=do_transport)
    headers = {"Authorization": f"Bearer {FAKE_KEY}"}
    body = {"model": MODEL, "input": PROMPT, "stream": True, "stream_options": {"include_usage": True}}

    def floor() -> str:
        parts: list[str] = []
        with connect_sse(raw, "POST", f"{FAKE_ROOT}/v1/responses", json=body, headers=headers) as source:
            for event in source.iter_sse():
                if event.data == "[DONE]":
                    break
                for choice in json.loads(event.data)["choices"]:
                    parts.append(choice["delta"].get("content") or "")
        return "".join(parts)

    core = ResponsesClient(api_key=FAKE_KEY, base_url=FAKE_ROOT, transport=do_transport)
    ours: dict[str, Any] = {"model": MODEL, "api_key": FAKE_KEY, "base_url": FAKE_ROOT}
    chat_gradient = ChatGradient(**ours, http_client=httpx.Client(transport=do_transport))
    chat_gradient_typed = ChatGradient(**ours, http_client=httpx.Client(transport=typed_transport))
    gradient_llm = GradientLLM(**ours, http_client=httpx.Client(transport=do_transport))
    peer = {"model": MODEL, "api_key": FAKE_KEY, "base_url": f"{FAKE_ROOT}/v1"}
    openai_responses = ChatOpenAI(
        **peer, http_client=httpx.Client(transport=typed_transport), use_responses_api=True
    )
    openai_chat = ChatOpenAI(**peer, http_client=httpx.Client(transport=do_transport))
    fake = langchain_floor("".join(pieces))
    llama_fake = llama_index_floor(pieces)
    llama_messages = [ChatMessage(role="user", content=PROMPT)]
    return {
        RAW: floor,
        CORE: lambda: _text(core.stream(build_request(model=MODEL, input=PROMPT))),
        CHAT_GRADIENT: lambda: _text(chat_gradient.stream(PROMPT)),
        CHAT_GRADIENT_TYPED: lambda: _text(chat_gradient_typed.stream(PROMPT)),
        GRADIENT_LLM: lambda: _text(gradient_llm.stream_chat(llama_messages)),
        LANGCHAIN_FLOOR: lambda: _text(fake.stream(PROMPT)),
        LLAMA_FLOOR: lambda: _text(llama_fake.stream_chat(llama_messages)),
        OPENAI_RESPONSES: lambda: _text(openai_responses.stream(PROMPT)),
        OPENAI_CHAT: lambda: _text(openai_chat.stream(PROMPT)),
    }


def run(*, smoke: bool = False) -> list[Section]:
    count = 40 if smoke else 10_000
    pieces = answer_pieces(count)
    expected = "".join(pieces)
    contenders = build_contenders(pieces)
    for name, call in contenders.items():
        text = call()
        if text != expected:
            raise AssertionError(f"{name} streamed {len(text)} characters that differ from the answer")
    rounds = 1 if smoke else 7
    samples = time_interleaved(contenders, rounds=rounds, batch=1)
    medians = {name: median(values) for name, values in samples.items()}
    lc_floor, raw = medians[LANGCHAIN_FLOOR], medians[RAW]
    rows = [
        Row(
            name,
            {
                "median_ms": value * 1e3,
                "per_chunk_us": value / count * 1e6,
                "vs_langchain_floor": ratio(value, lc_floor),
                "vs_raw": ratio(value, raw),
            },
        )
        for name, value in medians.items()
    ]
    chat_gradient, core = medians[CHAT_GRADIENT], medians[CORE]
    gradient_llm, llama_floor = medians[GRADIENT_LLM], medians[LLAMA_FLOOR]
    notes = [
        f"Per chunk, ChatGradient.stream costs {chat_gradient / count * 1e6:.1f} µs: langchain-core's "
        f"stream loop (callbacks, chunk merging kept for on_llm_end) {lc_floor / count * 1e6:.1f} µs, "
        f"our core (httpx-sse + JSON + assembler) {core / count * 1e6:.1f} µs, of which httpx + httpx-sse "
        f"+ json.loads alone are {raw / count * 1e6:.1f} µs.",
        f"GradientLLM.stream_chat costs {gradient_llm / count * 1e6:.1f} µs per chunk against "
        f"llama-index-core's own {llama_floor / count * 1e6:.1f} µs (its ChatResponse carries the "
        "cumulative text, as every LlamaIndex LLM's stream does).",
    ]
    section = Section(
        key="streaming",
        title=f"3. Streaming a {count:,}-chunk answer",
        method=(
            f"{count:,} pieces streamed whole by each contender, {rounds} interleaved rounds, median; "
            "SSE bytes prebuilt and served by `httpx.MockTransport` in 16 KiB slices (no sockets)."
        ),
        columns=[
            Column("median_ms", "median per stream (ms)", 1),
            Column("per_chunk_us", "per chunk (µs)", 2),
            Column("vs_langchain_floor", "x LangChain floor"),
            Column("vs_raw", "x raw httpx loop"),
        ],
        rows=rows,
        targets=[Target("ChatGradient.stream <= 1.3x LangChain floor", ratio(chat_gradient, lc_floor), 1.3)],
        notes=notes,
    )
    return [section]
