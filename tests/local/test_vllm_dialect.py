"""The `vllm` stream dialect against the real vLLM recordings (`tests/fixtures/recorded/vllm/`), and the
clients reading it end to end.

Shapes: every event the local server sends has an event type, and for the event and every object in it (the
item, its content parts, the part, the response object, its output items, usage and its details) a key set,
that the recorded streams show for the same place. The reference is derived from the corpus here, from the
recordings of the vLLM builds the dialect models (gpt-oss era: no `[DONE]`, `reasoning_part` events); the
newer build in the corpus (Qwen3.6, with `[DONE]`) is a different dialect and is left out.

Quirks: `quirks()` reads the facts a client can trip over from a stream (ids that change between the stream
and `response.completed`, the `id: null` done item, text at `content_index` 1, no `[DONE]`, ...); the local
stream must show the same facts as the recording of the same kind of answer.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from gradient_integrations.core import ResponsesClient, StreamError, build_request
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer
from gradient_integrations.local.__main__ import parse_args

from ._cases import CASES, WEATHER_TOOL, comparable

_CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
if str(_CORPUS_DIR) not in sys.path:
    sys.path.insert(0, str(_CORPUS_DIR))
corpus = importlib.import_module("corpus")

REASONING_TEXT = "vllm/reasoning-single-openai-gpt-oss-20b-streaming#0"
REASONING_TOOL = "vllm/responses_tool_calls_3turn_streaming#0"
TOOL_PROMPT = "Use get_weather for 'Paris' for 3 days"

# The scripted answers the shapes are checked on: name -> /v1/responses body (without `stream`).
ANSWERS: dict[str, dict[str, Any]] = {
    "text": {"model": "llama3.3-70b-instruct", "input": "Hello there"},
    "reasoning_text": {"model": "openai-gpt-oss-20b", "input": "Reply with exactly one word: HELLO"},
    "reasoning_tool": {"model": "openai-gpt-oss-20b", "input": TOOL_PROMPT, "tools": [WEATHER_TOOL]},
    "parallel_tools": CASES["parallel_tools"],
    "truncated": CASES["truncated"],
    "reasoning_truncated": CASES["reasoning_truncated"],
}


# -- reading streams ------------------------------------------------------------------------------------
def events_of(body: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(event line, JSON payload) per event; asserts every payload is JSON (so no `[DONE]`)."""
    events, comments = corpus.parse_sse(body)
    assert not comments
    return [(event.event, json.loads(event.data)) for event in events]


def shapes(payload: dict[str, Any]) -> set[tuple[str, frozenset[str]]]:
    """(place, key set) for the event and every object in it that a client reads."""
    kind = payload["type"]
    found = {(kind, frozenset(payload))}

    def add(place: str, value: Any) -> None:
        if isinstance(value, dict):
            found.add((f"{kind} {place}", frozenset(value)))

    item = payload.get("item")
    if isinstance(item, dict):
        add(f"item:{item['type']}", item)
        for part in item.get("content") or ():
            add(f"item:{item['type']}.content", part)
    add("part", payload.get("part"))
    response = payload.get("response")
    if isinstance(response, dict):
        add("response", response)
        for output in response["output"]:
            add(f"output:{output['type']}", output)
            for part in output.get("content") or ():
                add(f"output:{output['type']}.content", part)
        usage = response.get("usage")
        if isinstance(usage, dict):
            add("usage", usage)
            add("usage.input_tokens_details", usage["input_tokens_details"])
            add("usage.output_tokens_details", usage["output_tokens_details"])
    return found


def collapsed_types(events: list[tuple[str | None, dict[str, Any]]]) -> list[str]:
    """The event types in order, runs of one type (the deltas) counted once."""
    kinds: list[str] = []
    for _, payload in events:
        if not kinds or kinds[-1] != payload["type"]:
            kinds.append(payload["type"])
    return kinds


