"""Every documented response body shape parses to the right `ResponseResult`, leniently.

Shapes: the seed reference example verbatim, DO's spec examples (assembled from the schema's own
`example` values, and fuzzed from the schema), the DO docs' untyped items with reasoning first,
`created_at` (pydo mock), `choices`-only bodies (DO's chat examples), bare `text` items (Stainless), a
full vLLM/OpenAI Responses body, chat-style usage naming, and unknown fields anywhere (kept in `.raw`).
The same bodies also go through `create`, `acreate` and a stream request answered with plain JSON.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jsonschema
import pytest
from fakes import FakeEndpoint, json_reply
from hypothesis import given, settings

from gradient_integrations.core import ResponseResult, ToolCall, Usage, build_request, parse_response
from gradient_integrations.core.reader import parse_usage

from ._support import load_json, make_client, openapi_schema, schema_bodies, schema_example

RESPONSE_SCHEMA = openapi_schema("models/create_response_response.yml")
SPEC_USAGE = Usage(
    input_tokens=133, output_tokens=41, total_tokens=174, cached_tokens=128, reasoning_tokens=24
)


def _expect(**fields: Any) -> ResponseResult:
    return ResponseResult(**fields)


# Each fixture and the one result it must give. `raw` is not compared (compare=False), so it is
# checked separately below.
EXPECTED: dict[str, ResponseResult] = {
    "seed_response.json": _expect(
        id="response-abc123def456",
        model="llama3-8b-instruct",
        created=1721596428,
        # `output[]` holds only a function_call, so the text comes from the legacy choices[].message;
        # the tool call comes from output[] (it wins where it has a part).
        text="Once upon a time, a unicorn named Sparkle...",
        tool_calls=[ToolCall(id="call_id", name="name", arguments="arguments")],
        usage=SPEC_USAGE,
        finish_reason="stop",
        status="status",
    ),
    "docs_reasoning_first.json": _expect(
        text="The capital of France is **Paris**.",
        reasoning="We need to answer: The capital of France is Paris. This is straightforward.",
        usage=Usage(72, 35, 107, cached_tokens=32, reasoning_tokens=17),
        finish_reason="stop",
        status="completed",
    ),
    "pydo_created_at.json": _expect(
        id="resp-abc123",
        model="openai-gpt-oss-20b",
        created=1700002000,
        text="The ocean covers over 70% of Earth.",
        usage=Usage(12, 15, 27),
        finish_reason="stop",
        status="completed",
    ),
    "do_description_chat_completion.json": _expect(
        id="chatcmpl-abc123",
        model="meta-llama/Llama-3.3-70B-Instruct",
        created=1677858242,
        text="Hello! How can I help you today?",
        usage=Usage(10, 12, 22),
        finish_reason="stop",
        status="completed",
    ),
    "do_docs_chat_sample.json": _expect(
        model="llama3.3-70b-instruct",
        created=1747247763,
        text="The capital of France is Paris.",
        usage=Usage(43, 8, 51),
        finish_reason="stop",
        status="completed",
    ),
    "stainless_text_items.json": _expect(
        id="response-text-items",
        model="llama3-8b-instruct",
        created=1721596428,
        text="Once upon a time, a unicorn slept.",
        usage=Usage(9, 8, 17),
        finish_reason="stop",
        status="completed",
    ),
    "vllm_responses_body.json": _expect(
        id="resp_7f3a",
        model="openai-gpt-oss-120b",
        created=1760000000,
        text="Let me check.",
        reasoning="The user wants the weather in Paris; call the tool.",
        tool_calls=[ToolCall(id="call_paris", name="get_weather", arguments='{"city": "Paris"}')],
        usage=Usage(120, 40, 160, cached_tokens=64, reasoning_tokens=22),
        finish_reason="tool_calls",
        status="completed",
    ),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_fixture_parses_to_expected_result(name: str) -> None:
    raw = load_json(name)
    pristine = copy.deepcopy(raw)
    result = parse_response(raw)
    assert result == EXPECTED[name]
    assert result.raw == pristine  # the whole body, unknown fields included, untouched


def test_seed_unknown_fields_are_kept_in_raw() -> None:
    result = parse_response(load_json("seed_response.json"))
    assert result.raw["background"] is True
    assert result.raw["choices"][0]["logprobs"]["content"][0]["token"] == "token"
    assert result.raw["service_tier"] == "service_tier"
    assert result.raw["text"] == "text"  # a top-level string `text` is not the answer text


def test_do_spec_example_assembled_from_the_schema() -> None:
    body = schema_example("models/create_response_response.yml")
    jsonschema.validate(body, RESPONSE_SCHEMA)
    result = parse_response(body)
    assert body["output"][0]["type"] == "message"
    assert result.text == "The capital of France is **Paris**."
    assert result.usage == SPEC_USAGE
    assert (result.id, result.model, result.created) == (
        "response-abc123def456",
        "openai-gpt-oss-20b",
        1721596428,
    )
    assert result.tool_calls == []  # a message item, even one carrying stray call fields, is not a call
    assert (result.finish_reason, result.status) == ("stop", "completed")


def _expected_from_output(body: dict[str, Any]) -> tuple[str, str, list[ToolCall]]:
    """The spec's reading of output[]: output_text of messages, reasoning_text anywhere, calls in order."""
    text, reasoning, calls = [], [], []
    for item in body["output"]:
        if item["type"] == "function_call":
            call_id = item.get("call_id") or item.get("id") or f"call_{len(calls)}"
            calls.append(ToolCall(call_id, item.get("name") or "", item.get("arguments") or ""))
            continue
        for part in item["content"]:
            is_reasoning = item["type"] == "reasoning" or part["type"] == "reasoning_text"
            (reasoning if is_reasoning else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(body=schema_bodies("models/create_response_response.yml"))  # drawn by schemathesis
def test_any_do_schema_valid_body_parses(body: dict[str, Any]) -> None:
    jsonschema.validate(body, RESPONSE_SCHEMA)
    result = parse_response(body)
    text, reasoning, calls = _expected_from_output(body)
    assert (result.text, result.reasoning, result.tool_calls) == (text, reasoning, calls)
    assert result.id == body["id"] and result.model == body["model"] and result.created == body["created"]
    assert result.usage == parse_usage(body["usage"])
    assert result.raw is body


def test_incomplete_status_means_length() -> None:
    body = load_json("vllm_responses_body.json")
    body.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    body["output"] = body["output"][:2]
    result = parse_response(body)
    assert (result.finish_reason, result.status) == ("length", "incomplete")
    # Without a status, incomplete_details alone still says the answer was cut.
    del body["status"]
    assert parse_response(body).finish_reason == "length"


def test_choices_with_tool_calls_and_reasoning_content() -> None:
    body = {
        "id": "r",
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "Need the tool.",
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
                    ],
                },
            }
        ],
    }
    result = parse_response(body)
    assert result.reasoning == "Need the tool."
    assert result.text == ""
    assert result.tool_calls == [ToolCall("call_a", "f", "{}"), ToolCall("call_1", "g", '{"x":1}')]
    assert (result.finish_reason, result.status) == ("tool_calls", "completed")


