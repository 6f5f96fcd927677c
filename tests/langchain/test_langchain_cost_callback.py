"""`get_gradient_callback()` / `GradientCallbackHandler` against the local server, which reports real usage:
every way of calling a model is counted once, with the catalog's prices, per model, in the right block.

The local model counts input tokens as the words sent and reports a prompt that starts with 32 words seen
before as cached; prompts here are short (nothing cached) unless a test is about caching.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool

from gradient_integrations.core.catalog import CATALOG, ModelCatalog, ModelInfo
from gradient_integrations.core.usage import active_tallies
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.langchain.callbacks import GradientCallbackHandler, get_gradient_callback
from gradient_integrations.local import LocalServer

PRICED = "openai-gpt-oss-20b"  # priced, reasons (so reasoning tokens are reported)
PLAIN = "llama3.3-70b-instruct"
CACHED_RATE = "openai-gpt-4o-mini"  # has a cached-input price
UNPRICED = "acme-private-model"  # the local server answers any id; the catalog has no price for it
PROMPT = "What is 6 times 7?"


@pytest.fixture
def model(local_server: LocalServer) -> ChatGradient:
    return ChatGradient(model=PRICED, base_url=local_server.base_url, max_retries=0)


def on(server: LocalServer, model: str, **fields: Any) -> ChatGradient:
    return ChatGradient(model=model, base_url=server.base_url, max_retries=0, **fields)


def usage_of(message: BaseMessage) -> tuple[int, int, int, int]:
    assert isinstance(message, AIMessage) and message.usage_metadata is not None
    usage = message.usage_metadata
    return (
        usage["input_tokens"],
        usage["output_tokens"],
        usage.get("input_token_details", {}).get("cache_read", 0),
        usage.get("output_token_details", {}).get("reasoning", 0),
    )


def counted(cb: GradientCallbackHandler) -> tuple[int, int, int, int]:
    return cb.prompt_tokens, cb.completion_tokens, cb.prompt_tokens_cached, cb.reasoning_tokens


def total(messages: Sequence[BaseMessage]) -> tuple[int, int, int, int]:
    rows = [usage_of(message) for message in messages]
    return (
        sum(r[0] for r in rows),
        sum(r[1] for r in rows),
        sum(r[2] for r in rows),
        sum(r[3] for r in rows),
    )


def price(model: str, input_tokens: int, output_tokens: int, cached: int = 0) -> float:
    cost = CATALOG.info(model).cost_usd(input_tokens, output_tokens, cached)
    assert cost is not None
    return cost


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


# -- every way of calling, counted once ------------------------------------------------------------
def test_invoke_counts_tokens_requests_and_the_catalog_price(model: ChatGradient) -> None:
    with get_gradient_callback() as cb:
        message = model.invoke(PROMPT)
    input_tokens, output_tokens, cached, reasoning = usage_of(message)
    assert reasoning > 0 and input_tokens > 0
    assert counted(cb) == (input_tokens, output_tokens, cached, reasoning)
    assert cb.total_tokens == input_tokens + output_tokens
    assert cb.successful_requests == 1
    info = CATALOG.info(PRICED)
    assert info.input_usd_per_mtok is not None and info.output_usd_per_mtok is not None
    by_hand = (input_tokens * info.input_usd_per_mtok + output_tokens * info.output_usd_per_mtok) / 1e6
    assert cb.total_cost == pytest.approx(by_hand) and cb.total_cost > 0
    assert cb.cost_known and cb.unpriced_models == []
    assert list(cb.by_model) == [PRICED]
    assert str(cb).startswith(f"Tokens Used: {input_tokens + output_tokens}\n")
    assert "Successful Requests: 1\n" in str(cb) and "unknown" not in str(cb)


async def test_ainvoke_is_counted(model: ChatGradient) -> None:
    with get_gradient_callback() as cb:
        message = await model.ainvoke(PROMPT)
    assert counted(cb) == usage_of(message)
    assert cb.successful_requests == 1
    assert cb.total_cost == pytest.approx(price(PRICED, *usage_of(message)[:3]))


def test_a_stream_is_counted_once_as_its_invoke(model: ChatGradient) -> None:
    expected = usage_of(model.invoke(PROMPT))
    with get_gradient_callback() as cb:
        chunks = list(model.stream(PROMPT))
    assert sum(1 for chunk in chunks if chunk.usage_metadata) == 1  # usage rides on the last chunk only
    assert usage_of(merged(chunks)) == expected
    assert counted(cb) == expected
    assert cb.successful_requests == 1
    assert cb.total_cost == pytest.approx(price(PRICED, *expected[:3]))


async def test_an_async_stream_is_counted_once_as_its_invoke(model: ChatGradient) -> None:
    expected = usage_of(await model.ainvoke(PROMPT))
    with get_gradient_callback() as cb:
        chunks = [chunk async for chunk in model.astream(PROMPT)]
    assert len(chunks) > 2
    assert counted(cb) == expected
    assert cb.successful_requests == 1


def test_a_stream_without_usage_is_not_counted(local_server: LocalServer) -> None:
    quiet = on(local_server, PRICED, stream_usage=False)
    with get_gradient_callback() as cb:
        text = "".join(chunk.text for chunk in quiet.stream(PROMPT))
    assert text  # it answered, but reported no usage: nothing to add (as OpenAICallbackHandler)
    assert cb.successful_requests == 0 and cb.total_tokens == 0


def test_batch_in_threads_counts_each_answer(model: ChatGradient) -> None:
    prompts: list[LanguageModelInput] = [f"question number {n} please" for n in range(4)]
    with get_gradient_callback() as cb:
        messages = model.batch(prompts, config={"max_concurrency": 4})
    assert len(messages) == 4
    assert counted(cb) == total(messages)
    assert cb.successful_requests == 4
    input_tokens, output_tokens, cached, _ = total(messages)
    assert cb.total_cost == pytest.approx(price(PRICED, input_tokens, output_tokens, cached))


async def test_abatch_and_concurrent_tasks_are_counted(model: ChatGradient) -> None:
    with get_gradient_callback() as cb:
        batched = await model.abatch(["one", "two", "three"])
        gathered = await asyncio.gather(*(model.ainvoke(f"task {n}") for n in range(3)))
    assert counted(cb) == total([*batched, *gathered])
    assert cb.successful_requests == 6


def test_cached_prompt_tokens_cost_the_cached_rate(local_server: LocalServer) -> None:
    cached_model = on(local_server, CACHED_RATE)
    prompt = " ".join(f"{uuid.uuid4().hex[:6]}" for _ in range(40))  # 40 fresh words: 32 cache on repeat
    with get_gradient_callback() as cb:
        first = cached_model.invoke(prompt)
        second = cached_model.invoke(prompt)
    assert usage_of(first)[2] == 0 and usage_of(second)[2] == 32
    input_tokens, output_tokens, cached, _ = total([first, second])
    assert cb.prompt_tokens_cached == 32
    info = CATALOG.info(CACHED_RATE)
    assert info.cached_input_usd_per_mtok is not None and info.cached_input_usd_per_mtok < (
        info.input_usd_per_mtok or 0
    )
    assert cb.total_cost == pytest.approx(price(CACHED_RATE, input_tokens, output_tokens, cached))
    uncached = price(CACHED_RATE, input_tokens, output_tokens)
    assert cb.total_cost < uncached


# -- prices the catalog does not have ----------------------------------------------------------------
def test_a_model_without_a_price_makes_the_cost_unknown(
    local_server: LocalServer, model: ChatGradient
) -> None:
    with get_gradient_callback() as cb:
        priced = model.invoke(PROMPT)
        on(local_server, UNPRICED).invoke(PROMPT)
    assert cb.successful_requests == 2
    assert cb.cost_known is False and cb.unpriced_models == [UNPRICED]
    assert cb.by_model[UNPRICED].cost_usd is None
    assert cb.total_cost == pytest.approx(price(PRICED, *usage_of(priced)[:3]))  # the known part only
    assert f"+ unknown (no price for: {UNPRICED})" in str(cb)


def test_a_catalog_of_ones_own_prices_the_model(local_server: LocalServer) -> None:
    catalog = ModelCatalog().with_models(
        ModelInfo(id=UNPRICED, input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    )
    with get_gradient_callback(catalog=catalog) as cb:
        message = on(local_server, UNPRICED).invoke(PROMPT)
    input_tokens, output_tokens, _, _ = usage_of(message)
    assert cb.cost_known
    assert cb.total_cost == pytest.approx((input_tokens * 1.0 + output_tokens * 2.0) / 1e6)


# -- which block counts what -------------------------------------------------------------------------
def test_calls_outside_the_block_are_not_counted(model: ChatGradient) -> None:
    model.invoke("before")
    with get_gradient_callback() as cb:
        inside = model.invoke(PROMPT)
    model.invoke("after")
    list(model.stream("after, streamed"))
    assert cb.successful_requests == 1 and counted(cb) == usage_of(inside)


def test_nested_blocks_each_count_and_the_outer_counts_the_inner_calls(model: ChatGradient) -> None:
    with get_gradient_callback() as outer:
        first = model.invoke("first")
        with get_gradient_callback() as inner:
            second = model.invoke("second")
            third = "".join(chunk.text for chunk in model.stream("third"))
        fourth = model.invoke("fourth")
    assert third
    assert inner.successful_requests == 2
    assert inner.prompt_tokens == usage_of(second)[0] + 1  # "third" is one word
    assert outer.successful_requests == 4
    assert outer.prompt_tokens == usage_of(first)[0] + inner.prompt_tokens + usage_of(fourth)[0]


def test_a_run_holding_both_handlers_is_counted_once_in_each(model: ChatGradient) -> None:
    """An outer handler inherited from a parent run and an inner one added for the call both see it."""

    def measured(text: str, config: RunnableConfig) -> tuple[AIMessage, GradientCallbackHandler]:
        with get_gradient_callback() as inner:
            message = model.invoke(text, config)
        return message, inner

    with get_gradient_callback() as outer:
        message, inner = RunnableLambda(measured).invoke(PROMPT)
    assert inner.successful_requests == 1 and outer.successful_requests == 1
    assert counted(inner) == counted(outer) == usage_of(message)


def test_a_handler_passed_as_a_callback_counts_without_the_block(model: ChatGradient) -> None:
    handler = GradientCallbackHandler()
    message = model.invoke(PROMPT, config={"callbacks": [handler]})
    with get_gradient_callback() as cb:
        model.invoke(PROMPT, config={"callbacks": [cb]})  # also added by the block: still once
    assert handler.successful_requests == 1 and counted(handler) == usage_of(message)
    assert cb.successful_requests == 1


def test_per_model_breakdown(local_server: LocalServer, model: ChatGradient) -> None:
    plain = on(local_server, PLAIN)
    with get_gradient_callback() as cb:
        a = model.invoke("alpha")
        b = plain.invoke("beta gamma")
        c = plain.invoke("delta")
    by_model = cb.by_model
    assert list(by_model) == [PRICED, PLAIN]
    assert by_model[PRICED].prompt_tokens == usage_of(a)[0]
    assert by_model[PRICED].reasoning_tokens == usage_of(a)[3] > 0
    assert by_model[PLAIN].successful_requests == 2
    assert by_model[PLAIN].completion_tokens == usage_of(b)[1] + usage_of(c)[1]
    assert by_model[PLAIN].reasoning_tokens == 0
    assert by_model[PLAIN].cost_usd == pytest.approx(price(PLAIN, *total([b, c])[:3]))
    assert cb.total_cost == pytest.approx(sum(usage.cost_usd or 0 for usage in by_model.values()))


def test_eight_threads_sharing_one_handler(model: ChatGradient) -> None:
    handler = GradientCallbackHandler()

    def work(n: int) -> list[BaseMessage]:
        return [model.invoke(f"thread {n} call {k}", config={"callbacks": [handler]}) for k in range(3)]

    with ThreadPoolExecutor(8) as pool:
        messages = [message for batch in pool.map(work, range(8)) for message in batch]
    assert handler.successful_requests == 24
    assert counted(handler) == total(messages)


def test_embeddings_are_counted_through_the_active_tally(local_server: LocalServer) -> None:
    from gradient_integrations.langchain import GradientEmbeddings

    embeddings = GradientEmbeddings(model="qwen3-embedding-0.6b", base_url=local_server.base_url)
    with get_gradient_callback() as cb:
        assert active_tallies() == (cb.tally,)
        embeddings.embed_documents(["one two three", "four five"])
    assert active_tallies() == ()
    assert cb.embedding_tokens == 5 and cb.successful_requests == 1
    assert cb.total_cost == pytest.approx(price("qwen3-embedding-0.6b", 5, 0))


# -- inside LangChain programs -------------------------------------------------------------------------
@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def agent_messages(result: dict[str, Any]) -> list[BaseMessage]:
    return [message for message in result["messages"] if isinstance(message, AIMessage)]


def test_an_agent_run_counts_every_model_call(local_server: LocalServer) -> None:
    agent = create_agent(on(local_server, PLAIN), [get_weather], system_prompt="Use the tools.")
    with get_gradient_callback() as cb:
        result = agent.invoke({"messages": [HumanMessage("What is the weather in 'Paris'?")]})
    answers = agent_messages(result)
    assert len(answers) == 2  # the tool call, then the answer
    assert cb.successful_requests == 2
    assert counted(cb) == total(list(answers))


async def test_an_async_streamed_agent_run_counts_every_model_call(local_server: LocalServer) -> None:
    agent = create_agent(on(local_server, PLAIN), [get_weather], system_prompt="Use the tools.")
    with get_gradient_callback() as cb:
        final: dict[str, Any] = {}
        async for state in agent.astream(
            {"messages": [HumanMessage("What is the weather in 'Paris'?")]}, stream_mode="values"
        ):
            final = state
    answers = agent_messages(final)
    assert len(answers) == 2
    assert cb.successful_requests == 2
    assert counted(cb) == total(list(answers))


@pytest.fixture(autouse=True)
def _no_tally_leaks() -> Iterator[None]:
    yield
    assert active_tallies() == ()
