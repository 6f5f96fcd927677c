"""`bind_tools` and `with_structured_output` on a scripted endpoint: what is sent and what is parsed."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from fakes import FakeEndpoint
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_support import do_chunks, json_reply, model_on, sse_reply
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from gradient_integrations.core import InvalidRequestError


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="the question")
    punchline: str = Field(description="the answer")


class JokeDict(TypedDict):
    """A joke."""

    setup: str
    punchline: str


JOKE = {"setup": "Why?", "punchline": "Because."}


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


@tool
def get_time(zone: str) -> str:
    """Time in a zone."""
    return "noon"


# -- bind_tools ----------------------------------------------------------------------------------------
def test_bind_tools_sends_flat_tools_and_the_mapped_choice() -> None:
    endpoint = FakeEndpoint(json_reply("", tool_calls=[("c1", "get_weather", '{"city": "Paris"}')]))
    bound = model_on(endpoint).bind_tools(
        [get_weather, get_time], tool_choice="any", parallel_tool_calls=False
    )
    message = bound.invoke("weather in Paris?")
    body = endpoint.body
    assert [tool["name"] for tool in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][0]["parameters"]["properties"] == {"city": {"type": "string"}}
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", False)
    assert message.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
    ]


def test_bind_tools_with_a_name_forces_that_tool() -> None:
    endpoint = FakeEndpoint(json_reply("", tool_calls=[("c1", "get_time", '{"zone": "UTC"}')]))
    model_on(endpoint).bind_tools([get_weather, get_time], tool_choice="get_time").invoke("hi")
    assert endpoint.body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}


def test_bind_tools_rejects_an_unbound_name_at_bind_time() -> None:
    endpoint = FakeEndpoint(json_reply())
    with pytest.raises(InvalidRequestError, match="names tool 'get_date'"):
        model_on(endpoint).bind_tools([get_weather], tool_choice="get_date")
    assert endpoint.requests == []


def test_bind_tools_strict_marks_every_tool() -> None:
    endpoint = FakeEndpoint(json_reply())
    model_on(endpoint).bind_tools([get_weather, Joke], strict=True).invoke("hi")
    assert [tool["strict"] for tool in endpoint.body["tools"]] == [True, True]


def test_parallel_tool_calls_without_tools_are_not_sent() -> None:
    endpoint = FakeEndpoint(json_reply())
    model_on(endpoint, parallel_tool_calls=False).invoke("hi")
    assert "parallel_tool_calls" not in endpoint.body and "tools" not in endpoint.body


def test_tools_passed_per_call_are_converted_too() -> None:
    endpoint = FakeEndpoint(json_reply())
    model_on(endpoint).invoke("hi", tools=[get_weather], tool_choice="get_weather")
    assert endpoint.body["tools"][0]["name"] == "get_weather"
    assert endpoint.body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


# -- with_structured_output ----------------------------------------------------------------------------
def test_function_calling_forces_the_schema_tool_and_parses_an_instance() -> None:
    endpoint = FakeEndpoint(json_reply("", tool_calls=[("c1", "Joke", json.dumps(JOKE))]))
    result = model_on(endpoint).with_structured_output(Joke).invoke("joke")
    assert result == Joke(**JOKE)
    body = endpoint.body
    assert [tool["name"] for tool in body["tools"]] == ["Joke"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Joke"}}
    assert body["parallel_tool_calls"] is False
    assert "text" not in body


def test_function_calling_with_a_typeddict_returns_a_dict_when_streamed() -> None:
    events = do_chunks(
        [], tool_calls=[("c1", "JokeDict", ['{"setup": "Why?",', ' "punchline": "Because."}'])]
    )
    chunks = list(model_on(FakeEndpoint(sse_reply(events))).with_structured_output(JokeDict).stream("joke"))
    assert chunks[-1] == JOKE
    assert all(set(chunk) <= {"setup", "punchline"} for chunk in chunks)


def test_json_schema_sends_text_format_and_parses_the_text() -> None:
    endpoint = FakeEndpoint(json_reply(json.dumps(JOKE)))
    result = model_on(endpoint).with_structured_output(Joke, method="json_schema", strict=True).invoke("joke")
    assert result == Joke(**JOKE)
    fmt = endpoint.body["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"], fmt["description"]) == (
        "json_schema",
        "Joke",
        True,
        "A joke.",
    )
    assert set(fmt["schema"]["properties"]) == {"setup", "punchline"}
    assert fmt["schema"]["additionalProperties"] is False
    assert "tools" not in endpoint.body


def test_json_schema_with_a_dict_schema_returns_a_dict() -> None:
    endpoint = FakeEndpoint(json_reply(json.dumps(JOKE)))
    schema = convert_to_json_schema(JokeDict)
    result = model_on(endpoint).with_structured_output(schema, method="json_schema").invoke("joke")
    assert result == JOKE
    assert "strict" not in endpoint.body["text"]["format"]


def test_json_mode_sends_json_object_and_rejects_strict() -> None:
    endpoint = FakeEndpoint(json_reply(json.dumps(JOKE)))
    model = model_on(endpoint)
    assert model.with_structured_output(None, method="json_mode").invoke("joke as JSON") == JOKE
    assert endpoint.body["text"] == {"format": {"type": "json_object"}}
    with pytest.raises(ValueError, match="json_mode enforces no schema"):
        model.with_structured_output(Joke, method="json_mode", strict=True)


def test_include_raw_keeps_the_message_and_reports_the_parsing_error() -> None:
    endpoint = FakeEndpoint(json_reply("not json at all"))
    out = (
        model_on(endpoint).with_structured_output(Joke, method="json_schema", include_raw=True).invoke("joke")
    )
    assert isinstance(out["raw"], AIMessage) and out["raw"].content == "not json at all"
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], OutputParserException)


def test_include_raw_on_success_has_no_parsing_error() -> None:
    endpoint = FakeEndpoint(json_reply("", tool_calls=[("c1", "Joke", json.dumps(JOKE))]))
    out = model_on(endpoint).with_structured_output(Joke, include_raw=True).invoke("joke")
    assert out["parsed"] == Joke(**JOKE) and out["parsing_error"] is None


def test_parse_failure_without_include_raw_raises() -> None:
    # As in every LangChain model: the tools parser raises pydantic's error, the text parser its own.
    endpoint = FakeEndpoint(json_reply("", tool_calls=[("c1", "Joke", '{"setup": 3}')]))
    with pytest.raises(ValidationError, match="punchline"):
        model_on(endpoint).with_structured_output(Joke).invoke("joke")
    endpoint = FakeEndpoint(json_reply('{"setup": 3'))
    with pytest.raises(OutputParserException):
        model_on(endpoint).with_structured_output(Joke, method="json_schema").invoke("joke")


@pytest.mark.parametrize(
    ("method", "strict", "message"),
    [
        ("xml", None, "method: must be one of"),
        ("function_calling", None, "schema: method=.function_calling. needs a schema"),
    ],
)
def test_bad_structured_output_arguments_are_rejected(method: Any, strict: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model_on(FakeEndpoint(json_reply())).with_structured_output(None, method=method, strict=strict)


class _Options(BaseCallbackHandler):
    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.options.append(kwargs.get("options") or {})


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_structured_output_format_reaches_tracing(method: Any) -> None:
    reply = json_reply(json.dumps(JOKE), tool_calls=[("c1", "Joke", json.dumps(JOKE))])
    handler = _Options()
    model_on(FakeEndpoint(reply)).with_structured_output(Joke, method=method).invoke(
        "joke", config={"callbacks": [handler]}
    )
    traced = handler.options[0]["ls_structured_output_format"]
    assert traced["schema"] == convert_to_json_schema(Joke)
    assert traced["kwargs"]["method"] == method