def quirks(events: list[tuple[str | None, dict[str, Any]]]) -> dict[str, Any]:
    """The facts of a stream a client must cope with (see the module docstring)."""
    payloads = [payload for _, payload in events]
    completed = payloads[-1]["response"]
    added = [p["item"] for p in payloads if p["type"] == "response.output_item.added"]
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    streamed_ids = {item["id"] for item in added} | {p["item_id"] for p in payloads if "item_id" in p}
    facts: dict[str, Any] = {
        "last_event": payloads[-1]["type"],
        "event_line_is_type": all(name == payload["type"] for name, payload in events),
        "sequence_numbers": [p["sequence_number"] for p in payloads] == list(range(len(payloads))),
        "type_is_last_key": all(list(p)[-1] == "type" for p in payloads),
        "stream_ids_reused_in_completed": bool(streamed_ids & {item["id"] for item in completed["output"]}),
        "item_types": [item["type"] for item in completed["output"]],
        "usage_per_turn_keys": sorted(
            key
            for details in ("input_tokens_details", "output_tokens_details")
            for key in completed["usage"][details]
            if key.endswith("_per_turn") or key == "tool_output_tokens"
        ),
    }
    for position, item in enumerate(completed["output"]):
        streamed = added[position]
        prefix = f"{item['type']}:"
        facts[prefix + "id_prefixes"] = (streamed["id"].split("_")[0], item["id"].split("_")[0])
        facts[prefix + "completed_status"] = item["status"]
        if item["type"] == "reasoning":
            facts[prefix + "added_content"] = streamed["content"]
            facts[prefix + "part_events"] = sorted(
                p["type"] for p in payloads if p["type"].startswith("response.reasoning_part.")
            )
        if item["type"] == "message":
            facts[prefix + "phase"] = {streamed["phase"], done[position]["phase"], item["phase"]}
            facts[prefix + "text_content_index"] = {
                p["content_index"]
                for p in payloads
                if p["type"].startswith(("response.output_text.", "response.content_part."))
            }
        if item["type"] == "function_call":
            finished = done[position]
            facts[prefix + "call_id_changes"] = streamed["call_id"] != item["call_id"]
            facts[prefix + "done_item"] = (
                finished["id"],
                finished["item_id"] == streamed["id"],
                finished["output_index"] == position,
                finished["sequence_number"],
            )
            arguments_done = {
                p["output_index"]: p for p in payloads if p["type"] == "response.function_call_arguments.done"
            }
            facts[prefix + "arguments_done_names_the_tool"] = arguments_done[position]["name"] == item["name"]
    return facts


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[tuple[str | None, dict[str, Any]]]]:
    """The streams of the vLLM builds the dialect models: every vLLM stream that ends without `[DONE]`."""
    streams = {}
    for exchange in corpus.load_corpus():
        if exchange.producer == "vllm" and exchange.stream and b"[DONE]" not in exchange.body:
            streams[exchange.name] = events_of(exchange.body)
    assert REASONING_TEXT in streams and REASONING_TOOL in streams
    return streams


@pytest.fixture(scope="module")
def reference(
    recorded: dict[str, list[tuple[str | None, dict[str, Any]]]],
) -> set[tuple[str, frozenset[str]]]:
    return {shape for events in recorded.values() for _, payload in events for shape in shapes(payload)}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(stream_dialect="vllm") as running:
        yield running


