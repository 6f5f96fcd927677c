"""`make demo`: the package's main job, shown end to end in a terminal.

With no access key set, it starts the embedded local Gradient-compatible server in-process and says so in
one line; with `GRADIENT_MODEL_ACCESS_KEY` (or `MODEL_ACCESS_KEY`, `DIGITALOCEAN_INFERENCE_KEY`) set it calls
the real endpoint. It shows LangChain (a streamed answer, a two-tool agent loop, structured output, usage
totals) and LlamaIndex (a streamed query engine answer over bundled documents, a FunctionAgent with a tool),
with latency and tokens per step. A failure prints one clear line and exits non-zero (`--debug` for the
traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from .core.errors import GradientError
from .core.settings import resolve_api_key

DEFAULT_MODEL = "openai-gpt-oss-20b"

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
    """Latency and tokens per step, printed as the demo goes and totalled at the end."""

    input_tokens: int = 0
    output_tokens: int = 0
    steps: list[tuple[str, float, int]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[dict[str, int]]:
        print(f"\n--- {title}")
        usage = {"input": 0, "output": 0}
        started = time.perf_counter()
        yield usage
        elapsed = time.perf_counter() - started
        self.input_tokens += usage["input"]
        self.output_tokens += usage["output"]
        self.steps.append((title, elapsed, usage["input"] + usage["output"]))
        print(f"    [{elapsed * 1000:.0f} ms, {usage['input']} in + {usage['output']} out tokens]")


def _add_lc_usage(usage: dict[str, int], message: Any) -> None:
    metadata = getattr(message, "usage_metadata", None) or {}
    usage["input"] += int(metadata.get("input_tokens", 0))
    usage["output"] += int(metadata.get("output_tokens", 0))


def langchain_part(model: str, base_url: str | None, report: Report) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from .langchain import ChatGradient

    print("\n=== LangChain: ChatGradient")
    llm = ChatGradient(model=model, base_url=base_url, temperature=0.2)

    with report.step("Streamed answer, token by token") as usage:
        final = None
        for chunk in llm.stream("In one sentence, what does a model access key do?"):
            print(chunk.text, end="", flush=True)
            final = chunk if final is None else final + chunk
        print()
        _add_lc_usage(usage, final)

    with report.step("Tool-calling agent with two tools") as usage:
        tools = {t.name: t for t in (tool(get_weather), tool(get_population))}
        agent = llm.bind_tools(list(tools.values()))
        messages: list[Any] = [
            HumanMessage('Use get_weather and get_population for "Paris", then summarise both in one line.')
        ]
        for _ in range(4):  # an agent loop: call the model, run the tools it asks for, repeat
            reply = agent.invoke(messages)
            _add_lc_usage(usage, reply)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                output = tools[call["name"]].invoke(call["args"])
                print(f"    tool {call['name']}({call['args']}) -> {output}")
                messages.append(ToolMessage(str(output), tool_call_id=call["id"]))
        print(f"    answer: {messages[-1].text}")

    with report.step("Structured output into a pydantic model") as usage:
        structured = llm.with_structured_output(CityFacts, include_raw=True)
        outcome = structured.invoke('Give the facts for the city "Paris".')
        _add_lc_usage(usage, outcome["raw"])
        print(f"    {outcome['parsed']!r}")


def _llama_index_usage_counter() -> Any:
    """An instrumentation handler summing the usage GradientLLM reports on every LLM end event.

    Query engines and agents do not return usage, but every chat they make ends with an event whose
    response carries it (`additional_kwargs["prompt_tokens"]`, as llama-index's OpenAI LLM reports it).
    """
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
    from llama_index_instrumentation import get_dispatcher  # what llama_index.core.instrumentation re-exports

    class UsageCounter(BaseEventHandler):
        input_tokens: int = 0
        output_tokens: int = 0

        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, LLMChatEndEvent) and event.response is not None:
                counts = event.response.additional_kwargs
                self.input_tokens += int(counts.get("prompt_tokens", 0))
                self.output_tokens += int(counts.get("completion_tokens", 0))

    counter = UsageCounter()
    get_dispatcher().add_event_handler(counter)
    return counter


def _take_usage(counter: Any, usage: dict[str, int]) -> None:
    usage["input"] += counter.input_tokens
    usage["output"] += counter.output_tokens
    counter.input_tokens = counter.output_tokens = 0


def llama_index_part(model: str, base_url: str | None, report: Report) -> None:
    from llama_index.core import Document, SummaryIndex
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool

    from .llama_index import GradientLLM

    print("\n=== LlamaIndex: GradientLLM")
    llm = GradientLLM(model=model, base_url=base_url, temperature=0.2)
    counter = _llama_index_usage_counter()

    with report.step("Query engine over bundled documents, streamed") as usage:
        index = SummaryIndex.from_documents([Document(text=text) for text in DOCUMENTS])
        engine = index.as_query_engine(llm=llm, streaming=True)
        streamed = engine.query("Which environment variables hold the access key?")
        for token in streamed.response_gen:  # type: ignore[union-attr]
            print(token, end="", flush=True)
        print()
        _take_usage(counter, usage)

    with report.step("FunctionAgent with a tool") as usage:
        agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=multiply)], llm=llm)

        async def run_agent() -> Any:
            return await agent.run(user_msg="Use multiply with 6 and 7 and tell me the result.")

        answer = asyncio.run(run_agent())
        _take_usage(counter, usage)
        print(f"    answer: {answer}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradient_integrations.demo", description=__doc__)
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
    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if base_url is None and resolve_api_key() is None:
            from .local import LocalServer

            server = stack.enter_context(LocalServer(stream_dialect=args.stream_dialect))
            base_url = server.base_url
            print(
                f"No access key set: using the embedded local Gradient-compatible server at {base_url} "
                f"(its scripted model echoes prompts and calls the tools a prompt names; "
                f"{args.stream_dialect} stream dialect)."
            )
        else:
            print(f"Using {base_url or os.environ.get('GRADIENT_INFERENCE_ENDPOINT') or 'the DO endpoint'}.")
        print(f"Model: {args.model}")
        try:
            langchain_part(args.model, base_url, report)
            llama_index_part(args.model, base_url, report)
        except GradientError as exc:
            if args.debug:
                raise
            print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    total = sum(seconds for _, seconds, _ in report.steps)
    print(
        f"\nDone: {len(report.steps)} steps in {total:.2f} s, "
        f"{report.input_tokens} input + {report.output_tokens} output tokens."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
