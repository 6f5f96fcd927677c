"""Tool calls whose arguments are not a JSON object never kill a LangChain program.

`ChatGradient` keeps such a call in `AIMessage.invalid_tool_calls` (raw arguments and the parse error),
from `invoke` and from the chunks of `stream` merged together, so it never reaches a tool. LangChain v1's
`create_agent` routes only valid `tool_calls` to its tools: a turn with nothing but an invalid call ends the
run, and before the next model call the agent answers every unanswered invalid call with an error
`ToolMessage` ("... arguments were malformed or truncated"), which goes back to the model as the call's
`function_call_output`, so the model can retry.

Streamed calls are merged by langchain-core, which repairs arguments that are merely cut short (missing
closing brackets) with its `parse_partial_json`; `invoke` parses strictly. Garbage is invalid either way.

The endpoint is the scripted `FakeEndpoint` (`httpx.MockTransport`): the local server's scripted model always
sends schema-valid arguments, so it cannot produce these answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeEndpoint
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langchain_support import do_chunks, json_reply, model_on, sse_reply

GARBAGE = "city=Paris, please"
TRUNCATED = '{"city": "Paris"'
UNUSABLE = [
    pytest.param(GARBAGE, id="garbage"),
    pytest.param('{"city": "Paris"]', id="mismatched-bracket"),
    pytest.param("[1, 2]", id="array"),
    pytest.param('"Paris"', id="string"),
]
PATCHED = "could not be executed - arguments were malformed or truncated"


def call_chunks(*calls: tuple[str, str, str]) -> list[dict[str, Any] | str]:
    """A DO stream of tool calls whose arguments arrive in two pieces each."""
    return do_chunks((), tool_calls=[(i, name, [args[:4], args[4:]]) for i, name, args in calls])


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def check_invalid(message: AIMessage, arguments: str) -> None:
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert (invalid["id"], invalid["name"], invalid["args"]) == ("c1", "get_weather", arguments)


# -- invoke and stream -------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments", [*UNUSABLE, pytest.param(TRUNCATED, id="truncated")])
def test_invoke_keeps_unusable_arguments_in_invalid_tool_calls(arguments: str) -> None:
    model = model_on(FakeEndpoint(json_reply("", tool_calls=[("c1", "get_weather", arguments)])))
    message = model.invoke("Weather in Paris?")
    check_invalid(message, arguments)
    assert message.invalid_tool_calls[0]["error"]  # says why


@pytest.mark.parametrize("arguments", UNUSABLE)
def test_stream_chunks_merge_into_invalid_tool_calls(arguments: str) -> None:
    model = model_on(FakeEndpoint(sse_reply(call_chunks(("c1", "get_weather", arguments)))))
    message = merged(list(model.stream("Weather in Paris?")))
    check_invalid(message, arguments)


async def test_async_invoke_and_stream_keep_garbage_in_invalid_tool_calls() -> None:
    replies = [json_reply("", tool_calls=[("c1", "get_weather", GARBAGE)])]
    replies.append(sse_reply(call_chunks(("c1", "get_weather", GARBAGE))))
    model = model_on(FakeEndpoint(*replies))
    check_invalid(await model.ainvoke("Weather in Paris?"), GARBAGE)
    check_invalid(merged([chunk async for chunk in model.astream("Weather in Paris?")]), GARBAGE)


def test_valid_and_invalid_calls_of_one_answer_are_split() -> None:
    calls = [("c1", "get_weather", GARBAGE), ("c2", "get_weather", '{"city": "Oslo"}')]
    model = model_on(FakeEndpoint(json_reply("", tool_calls=calls), sse_reply(call_chunks(*calls))))
    for message in (model.invoke("Weather?"), merged(list(model.stream("Weather?")))):
        assert [(call["id"], call["args"]) for call in message.tool_calls] == [("c2", {"city": "Oslo"})]
        assert [call["id"] for call in message.invalid_tool_calls] == ["c1"]


def test_truncated_arguments_are_invalid_from_invoke_but_repaired_by_stream_merging() -> None:
    # langchain-core's chunk merging repairs a missing closing brace (as it does for every chat model).
    model = model_on(FakeEndpoint(sse_reply(call_chunks(("c1", "get_weather", TRUNCATED)))))
    message = merged(list(model.stream("Weather in Paris?")))
    assert [call["args"] for call in message.tool_calls] == [{"city": "Paris"}]
    assert message.invalid_tool_calls == []


# -- create_agent ------------------------------------------------------------------------------------
@pytest.fixture
def weather() -> tuple[BaseTool, list[str]]:
    cities: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        cities.append(city)
        return f"sunny in {city}"

    return get_weather, cities


def outputs_sent(body: dict[str, Any]) -> dict[str, str]:
    return {
        item["call_id"]: item["output"]
        for item in body["input"]
        if item.get("type") == "function_call_output"
    }


def test_agent_ends_a_turn_with_only_an_invalid_call_and_reports_it_on_the_next_turn(
    weather: tuple[BaseTool, list[str]],
) -> None:
    get_weather, cities = weather
    endpoint = FakeEndpoint(
        json_reply("", tool_calls=[("c1", "get_weather", GARBAGE)]), json_reply("Which city did you mean?")
    )
    agent = create_agent(model_on(endpoint), [get_weather])
    first = agent.invoke({"messages": [HumanMessage("Weather in Paris?")]})
    assert [type(m).__name__ for m in first["messages"]] == ["HumanMessage", "AIMessage"]
    check_invalid(first["messages"][-1], GARBAGE)
    assert cities == [] and len(endpoint.requests) == 1

    history: list[BaseMessage] = [*first["messages"], HumanMessage("Paris, France.")]
    second = agent.invoke({"messages": history})
    patched = [m for m in second["messages"] if isinstance(m, ToolMessage)]
    assert [(m.tool_call_id, m.status) for m in patched] == [("c1", "error")]
    # The model's call and the error answering it both went back on the wire.
    sent = endpoint.bodies[1]
    (call,) = [item for item in sent["input"] if item.get("type") == "function_call"]
    assert (call["call_id"], call["arguments"]) == ("c1", GARBAGE)
    assert PATCHED in outputs_sent(sent)["c1"]
    assert second["messages"][-1].text == "Which city did you mean?"


@pytest.mark.parametrize("streaming", [False, True], ids=["ainvoke", "astream-messages"])
async def test_agent_runs_the_valid_call_reports_the_invalid_one_and_answers(
    weather: tuple[BaseTool, list[str]], streaming: bool
) -> None:
    get_weather, cities = weather
    calls = [("c1", "get_weather", GARBAGE), ("c2", "get_weather", '{"city": "Oslo"}')]
    first = sse_reply(call_chunks(*calls)) if streaming else json_reply("", tool_calls=calls)
    answer = sse_reply(do_chunks(["Sunny in Oslo."])) if streaming else json_reply("Sunny in Oslo.")
    endpoint = FakeEndpoint(first, answer)
    agent = create_agent(model_on(endpoint), [get_weather])
    state: Any = {"messages": [HumanMessage("Weather in Paris and Oslo?")]}
    if streaming:
        final: Any = {}
        async for mode, payload in agent.astream(state, stream_mode=["messages", "values"]):
            if mode == "values":
                final = payload
        messages = final["messages"]
    else:
        messages = (await agent.ainvoke(state))["messages"]
    assert messages[-1].text == "Sunny in Oslo."
    assert cities == ["Oslo"]
    assert [body.get("stream") is True for body in endpoint.bodies] == [streaming, streaming]
    outputs = outputs_sent(endpoint.bodies[1])
    assert outputs["c2"] == "sunny in Oslo"
    assert PATCHED in outputs["c1"] and outputs["c1"].startswith("Error")
    assert sorted(outputs) == ["c1", "c2"]
