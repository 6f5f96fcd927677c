"""Server fuzzing: whatever a client sends, the local server answers 200 or a 4xx with DO's error body.

Request bodies are generated from DO's own request schema (`create_response_request.yml`, read from the
repository's copy of DO's OpenAPI spec), so they explore every documented field, type and bound, streamed
and not; then from arbitrary JSON values and raw bytes, which a server meets just as often. The answer must
be 200 (a parseable body, or a stream that reaches its end marker) or a 4xx whose body is DO's error schema
(`id`, `message`, optional `request_id`) - never a 5xx, since no fault was asked for.

Bodies from the schema are drawn by schemathesis (`schema_bodies` in the core suite's helpers, a
one-operation OpenAPI document around DO's `create_response_request.yml`). Positive bodies must be served
unless our own client validation would also refuse them; every one is checked against the schema with
`jsonschema` too, so the generator cannot drift from the spec unnoticed. Negative bodies (schemathesis
breaks the schema on purpose, or sends bytes that are not JSON) must get DO's 4xx error body.
hypothesis-jsonschema, the other library for this, cannot draw objects with current hypothesis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import pytest
from core._support import openapi_schema, schema_bodies  # tests/ is on sys.path
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gradient_integrations.core import ResponseReader, build_request, parse_response
from gradient_integrations.local import LocalServer

_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


REQUEST_SCHEMA = openapi_schema("models/create_response_request.yml")
REQUEST_VALIDATOR = jsonschema.validators.validator_for(REQUEST_SCHEMA)(REQUEST_SCHEMA)  # built once
ERROR_SCHEMA = openapi_schema("models/error.yml")

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def http(local_server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.base_url, timeout=10) as client:
        yield client


def check_answer(response: httpx.Response, body: Any) -> None:
    """200 with a usable answer, or a 4xx with DO's error body; never a 5xx."""
    assert response.status_code < 500, f"{response.status_code} for {body!r}: {response.text[:300]}"
    if response.status_code >= 400:
        error = response.json()
        jsonschema.validate(error, ERROR_SCHEMA)
        assert error["message"].strip()
        return
    assert response.status_code == 200
    if "text/event-stream" in response.headers["content-type"]:
        assembler = ResponseReader()
        # SSE ends lines only at CR, LF or CRLF; str.splitlines() would also split inside a JSON string
        # holding U+2028 or U+0085, which JSON (and the server) leave unescaped.
        for line in re.split(r"\r\n|\r|\n", response.text):
            if line.startswith("data:"):
                assembler.feed(line[5:].strip())
        assembler.result()  # raises unless the stream reached its end marker
    else:
        parse_response(response.json())


def _post(http: httpx.Client, content: bytes) -> httpx.Response:
    return http.post("/v1/responses", content=content, headers={"content-type": "application/json"})


@pytest.mark.slow
@_FUZZ
@given(body=schema_bodies("models/create_response_request.yml"))
def test_schema_valid_requests(http: httpx.Client, body: dict[str, Any]) -> None:
    REQUEST_VALIDATOR.validate(body)  # the generator really follows DO's schema
    response = _post(http, json.dumps(body).encode())
    check_answer(response, body)
    if _client_would_send(body):
        # A body our own client validation accepts must be served, not rejected.
        assert response.status_code == 200, response.text[:300]


def _client_would_send(body: dict[str, Any]) -> bool:
    fields = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
    if body.get("stream_options") is not None and not body.get("stream"):
        return False
    try:
        build_request(**{key: value for key, value in fields.items() if value is not None})
    except (ValueError, TypeError):
        return False
    return True


@pytest.mark.slow
@_FUZZ
@given(body=schema_bodies("models/create_response_request.yml", negative=True))
@example(body={"input": "0", "model": "0", "stop": []})  # found by this test: served, though minItems is 1
@example(body={"input": "0", "model": "0", "top_p": False})  # found by this test: a boolean read as 0
def test_schema_breaking_requests_get_does_error_body(http: httpx.Client, body: Any) -> None:
    # Negative cases are JSON values that break the schema, or raw bytes that may not be JSON at all.
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        parsed = json.loads(content)
    except ValueError:
        parsed = None  # not JSON: certainly not a valid request
    else:
        # A negative case can land on a valid body (an `anyOf` branch it did not break), or break the schema
        # only with an explicit null for an optional field, which the server reads as the field left out
        # (as vLLM's and OpenAI's request models do): the server may serve both.
        if _is_valid(_without_nulls(parsed)):
            return
    response = _post(http, content)
    check_answer(response, body)
    assert 400 <= response.status_code < 500, f"{response.status_code} for {body!r}: {response.text[:300]}"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _is_valid(body: Any) -> bool:
    return bool(REQUEST_VALIDATOR.is_valid(body))


FIELDS = st.sampled_from(
    [*sorted(REQUEST_SCHEMA["properties"]), "max_tokens", "text", "reasoning", "tool_choice"]
)


@_FUZZ
@given(body=st.dictionaries(FIELDS, JSON, max_size=8))
def test_documented_fields_with_any_values(http: httpx.Client, body: dict[str, Any]) -> None:
    check_answer(_post(http, json.dumps(body).encode()), body)


@_FUZZ
@given(body=JSON)
def test_any_json_value(http: httpx.Client, body: Any) -> None:
    check_answer(_post(http, json.dumps(body).encode()), body)


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=200))
def test_any_bytes(http: httpx.Client, content: bytes) -> None:
    response = _post(http, content)
    assert response.status_code < 500
    if response.status_code != 200:  # some byte strings happen to be valid requests
        jsonschema.validate(response.json(), ERROR_SCHEMA)


@_FUZZ
@given(
    parameters=st.dictionaries(
        st.sampled_from(
            ["type", "properties", "required", "items", "enum", "anyOf", "allOf", "$ref", "pattern"]
        ),
        JSON,
    ),
    tool_choice=st.sampled_from(["auto", "required", {"type": "function", "function": {"name": "probe"}}]),
)
@example(parameters={"enum": {"": None}}, tool_choice="auto")  # found by this test: a KeyError, then a 500
@example(parameters={"$ref": "", "anyOf": [{}]}, tool_choice="auto")  # found by this test: a RecursionError
def test_tool_schemas_of_any_shape(http: httpx.Client, parameters: dict[str, Any], tool_choice: Any) -> None:
    """The scripted model fills tool arguments from the tool's schema: a strange schema must not crash it."""
    body = {
        "model": "llama3.3-70b-instruct",
        "input": 'call probe with 7 and "x"',
        "tools": [{"type": "function", "name": "probe", "parameters": parameters}],
        "tool_choice": tool_choice,
    }
    check_answer(_post(http, json.dumps(body).encode()), body)


def test_a_requested_fault_is_the_only_way_to_a_5xx(http: httpx.Client) -> None:
    """The oracle itself: the same checks do see a 5xx when one is asked for."""
    body = {"model": "llama3.3-70b-instruct", "input": "hi"}
    response = http.post("/v1/responses", json=body, headers={"x-gradient-fault": "status:503"})
    assert response.status_code == 503
    with pytest.raises(AssertionError, match="503"):
        check_answer(response, body)
