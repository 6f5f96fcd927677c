"""`GradientLLM` end to end against recorded cassettes (`cassettes/llama_index/`).

Completion and chat, async, streaming in both stream dialects, tool calls, a `FunctionAgent`, a query
engine over a few documents, structured prediction by both methods, and the typed errors. As in the
LangChain module, every assertion holds for a cassette from the real endpoint and from the local server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _recording import WRONG_ACCESS_KEY, CassetteTarget
from llama_index.core import Document, SummaryIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from gradient_integrations.core import AuthenticationError
from gradient_integrations.llama_index import GradientLLM

PROMPT = "Reply with the single word pong."
OPENAI_DIALECT = {"x-gradient-stream-dialect": "openai"}
LOCAL_DIALECT = "the OpenAI typed-event stream dialect is a local server option"
DOCUMENTS = (
    "The Gradient local server answers on loopback and needs no access key.",
    "Cassettes are recorded once and replayed by the tests without any network.",
    "The quick start notebooks run the LangChain and LlamaIndex integrations end to end.",
)


class Weather(BaseModel):
    """The weather in one city."""

    city: str = Field(description="The city name")
    temperature_celsius: float = Field(description="Temperature in degrees Celsius")
    conditions: str = Field(description="One or two words, e.g. sunny")


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"It is 21 degrees and sunny in {city}."


def make_llm(target: CassetteTarget, **overrides: Any) -> GradientLLM:
    fields: dict[str, Any] = {"api_key": target.api_key, "base_url": target.base_url, "max_retries": 2}
    return GradientLLM(target.model, **{**fields, **overrides})


def assert_usage(additional_kwargs: dict[str, Any]) -> None:
    assert additional_kwargs["prompt_tokens"] > 0
    assert additional_kwargs["completion_tokens"] > 0
    assert additional_kwargs["total_tokens"] == (
        additional_kwargs["prompt_tokens"] + additional_kwargs["completion_tokens"]
    )


def test_complete(gradient: CassetteTarget) -> None:
    response = make_llm(gradient).complete(PROMPT)

    assert "pong" in response.text.lower()
    assert_usage(response.additional_kwargs)


async def test_achat(gradient: CassetteTarget) -> None:
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="You are terse."),
        ChatMessage(role=MessageRole.USER, content=PROMPT),
    ]

    response = await make_llm(gradient).achat(messages)

    assert response.message.role == MessageRole.ASSISTANT
    assert "pong" in (response.message.content or "").lower()
    assert_usage(response.additional_kwargs)


@pytest.mark.parametrize(
    "dialect",
    ["do", pytest.param("openai", marks=pytest.mark.local_only(reason=LOCAL_DIALECT))],
)
def test_stream_chat(gradient: CassetteTarget, dialect: str) -> None:
    llm = make_llm(gradient, default_headers=OPENAI_DIALECT if dialect == "openai" else None)
    messages = [ChatMessage(role=MessageRole.USER, content="Name three colours, separated by commas.")]

    responses = list(llm.stream_chat(messages))

    deltas = [response.delta for response in responses if response.delta]
    assert len(deltas) > 1, "the answer did not arrive in pieces"
    final = responses[-1]
    assert final.message.content == "".join(deltas)
    assert_usage(final.additional_kwargs)
    if dialect == "openai":
        assert "response.output_text.delta" in gradient.response_bodies()[0]


async def test_astream_complete(gradient: CassetteTarget) -> None:
    stream = await make_llm(gradient).astream_complete(PROMPT)

    responses = [response async for response in stream]

    assert "pong" in responses[-1].text.lower()
    assert responses[-1].text == "".join(response.delta or "" for response in responses)


def test_chat_with_tools(gradient: CassetteTarget) -> None:
    llm = make_llm(gradient)
    tool = FunctionTool.from_defaults(fn=get_weather)

    response = llm.chat_with_tools(
        [tool], user_msg='What is the weather in "Paris"? Use the get_weather tool.', tool_required=True
    )

    calls = llm.get_tool_calls_from_response(response)
    assert [call.tool_name for call in calls] == ["get_weather"]
    assert calls[0].tool_id
    assert isinstance(calls[0].tool_kwargs["city"], str) and calls[0].tool_kwargs["city"]
    assert "degrees" in tool.call(**calls[0].tool_kwargs).content


def test_predict_and_call(gradient: CassetteTarget) -> None:
    tool = FunctionTool.from_defaults(fn=get_weather)

    output = make_llm(gradient).predict_and_call(
        [tool], user_msg='What is the weather in "Oslo"? Use the get_weather tool.'
    )

    assert not output.sources[0].is_error
    assert output.sources[0].tool_name == "get_weather"
    assert "degrees and sunny" in output.response


async def test_function_agent(gradient: CassetteTarget) -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    calls: list[str] = []

    def weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(city)
        return f"It is 21 degrees and sunny in {city}."

    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=weather)], llm=make_llm(gradient))

    result = await agent.run(user_msg='Use the weather tool for "Rome", then answer in one sentence.')

    assert calls and all(isinstance(city, str) and city for city in calls)
    assert [call.tool_name for call in result.tool_calls] == ["weather"] * len(calls)
    assert str(result.response.content or "").strip()


def test_query_engine(gradient: CassetteTarget) -> None:
    index = SummaryIndex.from_documents([Document(text=text) for text in DOCUMENTS])
    engine = index.as_query_engine(llm=make_llm(gradient), streaming=True)

    response = engine.query("What does the local server need?")

    tokens = list(response.response_gen)
    assert len(tokens) > 1
    assert "".join(tokens).strip()
    assert len(response.source_nodes) == len(DOCUMENTS)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_predict(gradient: CassetteTarget, method: str) -> None:
    llm = make_llm(gradient, structured_output_method=method)
    prompt = PromptTemplate('Describe the weather in "{city}" as a city, a temperature and conditions.')

    result = llm.structured_predict(Weather, prompt, city="Madrid")

    assert isinstance(result, Weather)
    assert result.city
    assert Weather.model_validate(json.loads(result.model_dump_json())) == result


async def test_astructured_predict(gradient: CassetteTarget) -> None:
    llm = make_llm(gradient, structured_output_method="json_schema")
    prompt = PromptTemplate('Describe the weather in "{city}" as a city, a temperature and conditions.')

    result = await llm.astructured_predict(Weather, prompt, city="Athens")

    assert isinstance(result, Weather)
    assert result.city


def test_wrong_key_is_an_authentication_error(gradient: CassetteTarget) -> None:
    llm = make_llm(gradient, api_key=WRONG_ACCESS_KEY)

    with pytest.raises(AuthenticationError) as caught:
        llm.complete(PROMPT)

    assert caught.value.status_code == 401
    assert WRONG_ACCESS_KEY not in str(caught.value)
    assert gradient.response_statuses() == [401], "a 401 must not be retried"


@pytest.mark.local_only(reason="a 429 can only be provoked on the local server (x-gradient-fault)")
async def test_rate_limit_is_retried_then_succeeds(gradient: CassetteTarget) -> None:
    llm = make_llm(gradient, default_headers={"x-gradient-fault": "rate_limit:1"})

    response = await llm.acomplete(PROMPT)

    assert "pong" in response.text.lower()
    assert gradient.response_statuses() == [429, 200]
