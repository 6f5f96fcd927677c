"""ChatGradient inside real LangChain programs, end to end against the local server, sync and async:
a `create_agent` loop with two tools, and `prompt | model | parser` chains (text and structured)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel, Field

from gradient_integrations.langchain import ChatGradient

QUESTION = "What is the weather in 'Paris' and the time in 'UTC'?"


@pytest.fixture
def model(local_server: Any) -> ChatGradient:
    return ChatGradient(model="llama3.3-70b-instruct", base_url=local_server.base_url)


@pytest.fixture
def tools_and_calls() -> tuple[list[BaseTool], list[tuple[str, str]]]:
    calls: list[tuple[str, str]] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(("get_weather", city))
        return f"sunny in {city}"

    @tool
    def get_time(zone: str) -> str:
        """Current time in a time zone."""
        calls.append(("get_time", zone))
        return f"noon at {zone}"

    return [get_weather, get_time], calls


def check_agent_run(messages: list[Any], calls: list[tuple[str, str]]) -> None:
    kinds = [type(message).__name__ for message in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "ToolMessage", "AIMessage"]
    request = messages[1]
    assert isinstance(request, AIMessage)
    assert [call["name"] for call in request.tool_calls] == ["get_weather", "get_time"]
    assert len({call["id"] for call in request.tool_calls}) == 2
    # Both tools really ran with the model's arguments, and their results came back by call id.
    # The agent may run the two tools concurrently, so the order they ran in is not part of the contract.
    ran = dict(calls)
    assert sorted(ran) == ["get_time", "get_weather"] and len(calls) == 2
    assert ran["get_weather"] == "Paris"
    outputs = [message for message in messages if isinstance(message, ToolMessage)]
    assert [output.tool_call_id for output in outputs] == [call["id"] for call in request.tool_calls]
    answer = messages[-1]
    assert isinstance(answer, AIMessage) and not answer.tool_calls
    assert "sunny in Paris" in answer.text and "noon at" in answer.text
    assert answer.usage_metadata is not None and answer.usage_metadata["input_tokens"] > 0


def test_agent_calls_two_tools_and_answers_from_their_results(
    model: ChatGradient, tools_and_calls: tuple[list[BaseTool], list[tuple[str, str]]]
) -> None:
    tools, calls = tools_and_calls
    agent = create_agent(model, tools, system_prompt="Use the tools.")
    result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    check_agent_run(result["messages"], calls)
    assert result["messages"][-1].text.startswith("(following instructions: Use the tools.)")


async def test_agent_runs_async_too(
    model: ChatGradient, tools_and_calls: tuple[list[BaseTool], list[tuple[str, str]]]
) -> None:
    tools, calls = tools_and_calls
    agent = create_agent(model, tools)
    result = await agent.ainvoke({"messages": [HumanMessage(QUESTION)]})
    check_agent_run(result["messages"], calls)


async def test_agent_streams_model_tokens(
    model: ChatGradient, tools_and_calls: tuple[list[BaseTool], list[tuple[str, str]]]
) -> None:
    tools, calls = tools_and_calls
    agent = create_agent(model, tools)
    tokens: list[str] = []
    async for message, _meta in agent.astream({"messages": [HumanMessage(QUESTION)]}, stream_mode="messages"):
        if isinstance(message, AIMessageChunk) and message.text:
            tokens.append(message.text)
    assert len(tokens) > 3  # word-sized deltas, not one blob
    assert "sunny in Paris" in "".join(tokens)
    assert len(calls) == 2


def prompt() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages([("system", "You answer in one line."), ("human", "{question}")])


def test_chain_prompt_model_parser(model: ChatGradient) -> None:
    chain = prompt() | model | StrOutputParser()
    answer = chain.invoke({"question": "Name a blue fruit"})
    assert answer == "(following instructions: You answer in one line.) You said: Name a blue fruit"
    pieces = list(chain.stream({"question": "Name a blue fruit"}))
    assert len(pieces) > 3 and "".join(pieces) == answer
    assert chain.batch([{"question": "one"}, {"question": "two"}]) == [
        "(following instructions: You answer in one line.) You said: one",
        "(following instructions: You answer in one line.) You said: two",
    ]


async def test_chain_async(model: ChatGradient) -> None:
    chain = prompt() | model | StrOutputParser()
    answer = await chain.ainvoke({"question": "Name a red fruit"})
    assert answer.endswith("You said: Name a red fruit")
    pieces = [piece async for piece in chain.astream({"question": "Name a red fruit"})]
    assert "".join(pieces) == answer
    assert await chain.abatch([{"question": "x"}]) == [answer.replace("Name a red fruit", "x")]


class Fruit(BaseModel):
    """A fruit."""

    name: str = Field(description="the fruit's name")
    colour: str = Field(description="its usual colour")
    weight_grams: int = Field(description="typical weight")


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
async def test_structured_chain_sync_and_async(model: ChatGradient, method: Any) -> None:
    chain = prompt() | model.with_structured_output(Fruit, method=method)
    assert isinstance(chain.invoke({"question": "Describe a 'banana' of 120 grams"}), Fruit)
    fruit = await chain.ainvoke({"question": "Describe a 'banana' of 120 grams"})
    assert isinstance(fruit, Fruit)
    assert fruit.weight_grams == 120  # numbers in the prompt reach the schema-valid answer
