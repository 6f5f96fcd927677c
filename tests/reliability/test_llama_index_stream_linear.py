"""`GradientLLM` streams in linear work: no response copies the whole answer so far as it is yielded.

A LlamaIndex stream response carries the cumulative text (`message.content`, `CompletionResponse.text`).
Built as a new string for every delta, that is a copy of everything so far per delta: O(n²) for an answer
of n characters (2/4/8 MB took 1.35/6.25/24.5 s). The text is now read from the core stream when a
response's content is first used. What is asserted here is work, not time (speed targets live in
`benchmarks/`): with tracemalloc, the bytes each delta's step allocates above what was alive before it
(the consumer keeps every response, so nothing a step allocated is freed again by a later one), summed
over the stream, per character of the answer, must not grow with the answer. A copy per delta makes that
figure grow with the answer (about 3x for a 4x longer answer, measured before the fix); linear work keeps
it flat (1.0 +- 0.03 measured). Then: what a reader of the content sees is exactly what the eager copies
held (any response, read at any time, from any thread), and a response compares, prints, copies, pickles
and serializes as the eagerly built one does.
"""

from __future__ import annotations

import copy
import json
import pickle
import queue
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint, sse_reply
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)

from gradient_integrations.llama_index import GradientLLM

BASE_URL = "http://127.0.0.1:9"  # never dialled: every request goes to the mock transport
USER = [ChatMessage(role=MessageRole.USER, content="Write at length.")]
PIECE = 64  # characters per delta


