"""Tool-call arguments that are cut short or invalid never kill a LlamaIndex agent.

Real models stream truncated argument JSON (cut by max tokens, or a buggy server). Once an answer is
complete, `GradientLLM.get_tool_calls_from_response` repairs what closing the open string and brackets
fixes; anything else (garbage, or JSON that is not an object) becomes `{}`, so the tool fails on its
missing arguments and `FunctionAgent` hands that error back to the model, which answers on its next turn.
Each repair or drop logs a warning naming the tool, never the arguments.

The endpoint is the scripted `FakeEndpoint` (`httpx.MockTransport`): the local server's scripted model
always sends schema-valid arguments, so it cannot produce these answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeEndpoint, json_reply, sse_reply
from llama_index.core.agent.workflow import AgentOutput, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool
from llama_index_fakes import body, sse, text_chunks

from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.llama_index._tools import tool_selections

LLMFactory = Callable[..., GradientLLM]

TRUNCATED = '{"city": "Paris"'  # the closing brace never came
GARBAGE = "city=Paris, please"
ANSWER = "It is sunny in Paris."


def complete_response(arguments: str, name: str = "get_weather") -> ChatResponse:
    block = ToolCallBlock(tool_call_id="c1", tool_name=name, tool_kwargs=arguments)
    message = ChatMessage(role="assistant", blocks=[block])
    return ChatResponse(message=message, additional_kwargs={"finish_reason": "tool_calls"})


def arguments_of(arguments: str) -> dict[str, Any]:
    (selection,) = tool_selections(complete_response(arguments), error_on_no_tool_call=True)
    return selection.tool_kwargs


# -- the repair --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(TRUNCATED, {"city": "Paris"}, id="truncated-object"),
        pytest.param(
            '{"city": "Paris", "unit": "cel', {"city": "Paris", "unit": "cel"}, id="truncated-string"
        ),
        pytest.param(
            '{"where": {"cities": ["Paris", "Oslo"], "at": {"hour": 12',
            {"where": {"cities": ["Paris", "Oslo"], "at": {"hour": 12}}},
            id="nested",
        ),
        pytest.param('{"city": "Paris",', {"city": "Paris"}, id="dangling-comma"),
        pytest.param('{"path": "C:\\', {"path": "C:"}, id="dangling-backslash"),
        pytest.param('{"quote": "say \\"hi\\" to', {"quote": 'say "hi" to'}, id="escaped-quotes"),
        pytest.param('{"note": "a\nb"', {"note": "a\nb"}, id="raw-newline-in-string"),
    ],
)
def test_arguments_cut_short_are_repaired_by_closing_them(arguments: str, expected: dict[str, Any]) -> None:
    assert arguments_of(arguments) == expected


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(GARBAGE, id="garbage"),
        pytest.param('{"city": "Paris"]', id="mismatched-bracket"),
        pytest.param('{"city":', id="missing-value"),
        pytest.param('{"city": "Paris", "un', id="truncated-key"),
        pytest.param('{"unit": tr', id="truncated-literal"),
        pytest.param("[1, 2]", id="array"),
        pytest.param("[1, 2", id="truncated-array"),
        pytest.param('"x"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("null", id="null"),
        pytest.param("[" * 100_000, id="too-deep"),
    ],
)
def test_unrepairable_or_non_object_arguments_become_empty(arguments: str) -> None:
    assert arguments_of(arguments) == {}


def test_valid_and_empty_arguments_are_unchanged_and_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gradient_integrations"):
        assert arguments_of('{"city": "Paris"}') == {"city": "Paris"}
        assert arguments_of('{"note": "a\nb"}') == {"note": "a\nb"}  # raw control characters are fine
        assert arguments_of("  ") == {}
    assert caplog.records == []


def test_repairs_and_drops_are_logged_naming_the_tool_but_not_the_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gradient_integrations"):
        arguments_of('{"city": "Secretville"')
        arguments_of("secret=Secretville")
        arguments_of('["Secretville"]')
    repaired, garbage, array = (record.getMessage() for record in caplog.records)
    assert all(record.name == "gradient_integrations" for record in caplog.records)
    assert "'get_weather'" in repaired and "cut short" in repaired
    assert "'get_weather'" in garbage and "not valid JSON" in garbage
    assert "a JSON list, not an object" in array
    assert "Secretville" not in caplog.text


def test_partial_arguments_while_streaming_are_lenient_and_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    block = ToolCallBlock(tool_call_id="c1", tool_name="get_weather", tool_kwargs='{"city": "Par')
    partial = ChatResponse(message=ChatMessage(role="assistant", blocks=[block]))  # no finish_reason yet
    with caplog.at_level(logging.WARNING, logger="gradient_integrations"):
        (selection,) = tool_selections(partial, error_on_no_tool_call=False)
    assert isinstance(selection.tool_kwargs, dict)
    assert caplog.records == []


# -- on the wire: chat_with_tools and stream_chat_with_tools --------------------------------------
def do_call_stream(arguments: str) -> bytes:
    """A DO `response.chunk` stream of one `get_weather` call whose arguments arrive in two pieces."""
    head = {"id": "resp_1", "object": "response.chunk", "model": "m"}
    first = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": arguments[:5]}}
    rest = {"function": {"arguments": arguments[5:]}}
    return sse(
        {**head, "choices": [{"delta": {"tool_calls": [first]}}]},
        {**head, "choices": [{"delta": {"tool_calls": [rest]}}]},
        {**head, "choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {**head, "choices": [], "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}},
        "[DONE]",
    )


def typed_call_stream(arguments: str) -> bytes:
    """The same call as vLLM/OpenAI typed events, ending with `response.completed`."""
    item = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "get_weather"}
    final = {"id": "resp_1", "object": "response", "model": "m", "status": "completed"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**final, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}},
        *(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": "fc_1",
                "output_index": 0,
                "delta": p,
            }
            for p in (arguments[:5], arguments[5:])
        ),
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_1",
            "output_index": 0,
            "arguments": arguments,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": {**item, "arguments": arguments}},
        {"type": "response.completed", "response": {**final, "output": [{**item, "arguments": arguments}]}},
    ]
    return sse(*({**event, "sequence_number": n} for n, event in enumerate(events)))


CALL_STREAMS = {"do": do_call_stream, "typed": typed_call_stream}


@pytest.mark.parametrize(("arguments", "expected"), [(TRUNCATED, {"city": "Paris"}), (GARBAGE, {})])
def test_chat_with_tools_selects_the_call_with_repaired_or_empty_arguments(
    make_llm: LLMFactory, endpoint: FakeEndpoint, arguments: str, expected: dict[str, Any]
) -> None:
    endpoint.reply_json(body(calls=[("c1", "get_weather", arguments)]))
    llm = make_llm()
    response = llm.chat_with_tools([weather_tool([])], user_msg="Weather in Paris?")
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("c1", "get_weather", expected)


@pytest.mark.parametrize("dialect", sorted(CALL_STREAMS))
@pytest.mark.parametrize(("arguments", "expected"), [(TRUNCATED, {"city": "Paris"}), (GARBAGE, {})])
def test_stream_chat_with_tools_selects_the_call_from_every_response(
    make_llm: LLMFactory, endpoint: FakeEndpoint, dialect: str, arguments: str, expected: dict[str, Any]
) -> None:
    endpoint.reply_sse(CALL_STREAMS[dialect](arguments))
    llm = make_llm()
    responses = list(llm.stream_chat_with_tools([weather_tool([])], user_msg="Weather in Paris?"))
    # FunctionAgent asks every streamed response for its calls: none of them may raise.
    for response in responses:
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert responses[-1].additional_kwargs["finish_reason"] == "tool_calls"
    (selection,) = llm.get_tool_calls_from_response(responses[-1])
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("c1", "get_weather", expected)


@pytest.mark.parametrize("dialect", sorted(CALL_STREAMS))
async def test_async_stream_chat_with_tools_survives_garbage_arguments(
    make_llm: LLMFactory, endpoint: FakeEndpoint, dialect: str
) -> None:
    endpoint.reply_sse(CALL_STREAMS[dialect](GARBAGE))
    llm = make_llm()
    responses = [r async for r in await llm.astream_chat_with_tools([weather_tool([])], user_msg="Weather?")]
    (selection,) = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {}


# -- a FunctionAgent, end to end ---------------------------------------------------------------------
def weather_tool(cities: list[str]) -> FunctionTool:
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        cities.append(city)
        return f"sunny in {city}"

    return FunctionTool.from_defaults(fn=get_weather)


def script(endpoint: FakeEndpoint, arguments: str, *, streaming: bool, dialect: str = "do") -> None:
    """First turn: one `get_weather` call with `arguments`; second turn: a text answer."""
    if streaming:
        endpoint.replies = [
            sse_reply([CALL_STREAMS[dialect](arguments)]),
            sse_reply([text_chunks(ANSWER)]),
        ]
    else:
        endpoint.replies = [
            json_reply(body(calls=[("c1", "get_weather", arguments)])),
            json_reply(body(ANSWER)),
        ]


def tool_output_sent(endpoint: FakeEndpoint) -> str:
    """The tool output the agent sent the model on its second turn."""
    assert len(endpoint.requests) == 2
    (output,) = [item for item in endpoint.bodies[1]["input"] if item.get("type") == "function_call_output"]
    assert output["call_id"] == "c1"
    return str(output["output"])


AGENT_MODES = [
    pytest.param(False, "do", id="chat"),
    pytest.param(True, "do", id="stream-do"),
    pytest.param(True, "typed", id="stream-typed"),
]


@pytest.mark.parametrize(("streaming", "dialect"), AGENT_MODES)
async def test_function_agent_runs_the_tool_with_repaired_arguments(
    make_llm: LLMFactory, endpoint: FakeEndpoint, streaming: bool, dialect: str
) -> None:
    script(endpoint, TRUNCATED, streaming=streaming, dialect=dialect)
    cities: list[str] = []
    agent = FunctionAgent(tools=[weather_tool(cities)], llm=make_llm(), streaming=streaming)
    result: Any = await agent.run(user_msg="Weather in Paris?")
    assert isinstance(result, AgentOutput)
    assert cities == ["Paris"]
    (call,) = result.tool_calls
    assert isinstance(call, ToolCallResult)  # typed as ToolSelection, but results at run time
    assert call.tool_kwargs == {"city": "Paris"} and not call.tool_output.is_error
    assert tool_output_sent(endpoint) == "sunny in Paris"
    assert str(result) == ANSWER


@pytest.mark.parametrize(("streaming", "dialect"), AGENT_MODES)
@pytest.mark.parametrize("arguments", [GARBAGE, '["Paris"]'], ids=["garbage", "array"])
async def test_function_agent_reports_unusable_arguments_to_the_model_and_answers(
    make_llm: LLMFactory, endpoint: FakeEndpoint, streaming: bool, dialect: str, arguments: str
) -> None:
    script(endpoint, arguments, streaming=streaming, dialect=dialect)
    cities: list[str] = []
    agent = FunctionAgent(tools=[weather_tool(cities)], llm=make_llm(), streaming=streaming)
    result: Any = await agent.run(user_msg="Weather in Paris?")
    assert isinstance(result, AgentOutput)
    assert cities == []  # the tool never ran with made-up arguments
    (call,) = result.tool_calls
    assert isinstance(call, ToolCallResult)  # typed as ToolSelection, but results at run time
    assert call.tool_kwargs == {} and call.tool_output.is_error
    sent = tool_output_sent(endpoint)
    assert "missing 1 required positional argument: 'city'" in sent
    assert str(result) == ANSWER
    # The model's own (unusable) call is replayed as it was sent, next to the error.
    (replayed,) = [item for item in endpoint.bodies[1]["input"] if item.get("type") == "function_call"]
    assert (replayed["call_id"], replayed["name"]) == ("c1", "get_weather")
    assert json.dumps(replayed["arguments"]) == json.dumps(arguments)
