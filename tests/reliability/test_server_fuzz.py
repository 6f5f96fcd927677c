"""Server fuzzing: whatever a client sends, the local server answers 200 or a 4xx with DO's error body.

Request bodies are generated from DO's own request schema (`create_response_request.yml`, read from the
repository's copy of DO's OpenAPI spec), so they explore every documented field, type and bound, streamed
and not; then from arbitrary JSON values and raw bytes, which a server meets just as often. The answer must
be 200 (a parseable body, or a stream that reaches its end marker) or a 4xx whose body is DO's error schema
(`id`, `message`, optional `request_id`) - never a 5xx, since no fault was asked for.

The schemas are converted from OpenAPI 3.0 (`nullable`) to JSON Schema here (these two files use no
`$ref`). Bodies come from `strategy_for`, a small JSON Schema -> hypothesis strategy converter covering the
keywords DO's schema uses: hypothesis-jsonschema 0.23.1 cannot generate objects with the installed
hypothesis (its `from_object_schema` calls the removed `cu.many(...).more()`). Every generated body is
checked against the schema with `jsonschema`, so the converter cannot drift from the spec unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import pytest
import yaml  # type: ignore[import-untyped]
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from gradient_integrations.core import StreamAssembler, build_request, parse_response
from gradient_integrations.local import LocalServer

SPEC = Path(__file__).resolve().parents[1] / "core" / "fixtures" / "do_openapi" / "models"
_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes "or null"; `example` annotations go."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: openapi_to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example")
    }
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _load(name: str) -> dict[str, Any]:
    schema = openapi_to_json_schema(yaml.safe_load((SPEC / name).read_text(encoding="utf-8")))
    assert isinstance(schema, dict)
    return schema


REQUEST_SCHEMA = _load("create_response_request.yml")
ERROR_SCHEMA = _load("error.yml")

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def strategy_for(schema: dict[str, Any]) -> SearchStrategy[Any]:
    """Values valid under `schema`, for the JSON Schema keywords DO's request schema uses."""
    for combinator in ("anyOf", "oneOf"):  # DO's oneOf branches are disjoint by type, so anyOf is the same
        if combinator in schema:
            return st.one_of([strategy_for(branch) for branch in schema[combinator]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=40)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            strategy_for(schema.get("items", {})), min_size=low, max_size=min(schema.get("maxItems", 4), 4)
        )
    if kind == "object":
        return _objects(schema)
    return JSON


def _objects(schema: dict[str, Any]) -> SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    known = st.fixed_dictionaries(
        {name: strategy_for(sub) for name, sub in properties.items() if name in required},
        optional={name: strategy_for(sub) for name, sub in properties.items() if name not in required},
    )
    additional = schema.get("additionalProperties", True)
    if additional is False:
        return known
    values = JSON if additional is True else strategy_for(additional)
    extra = st.dictionaries(
        st.text(max_size=10).filter(lambda name: name not in properties), values, max_size=2
    )
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


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
        assembler = StreamAssembler()
        for line in response.text.splitlines():
            if line.startswith("data:"):
                assembler.feed(line[5:].strip())
        assembler.result()  # raises unless the stream reached its end marker
    else:
        parse_response(response.json())


def _post(http: httpx.Client, content: bytes) -> httpx.Response:
    return http.post("/v1/responses", content=content, headers={"content-type": "application/json"})


@_FUZZ
@given(body=strategy_for(REQUEST_SCHEMA))
def test_schema_valid_requests(http: httpx.Client, body: dict[str, Any]) -> None:
    jsonschema.validate(body, REQUEST_SCHEMA)  # the generator really follows DO's schema
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
