"""`make demo`: the package's main job, shown end to end in a terminal.

With no access key set, it starts the embedded local Gradient-compatible server in-process and says so in
one line; with `GRADIENT_MODEL_ACCESS_KEY` (or `MODEL_ACCESS_KEY`, `DIGITALOCEAN_INFERENCE_KEY`) set it calls
the real endpoint. It shows LangChain (a streamed answer, a two-tool agent loop, structured output,
retrieval with `GradientEmbeddings`, DO's built-in tools: web search, and a Gradient knowledge base searched
on DO's side, the platform's own RAG (`GRADIENT_KNOWLEDGE_BASE_ID`; the local server's `demo-kb` holds the
demo's documents), a small Batch Inference job) and LlamaIndex (an all-Gradient RAG: a `VectorStoreIndex`
embedded with `GradientEmbedding`, queried with `GradientLLM`, streamed; a FunctionAgent with a tool), with
latency, tokens and dollars per step (`get_gradient_callback`, `gradient_usage`; prices from the model
catalog; web searches at DO's price).
A failure prints one clear line and exits non-zero (`--debug` for the traceback).

Each half runs when its extra is installed and says how to get it otherwise; with neither adapter it makes
one call with the core's `ResponsesClient`. Without a key it needs the `local` extra for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ._extras import is_installed
from .core.errors import GradientError
from .core.settings import resolve_api_key
from .core.usage import UsageTally, active_tallies, tracking

DEFAULT_MODEL = "openai-gpt-oss-20b"
BATCH_MODEL = "openai-gpt-5-nano"  # Batch Inference serves OpenAI's own models, not DO-hosted open ones
BATCH_WAIT_SECONDS = 30.0  # a real job may take hours: the demo shows its id and moves on
EMBEDDING_MODEL = "qwen3-embedding-0.6b"

DOCUMENTS = (
    "Gradient is DigitalOcean's AI platform. Its serverless inference endpoint is "
    "https://inference.do-ai.run "
    "and answers POST /v1/responses and POST /v1/chat/completions.",
    "A model access key authorises serverless inference. gradient-integrations reads it from "
    "GRADIENT_MODEL_ACCESS_KEY, then MODEL_ACCESS_KEY, then DIGITALOCEAN_INFERENCE_KEY.",
    "The /v1/responses endpoint is text-only. It streams DO response.chunk chunks ending with data: [DONE].",
)


class CityFacts(BaseModel):
    """Facts about a city, filled by the model through structured output."""

    city: str = Field(description="The city's name")
    country: str = Field(description="The country the city is in")
    population_millions: float = Field(description="Population in millions")


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 21 C in {city}"


def get_population(city: str) -> str:
    """Population of a city in millions."""
    return f"{city} has about 2.1 million inhabitants"


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


@dataclass
class Report:
    """Latency, tokens and dollars per step, printed as the demo goes and totalled at the end.

    Each step is a `get_gradient_callback()` block: LangChain runs report to it through their callbacks,
    LlamaIndex calls through its instrumentation events (`install_usage_handler`), embedding calls
    directly; prices come from the model catalog. Nested in `main`'s own block, which sums every step.
    """

    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        print(f"\n--- {title}")
        started = time.perf_counter()
        with counting() as tally:
            yield
        elapsed = time.perf_counter() - started
        self.steps.append((title, elapsed))
        print(f"    [{elapsed * 1000:.0f} ms, {_usage_line(tally)}]")


@contextlib.contextmanager
def counting() -> Iterator[UsageTally]:
    """A tally of the calls in the block: LangChain's callback when it is installed (it sees LangChain
    runs), else a core tally (LlamaIndex's usage handler and the core step report to it)."""
    if is_installed("langchain_core"):
        from .langchain import get_gradient_callback

        with get_gradient_callback() as counted:
            yield counted.tally
    else:
        with tracking(UsageTally()) as tally:
            yield tally


def _usage_line(tally: UsageTally) -> str:
    embedded = f" + {tally.embedding_tokens} embedded" if tally.embedding_tokens else ""
    cost = f"${tally.total_cost:.6f}"
    if not tally.cost_known:
        cost += f" + unknown (no price for {', '.join(tally.unpriced_models)})"
    return f"{tally.prompt_tokens} in + {tally.completion_tokens} out{embedded} tokens, {cost}"


def langchain_part(model: str, base_url: str | None, report: Report, knowledge_base: str | None) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from .langchain import ChatGradient, GradientEmbeddings

    print("\n=== LangChain: ChatGradient")
    llm = ChatGradient(model=model, base_url=base_url, temperature=0.2)

    with report.step("Streamed answer, token by token"):
        for chunk in llm.stream("In one sentence, what does a model access key do?"):
            print(chunk.text, end="", flush=True)
        print()

    with report.step("Tool-calling agent with two tools"):
        tools = {t.name: t for t in (tool(get_weather), tool(get_population))}
        agent = llm.bind_tools(list(tools.values()))
        messages: list[Any] = [
            HumanMessage('Use get_weather and get_population for "Paris", then summarise both in one line.')
        ]
        for _ in range(4):  # an agent loop: call the model, run the tools it asks for, repeat
            reply = agent.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                output = tools[call["name"]].invoke(call["args"])
                print(f"    tool {call['name']}({call['args']}) -> {output}")
                messages.append(ToolMessage(str(output), tool_call_id=call["id"]))
        print(f"    answer: {messages[-1].text}")

    with report.step("Structured output into a pydantic model"):
        structured = llm.with_structured_output(CityFacts, include_raw=True)
        outcome = structured.invoke('Give the facts for the city "Paris".')
        print(f"    {outcome['parsed']!r}")

    with report.step("Retrieval with GradientEmbeddings"):
        with GradientEmbeddings(model=EMBEDDING_MODEL, base_url=base_url) as embeddings:
            vectors = embeddings.embed_documents(list(DOCUMENTS))
            query = embeddings.embed_query("Which environment variable holds the model access key?")
        # What InMemoryVectorStore.similarity_search ranks by, without the numpy it needs for it.
        best = max(range(len(DOCUMENTS)), key=lambda i: _cosine(query, vectors[i]))
        print(f"    best match: {DOCUMENTS[best][:70]}...")

    where = " and a knowledge base" if knowledge_base else ""
    with report.step(f"Built-in tools on DO's side: web search{where}"):
        built_in: list[Any] = [{"type": "web_search", "max_uses": 1, "max_results": 2}]
        if knowledge_base:  # Gradient's own RAG: retrieval runs on DO's side, no embeddings here
            built_in.append({"type": "knowledge_base_retrieval", "knowledge_base_id": knowledge_base})
        searcher = ChatGradient(model=model, base_url=base_url, output_version="v1").bind_tools(built_in)
        reply = searcher.invoke("Which environment variable holds the model access key?")
        for block in reply.content_blocks:
            if block["type"] == "server_tool_call":
                print(f"    {block['name']} ran on DO's side: {block.get('args')}")
            elif block["type"] == "text":
                cited = [note.get("url") or note.get("title") for note in block.get("annotations", [])]
                print(f"    answer: {block['text'][:90]}... citing {cited}")


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def batch_step(base_url: str | None, report: Report) -> None:
    from langchain_core.messages import AIMessage

    from .core.errors import BatchTimeoutError
    from .langchain import ChatGradient

    # Batch answers are billed at Batch Inference's own rate, which the catalog does not hold: their tokens
    # are printed here and left out of the dollar tallies.
    with report.step(f"Batch Inference job of three prompts ({BATCH_MODEL})"):
        llm = ChatGradient(model=BATCH_MODEL, base_url=base_url)
        job = llm.submit_batch([f"One word for the colour of {thing}." for thing in ("sky", "grass", "snow")])
        print(f"    submitted {job.id}")
        try:
            job.wait(timeout=BATCH_WAIT_SECONDS)
        except BatchTimeoutError:
            print(f"    still {job.status} after {BATCH_WAIT_SECONDS:.0f} s: llm.batch_job(id) re-attaches")
            return
        answers = job.results()
        for answer in answers:
            print(f"    {answer.text if isinstance(answer, AIMessage) else repr(answer)}")
        used = [answer.usage_metadata for answer in answers if isinstance(answer, AIMessage)]
        tokens = sum(usage["total_tokens"] for usage in used if usage)
        print(f"    {tokens} tokens at the batch rate (not in the dollar tallies)")


def core_part(model: str, base_url: str | None, report: Report) -> None:
    from .core import ResponseResult, ResponsesClient, build_request

    def count(result: ResponseResult) -> None:
        usage = result.usage
        for tally in active_tallies():
            if usage is not None:
                tally.add_chat(result.model or model, usage.input_tokens, usage.output_tokens)

    print("\n=== The core: ResponsesClient (no LangChain or LlamaIndex installed)")
    with report.step("One request, then one streamed"), ResponsesClient(base_url=base_url) as client:
        result = client.create(build_request(model=model, input="In one sentence, what is Gradient?"))
        print(f"    {result.text}")
        count(result)
        with client.stream(build_request(model=model, input="Say hello in five words.")) as stream:
            for delta in stream:
                print(delta.text, end="", flush=True)
            print()
        count(stream.result)


def llama_index_part(model: str, base_url: str | None, report: Report) -> None:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool

    from .llama_index import GradientEmbedding, GradientLLM, install_usage_handler

    print("\n=== LlamaIndex: GradientLLM")
    install_usage_handler()  # LlamaIndex calls report their usage through its instrumentation events
    llm = GradientLLM(model=model, base_url=base_url, temperature=0.2)

    rag = "All-Gradient RAG: GradientEmbedding index, GradientLLM answer, streamed"
    with report.step(rag), GradientEmbedding(model_name=EMBEDDING_MODEL, base_url=base_url) as embed_model:
        index = VectorStoreIndex.from_documents(
            [Document(text=text) for text in DOCUMENTS], embed_model=embed_model
        )
        engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=1)
        streamed = engine.query("Which environment variables hold the access key?")
        for token in streamed.response_gen:  # type: ignore[union-attr]
            print(token, end="", flush=True)
        print()

    with report.step("FunctionAgent with a tool"):
        agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm)

        async def run_agent() -> Any:
            return await agent.run(user_msg="Use multiply with 6 and 7 and tell me the result.")

        answer = asyncio.run(run_agent())
        print(f"    answer: {answer}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gradient-demo", description=__doc__)
    parser.add_argument("--model", default=os.environ.get("GRADIENT_MODEL", DEFAULT_MODEL))
    parser.add_argument("--base-url", default=None, help="endpoint root (default: env or the DO endpoint)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--stream-dialect",
        choices=("do", "openai", "vllm"),
        default="do",
        help="the embedded local server's stream format: DO chunks, OpenAI or vLLM typed events",
    )
    args = parser.parse_args(argv)

    report = Report()
    # A Gradient knowledge base to search on DO's side: the local server holds the demo's documents.
    knowledge_base = os.environ.get("GRADIENT_KNOWLEDGE_BASE_ID")
    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if base_url is None and resolve_api_key() is None:
            try:
                from .local import LocalServer
            except ModuleNotFoundError as exc:  # the `local` extra's own message names its pip install
                print(f"No access key set: set GRADIENT_MODEL_ACCESS_KEY, or: {exc}", file=sys.stderr)
                return 1

            server = stack.enter_context(LocalServer(stream_dialect=args.stream_dialect))
            base_url = server.base_url
            knowledge_base = knowledge_base or "demo-kb"
            print(
                f"No access key set: using the embedded local Gradient-compatible server at {base_url} "
                f"(its scripted model echoes prompts and calls the tools a prompt names; "
                f"{args.stream_dialect} stream dialect)."
            )
        else:
            print(f"Using {base_url or os.environ.get('GRADIENT_INFERENCE_ENDPOINT') or 'the DO endpoint'}.")
        print(f"Model: {args.model}; embeddings: {EMBEDDING_MODEL}")
        has_langchain, has_llama_index = is_installed("langchain_core"), is_installed("llama_index.core")
        try:
            with counting() as total:
                if has_langchain:
                    langchain_part(args.model, base_url, report, knowledge_base)
                    batch_step(base_url, report)
                else:
                    print(f"\n=== LangChain half skipped: {_install_hint('langchain')}")
                if has_llama_index:
                    llama_index_part(args.model, base_url, report)
                else:
                    print(f"\n=== LlamaIndex half skipped: {_install_hint('llama-index')}")
                if not (has_langchain or has_llama_index):
                    core_part(args.model, base_url, report)
        except GradientError as exc:
            if args.debug:
                raise
            print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    seconds = sum(elapsed for _, elapsed in report.steps)
    print(f"\nDone: {len(report.steps)} steps in {seconds:.2f} s, {_usage_line(total)}.")
    print(total)
    return 0


def _install_hint(extra: str) -> str:
    return f'pip install "gradient-integrations[{extra}]" (or [all]) to run it'


if __name__ == "__main__":
    sys.exit(main())
