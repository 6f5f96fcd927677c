"""The request body: exact JSON per field, `stream_options` only when streaming, and DO-schema validity.

The wire body is `ResponseRequest.to_body(stream=...)`; the client must send exactly that, with the
headers that match the mode (JSON vs SSE). Bodies built from valid fields are checked against DO's own
request schema (`create_response_request.yml`) by hypothesis, so a serializer change that the endpoint
would reject fails here.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from fakes import FakeEndpoint, json_reply, sse_reply
from hypothesis import given, settings
from hypothesis import strategies as st

from gradient_integrations.core import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InvalidRequestError,
    MessageItem,
    NamedToolChoice,
    ReasoningItem,
    build_request,
)

from ._support import load_json, make_client, openapi_schema, schema_example

REQUEST_SCHEMA = openapi_schema("models/create_response_request.yml")
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_curl_example_from_do_spec_round_trips() -> None:
    # specification/resources/inference/examples/curl/inference_create_response.yml, minus `stream`:
    # a non-streaming body leaves `stream` out, which the endpoint defaults to false.
    expected = {
        "model": "openai-gpt-oss-20b",
        "input": "What is the capital of France?",
        "max_output_tokens": 50,
        "temperature": 0.7,
    }
    body = build_request(**expected).to_body(stream=False)
    assert body == expected
    jsonschema.validate({**body, "stream": False}, REQUEST_SCHEMA)


def test_every_documented_spec_example_value_is_accepted_and_schema_valid() -> None:
    fields = schema_example("models/create_response_request.yml")
    assert fields.pop("stream") is False  # the mode is chosen by create()/stream(), not a field
    request = build_request(**fields)
    body = request.to_body(stream=True)
    jsonschema.validate(body, REQUEST_SCHEMA)
    assert body["model"] == "openai-gpt-oss-20b"
    assert body["tool_choice"] == "auto"
    assert body["metadata"] == {"session_id": "abc123"}
    assert body["tools"][0]["name"] == "get_weather"
    assert body["stop"] == "\n"
    assert body["stream_options"] == {"include_usage": True}


def test_stream_options_only_when_streaming() -> None:
    request = build_request(model="m", input="hi", stream_options={"include_usage": True})
    plain = request.to_body(stream=False)
    assert "stream_options" not in plain and "stream" not in plain
    streamed = request.to_body(stream=True)
    assert streamed["stream"] is True
    assert streamed["stream_options"] == {"include_usage": True}
    # Without explicit options a stream still asks for usage: the finish delta must carry it.
    assert build_request(model="m", input="hi").to_body(stream=True)["stream_options"] == {
        "include_usage": True
    }


def test_tool_turn_two_body_is_exact() -> None:
    request = build_request(
        model="openai-gpt-oss-120b",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": "call_abc123",
                "name": "get_weather",
                "arguments": '{"city":"P"}',
            },
            {"type": "function_call_output", "call_id": "call_abc123", "output": '{"temp_c":21}'},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    assert request.to_body(stream=False) == {
        "model": "openai-gpt-oss-120b",
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": "call_abc123",
                "name": "get_weather",
                "arguments": '{"city":"P"}',
            },
            {"type": "function_call_output", "call_id": "call_abc123", "output": '{"temp_c":21}'},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
    }
    assert isinstance(request.input, list)
    kinds = [type(item) for item in request.input]
    assert kinds == [MessageItem, FunctionCallItem, FunctionCallOutputItem]


def test_named_tool_choice_parts_reasoning_and_passthrough_fields() -> None:
    request = build_request(
        model="openai-gpt-oss-20b",
        input=[
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            {"type": "reasoning", "id": "rs_1", "content": [{"type": "reasoning_text", "text": "think"}]},
            {"role": "user", "content": "go", "x_client_tag": 7},  # unknown item fields are sent as given
        ],
        tools=[WEATHER_TOOL],
        tool_choice=NamedToolChoice.of("get_weather"),
        parallel_tool_calls=False,
        text={"format": {"type": "json_object"}},
        reasoning={"effort": "low"},
        extra_body={"store": False, "temperature": 0.1},
        temperature=0.9,
    )
    body = request.to_body(stream=False)
    assert body["input"] == [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {
            "type": "reasoning",
            "id": "rs_1",
            "content": [{"type": "reasoning_text", "text": "think"}],
            "summary": [],
        },
        {"role": "user", "content": "go", "x_client_tag": 7},
    ]
    assert isinstance(request.input, list) and isinstance(request.input[1], ReasoningItem)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["text"] == {"format": {"type": "json_object"}}
    assert body["reasoning"] == {"effort": "low"}
    assert body["store"] is False
    assert body["temperature"] == 0.1  # extra_body is merged last, by design
    assert "extra_body" not in body


def test_none_fields_are_left_out() -> None:
    body = build_request(model="m", input="hi", temperature=None, tools=None, stop=[]).to_body(stream=False)
    assert body == {"model": "m", "input": "hi"}


@pytest.mark.parametrize("stream", [False, True])
def test_client_sends_exactly_to_body_with_matching_headers(stream: bool) -> None:
    request = build_request(model="m", input="hi", tools=[WEATHER_TOOL], metadata={"a": "b"})
    if stream:
        sse = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n'
        script = FakeEndpoint(sse_reply([sse]))
        client = make_client(script)
        list(client.stream(request))
    else:
        script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
        client = make_client(script)
        client.create(request)
    sent = script.requests[0]
    assert json.loads(sent.content) == request.to_body(stream=stream)
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == ("text/event-stream" if stream else "application/json")
    assert sent.headers["user-agent"].startswith("gradient-integrations/")


# -- property: every body we build from valid fields is valid for DO's schema -------------------------
_texts = st.text(min_size=1, max_size=20)
_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]), "content": _texts}
    ),
    min_size=1,
    max_size=4,
)
_tool_names = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@st.composite
def _valid_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": draw(_texts), "input": draw(st.one_of(_texts, _messages))}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "instructions": _texts,
        "max_output_tokens": st.integers(1, 100_000),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "stop": st.one_of(_texts, st.lists(_texts, min_size=1, max_size=4)),
        "metadata": st.dictionaries(st.text(max_size=64), st.text(max_size=512), max_size=16),
        "user": _texts,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    tools = draw(st.lists(_tool_names, max_size=3, unique=True))
    if tools:
        fields["tools"] = [{"name": name, "description": "d"} for name in tools]
        fields["tool_choice"] = draw(
            st.one_of(
                st.sampled_from(["none", "auto", "required"]), st.sampled_from(tools).map(NamedToolChoice.of)
            )
        )
    return fields


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(fields=_valid_fields(), stream=st.booleans())
def test_valid_fields_always_give_a_do_schema_valid_body(fields: dict[str, Any], stream: bool) -> None:
    body = build_request(**fields).to_body(stream=stream)
    jsonschema.validate(body, REQUEST_SCHEMA)
    assert body["model"] == fields["model"]
    assert ("stream_options" in body) is stream


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"temperature": True}, "temperature"),
        ({"top_p": False}, "top_p"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"parallel_tool_calls": 1}, "parallel_tool_calls"),
        ({"stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
    ],
)
def test_booleans_and_numbers_are_not_read_as_each_other(fields: dict[str, Any], field: str) -> None:
    # JSON schema keeps them apart; pydantic's lax mode would read True as 1 and 1 as True.
    with pytest.raises(InvalidRequestError) as caught:
        build_request(model="m", input="hi", **fields)
    assert caught.value.field == field