def do_stream(text_pieces: Iterable[str], reasoning_pieces: Iterable[str] = ()) -> bytes:
    """A DO `response.chunk` stream: reasoning deltas, then text deltas, a finish chunk, usage, [DONE]."""
    head: dict[str, Any] = {"id": "resp_linear", "object": "response.chunk", "model": "m"}
    events = [
        {**head, "choices": [{"index": 0, "delta": {"reasoning_content": piece}}]}
        for piece in reasoning_pieces
    ]
    events += [{**head, "choices": [{"index": 0, "delta": {"content": piece}}]} for piece in text_pieces]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"input_tokens": 3, "output_tokens": len(events), "total_tokens": 3 + len(events)}
    events.append({**head, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def pieces(size: int, letter: str) -> list[str]:
    """`size` characters in PIECE-character deltas, each piece distinct so a misplaced one shows."""
    return [f"{letter}{index:07d}".ljust(PIECE, letter) for index in range(size // PIECE)]


@pytest.fixture
def make_llm() -> Iterator[Callable[[bytes], GradientLLM]]:
    """A `GradientLLM` whose sync and async requests are answered with the given SSE bytes."""
    clients: list[httpx.Client | httpx.AsyncClient] = []

    def factory(sse: bytes) -> GradientLLM:
        endpoint = FakeEndpoint(sse_reply([sse]))
        sync_client = httpx.Client(transport=endpoint.transport)
        async_client = httpx.AsyncClient(transport=endpoint.async_transport)
        clients.extend([sync_client, async_client])
        return GradientLLM(
            model="m",
            api_key="sk-do-linear-test-key",
            base_url=BASE_URL,
            max_retries=0,
            http_client=sync_client,
            async_http_client=async_client,
        )

    yield factory
    for client in clients:
        if isinstance(client, httpx.Client):
            client.close()


# -- work ------------------------------------------------------------------------------------------------
class StepAllocations:
    """Bytes allocated by each step of a stream above what was alive when it started, summed.

    The consumer keeps every response (so nothing allocated is freed again, and a copy of the text so far
    shows in its step) and reads only `delta`, as a printing or forwarding consumer does.
    """

    def __init__(self) -> None:
        self.total = 0
        self.kept: list[Any] = []
        self._before = 0

    def __enter__(self) -> StepAllocations:
        tracemalloc.start()
        self._before = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        tracemalloc.stop()

    def step(self, response: Any) -> None:
        _, peak = tracemalloc.get_traced_memory()
        self.total += max(0, peak - self._before)
        self.kept.append(response)
        tracemalloc.reset_peak()
        self._before = tracemalloc.get_traced_memory()[0]

    def text(self) -> str:
        return "".join(response.delta or "" for response in self.kept)


def sync_work(llm: GradientLLM, method: str) -> tuple[int, str]:
    with StepAllocations() as steps:
        stream = llm.stream_chat(USER) if method == "chat" else llm.stream_complete("Write at length.")
        for response in stream:
            steps.step(response)
    return steps.total, steps.text()


async def async_work(llm: GradientLLM, method: str) -> tuple[int, str]:
    with StepAllocations() as steps:
        stream: AsyncIterator[Any]
        if method == "chat":
            stream = await llm.astream_chat(USER)
        else:
            stream = await llm.astream_complete("Write at length.")
        async for response in stream:
            steps.step(response)
    return steps.total, steps.text()


SMALL, LARGE = 32 * 1024, 128 * 1024  # characters; half reasoning, half text


@pytest.mark.parametrize("method", ["chat", "complete"])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_work_per_character_does_not_grow_with_the_answer(
    make_llm: Callable[[bytes], GradientLLM], mode: str, method: str
) -> None:
    per_character = {}
    for size in (SMALL, LARGE):
        text, reasoning = pieces(size // 2, "t"), pieces(size // 2, "r")
        llm = make_llm(do_stream(text, reasoning))
        work, streamed = sync_work(llm, method) if mode == "sync" else await async_work(llm, method)
        assert streamed == "".join(text)  # every text delta, once, in order
        per_character[size] = work / size
    growth = per_character[LARGE] / per_character[SMALL]
    # Linear work: ~1.0. A copy of the text so far per delta: ~3 (4x the answer, so 4x the copies' average
    # length, diluted by each step's fixed cost).
    assert growth < 1.5, f"bytes allocated per character grew {growth:.2f}x for a 4x longer answer"


# -- what a reader sees --------------------------------------------------------------------------------
TEXT = ["Hello", ", ", "wörld", " 😀", "!"]
REASONING = ["Think", "ing..."]


def expected_contents() -> list[tuple[str, str]]:
    """(reasoning so far, text so far) after each delta."""
    seen = [("".join(REASONING[: index + 1]), "") for index in range(len(REASONING))]
    seen += [("".join(REASONING), "".join(TEXT[: index + 1])) for index in range(len(TEXT))]
    return seen


def eager_response(response: ChatResponse, reasoning: str, text: str) -> ChatResponse:
    """What the response would be with its text built as it was yielded (as llama-index's LLMs do)."""
    blocks = [ThinkingBlock(content=reasoning, num_tokens=None), TextBlock(text=text)]
    message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)
    return ChatResponse(
        message=message, delta=response.delta, raw=response.raw, additional_kwargs=response.additional_kwargs
    )


def check_contents(responses: list[ChatResponse]) -> None:
    *partials, final = responses
    assert len(partials) == len(REASONING) + len(TEXT)
    # Read last to first, after the stream has ended: each still has its own text so far.
    for response, (reasoning, text) in reversed(list(zip(partials, expected_contents(), strict=True))):
        assert response.message.content == text
        assert response.message.blocks[0].content == reasoning  # type: ignore[union-attr]
    assert final.message.content == "".join(TEXT)
    assert final.additional_kwargs["finish_reason"] == "stop" and "prompt_tokens" in final.additional_kwargs


def test_each_response_keeps_its_own_text_so_far(make_llm: Callable[[bytes], GradientLLM]) -> None:
    check_contents(list(make_llm(do_stream(TEXT, REASONING)).stream_chat(USER)))


async def test_each_async_response_keeps_its_own_text_so_far(
    make_llm: Callable[[bytes], GradientLLM],
) -> None:
    check_contents(
        [response async for response in await make_llm(do_stream(TEXT, REASONING)).astream_chat(USER)]
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_each_completion_keeps_its_own_text_so_far(
    make_llm: Callable[[bytes], GradientLLM], mode: str
) -> None:
    llm = make_llm(do_stream(TEXT, REASONING))
    if mode == "sync":
        completions = list(llm.stream_complete("hi"))
    else:
        completions = [completion async for completion in await llm.astream_complete("hi")]
    texts = [text for _, text in expected_contents()] + ["".join(TEXT)]
    assert all(isinstance(completion, CompletionResponse) for completion in completions)
    eager = [
        CompletionResponse(text=text, additional_kwargs=got.additional_kwargs, delta=got.delta, raw=got.raw)
        for got, text in zip(completions, texts, strict=True)
    ]
    assert [got.model_dump_json() for got in completions] == [want.model_dump_json() for want in eager]
    assert completions == eager and [completion.text for completion in completions] == texts
    assert completions[-1].additional_kwargs["finish_reason"] == "stop"


def test_a_response_is_indistinguishable_from_an_eagerly_built_one(
    make_llm: Callable[[bytes], GradientLLM],
) -> None:
    responses = list(make_llm(do_stream(TEXT, REASONING)).stream_chat(USER))[:-1]
    checks: list[Callable[[ChatResponse, ChatResponse], None]] = [
        lambda got, want: _equal(got, want),
        lambda got, want: _equal(want, got),  # eager == deferred, the reflected comparison
        lambda got, want: _equal(got.model_dump(), want.model_dump()),
        lambda got, want: _equal(got.model_dump_json(), want.model_dump_json()),
        lambda got, want: _equal(repr(got), repr(want)),
        lambda got, want: _equal(str(got), str(want)),
        lambda got, want: _equal(copy.copy(got.message.blocks[1]), want.message.blocks[1]),
        lambda got, want: _equal(copy.deepcopy(got), want),
        lambda got, want: _equal(pickle.loads(pickle.dumps(got)), want),
        lambda got, want: _equal(got.message.model_copy(), want.message),
        lambda got, want: _equal(
            [dict(block) for block in got.message.blocks], [dict(b) for b in want.message.blocks]
        ),
        lambda got, want: _equal(
            [block.model_fields_set for block in got.message.blocks],
            [block.model_fields_set for block in want.message.blocks],
        ),
    ]
    for check in checks:  # each on fresh responses: every check is the first use of the text
        fresh = list(make_llm(do_stream(TEXT, REASONING)).stream_chat(USER))[:-1]
        for got, (reasoning, text) in zip(fresh, expected_contents(), strict=True):
            check(got, eager_response(got, reasoning, text))
    for got in responses:  # once used, the blocks are plain llama-index blocks
        got.message.model_dump()
        assert [type(block) for block in got.message.blocks] == [ThinkingBlock, TextBlock]


def _equal(got: object, want: object) -> None:
    assert got == want


def test_content_read_from_another_thread_while_streaming(make_llm: Callable[[bytes], GradientLLM]) -> None:
    """A UI thread shows each response's content while the worker keeps streaming (no lost text)."""
    text = pieces(64 * 1024, "t")
    llm = make_llm(do_stream(text))
    handed: queue.Queue[ChatResponse | None] = queue.Queue()
    seen: list[str] = []

    def show() -> None:
        while (response := handed.get()) is not None:
            seen.append(response.message.content or "")

    reader = threading.Thread(target=show)
    reader.start()
    final = None
    for response in llm.stream_chat(USER):
        handed.put(response)
        final = response
    handed.put(None)
    reader.join()
    expected = ["".join(text[: index + 1]) for index in range(len(text))]
    assert seen[:-1] == expected and seen[-1] == "".join(text)
    assert final is not None and final.message.content == "".join(text)