def test_output_wins_over_choices_part_by_part() -> None:
    body = {
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "from output"}]}],
        "choices": [{"message": {"content": "from choices", "reasoning_content": "choice reasoning"}}],
    }
    result = parse_response(body)
    assert result.text == "from output"
    assert result.reasoning == "choice reasoning"  # output[] had no reasoning: choices fill it


def test_string_content_items() -> None:
    body = {
        "output": [
            {"type": "reasoning", "content": "thinking"},
            {"type": "message", "content": "answer"},
            {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]},  # no text: skipped
        ]
    }
    result = parse_response(body)
    assert (result.reasoning, result.text) == ("thinking", "answer")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 43,
                "completion_tokens": 8,
                "total_tokens": 51,
                "prompt_tokens_details": {"cached_tokens": 40},
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
            Usage(43, 8, 51, cached_tokens=40, reasoning_tokens=3),
        ),
        ({"prompt_tokens": 5, "completion_tokens": 2}, Usage(5, 2, 7)),  # total derived
        (
            {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 4},
            Usage(5, 2, 7, cached_tokens=4),
        ),
        ({"input_tokens": True, "output_tokens": "7", "total_tokens": None}, Usage(0, 0, 0)),  # junk -> 0
        ({}, None),
    ],
)
def test_usage_namings(usage: dict[str, Any], expected: Usage | None) -> None:
    assert parse_response({"output": [], "usage": usage}).usage == expected


def test_unknown_fields_everywhere_are_kept_and_change_nothing() -> None:
    plain = load_json("vllm_responses_body.json")
    noisy = copy.deepcopy(plain)
    noisy["future_field"] = {"nested": [1, 2]}
    noisy["output"][0]["future_item_field"] = "x"
    noisy["output"][1]["content"][0]["future_part_field"] = None
    noisy["output"].append({"type": "future_tool_call", "id": "ft_1", "status": "completed"})
    noisy["usage"]["future_usage_field"] = 3
    noisy["choices"] = [{"index": 0, "future_choice_field": True}]
    result = parse_response(noisy)
    # A new item type is a server-side tool's run: kept as one, and it changes nothing else.
    (future,) = result.server_tool_calls
    assert (future.type, future.name, future.id, future.item) == (
        "future_tool_call",
        "future_tool",
        "ft_1",
        noisy["output"][3],
    )
    assert dataclasses.replace(result, server_tool_calls=[]) == parse_response(plain)
    assert result.raw["future_field"] == {"nested": [1, 2]}
    assert result.raw["output"][3]["type"] == "future_tool_call"


@pytest.mark.parametrize("name", EXPECTED)
async def test_create_acreate_and_json_answered_stream_agree(name: str) -> None:
    script = FakeEndpoint(json_reply(load_json(name)))
    client = make_client(script)
    request = build_request(model="m", input="hi")
    assert client.create(request) == EXPECTED[name]
    assert await client.acreate(request) == EXPECTED[name]
    # A server may answer a stream request with plain JSON: it is replayed as deltas.
    stream = client.stream(request)
    deltas = list(stream)
    assert stream.result == EXPECTED[name]
    assert "".join(d.text for d in deltas if d.kind == "text") == EXPECTED[name].text
    assert [d.kind for d in deltas].count("finish") == 1 and deltas[-1].kind == "finish"
    assert deltas[-1].usage == EXPECTED[name].usage
    await client.aclose()
