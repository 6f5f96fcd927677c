"""`create_agent(..., response_format=...)` with ChatGradient, end to end against the local server: the
agent calls the user's tool, then finishes with a structured response, for each of LangChain's strategies.

- `ToolStrategy`: LangChain binds the user's tools plus a tool named after the schema (`Answer`) with
  `tool_choice="any"` (our `required`); the scripted model calls the weather tool, then, a call still being
  required, the tool not called yet: `Answer`, whose arguments LangChain parses into the structured response.
- `ProviderStrategy`: LangChain binds the user's tools with `response_format={"type": "json_schema", ...}`
  (our `text.format`); the scripted model calls the weather tool, then answers with JSON valid under the
  schema.
- `Answer` alone (`AutoStrategy`): LangChain picks one of the two from the model's profile.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.structured_output import ProviderStrategy, ToolStrategy
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel

from gradient_integrations.langchain import ChatGradient

QUESTION = "What is the weather in 'Paris'?"
WEATHER = "sunny and 22 degrees in Paris"


class Answer(BaseModel):
    """The agent's final reply."""

    city: str
    summary: str


@pytest.fixture
def model(local_server: Any) -> ChatGradient:
    return ChatGradient(model="llama3.3-70b-instruct", base_url=local_server.base_url)


@pytest.fixture
def weather_and_calls() -> tuple[BaseTool, list[str]]:
    calls: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"sunny and 22 degrees in {city}"

    return get_weather, calls


def check_structured_run(result: dict[str, Any], calls: list[str]) -> None:
    """The weather tool ran once with the city asked about, its result came back to the model, and the run
    ended with an `Answer` built from the conversation."""
    messages = result["messages"]
    assert isinstance(messages[0], HumanMessage)
    assert calls == ["Paris"]
    requests = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    weather_call = requests[0].tool_calls[0]
    assert weather_call["name"] == "get_weather" and weather_call["args"] == {"city": "Paris"}
    weather_outputs = [m for m in messages if isinstance(m, ToolMessage) and m.name == "get_weather"]
    assert [(m.tool_call_id, m.text) for m in weather_outputs] == [(weather_call["id"], WEATHER)]
    structured = result["structured_response"]
    assert isinstance(structured, Answer)
    assert structured == Answer(city="Paris", summary=WEATHER)


def check_tool_strategy_messages(messages: list[Any]) -> None:
    kinds = [type(message).__name__ for message in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "ToolMessage"]
    final_call = messages[3]
    assert [call["name"] for call in final_call.tool_calls] == ["Answer"]
    assert isinstance(messages[4], ToolMessage) and messages[4].tool_call_id == final_call.tool_calls[0]["id"]


def test_tool_strategy_agent_calls_the_tool_then_the_answer_tool(
    model: ChatGradient, weather_and_calls: tuple[BaseTool, list[str]]
) -> None:
    get_weather, calls = weather_and_calls
    agent = create_agent(model, tools=[get_weather], response_format=ToolStrategy(Answer))
    result = agent.invoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 10})
    check_structured_run(result, calls)
    check_tool_strategy_messages(result["messages"])


async def test_tool_strategy_agent_runs_async_too(
    model: ChatGradient, weather_and_calls: tuple[BaseTool, list[str]]
) -> None:
    get_weather, calls = weather_and_calls
    agent = create_agent(model, tools=[get_weather], response_format=ToolStrategy(Answer))
    result = await agent.ainvoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 10})
    check_structured_run(result, calls)
    check_tool_strategy_messages(result["messages"])


def test_provider_strategy_agent_calls_the_tool_then_answers_with_schema_json(
    model: ChatGradient, weather_and_calls: tuple[BaseTool, list[str]]
) -> None:
    get_weather, calls = weather_and_calls
    agent = create_agent(model, tools=[get_weather], response_format=ProviderStrategy(Answer))
    result = agent.invoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 10})
    check_structured_run(result, calls)
    kinds = [type(message).__name__ for message in result["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    final = result["messages"][-1]
    assert not final.tool_calls
    assert Answer.model_validate_json(final.text) == result["structured_response"]


async def test_provider_strategy_agent_runs_async_too(
    model: ChatGradient, weather_and_calls: tuple[BaseTool, list[str]]
) -> None:
    get_weather, calls = weather_and_calls
    agent = create_agent(model, tools=[get_weather], response_format=ProviderStrategy(Answer))
    result = await agent.ainvoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 10})
    check_structured_run(result, calls)


def test_a_bare_schema_lets_langchain_choose_and_still_finishes(
    model: ChatGradient, weather_and_calls: tuple[BaseTool, list[str]]
) -> None:
    get_weather, calls = weather_and_calls
    agent = create_agent(model, tools=[get_weather], response_format=Answer)
    result = agent.invoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 10})
    check_structured_run(result, calls)
