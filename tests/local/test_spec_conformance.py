"""Everything the server emits validates against DO's vendored OpenAPI schemas (strictly: no undeclared
fields beyond the documented extras): Responses bodies and `response.chunk` chunks, chat completions bodies
and chunks, error bodies, and the model list. Driven over real loopback sockets, byte-exact."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradient_integrations.local import LocalServer

from ._cases import CASES, chat_body, sse_events, sse_json
from ._spec import CHAT_CHUNK, CHAT_RESPONSE, ERROR, MODEL_LIST, RESPONSE, STREAM_CHUNK, assert_valid


@pytest.fixture(scope="module")
def http(local_server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.base_url, timeout=10) as client:
        yield client


def _post(http: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return http.post(path, json=body, headers=headers)


@pytest.mark.parametrize("name", sorted(CASES))
def test_responses_json_body_matches_the_spec(http: httpx.Client, name: str) -> None:
    response = _post(http, "/v1/responses", CASES[name])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_valid(body, RESPONSE)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert body["status"] == ("incomplete" if name.endswith("truncated") else "completed")


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("name", sorted(CASES))
def test_do_stream_chunks_match_the_spec(http: httpx.Client, name: str, include_usage: bool) -> None:
    body = {**CASES[name], "stream": True, "stream_options": {"include_usage": include_usage}}
    response = _post(http, "/v1/responses", body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_json(response.text)
    for chunk in chunks:
        assert_valid(chunk, STREAM_CHUNK)
    assert len({(chunk["id"], chunk["created"], chunk["model"]) for chunk in chunks}) == 1
    roles = [c["choices"][0]["delta"].get("role") for c in chunks if c["choices"]]
    assert roles[0] == "assistant" and not any(roles[1:]), "role belongs to the first chunk only"
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == [finishes[-1]], "exactly one finish_reason, on the last choice chunk"
    usage_chunks = [chunk for chunk in chunks if chunk.get("usage")]
    if include_usage:
        assert usage_chunks == [chunks[-1]] and chunks[-1]["choices"] == []
    else:
        assert usage_chunks == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_chat_completions_body_and_chunks_match_the_spec(http: httpx.Client, name: str) -> None:
    body = chat_body(CASES[name])
    plain = _post(http, "/v1/chat/completions", body)
    assert plain.status_code == 200, plain.text
    assert_valid(plain.json(), CHAT_RESPONSE)
    streamed = _post(
        http, "/v1/chat/completions", {**body, "stream": True, "stream_options": {"include_usage": True}}
    )
    chunks = sse_json(streamed.text)
    for chunk in chunks:
        assert_valid(chunk, CHAT_CHUNK)
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "completion_tokens_details"):
        assert chunks[-1]["usage"][key] == plain.json()["usage"][key]


def test_the_model_list_matches_the_spec(http: httpx.Client) -> None:
    response = http.get("/v1/models")
    assert response.status_code == 200
    assert_valid(response.json(), MODEL_LIST)
    assert "openai-gpt-oss-20b" in [model["id"] for model in response.json()["data"]]


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"input": "hi"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": ""}, "input"),
    ({"model": "m", "input": "hi", "temperature": 3}, "temperature"),
    ({"model": "m", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
    ({"model": "m", "input": "hi", "stream_options": {"include_usage": True}}, "stream_options"),
    ({"model": "m", "input": "hi", "tool_choice": "required"}, "tool_choice"),
    ({"model": "m", "input": "hi", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"model": "m", "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
]


@pytest.mark.parametrize(("body", "field"), BAD_REQUESTS, ids=[field for _, field in BAD_REQUESTS])
def test_bad_requests_get_400_with_the_do_error_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = _post(http, "/v1/responses", body)
    assert response.status_code == 400
    error = response.json()
    assert_valid(error, ERROR)
    assert error["id"] == "bad_request"
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "request body"),
        (b"[1, 2]", "request body"),
        (b'{"model": "m", "input": "x", "temperature": NaN}', "request body"),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_400(http: httpx.Client, content: bytes, field: str) -> None:
    response = http.post("/v1/responses", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert_valid(response.json(), ERROR)
    assert response.json()["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_completion_tokens",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
            "tools[0]",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "xml"},
            },
            "response_format",
        ),
    ],
)
def test_bad_chat_requests_name_the_chat_field(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = _post(http, "/v1/chat/completions", body)
    assert response.status_code == 400
    assert_valid(response.json(), ERROR)
    assert response.json()["message"].startswith(field), response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error_id"),
    [("GET", "/v2/nothing", 404, "not_found"), ("GET", "/v1/responses", 405, "method_not_allowed")],
)
def test_unknown_routes_answer_with_the_do_error_body(
    http: httpx.Client, method: str, path: str, status: int, error_id: str
) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert_valid(response.json(), ERROR)
    assert response.json()["id"] == error_id


@pytest.mark.parametrize(
    ("fault", "status", "error_id"),
    [
        ("rate_limit:1", 429, "too_many_requests"),
        ("server_error:1", 500, "server_error"),
        ("status:503", 503, "service_unavailable"),
        ("status:422", 422, "unprocessable_entity"),
    ],
)
def test_injected_error_statuses_carry_the_do_error_body(
    http: httpx.Client, fault: str, status: int, error_id: str
) -> None:
    response = _post(
        http,
        "/v1/responses",
        CASES["plain"],
        **{"x-gradient-fault": fault, "x-gradient-fault-key": uuid.uuid4().hex},
    )
    assert response.status_code == status
    assert_valid(response.json(), ERROR)
    assert response.json()["id"] == error_id


def test_unauthorized_answers_with_the_do_error_body() -> None:
    with LocalServer(api_key="sk-do-local-test") as server:
        response = httpx.post(f"{server.base_url}/v1/responses", json=CASES["plain"])
    assert response.status_code == 401
    assert_valid(response.json(), ERROR)
    assert response.json()["id"] == "unauthorized"
    assert "sk-do-local-test" not in response.text


def test_an_error_chunk_carries_the_do_error_body(http: httpx.Client) -> None:
    body = {**CASES["plain"], "stream": True}
    response = _post(http, "/v1/responses", body, **{"x-gradient-fault": "error_chunk:1"})
    datas = [data for _, data in sse_events(response.text)]
    assert len(datas) == 2 and "[DONE]" not in datas
    assert_valid(json.loads(datas[0]), STREAM_CHUNK)
    error = json.loads(datas[1])["error"]
    assert_valid(error, ERROR)
    assert error["id"] == "server_error"


_words = st.text(alphabet="abcdefgh XYZ'\"0123456789,.", min_size=1, max_size=60).filter(str.strip)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prompt=_words,
    model=st.sampled_from(["m", "openai-gpt-oss-20b"]),
    max_output_tokens=st.none() | st.integers(min_value=1, max_value=12),
    stop=st.none() | st.lists(st.sampled_from(["a", "b c", "X", "9"]), min_size=1, max_size=4),
    tools=st.sampled_from([None, "weather", "both"]),
)
def test_any_valid_request_gets_spec_valid_and_identical_json_and_stream_answers(
    http: httpx.Client,
    prompt: str,
    model: str,
    max_output_tokens: int | None,
    stop: list[str] | None,
    tools: str | None,
) -> None:
    from ._cases import TIME_TOOL, WEATHER_TOOL

    body: dict[str, Any] = {
        "model": model,
        "input": prompt,
        "max_output_tokens": max_output_tokens,
        "stop": stop,
    }
    if tools:
        body["tools"] = [WEATHER_TOOL] if tools == "weather" else [WEATHER_TOOL, TIME_TOOL]
        body["input"] = f"{prompt} get_weather get_time"
    body = {key: value for key, value in body.items() if value is not None}
    plain = _post(http, "/v1/responses", body).json()
    assert_valid(plain, RESPONSE)
    chunks = sse_json(
        _post(http, "/v1/responses", {**body, "stream": True, "stream_options": {"include_usage": True}}).text
    )
    for chunk in chunks:
        assert_valid(chunk, STREAM_CHUNK)
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    text = "".join(delta.get("content") or "" for delta in deltas)
    message = [item for item in plain["output"] if item["type"] == "message"]
    assert text == (message[0]["content"][0]["text"] if message else "")
    usage, streamed_usage = plain["usage"], chunks[-1]["usage"]
    for key in ("output_tokens", "output_tokens_details", "input_tokens"):
        assert usage[key] == streamed_usage[key]
    if max_output_tokens is not None and not tools:
        assert usage["output_tokens"] <= max_output_tokens
    for stop_string in stop or []:
        assert stop_string not in text
