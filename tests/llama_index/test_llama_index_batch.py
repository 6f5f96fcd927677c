"""Batch Inference from LlamaIndex against the local server: `GradientLLM.submit_batch` with message lists
and prompt strings (each line's body is what `chat` sends), with tools (what `chat_with_tools` sends, tool
calls readable by `get_tool_calls_from_response`), refusals naming the input, re-attaching, async forms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.tools import FunctionTool

from gradient_integrations.core import BatchJob, InternalServerError, InvalidRequestError
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer

KEY = "sk-do-llama-index-batch-key-0123456789"
MODEL = "openai-gpt-5-nano"
POLL = 0.01


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def get_time(city: str) -> str:
    """The local time in a city."""
    return f"noon in {city}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)
TIME = FunctionTool.from_defaults(fn=get_time)


# -- fixtures and helpers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def llm(server: LocalServer) -> Iterator[GradientLLM]:
    made = GradientLLM(model=MODEL, base_url=server.base_url, api_key=KEY)
    yield made
    made.close()


class Recorder(httpx.BaseTransport):
    """Sends through a real transport, keeping each request body."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def live(server: LocalServer) -> Iterator[tuple[GradientLLM, Recorder]]:
    """A GradientLLM whose live calls are recorded, to compare with batch lines."""
    recorder = Recorder()
    with httpx.Client(transport=recorder) as http:
        made = GradientLLM(model=MODEL, base_url=server.base_url, api_key=KEY, http_client=http)
        yield made, recorder
        made.close()
    recorder.close()


def _lines(server: LocalServer, job: BatchJob[Any]) -> list[bytes]:
    lines: list[bytes] = []
    for batch_id in job.ids:
        file_id = server.app.batches.job(batch_id)["input_file_id"]
        data = server.app.batches.store.get(f"uploads/{file_id}.jsonl")
        assert data is not None
        lines += data.splitlines()
    return lines


def _bodies(server: LocalServer, job: BatchJob[Any]) -> list[dict[str, Any]]:
    return [json.loads(line)["body"] for line in _lines(server, job)]


def _raw_body(line: bytes) -> bytes:
    start = line.index(b'"body":') + len(b'"body":')
    assert line.endswith(b"}")
    return line[start:-1]


def _user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


INPUTS: list[Any] = [
    [_user("first")],
    "a prompt string",
    [ChatMessage(role=MessageRole.SYSTEM, content="be brief"), _user("with a system message")],
    [_user("earlier"), ChatMessage(role=MessageRole.ASSISTANT, content="You said: earlier"), _user("later")],
]
EXPECTED = [
    "You said: first",
    "You said: a prompt string",
    "(following instructions: be brief) You said: with a system message",
    "You said: later",
]


# -- plain chat -----------------------------------------------------------------------------------
def test_submit_batch_gives_chat_responses_in_order(server: LocalServer, llm: GradientLLM) -> None:
    job = llm.submit_batch(INPUTS)
    assert job.total == len(INPUTS)
    results = job.wait(poll_interval=POLL).results()
    assert [type(r) for r in results] == [ChatResponse] * len(INPUTS)
    assert [r.message.content for r in results] == EXPECTED
    for result in results:
        assert result.message.role == MessageRole.ASSISTANT
        assert result.raw is not None and result.raw["status"] == "completed"
        assert (
            result.additional_kwargs["prompt_tokens"] > 0
            and result.additional_kwargs["completion_tokens"] > 0
        )
        assert result.additional_kwargs["model"] == MODEL
        assert result.additional_kwargs["finish_reason"] == "stop"


def test_each_line_is_what_chat_sends(
    server: LocalServer, llm: GradientLLM, live: tuple[GradientLLM, Recorder]
) -> None:
    job = llm.submit_batch(INPUTS, temperature=0.2, max_tokens=30)
    lines = _lines(server, job)
    assert [json.loads(line)["custom_id"] for line in lines] == [f"gi-{i}" for i in range(len(INPUTS))]
    for body in (json.loads(line)["body"] for line in lines):
        assert body["temperature"] == 0.2 and body["max_output_tokens"] == 30 and "stream" not in body
    model, recorder = live
    for item in INPUTS:
        if isinstance(item, str):
            model.complete(item, temperature=0.2, max_tokens=30)
        else:
            model.chat(item, temperature=0.2, max_tokens=30)
    assert [_raw_body(line) for line in lines] == recorder.bodies  # byte for byte
    job.wait(poll_interval=POLL)


