"""`ChatGradient` end to end against recorded cassettes (`cassettes/langchain/`).

Plain, async, streaming in both stream dialects, tools, an agent loop, structured output by both
methods, and the typed errors. Every assertion holds for a cassette recorded against the real endpoint
as much as for one recorded against the local server: prompts ask for something any competent model (and
the scripted one, which echoes the prompt) satisfies, and checks are on shape and types, not on wording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _recording import WRONG_ACCESS_KEY, CassetteTarget
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from gradient_integrations.core import AuthenticationError
from gradient_integrations.langchain import ChatGradient

PROMPT = "Reply with the single word pong."
OPENAI_DIALECT = {"x-gradient-stream-dialect": "openai"}
LOCAL_DIALECT = "the OpenAI typed-event stream dialect is a local server option"


class Weather(BaseModel):
    """The weather in one city."""

    city: str = Field(description="The city name")
    temperature_celsius: float = Field(description="Temperature in degrees Celsius")
    conditions: str = Field(description="One or two words, e.g. sunny")


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"It is 21 degrees and sunny in {city}."


@tool
def get_time(city: str) -> str:
    """Get the current local time in a city."""
    return f"It is 14:05 in {city}."


def chat_model(target: CassetteTarget, **overrides: Any) -> ChatGradient:
    fields: dict[str, Any] = {
        "model": target.model,
        "api_key": target.api_key,
        "base_url": target.base_url,
        "max_retries": 2,
    }
    return ChatGradient(**{**fields, **overrides})


def assert_usage(message: AIMessage) -> None:
    usage = message.usage_metadata
    assert usage is not None, "the endpoint reported no usage"
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_invoke(gradient: CassetteTarget) -> None:
    message = chat_model(gradient).invoke(PROMPT)

    assert isinstance(message, AIMessage)
    assert "pong" in message.text.lower()
    assert message.response_metadata["model_name"]
    assert_usage(message)


async def test_ainvoke(gradient: CassetteTarget) -> None:
    message = await chat_model(gradient).ainvoke([HumanMessage(PROMPT)])

    assert "pong" in message.text.lower()
    assert_usage(message)


@pytest.mark.parametrize(
    "dialect",
    ["do", pytest.param("openai", marks=pytest.mark.local_only(reason=LOCAL_DIALECT))],
)
def test_stream(gradient: CassetteTarget, dialect: str) -> None:
    headers = OPENAI_DIALECT if dialect == "openai" else None
    model = chat_model(gradient, default_headers=headers)

    chunks = list(model.stream("Name three colours of the rainbow, separated by commas."))

    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    text_chunks = [chunk for chunk in chunks if chunk.text]
    assert len(text_chunks) > 1, "the answer did not arrive in pieces"
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.text == "".join(chunk.text for chunk in chunks)
    assert sum(chunk.usage_metadata is not None for chunk in chunks) == 1, "usage must arrive exactly once"
    assert_usage(whole)
    if dialect == "openai":
        assert "response.output_text.delta" in gradient.response_bodies()[0]


async def test_astream(gradient: CassetteTarget) -> None:
    chunks = [chunk async for chunk in chat_model(gradient).astream(PROMPT)]

    text = "".join(chunk.text for chunk in chunks)
    assert "pong" in text.lower()
    assert sum(chunk.usage_metadata is not None for chunk in chunks) == 1


def test_tool_call(gradient: CassetteTarget) -> None:
    model = chat_model(gradient).bind_tools([get_weather], tool_choice="get_weather")

    message = model.invoke('What is the weather in "Paris"? Use the get_weather tool.')

    assert isinstance(message, AIMessage)
    assert [call["name"] for call in message.tool_calls] == ["get_weather"]
    call = message.tool_calls[0]
    assert call["id"]
    assert isinstance(call["args"]["city"], str) and call["args"]["city"]
    # The arguments are exactly what the tool accepts: running it must work.
    assert "degrees" in get_weather.invoke(call["args"])


def test_stream_tool_call(gradient: CassetteTarget) -> None:
    model = chat_model(gradient).bind_tools([get_weather], tool_choice="get_weather")

    chunks = list(model.stream('What is the weather in "Oslo"? Use the get_weather tool.'))

    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert [call["name"] for call in whole.tool_calls] == ["get_weather"]
    assert isinstance(whole.tool_calls[0]["args"]["city"], str)
    assert not whole.invalid_tool_calls


def test_tool_round_trip(gradient: CassetteTarget) -> None:
    """A tool call, its result sent back, and a text answer that uses it: the hand-written agent loop."""
    model = chat_model(gradient).bind_tools([get_weather])
    history: list[BaseMessage] = [HumanMessage('What is the weather in "Lisbon"? Use the get_weather tool.')]

    first = model.invoke(history)
    assert isinstance(first, AIMessage) and first.tool_calls, "the model did not call the tool"
    history.append(first)
    for call in first.tool_calls:
        history.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    answer = model.invoke(history)

    assert not answer.tool_calls
    assert answer.text.strip()


def test_agent(gradient: CassetteTarget) -> None:
    from langchain.agents import create_agent

    calls: list[tuple[str, dict[str, Any]]] = []

    @tool
    def weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(("weather", {"city": city}))
        return f"It is 21 degrees and sunny in {city}."

    @tool
    def local_time(city: str) -> str:
        """Get the current local time in a city."""
        calls.append(("local_time", {"city": city}))
        return f"It is 14:05 in {city}."

    agent = create_agent(chat_model(gradient), tools=[weather, local_time])
    state = agent.invoke(
        {
            "messages": [
                HumanMessage(
                    'Use the weather tool and the local_time tool for "Rome", then answer in one sentence.'
                )
            ]
        }
    )

    tool_messages = [message for message in state["messages"] if isinstance(message, ToolMessage)]
    assert {message.name for message in tool_messages} == {"weather", "local_time"}
    assert {name for name, _ in calls} == {"weather", "local_time"}
    assert all(isinstance(args["city"], str) and args["city"] for _, args in calls)
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text.strip()


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output(gradient: CassetteTarget, method: str) -> None:
    model = chat_model(gradient).with_structured_output(Weather, method=method)

    result = model.invoke('Describe the weather in "Madrid" as a city, a temperature and conditions.')

    assert isinstance(result, Weather)
    assert result.city
    assert Weather.model_validate(result.model_dump()) == result


def test_structured_output_include_raw(gradient: CassetteTarget) -> None:
    model = chat_model(gradient).with_structured_output(Weather, method="json_schema", include_raw=True)

    result = model.invoke('Describe the weather in "Athens" as a city, a temperature and conditions.')

    assert isinstance(result, dict)
    assert result["parsing_error"] is None
    assert isinstance(result["parsed"], Weather)
    assert isinstance(result["raw"], AIMessage)
    assert Weather.model_validate(json.loads(result["raw"].text)) == result["parsed"]


def test_wrong_key_is_an_authentication_error(gradient: CassetteTarget) -> None:
    model = chat_model(gradient, api_key=WRONG_ACCESS_KEY)

    with pytest.raises(AuthenticationError) as caught:
        model.invoke(PROMPT)

    assert caught.value.status_code == 401
    assert WRONG_ACCESS_KEY not in str(caught.value)
    assert gradient.response_statuses() == [401], "a 401 must not be retried"


@pytest.mark.local_only(reason="a 429 can only be provoked on the local server (x-gradient-fault)")
def test_rate_limit_is_retried_then_succeeds(gradient: CassetteTarget) -> None:
    model = chat_model(gradient, default_headers={"x-gradient-fault": "rate_limit:1"})

    message = model.invoke(PROMPT)

    assert "pong" in message.text.lower()
    assert gradient.response_statuses() == [429, 200]
