"""The request core against the local server, over real loopback sockets and through `httpx.ASGITransport`:
plain calls, streams in every dialect, tools, structured output, reasoning and auth. A streamed answer must
assemble into the same result as the JSON answer to the same request."""

from __future__ import annotations

import json

import httpx
import pytest

from gradient_integrations import (
    AuthenticationError,
    ResponsesClient,
    RetryPolicy,
    build_request,
)
from gradient_integrations.local import LocalServer, create_app

from ._cases import CASES, comparable

DIALECTS = [{}, {"x-gradient-stream-dialect": "openai"}, {"x-gradient-stream-dialect": "vllm"}]


@pytest.fixture(scope="module")
def client(local_server: LocalServer) -> ResponsesClient:
    return ResponsesClient(base_url=local_server.base_url)


@pytest.mark.parametrize("headers", DIALECTS, ids=["do", "openai", "vllm"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stream_assembles_into_the_json_answer(
    client: ResponsesClient, name: str, headers: dict[str, str]
) -> None:
    request = build_request(**CASES[name])
    plain = client.create(request)
    stream = client.stream(request, extra_headers=headers)
    kinds = [delta.kind for delta in stream]
    assert kinds.count("finish") == 1 and kinds[-1] == "finish"
    assert comparable(stream.result) == comparable(plain)
    assert plain.usage is not None and plain.usage.output_tokens > 0


def test_plain_call_reads_text_usage_and_ids(client: ResponsesClient) -> None:
    result = client.create(build_request(model="llama3.3-70b-instruct", input="Hello there"))
    assert (result.text, result.finish_reason, result.status) == (
        "You said: Hello there",
        "stop",
        "completed",
    )
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2, 4)
    assert result.id.startswith("resp_") and result.model == "llama3.3-70b-instruct"


def test_reasoning_arrives_before_text_in_every_dialect(client: ResponsesClient) -> None:
    request = build_request(model="openai-gpt-oss-20b", input="Why?")
    for headers in DIALECTS:
        kinds = [delta.kind for delta in client.stream(request, extra_headers=headers)]
        assert kinds.index("text") > kinds.index("reasoning")
        assert "reasoning" not in kinds[kinds.index("text") :]


def test_tool_calls_stream_with_stable_indexes(client: ResponsesClient) -> None:
    request = build_request(**CASES["parallel_tools"])
    for headers in DIALECTS:
        stream = client.stream(request, extra_headers=headers)
        indexes = [d.tool_call.index for d in stream if d.tool_call is not None]
        assert sorted(set(indexes)) == [0, 1]
        names = [call.name for call in stream.result.tool_calls]
        assert names == ["get_weather", "get_time"]
        assert json.loads(stream.result.tool_calls[0].arguments) == {"location": "Rome", "days": 1}


def test_structured_output_is_schema_valid_json(client: ResponsesClient) -> None:
    result = client.create(build_request(**CASES["json_schema"]))
    assert set(json.loads(result.text)) == {"setup", "punchline", "rating"}


def test_truncation_is_reported_as_length(client: ResponsesClient) -> None:
    for headers in DIALECTS:
        stream = client.stream(build_request(**CASES["truncated"]), extra_headers=headers)
        list(stream)
        assert (stream.result.finish_reason, stream.result.status) == ("length", "incomplete")


def test_a_server_with_a_key_rejects_a_wrong_key_and_accepts_the_right_one() -> None:
    request = build_request(model="m", input="hi")
    no_retry = RetryPolicy(max_retries=0)
    with LocalServer(api_key="sk-do-right") as server:
        wrong = ResponsesClient(base_url=server.base_url, api_key="sk-do-wrong", retry_policy=no_retry)
        with wrong, pytest.raises(AuthenticationError) as raised:
            wrong.create(request)
        assert raised.value.error_id == "unauthorized"
        assert "sk-do-wrong" not in str(raised.value)
        with ResponsesClient(base_url=server.base_url, api_key="sk-do-right") as right:
            assert right.create(request).text == "You said: hi"
        assert "sk-do-right" not in repr(server)


async def test_async_calls_over_sockets(local_server: LocalServer) -> None:
    request = build_request(model="openai-gpt-oss-20b", input="async please")
    async with ResponsesClient(base_url=local_server.base_url) as client:
        plain = await client.acreate(request)
        for headers in DIALECTS:
            stream = client.astream(request, extra_headers=headers)
            kinds = [delta.kind async for delta in stream]
            assert kinds[-1] == "finish"
            assert comparable(stream.result) == comparable(plain)


@pytest.mark.parametrize("dialect", ["do", "openai", "vllm"])
async def test_the_bare_app_serves_the_core_through_the_asgi_transport(dialect: str) -> None:
    app = create_app(stream_dialect=dialect)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    request = build_request(**CASES["tool_call"])
    async with ResponsesClient(
        base_url="https://local.test", async_transport=transport, api_key="x"
    ) as client:
        plain = await client.acreate(request)
        stream = client.astream(request)
        async for _ in stream:
            pass
    assert comparable(stream.result) == comparable(plain)
    assert [call.name for call in plain.tool_calls] == ["get_weather"]


async def test_through_the_asgi_transport_a_dropped_connection_raises_connection_aborted() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://local.test") as http:
        with pytest.raises(ConnectionAbortedError):
            await http.post(
                "/v1/responses",
                json={"model": "m", "input": "x"},
                headers={"x-gradient-fault": "disconnect_before_headers"},
            )