def test_constructor_options_are_in_every_line(server: LocalServer) -> None:
    llm = GradientLLM(model=MODEL, base_url=server.base_url, api_key=KEY, temperature=0.6, max_tokens=11)
    try:
        job = llm.submit_batch([[_user("a")], "b"], batch_metadata={"run": "7"})
        assert [(b["temperature"], b["max_output_tokens"]) for b in _bodies(server, job)] == [(0.6, 11)] * 2
        assert server.app.batches.job(job.id)["metadata"]["run"] == "7"
        assert [r.message.content for r in job.wait(poll_interval=POLL).results()] == [
            "You said: a",
            "You said: b",
        ]
    finally:
        llm.close()


def test_a_failed_item_is_its_exception_in_place(llm: GradientLLM) -> None:
    results = llm.submit_batch(["one", "two [batch:fail]", "three"]).wait(poll_interval=POLL).results()
    assert isinstance(results[1], InternalServerError)
    assert [results[0].message.content, results[2].message.content] == ["You said: one", "You said: three"]


# -- tools ------------------------------------------------------------------------------------------
def test_tools_are_in_every_line_and_tool_calls_are_readable(
    server: LocalServer, llm: GradientLLM, live: tuple[GradientLLM, Recorder]
) -> None:
    inputs: list[Any] = [[_user("what is the weather in 'Oslo'?")], "say hello", [_user("weather in 'Lima'")]]
    job = llm.submit_batch(inputs, tools=[WEATHER])
    bodies = _bodies(server, job)
    for body in bodies:
        assert [tool["name"] for tool in body["tools"]] == ["get_weather"]
        assert "The weather in a city." in body["tools"][0]["description"]
        assert body["tools"][0]["parameters"]["required"] == ["city"]
        assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    model, recorder = live
    for item in inputs:
        history = [_user(item)] if isinstance(item, str) else item
        model.chat_with_tools([WEATHER], chat_history=history)
    assert [_raw_body(line) for line in _lines(server, job)] == recorder.bodies  # what chat_with_tools sends
    results = job.wait(poll_interval=POLL).results()
    first = llm.get_tool_calls_from_response(results[0])
    assert [(call.tool_name, call.tool_kwargs) for call in first] == [("get_weather", {"city": "Oslo"})]
    assert first[0].tool_id
    assert llm.get_tool_calls_from_response(results[1], error_on_no_tool_call=False) == []
    assert results[1].message.content == "You said: say hello"
    assert [call.tool_kwargs for call in llm.get_tool_calls_from_response(results[2])] == [{"city": "Lima"}]
    assert WEATHER.call(**first[0].tool_kwargs).content == "sunny in Oslo"


def test_tool_options_travel_in_every_line(server: LocalServer, llm: GradientLLM) -> None:
    job = llm.submit_batch(["weather and time in 'Rome'"], tools=[WEATHER, TIME], tool_required=True)
    assert _bodies(server, job)[0]["tool_choice"] == "required"
    calls = llm.get_tool_calls_from_response(job.wait(poll_interval=POLL).results()[0])
    assert [call.tool_name for call in calls] == ["get_weather"]  # parallel calls off: the first only
    job = llm.submit_batch(
        ["weather and time in 'Rome'"],
        tools=[WEATHER, TIME],
        allow_parallel_tool_calls=True,
        tool_choice="get_time",
    )
    body = _bodies(server, job)[0]
    assert body["parallel_tool_calls"] is True
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    calls = llm.get_tool_calls_from_response(job.wait(poll_interval=POLL).results()[0])
    assert [(call.tool_name, call.tool_kwargs) for call in calls] == [("get_time", {"city": "Rome"})]


