"""`GradientLLM` as a drop-in LLM for LlamaIndex's own machinery, against the local server: query engines
over `SummaryIndex` and `VectorStoreIndex` (offline `MockEmbedding`), a condense-plus-context chat engine,
and a `FunctionAgent` that calls two tools and answers; sync and async, streaming and not.

The local scripted model answers "You said: <last user message>", and after tool results "Tool results:
<name> returned <output>; ...". So an answer that contains a document's fact proves the retrieved context
reached the model, and one that contains both tool outputs proves the agent loop ran both tools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from llama_index.core import Document, SummaryIndex, VectorStoreIndex
from llama_index.core.agent.workflow import AgentOutput, FunctionAgent, ToolCallResult
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer

# llama-index's workflow engine walks each agent with inspect.getmembers, touching pydantic's deprecated
# attributes; that noise is theirs, not this adapter's.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

FACTS = [
    "The Gradient lighthouse on Kelp Island is painted teal.",
    "Kelp Island ferries leave every 40 minutes from Harbour Pier.",
    "The island bakery sells seaweed bread on Sundays only.",
]


@pytest.fixture
def llm(local_server: LocalServer) -> Iterator[GradientLLM]:
    llm = GradientLLM(model="llama3.3-70b-instruct", base_url=local_server.base_url, max_retries=0)
    yield llm
    llm.close()


@pytest.fixture
def documents() -> list[Document]:
    return [Document(text=fact) for fact in FACTS]


@pytest.fixture
def vector_index(documents: list[Document]) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))


def assert_grounded(answer: str, response: Response | StreamingResponse) -> None:
    """The answer carries the text of every retrieved node, so the context reached the model."""
    assert response.source_nodes
    for node in response.source_nodes:
        assert node.node.get_content() in answer


# -- query engines ------------------------------------------------------------------------------
def test_summary_index_query_engine(llm: GradientLLM, documents: list[Document]) -> None:
    engine = SummaryIndex.from_documents(documents).as_query_engine(llm=llm)
    response = engine.query("What colour is the lighthouse?")
    assert isinstance(response, Response) and response.response
    assert "What colour is the lighthouse?" in response.response
    assert_grounded(response.response, response)
    assert len(response.source_nodes) == len(FACTS)


async def test_summary_index_query_engine_async(llm: GradientLLM, documents: list[Document]) -> None:
    engine = SummaryIndex.from_documents(documents).as_query_engine(llm=llm)
    response = await engine.aquery("When does the bakery sell seaweed bread?")
    assert isinstance(response, Response) and response.response
    assert_grounded(response.response, response)


def test_vector_index_streaming_query_engine(llm: GradientLLM, vector_index: VectorStoreIndex) -> None:
    engine = vector_index.as_query_engine(llm=llm, similarity_top_k=2, streaming=True)
    response = engine.query("How often do ferries leave?")
    assert isinstance(response, StreamingResponse)
    tokens = list(response.response_gen)
    assert len(tokens) > 1
    answer = "".join(tokens)
    assert len(response.source_nodes) == 2
    assert_grounded(answer, response)


async def test_vector_index_query_engine_async(llm: GradientLLM, vector_index: VectorStoreIndex) -> None:
    engine = vector_index.as_query_engine(llm=llm, similarity_top_k=1)
    response = await engine.aquery("What is painted teal?")
    assert isinstance(response, Response) and response.response
    assert len(response.source_nodes) == 1
    assert_grounded(response.response, response)


# -- chat engine ---------------------------------------------------------------------------------
def test_chat_engine_keeps_history_and_uses_the_context(
    llm: GradientLLM, vector_index: VectorStoreIndex
) -> None:
    engine = vector_index.as_chat_engine(
        chat_mode="condense_plus_context",
        llm=llm,
        similarity_top_k=1,
        # llama-index's default memory opens an SQLite store (and an event loop) that nothing closes.
        memory=ChatMemoryBuffer.from_defaults(llm=llm),
    )
    first = engine.chat("Tell me about the lighthouse.")
    assert "Tell me about the lighthouse." in first.response
    second = engine.stream_chat("And the ferries?")
    streamed = "".join(second.response_gen)
    assert streamed and streamed == second.response
    history = engine.chat_history
    assert [message.role.value for message in history] == ["user", "assistant", "user", "assistant"]
    assert history[-1].content == streamed


async def test_chat_engine_async_streaming(llm: GradientLLM, vector_index: VectorStoreIndex) -> None:
    engine = vector_index.as_chat_engine(
        chat_mode="condense_plus_context",
        llm=llm,
        similarity_top_k=1,
        # llama-index's default memory opens an SQLite store (and an event loop) that nothing closes.
        memory=ChatMemoryBuffer.from_defaults(llm=llm),
    )
    first = await engine.achat("Where do ferries leave from?")
    assert first.response and first.source_nodes
    second = await engine.astream_chat("What about bread?")
    pieces = [piece async for piece in second.async_response_gen()]
    assert len(pieces) > 1
    assert "".join(pieces) == engine.chat_history[-1].content


# -- a function-calling agent with two tools ------------------------------------------------------
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny, 18 C in {city}"


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"10:30 in {city}"


TOOLS = [FunctionTool.from_defaults(fn=get_weather), FunctionTool.from_defaults(fn=get_time)]
QUESTION = 'Use get_weather and get_time for "Lisbon", then answer.'


async def run_agent(llm: GradientLLM, *, streaming: bool) -> tuple[AgentOutput, list[str], list[str]]:
    agent = FunctionAgent(tools=TOOLS, llm=llm, system_prompt="You are a travel helper.", streaming=streaming)
    handler = agent.run(user_msg=QUESTION)
    called: list[str] = []
    deltas: list[str] = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            called.append(event.tool_name)
        delta = getattr(event, "delta", None)
        if isinstance(delta, str) and delta:
            deltas.append(delta)
    return await handler, called, deltas


def assert_agent_answered(output: AgentOutput, called: list[str]) -> None:
    assert sorted(called) == ["get_time", "get_weather"]
    answer = output.response.content or ""
    assert "Sunny, 18 C in Lisbon" in answer and "10:30 in Lisbon" in answer
    assert sorted(call.tool_name for call in output.tool_calls) == ["get_time", "get_weather"]


async def test_function_agent_streaming_calls_two_tools_and_answers(llm: GradientLLM) -> None:
    output, called, deltas = await run_agent(llm, streaming=True)
    assert_agent_answered(output, called)
    assert "".join(deltas).endswith(output.response.content or "")  # the answer streamed token by token


def test_function_agent_from_sync_code_without_streaming(llm: GradientLLM) -> None:
    output, called, deltas = asyncio.run(run_agent(llm, streaming=False))
    assert_agent_answered(output, called)
    assert deltas == []  # no streaming: the answer arrived whole
