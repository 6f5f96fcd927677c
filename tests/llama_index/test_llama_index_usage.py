"""`gradient_usage()` against the local server (which reports real usage): LlamaIndex's end events for
`GradientLLM` chat and completion calls, sync and async, streamed and not, are counted once each, with the
catalog's prices, per model, in the context that read them."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse, CompletionResponse
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.llms import ChatMessage, MockLLM

from gradient_integrations.core.catalog import CATALOG, ModelCatalog, ModelInfo
from gradient_integrations.core.usage import UsageTally, active_tallies
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.llama_index.usage import gradient_usage, install_usage_handler
from gradient_integrations.local import LocalServer

PRICED = "openai-gpt-oss-20b"
PLAIN = "llama3.3-70b-instruct"
UNPRICED = "acme-private-model"
PROMPT = "What is 6 times 7?"
MESSAGES = [ChatMessage(role="user", content=PROMPT)]


@pytest.fixture
def make(local_server: LocalServer) -> Iterator[Any]:
    made: list[GradientLLM] = []

    def factory(model: str = PRICED) -> GradientLLM:
        llm = GradientLLM(model=model, base_url=local_server.base_url, max_retries=0)
        made.append(llm)
        return llm

    yield factory
    for llm in made:
        llm.close()


@pytest.fixture
def llm(make: Any) -> GradientLLM:
    return make()  # type: ignore[no-any-return]


def usage_of(response: ChatResponse | CompletionResponse) -> tuple[int, int, int, int]:
    extra = response.additional_kwargs
    return (
        extra["prompt_tokens"],
        extra["completion_tokens"],
        extra["cached_tokens"],
        extra["reasoning_tokens"],
    )


def counted(usage: UsageTally) -> tuple[int, int, int, int]:
    return usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.reasoning_tokens


def price(model: str, input_tokens: int, output_tokens: int, cached: int = 0) -> float:
    cost = CATALOG.info(model).cost_usd(input_tokens, output_tokens, cached)
    assert cost is not None
    return cost


# -- every way of calling, counted once ----------------------------------------------------------------
def test_chat_is_counted_with_the_catalog_price(llm: GradientLLM) -> None:
    with gradient_usage() as usage:
        response = llm.chat(MESSAGES)
    expected = usage_of(response)
    assert expected[0] > 0 and expected[3] > 0
    assert counted(usage) == expected
    assert usage.successful_requests == 1
    assert usage.total_cost == pytest.approx(price(PRICED, *expected[:3])) and usage.total_cost > 0
    assert usage.cost_known and list(usage.by_model) == [PRICED]


async def test_achat_is_counted(llm: GradientLLM) -> None:
    with gradient_usage() as usage:
        response = await llm.achat(MESSAGES)
    assert counted(usage) == usage_of(response) and usage.successful_requests == 1


def test_stream_chat_is_counted_once_as_its_chat(llm: GradientLLM) -> None:
    expected = usage_of(llm.chat(MESSAGES))
    with gradient_usage() as usage:
        responses = list(llm.stream_chat(MESSAGES))
    assert len(responses) > 2
    assert sum(1 for response in responses if "prompt_tokens" in response.additional_kwargs) == 1
    assert usage_of(responses[-1]) == expected
    assert counted(usage) == expected and usage.successful_requests == 1


async def test_astream_chat_is_counted_once(llm: GradientLLM) -> None:
    expected = usage_of(await llm.achat(MESSAGES))
    with gradient_usage() as usage:
        responses = [response async for response in await llm.astream_chat(MESSAGES)]
    assert len(responses) > 2
    assert counted(usage) == expected and usage.successful_requests == 1


def test_complete_and_stream_complete_are_counted_once_each(llm: GradientLLM) -> None:
    with gradient_usage() as usage:
        completed = llm.complete(PROMPT)
        streamed = list(llm.stream_complete(PROMPT))
    assert usage_of(streamed[-1]) == usage_of(completed)
    assert usage.successful_requests == 2
    assert counted(usage) == tuple(2 * n for n in usage_of(completed))


async def test_acomplete_and_astream_complete_are_counted_once_each(llm: GradientLLM) -> None:
    with gradient_usage() as usage:
        completed = await llm.acomplete(PROMPT)
        streamed = [response async for response in await llm.astream_complete(PROMPT)]
    assert len(streamed) > 2
    assert usage_of(streamed[-1]) == usage_of(completed)
    assert usage.successful_requests == 2
    assert counted(usage) == tuple(2 * n for n in usage_of(completed))


def test_per_model_breakdown(make: Any) -> None:
    priced, plain = make(PRICED), make(PLAIN)
    with gradient_usage() as usage:
        a = priced.chat(MESSAGES)
        b = plain.chat(MESSAGES)
        c = plain.complete("another question")
    by_model = usage.by_model
    assert list(by_model) == [PRICED, PLAIN]
    assert by_model[PRICED].prompt_tokens == usage_of(a)[0]
    assert by_model[PLAIN].successful_requests == 2
    assert by_model[PLAIN].completion_tokens == usage_of(b)[1] + usage_of(c)[1]
    assert by_model[PLAIN].cost_usd == pytest.approx(
        price(PLAIN, usage_of(b)[0] + usage_of(c)[0], usage_of(b)[1] + usage_of(c)[1])
    )
    assert usage.total_cost == pytest.approx(sum(row.cost_usd or 0 for row in by_model.values()))


def test_unpriced_model_makes_the_cost_unknown_unless_a_catalog_prices_it(make: Any) -> None:
    unpriced = make(UNPRICED)
    with gradient_usage() as usage:
        response = unpriced.chat(MESSAGES)
    assert usage.successful_requests == 1 and usage.cost_known is False
    assert usage.unpriced_models == [UNPRICED] and usage.total_cost == 0.0
    assert f"+ unknown (no price for: {UNPRICED})" in str(usage)
    catalog = ModelCatalog().with_models(
        ModelInfo(id=UNPRICED, input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    )
    with gradient_usage(catalog=catalog) as priced:
        unpriced.chat(MESSAGES)
    input_tokens, output_tokens, _, _ = usage_of(response)
    assert priced.cost_known
    assert priced.total_cost == pytest.approx((input_tokens * 1.0 + output_tokens * 2.0) / 1e6)


# -- which block counts what ---------------------------------------------------------------------------
def test_calls_outside_the_block_are_not_counted(llm: GradientLLM) -> None:
    llm.chat(MESSAGES)
    with gradient_usage() as usage:
        inside = llm.chat(MESSAGES)
    llm.complete(PROMPT)
    list(llm.stream_chat(MESSAGES))
    assert usage.successful_requests == 1 and counted(usage) == usage_of(inside)


def test_a_stream_counts_where_it_is_read_not_where_it_was_made(llm: GradientLLM) -> None:
    """LlamaIndex dispatches a stream's end event from inside the generator: in the reader's context."""
    with gradient_usage() as made_here:
        stream = llm.stream_chat(MESSAGES)
    with gradient_usage() as read_here:
        list(stream)
    assert made_here.successful_requests == 0
    assert read_here.successful_requests == 1


async def test_an_async_stream_counts_in_the_task_that_reads_it(llm: GradientLLM) -> None:
    async def read() -> int:
        return len([response async for response in await llm.astream_chat(MESSAGES)])

    with gradient_usage() as usage:
        inside = asyncio.create_task(read())  # created inside: inherits the tally
    outside = asyncio.create_task(read())
    assert await inside > 2 and await outside > 2
    assert usage.successful_requests == 1


def test_threads_count_with_a_copied_context_only(llm: GradientLLM) -> None:
    with gradient_usage() as usage:
        context = contextvars.copy_context()
        copied = threading.Thread(target=context.run, args=(llm.chat, MESSAGES))
        plain = threading.Thread(target=llm.chat, args=(MESSAGES,))
        for thread in (copied, plain):
            thread.start()
            thread.join()
    assert usage.successful_requests == 1


def test_nested_blocks_each_count(llm: GradientLLM) -> None:
    with gradient_usage() as outer:
        llm.chat(MESSAGES)
        with gradient_usage() as inner:
            llm.complete(PROMPT)
            list(llm.stream_chat(MESSAGES))
        llm.chat(MESSAGES)
    assert inner.successful_requests == 2
    assert outer.successful_requests == 4


def test_concurrent_async_calls_are_all_counted(llm: GradientLLM) -> None:
    async def many() -> list[ChatResponse]:
        calls = [llm.achat([ChatMessage(role="user", content=f"n {n}")]) for n in range(8)]
        responses: list[ChatResponse] = await asyncio.gather(*calls)
        return responses

    with gradient_usage() as usage:
        responses = asyncio.run(many())
    assert usage.successful_requests == 8
    assert usage.prompt_tokens == sum(usage_of(response)[0] for response in responses)


def test_embeddings_are_counted(local_server: LocalServer) -> None:
    from gradient_integrations.llama_index import GradientEmbedding

    embedding = GradientEmbedding(model_name="qwen3-embedding-0.6b", base_url=local_server.base_url)
    try:
        with gradient_usage() as usage:
            embedding.get_text_embedding_batch(["one two three", "four five"])
    finally:
        embedding.close()
    assert usage.embedding_tokens == 5 and usage.successful_requests == 1
    assert usage.total_cost == pytest.approx(price("qwen3-embedding-0.6b", 5, 0))


# -- the handler -----------------------------------------------------------------------------------------
def test_the_handler_is_installed_once() -> None:
    for _ in range(3):
        install_usage_handler()
        with gradient_usage():
            pass
    names = [handler.class_name() for handler in get_dispatcher().event_handlers]
    assert names.count("GradientUsageEventHandler") == 1


def test_other_llms_are_not_counted() -> None:
    with gradient_usage() as usage:
        MockLLM(max_tokens=5).complete("hello")
        MockLLM(max_tokens=5).chat(MESSAGES)
    assert usage.successful_requests == 0


@pytest.fixture(autouse=True)
def _no_tally_leaks() -> Iterator[None]:
    yield
    assert active_tallies() == ()