def test_parallel_tool_calls_are_all_kept_when_allowed(llm: GradientLLM) -> None:
    job = llm.submit_batch(
        ["weather and time in 'Rome'"], tools=[WEATHER, TIME], allow_parallel_tool_calls=True
    )
    calls = llm.get_tool_calls_from_response(job.wait(poll_interval=POLL).results()[0])
    assert [call.tool_name for call in calls] == ["get_weather", "get_time"]


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ([[_user("ok")], _user("bare")], "inputs[1]", "one ChatMessage"),
        ([[_user("ok")], [_user("ok")], _user("bare")], "inputs[2]", "wrap it"),
        ([[_user("ok")], 42], "inputs[1]", "list of ChatMessage"),
        ([[_user("ok"), "not a message"]], "inputs[0]", "list of ChatMessage"),
        ("a string, not a list", "inputs", "list"),
        ([[_user("ok")], [_user("bad \udc00")]], "inputs[1].input[0].content", "surrogate"),
        ([], "inputs", "empty"),
    ],
)
def test_bad_inputs_are_refused_naming_the_item(
    server: LocalServer, llm: GradientLLM, inputs: Any, field: str, words: str
) -> None:
    before = len(server.app.batches.store_requests)
    with pytest.raises(InvalidRequestError) as caught:
        llm.submit_batch(inputs)
    assert caught.value.field == field and words in str(caught.value)
    assert len(server.app.batches.store_requests) == before


def test_extra_headers_and_models_batch_cannot_serve_are_refused(
    server: LocalServer, llm: GradientLLM
) -> None:
    before = len(server.app.batches.store_requests)
    with pytest.raises(InvalidRequestError) as caught:
        llm.submit_batch(["hi"], extra_headers={"x-trace": "1"})
    assert caught.value.field == "extra_headers"
    for model in ("openai-gpt-oss-120b", "anthropic-claude-4.5-sonnet"):
        other = GradientLLM(model=model, base_url=server.base_url, api_key=KEY)
        try:
            with pytest.raises(InvalidRequestError) as caught:
                other.submit_batch(["hi"])
            assert caught.value.field == "inputs[0].model" and model in str(caught.value)
        finally:
            other.close()
    assert len(server.app.batches.store_requests) == before


async def test_async_refusal_names_the_item(llm: GradientLLM) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await llm.asubmit_batch([[_user("ok")], _user("bare")])
    assert caught.value.field == "inputs[1]"


# -- re-attaching and async ------------------------------------------------------------------------
def test_batch_job_reattaches_from_a_new_llm(server: LocalServer, llm: GradientLLM) -> None:
    job = llm.submit_batch([*INPUTS, [_user("weather in 'Kyiv'")]], tools=[WEATHER])
    restarted = GradientLLM(model=MODEL, base_url=server.base_url, api_key=KEY)
    try:
        attached = restarted.batch_job(job.id)
        assert attached.ids == job.ids and attached.total == len(INPUTS) + 1
        results = attached.wait(poll_interval=POLL).results()
    finally:
        restarted.close()
    first = job.wait(poll_interval=POLL).results()
    assert [r.message.content for r in results] == [r.message.content for r in first]
    calls = llm.get_tool_calls_from_response(results[-1])
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Kyiv"})]
    assert results[-1].additional_kwargs == first[-1].additional_kwargs


async def test_async_submit_wait_results_and_reattach(server: LocalServer, llm: GradientLLM) -> None:
    job = await llm.asubmit_batch(INPUTS, temperature=0.4)
    assert all(body["temperature"] == 0.4 for body in _bodies(server, job))
    await job.await_(poll_interval=POLL)
    assert [r.message.content for r in await job.aresults()] == EXPECTED
    attached = await llm.abatch_job(job.id)
    assert attached.done and [r.message.content for r in await attached.aresults()] == EXPECTED


async def test_async_with_tools(server: LocalServer, llm: GradientLLM) -> None:
    job = await llm.asubmit_batch([[_user("weather in 'Cairo'")]], tools=[WEATHER])
    assert _bodies(server, job)[0]["tools"][0]["name"] == "get_weather"
    await job.await_(poll_interval=POLL)
    (result,) = await job.aresults()
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(result)] == [{"city": "Cairo"}]
