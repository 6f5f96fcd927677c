"""`make demo`'s program: runs every step on the local server, and fails in one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gradient_integrations.core.settings import API_KEY_ENV_VARS
from gradient_integrations.local import LocalServer

DEMO_KEY = "sk-do-DEMO-TEST-KEY-0123456789"


def _run_demo(*args: str, key: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in API_KEY_ENV_VARS}
    env.pop("GRADIENT_INFERENCE_ENDPOINT", None)
    if key is not None:
        env["GRADIENT_MODEL_ACCESS_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "gradient_integrations.demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["do", "vllm"])
def test_demo_without_a_key_runs_every_step_on_the_embedded_server(dialect: str) -> None:
    run = _run_demo("--stream-dialect", dialect)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "No access key set: using the embedded local Gradient-compatible server" in out
    assert f"{dialect} stream dialect" in out
    for heading in (
        "=== LangChain: ChatGradient",
        "Streamed answer, token by token",
        "Tool-calling agent with two tools",
        "Structured output into a pydantic model",
        "Retrieval with GradientEmbeddings",
        "Built-in tools on DO's side: web search and a knowledge base",
        "Batch Inference job of three prompts",
        "=== LlamaIndex: GradientLLM",
        "All-Gradient RAG: GradientEmbedding index, GradientLLM answer, streamed",
        "FunctionAgent with a tool",
    ):
        assert heading in out
    # The agent ran both tools and the FunctionAgent used multiply's result.
    assert "tool get_weather(" in out and "tool get_population(" in out
    assert "CityFacts(city='Paris'" in out
    assert "42" in out.split("FunctionAgent with a tool", 1)[1]
    # Retrieval found the document about the key, with GradientEmbeddings and with GradientEmbedding.
    assert "best match: A model access key authorises" in out
    rag = out.split("All-Gradient RAG", 1)[1].split("FunctionAgent with a tool", 1)[0]
    assert "GRADIENT_MODEL_ACCESS_KEY" in rag
    # Web search and the demo-kb knowledge base ran on the server's side, and the answer cites them.
    built_in = out.split("Built-in tools on DO's side", 1)[1].split("Batch Inference job", 1)[0]
    assert (
        "web_search ran on DO's side" in built_in and "knowledge_base_retrieval ran on DO's side" in built_in
    )
    assert "https://docs.example.com/" in built_in and "document-" in built_in  # a URL and a KB document
    assert "$0.01" in built_in  # the search's own price, on top of the tokens
    # The batch step's answers, in input order, from the local server's Batch Inference emulation.
    batch = out.split("Batch Inference job of three prompts", 1)[1].split("=== LlamaIndex", 1)[0]
    assert batch.index("colour of sky") < batch.index("colour of grass") < batch.index("colour of snow")
    assert "tokens at the batch rate" in batch
    # Latency, tokens and dollars for each of the eight steps, and non-zero totals priced by the catalog.
    assert out.count(" ms, ") == 8
    assert out.split("Done:", 1)[0].count(" embedded tokens, $") == 2  # both retrieval steps, priced
    done = out.split("Done: 8 steps", 1)[1]
    assert " 0 in + 0 out" not in done
    assert "Total Cost (USD): $0.0" in done and "unknown" not in done


@pytest.mark.slow
def test_unreachable_endpoint_exits_non_zero_with_one_line() -> None:
    run = _run_demo("--base-url", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("demo failed: APIConnectionError")
    assert "Traceback" not in run.stderr + run.stdout


def test_rejected_key_exits_non_zero_without_leaking_it() -> None:
    with LocalServer(api_key="sk-do-the-right-key") as server:
        run = _run_demo("--base-url", server.base_url, key=DEMO_KEY)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("demo failed: AuthenticationError: Error code: 401")
    assert DEMO_KEY not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_debug_flag_shows_the_traceback() -> None:
    run = _run_demo("--base-url", "http://127.0.0.1:9", "--debug")
    assert run.returncode != 0
    assert "Traceback" in run.stderr