def stream_body(server: LocalServer, body: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    response = httpx.post(server.base_url + "/v1/responses", json={**body, "stream": True}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.content


# -- shapes and quirks --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_event_and_object_has_a_recorded_shape(
    server: LocalServer, reference: set[tuple[str, frozenset[str]]], name: str
) -> None:
    body = stream_body(server, ANSWERS[name])
    assert b"[DONE]" not in body
    events = events_of(body)
    assert events[-1][1]["type"] == "response.completed"
    recorded_types = {place for place, _ in reference if " " not in place}
    for _, payload in events:
        assert payload["type"] in recorded_types
        unseen = shapes(payload) - reference
        assert not unseen, f"{payload['type']}: key sets vLLM never sent: {sorted(map(sorted, unseen))}"


@pytest.mark.parametrize(
    ("name", "recording"), [("reasoning_text", REASONING_TEXT), ("reasoning_tool", REASONING_TOOL)]
)
def test_the_stream_has_the_recordings_event_order_and_quirks(
    server: LocalServer,
    recorded: dict[str, list[tuple[str | None, dict[str, Any]]]],
    name: str,
    recording: str,
) -> None:
    events = events_of(stream_body(server, ANSWERS[name]))
    assert collapsed_types(events) == collapsed_types(recorded[recording])
    assert quirks(events) == quirks(recorded[recording])


def test_the_quirks_are_the_ones_the_brief_names(
    server: LocalServer, recorded: dict[str, list[tuple[str | None, dict[str, Any]]]]
) -> None:
    """`quirks()` compares like with like; this pins what the recordings (and so the dialect) show."""
    facts = {**quirks(recorded[REASONING_TEXT]), **quirks(recorded[REASONING_TOOL])}
    expected = {
        "last_event": "response.completed",
        "event_line_is_type": True,
        "sequence_numbers": True,
        "type_is_last_key": True,
        "stream_ids_reused_in_completed": False,
        "reasoning:id_prefixes": ("msg", "rs"),
        "reasoning:completed_status": None,
        "reasoning:added_content": None,
        "reasoning:part_events": ["response.reasoning_part.added", "response.reasoning_part.done"],
        "message:id_prefixes": ("msg", "msg"),
        "message:phase": {None},
        "message:text_content_index": {1},
        "function_call:id_prefixes": ("fc", "fc"),
        "function_call:call_id_changes": True,
        "function_call:done_item": (None, True, True, -1),
        "function_call:arguments_done_names_the_tool": True,
    }
    assert {key: facts[key] for key in expected} == expected
    for answer in ("reasoning_text", "reasoning_tool"):
        local = quirks(events_of(stream_body(server, ANSWERS[answer])))
        assert {key: local[key] for key in expected if key in local} == {
            key: value for key, value in expected.items() if key in local
        }


def test_parallel_calls_each_get_their_own_quirky_done_item(server: LocalServer) -> None:
    payloads = [payload for _, payload in events_of(stream_body(server, ANSWERS["parallel_tools"]))]
    added = [p["item"] for p in payloads if p["type"] == "response.output_item.added"]
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    completed = payloads[-1]["response"]["output"]
    assert [item["name"] for item in completed] == ["get_weather", "get_time"]
    for index, (first, last, final) in enumerate(zip(added, done, completed, strict=True)):
        assert (last["id"], last["item_id"], last["output_index"], last["sequence_number"]) == (
            None,
            first["id"],
            index,
            -1,
        )
        assert first["call_id"] == last["call_id"] != final["call_id"]
        assert final["id"] == "fc_" + final["call_id"].removeprefix("call_")  # vLLM: one hex for both
        assert last["arguments"] == final["arguments"]


def test_a_truncated_answer_completes_with_status_incomplete(server: LocalServer) -> None:
    response = events_of(stream_body(server, ANSWERS["truncated"]))[-1][1]["response"]
    assert (response["status"], response["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )


def test_the_dialect_is_chosen_per_request_by_header_or_flag(local_server: LocalServer) -> None:
    body = stream_body(local_server, ANSWERS["text"], {"x-gradient-stream-dialect": "vllm"})
    assert events_of(body)[0][1]["type"] == "response.created"
    assert parse_args(["--stream-dialect", "vllm"]).stream_dialect == "vllm"
    bad = httpx.post(
        local_server.base_url + "/v1/responses",
        json={"model": "m", "input": "x", "stream": True},
        headers={"x-gradient-stream-dialect": "tgi"},
    )
    assert bad.status_code == 400
    assert "'do', 'openai', 'vllm'" in bad.json()["message"]
    with pytest.raises(ValueError, match="'vllm'"):
        LocalServer(stream_dialect="tgi")  # type: ignore[arg-type]


# -- the clients, end to end --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted({**CASES, **ANSWERS}))
def test_the_core_client_streams_what_the_json_answer_says_exactly_once(
    server: LocalServer, name: str
) -> None:
    request = build_request(**{**CASES, **ANSWERS}[name])
    with ResponsesClient(base_url=server.base_url) as client:
        plain = client.create(request)
        stream = client.stream(request)
        deltas = list(stream)
    assert comparable(stream.result) == comparable(plain)
    assert "".join(d.text for d in deltas if d.kind == "text") == plain.text
    assert "".join(d.text for d in deltas if d.kind == "reasoning") == plain.reasoning
    pieces = [d.tool_call for d in deltas if d.tool_call is not None]
    assert len(pieces) == len(plain.tool_calls)  # each call goes out once, whole
    assert [d.kind for d in deltas].count("finish") == 1
    # The streamed call ids are the ones of `output_item.added` (the first seen), not the completed ones.
    assert [piece.id for piece in pieces] == [call.id for call in stream.result.tool_calls]


async def test_the_async_core_client_reads_the_dialect_too(server: LocalServer) -> None:
    request = build_request(**ANSWERS["reasoning_tool"])
    async with ResponsesClient(base_url=server.base_url) as client:
        plain = await client.acreate(request)
        stream = client.astream(request)
        async for _ in stream:
            pass
    assert comparable(stream.result) == comparable(plain)
    assert [call.name for call in stream.result.tool_calls] == ["get_weather"]


@pytest.mark.parametrize(
    ("fault", "message"), [("error_chunk:5", "Stream error"), ("truncate_stream:5", "ended")]
)
def test_stream_faults_work_in_the_dialect(server: LocalServer, fault: str, message: str) -> None:
    request = build_request(model="m", input="[words:20] go")
    with ResponsesClient(base_url=server.base_url, max_retries=0) as client:
        stream = client.stream(request, extra_headers={"x-gradient-fault": fault})
        with pytest.raises(StreamError, match=message):
            list(stream)


def get_weather(location: str, days: int) -> str:
    """Weather for a place."""
    return f"sunny in {location} for {days} days"


def test_chat_gradient_streams_one_tool_call_once(server: LocalServer) -> None:
    model = ChatGradient(model="openai-gpt-oss-20b", base_url=server.base_url).bind_tools([tool(get_weather)])
    chunks = list(model.stream(TOOL_PROMPT))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert [(call["name"], call["args"]) for call in full.tool_calls] == [
        ("get_weather", {"location": "Paris", "days": 3})
    ]
    assert not full.invalid_tool_calls
    assert sum(len(chunk.tool_call_chunks) for chunk in chunks if isinstance(chunk, AIMessageChunk)) == 1
    assert full.additional_kwargs["reasoning_content"].startswith('The user wrote "Use get_weather')


def test_gradient_llm_streams_one_tool_call_once(server: LocalServer) -> None:
    llm = GradientLLM(model="openai-gpt-oss-20b", base_url=server.base_url, max_retries=0)
    weather = FunctionTool.from_defaults(fn=get_weather)
    responses = list(llm.stream_chat_with_tools([weather], user_msg=TOOL_PROMPT))
    calls = llm.get_tool_calls_from_response(responses[-1], error_on_no_tool_call=False)
    assert [(call.tool_name, call.tool_kwargs) for call in calls] == [
        ("get_weather", {"location": "Paris", "days": 3})
    ]


async def test_a_function_agent_runs_its_tool_loop_over_the_dialect(server: LocalServer) -> None:
    """Two turns: the tool result answers the streamed call id, though `response.completed` named another."""

    def get_time(city: str) -> str:
        """Local time in a city."""
        return f"10:30 in {city}"

    llm = GradientLLM(model="openai-gpt-oss-20b", base_url=server.base_url, max_retries=0)
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=get_time)], llm=llm, streaming=True)
    handler = agent.run(user_msg='Use get_time for "Lisbon", then answer.')
    called = [event.tool_name async for event in handler.stream_events() if isinstance(event, ToolCallResult)]
    output = await handler
    assert called == ["get_time"]
    assert "get_time returned 10:30 in Lisbon" in (output.response.content or "")
