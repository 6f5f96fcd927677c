"""Clients nobody here wrote read the server: DO's official `pydo` (`pydo.inference.Client`, plain and
streaming) and the `openai` SDK (Responses stream in the `openai` dialect, checked event by event against
the SDK's own pydantic types; chat completions plain, streamed and with tools).

pydo (through azure-core) refuses to send a bearer token over plain http, so its tests serve TLS with a
throwaway CA from `trustme` (`LocalServer(tls=True)`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter
from pydo.inference import Client as PydoClient

from gradient_integrations.local import LocalServer

from ._cases import CASES, TIME_TOOL, WEATHER_TOOL, sse_events

KEY = "sk-do-local-test-key"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY, tls=True) as server:  # a throwaway CA from trustme
        yield server


def pydo_client(server: LocalServer, key: str = KEY) -> PydoClient:
    return PydoClient(api_key=key, inference_endpoint=server.base_url, connection_verify=server.ca_file)


def test_pydo_reads_a_plain_response(tls_server: LocalServer) -> None:
    assert tls_server.base_url.startswith("https://")
    response = pydo_client(tls_server).responses.create(model="openai-gpt-oss-20b", input="Hello from pydo")
    assert response.object == "response"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[1].content[0].text == "You said: Hello from pydo"
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_pydo_streams_response_chunks(tls_server: LocalServer) -> None:
    stream = pydo_client(tls_server).responses.create(
        model="llama3.3-70b-instruct",
        input="stream to pydo",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert {chunk.object for chunk in chunks} == {"response.chunk"}
    text = "".join(chunk.choices[0].delta.get("content") or "" for chunk in chunks if chunk.choices)
    assert text == "You said: stream to pydo"
    assert chunks[-1].choices == [] and chunks[-1].usage.output_tokens == 5


def test_pydo_calls_tools(tls_server: LocalServer) -> None:
    response = pydo_client(tls_server).responses.create(**CASES["tool_call"])
    call = response.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call",
        "get_weather",
        {"location": "Paris", "days": 3},
    )


def test_pydo_maps_auth_and_validation_errors(tls_server: LocalServer) -> None:
    with pytest.raises(ClientAuthenticationError, match="Unable to authenticate"):
        pydo_client(tls_server, "sk-do-wrong").responses.create(model="m", input="hi")
    with pytest.raises(HttpResponseError, match="temperature: "):
        pydo_client(tls_server).responses.create(model="m", input="hi", temperature=5)


@pytest.fixture(scope="module")
def openai_client(local_server: LocalServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        base_url=local_server.base_url + "/v1",
        api_key="x",
        max_retries=0,
        default_headers={"x-gradient-stream-dialect": "openai"},
    )
    with client:
        yield client


_EVENT = TypeAdapter(ResponseStreamEvent)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_openai_dialect_event_validates_against_the_openai_sdk_types(
    local_server: LocalServer, name: str
) -> None:
    response = httpx.post(
        local_server.base_url + "/v1/responses",
        json={**CASES[name], "stream": True},
        headers={"x-gradient-stream-dialect": "openai"},
    )
    events = sse_events(response.text)
    numbers = []
    for event_name, data in events:
        payload = json.loads(data)
        assert event_name == payload["type"]
        _EVENT.validate_python(payload)  # raises on a missing or mistyped field
        numbers.append(payload["sequence_number"])
    assert numbers == list(range(len(events)))
    assert [name for name, _ in events][:2] == ["response.created", "response.in_progress"]
    assert events[-1][0] in ("response.completed", "response.incomplete")
    Response.model_validate(json.loads(events[-1][1])["response"])


def test_openai_sdk_iterates_the_raw_stream(openai_client: openai.OpenAI) -> None:
    stream = openai_client.responses.create(model="openai-gpt-oss-20b", input="Hello openai", stream=True)
    events = list(stream)
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    reasoning = "".join(event.delta for event in events if event.type == "response.reasoning_text.delta")
    assert text == "You said: Hello openai"
    assert reasoning.startswith('The user wrote "Hello openai".')
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == text
    assert (
        completed.response.usage is not None
        and completed.response.usage.output_tokens_details.reasoning_tokens > 0
    )


def test_openai_sdk_stream_helper_accumulates_the_final_response(openai_client: openai.OpenAI) -> None:
    with openai_client.responses.stream(
        model="m", input="Use get_weather for 'Oslo' over 2 days", tools=[WEATHER_TOOL, TIME_TOOL]
    ) as stream:  # type: ignore[list-item]
        deltas = [event.delta for event in stream if event.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"location": "Oslo", "days": 2})
    assert "".join(deltas) == call.arguments


def test_openai_sdk_reads_the_do_json_body(openai_client: openai.OpenAI) -> None:
    response = openai_client.responses.create(model="m", input="plain please")
    assert response.output_text == "You said: plain please"
    assert response.usage is not None and response.usage.total_tokens == 6


def _chat(client: openai.OpenAI, **fields: Any) -> Any:
    return client.chat.completions.create(model="llama3.3-70b-instruct", **fields)


def test_openai_chat_completions_plain_and_streamed(openai_client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "Be short."}, {"role": "user", "content": "Hi chat"}]
    plain = _chat(openai_client, messages=messages)
    assert plain.choices[0].message.content == "(following instructions: Be short.) You said: Hi chat"
    chunks = list(
        _chat(openai_client, messages=messages, stream=True, stream_options={"include_usage": True})
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == plain.choices[0].message.content
    assert (
        chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    )


def test_openai_chat_completions_tool_calls_and_structured_output(openai_client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {k: v for k, v in WEATHER_TOOL.items() if k != "type"}}]
    messages = [{"role": "user", "content": "weather in 'Lima' for 4 days"}]
    plain = _chat(openai_client, messages=messages, tools=tools)
    call = plain.choices[0].message.tool_calls[0]
    assert (plain.choices[0].finish_reason, call.function.name) == ("tool_calls", "get_weather")
    assert json.loads(call.function.arguments) == {"location": "Lima", "days": 4}
    pieces: dict[int, str] = {}
    for chunk in _chat(openai_client, messages=messages, tools=tools, stream=True):
        for piece in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            pieces[piece.index] = pieces.get(piece.index, "") + (piece.function.arguments or "")
    assert pieces == {0: call.function.arguments}
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    structured = _chat(openai_client, messages=messages, response_format=fmt)
    assert json.loads(structured.choices[0].message.content) == {"city": "Lima"}
