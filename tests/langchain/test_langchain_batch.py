"""Batch Inference from LangChain against the local server: `ChatGradient.submit_batch` with every input
form, the function forms for bindings (`bind_tools`, `bind`) and structured-output chains, call options in
every line (each line's body is what `invoke` sends), refusals before anything is uploaded, re-attaching,
and the async forms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, field_validator

from gradient_integrations.core import BatchJob, InternalServerError, InvalidRequestError
from gradient_integrations.langchain import (
    ChatGradient,
    aattach_batch,
    asubmit_batch,
    attach_batch,
    submit_batch,
)
from gradient_integrations.local import LocalServer

KEY = "sk-do-langchain-batch-key-0123456789"
MODEL = "openai-gpt-5-nano"
POLL = 0.01


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Person(BaseModel):
    """A person."""

    name: str
    age: int

    @field_validator("name")
    @classmethod
    def _not_refused(cls, value: str) -> str:
        if value == "Refused":
            raise ValueError("this name is refused")
        return value


# -- fixtures and helpers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(api_key=KEY) as running:
        yield running


@pytest.fixture
def llm(server: LocalServer) -> ChatGradient:
    return ChatGradient(model=MODEL, base_url=server.base_url, api_key=KEY)


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
def live(server: LocalServer) -> Iterator[tuple[ChatGradient, Recorder]]:
    """A ChatGradient whose live calls are recorded, to compare with batch lines."""
    recorder = Recorder()
    with httpx.Client(transport=recorder) as http:
        yield ChatGradient(model=MODEL, base_url=server.base_url, api_key=KEY, http_client=http), recorder
    recorder.close()


def _lines(server: LocalServer, job: BatchJob[Any]) -> list[bytes]:
    """The JSONL lines uploaded for the job, as the object store holds them."""
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


def _done(job: BatchJob[Any]) -> list[Any]:
    return job.wait(poll_interval=POLL).results()


INPUTS: list[Any] = [
    "hello there",
    [HumanMessage("first message")],
    [SystemMessage("be brief"), HumanMessage("with a system message")],
    ChatPromptValue(messages=[HumanMessage("from a prompt value")]),
    ChatPromptTemplate.from_messages([("system", "answer in {lang}"), ("human", "{q}")]).invoke(
        {"lang": "French", "q": "templated"}
    ),
    [("human", "a tuple message")],
]
EXPECTED = [
    "You said: hello there",
    "You said: first message",
    "(following instructions: be brief) You said: with a system message",
    "You said: from a prompt value",
    "(following instructions: answer in French) You said: templated",
    "You said: a tuple message",
]


# -- the method form -------------------------------------------------------------------------------
def test_submit_batch_with_every_input_form_gives_ai_messages_in_order(
    server: LocalServer, llm: ChatGradient
) -> None:
    job = llm.submit_batch(INPUTS)
    assert job.status == "validating" and job.total == len(INPUTS)
    results = _done(job)
    assert [type(result) for result in results] == [AIMessage] * len(INPUTS)
    assert [result.content for result in results] == EXPECTED
    for result in results:
        assert result.usage_metadata is not None
        assert result.usage_metadata["output_tokens"] > 0 and result.usage_metadata["input_tokens"] > 0
        total = result.usage_metadata["input_tokens"] + result.usage_metadata["output_tokens"]
        assert result.usage_metadata["total_tokens"] == total
        assert result.response_metadata["model_name"] == MODEL
        assert result.response_metadata["finish_reason"] == "stop"
        assert result.response_metadata["status"] == "completed"
        assert result.id and result.id == result.response_metadata["id"]
    assert len({result.id for result in results}) == len(INPUTS)


def test_each_line_is_what_invoke_sends_with_the_call_options(
    server: LocalServer, llm: ChatGradient, live: tuple[ChatGradient, Recorder]
) -> None:
    options = {"temperature": 0.3, "max_tokens": 40, "stop": ["STOP"], "top_p": 0.9}
    job = llm.submit_batch(INPUTS, **options)
    lines = _lines(server, job)
    assert [json.loads(line)["custom_id"] for line in lines] == [f"gi-{i}" for i in range(len(INPUTS))]
    for body in (json.loads(line)["body"] for line in lines):
        assert body["temperature"] == 0.3 and body["max_output_tokens"] == 40
        assert body["stop"] == ["STOP"] and body["top_p"] == 0.9
        assert body["model"] == MODEL and "stream" not in body
    model, recorder = live
    for item in INPUTS:
        model.invoke(item, **options)
    assert [_raw_body(line) for line in lines] == recorder.bodies  # byte for byte
    assert [r.content for r in _done(job)] == EXPECTED


def test_constructor_options_land_in_every_line_too(server: LocalServer) -> None:
    llm = ChatGradient(model=MODEL, base_url=server.base_url, api_key=KEY, temperature=0.1, max_tokens=9)
    job = llm.submit_batch(["a", "b"], temperature=0.7)  # a call option wins over the constructor's
    assert [(b["temperature"], b["max_output_tokens"]) for b in _bodies(server, job)] == [(0.7, 9), (0.7, 9)]
    _done(job)


def test_a_failed_item_is_its_exception_in_place(llm: ChatGradient) -> None:
    results = _done(llm.submit_batch(["one", "two [batch:fail]", "three"]))
    assert results[0].content == "You said: one" and results[2].content == "You said: three"
    assert isinstance(results[1], InternalServerError)


def test_batch_metadata_goes_on_the_job(server: LocalServer, llm: ChatGradient) -> None:
    job = llm.submit_batch(["a"], batch_metadata={"team": "nlp"})
    assert server.app.batches.job(job.id)["metadata"]["team"] == "nlp"
    _done(job)


# -- bindings and structured output ---------------------------------------------------------------
def test_bind_tools_through_the_function_puts_the_tools_in_every_line(
    server: LocalServer, llm: ChatGradient, live: tuple[ChatGradient, Recorder]
) -> None:
    bound = llm.bind_tools([get_weather], tool_choice="auto")
    inputs = ["what is the weather in 'Paris'?", "just say hi", [HumanMessage("weather for 'Oslo' please")]]
    job = submit_batch(bound, inputs, temperature=0.2)
    bodies = _bodies(server, job)
    for body in bodies:
        assert [t["name"] for t in body["tools"]] == ["get_weather"]
        assert body["tools"][0]["parameters"]["properties"] == {"city": {"type": "string"}}
        assert body["tool_choice"] == "auto" and body["temperature"] == 0.2
    model, recorder = live
    for item in inputs:
        model.bind_tools([get_weather], tool_choice="auto").invoke(item, temperature=0.2)
    assert [_raw_body(line) for line in _lines(server, job)] == recorder.bodies
    results = _done(job)
    assert all(isinstance(result, AIMessage) for result in results)
    assert [(call["name"], call["args"]) for call in results[0].tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert results[0].tool_calls[0]["id"]
    assert results[0].response_metadata["finish_reason"] == "tool_calls"
    assert results[1].tool_calls == [] and results[1].content == "You said: just say hi"
    assert [call["args"] for call in results[2].tool_calls] == [{"city": "Oslo"}]


def test_bind_options_through_the_function(server: LocalServer, llm: ChatGradient) -> None:
    bound = llm.bind(temperature=0.4).bind(max_tokens=12)
    job = submit_batch(bound, ["a", "b"], max_tokens=20)  # the call's option wins over the binding's
    assert [(b["temperature"], b["max_output_tokens"]) for b in _bodies(server, job)] == [(0.4, 20)] * 2
    assert [r.content for r in _done(job)] == ["You said: a", "You said: b"]


def test_with_structured_output_gives_parsed_models_and_a_parse_failure_in_place(
    server: LocalServer, llm: ChatGradient
) -> None:
    structured = llm.with_structured_output(Person, method="json_schema")
    inputs = ["A person named 'Ann' aged 31", "A person named 'Refused' aged 4", "A person named 'Bo' aged 7"]
    job = submit_batch(structured, inputs)
    for body in _bodies(server, job):
        assert body["text"]["format"]["type"] == "json_schema"
        assert body["text"]["format"]["schema"]["required"] == ["name", "age"]
    results = _done(job)
    assert results[0] == Person(name="Ann", age=31)
    assert isinstance(results[1], OutputParserException) and "refused" in str(results[1])
    assert results[2] == Person(name="Bo", age=7)
    again = attach_batch(structured, job.id).results()  # re-attached with the same chain: parsed again
    assert again[0] == results[0] and again[2] == results[2] and isinstance(again[1], OutputParserException)


def test_a_bound_pydantic_response_format_is_parsed_on_submit_and_after_reattaching(
    llm: ChatGradient, server: LocalServer
) -> None:
    """`bind(response_format=Model)` sets `additional_kwargs["parsed"]` as `invoke` does; re-attaching the
    same binding must convert the answers the same way (its bound options make the difference)."""
    bound = llm.bind(response_format=Person)
    assert bound.invoke("A person named 'Ann' aged 31").additional_kwargs["parsed"] == Person(
        name="Ann", age=31
    )
    job = submit_batch(bound, ["A person named 'Ann' aged 31"])
    assert _done(job)[0].additional_kwargs["parsed"] == Person(name="Ann", age=31)
    reattached = attach_batch(bound, job.id).results()
    assert reattached[0].additional_kwargs.get("parsed") == Person(name="Ann", age=31)


def test_submit_batch_through_a_binding_refuses(server: LocalServer, llm: ChatGradient) -> None:
    store = server.app.batches.store_requests
    before = len(store)
    for bound in (llm.bind_tools([get_weather]), llm.bind(temperature=0.5), llm.with_config(tags=["x"])):
        with pytest.raises(InvalidRequestError) as caught:
            bound.submit_batch(["hi"])  # type: ignore[attr-defined]
        assert caught.value.field == "submit_batch"
        assert "gradient_integrations.langchain.submit_batch" in str(caught.value)
    assert len(store) == before


async def test_asubmit_batch_through_a_binding_refuses(llm: ChatGradient) -> None:
    with pytest.raises(InvalidRequestError):
        await llm.bind_tools([get_weather]).asubmit_batch(["hi"])  # type: ignore[attr-defined]


# -- refusals ------------------------------------------------------------------------------------
def test_extra_headers_are_refused(server: LocalServer, llm: ChatGradient) -> None:
    before = len(server.app.batches.store_requests)
    with pytest.raises(InvalidRequestError) as caught:
        llm.submit_batch(["hi"], extra_headers={"x-trace": "1"})
    assert caught.value.field == "extra_headers"
    assert len(server.app.batches.store_requests) == before


@pytest.mark.parametrize(
    "model", ["openai-gpt-oss-20b", "llama3.3-70b-instruct", "anthropic-claude-4.5-haiku"]
)
def test_models_batch_cannot_serve_are_refused_before_uploading(server: LocalServer, model: str) -> None:
    before = len(server.app.batches.store_requests)
    other = ChatGradient(model=model, base_url=server.base_url, api_key=KEY)
    with pytest.raises(InvalidRequestError) as caught:
        other.submit_batch(["hi", "there"])
    assert caught.value.field == "inputs[0].model" and model in str(caught.value)
    assert len(server.app.batches.store_requests) == before


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ("not a list", "inputs"),
        (["fine", 42], "inputs[1]"),
        ([], "inputs"),
        (["fine", "bad \ud800 text"], "inputs[1].input[0].content"),
    ],
)
def test_bad_inputs_are_refused_naming_the_item(llm: ChatGradient, inputs: Any, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        llm.submit_batch(inputs)
    assert caught.value.field == field


def test_the_function_refuses_what_is_not_a_chat_gradient(llm: ChatGradient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        submit_batch(ChatPromptTemplate.from_messages([("human", "{q}")]) | llm, [{"q": "x"}])
    assert caught.value.field == "model"


# -- re-attaching -------------------------------------------------------------------------------
def test_batch_job_reattaches_from_a_new_model(server: LocalServer, llm: ChatGradient) -> None:
    job = submit_batch(llm.bind_tools([get_weather]), ["weather in 'Rome'", "hello"])
    restarted = ChatGradient(model=MODEL, base_url=server.base_url, api_key=KEY)
    attached = restarted.batch_job(job.id)
    assert attached.ids == job.ids
    results = _done(attached)
    first = _done(job)
    assert [r.content for r in results] == [r.content for r in first]
    assert [r.tool_calls for r in results] == [r.tool_calls for r in first]
    assert results[0].tool_calls[0]["args"] == {"city": "Rome"}
    assert results[1].usage_metadata == first[1].usage_metadata
    assert results[1].response_metadata["model_name"] == MODEL


# -- async --------------------------------------------------------------------------------------
async def test_async_submit_wait_and_results(server: LocalServer, llm: ChatGradient) -> None:
    job = await llm.asubmit_batch(INPUTS, temperature=0.5)
    assert all(body["temperature"] == 0.5 for body in _bodies(server, job))
    await job.await_(poll_interval=POLL)
    results = await job.aresults()
    assert [r.content for r in results] == EXPECTED
    attached = await llm.abatch_job(job.id)
    assert attached.done and [r.content for r in await attached.aresults()] == EXPECTED


async def test_async_function_forms_with_a_binding_and_structured_output(
    server: LocalServer, llm: ChatGradient
) -> None:
    job = await asubmit_batch(llm.bind_tools([get_weather]), ["weather in 'Lima'"])
    assert _bodies(server, job)[0]["tools"][0]["name"] == "get_weather"
    await job.await_(poll_interval=POLL)
    assert (await job.aresults())[0].tool_calls[0]["args"] == {"city": "Lima"}
    structured = llm.with_structured_output(Person, method="json_schema")
    job = await asubmit_batch(structured, ["A person named 'Cy' aged 5"])
    await job.await_(poll_interval=POLL)
    assert await job.aresults() == [Person(name="Cy", age=5)]
    attached = await aattach_batch(structured, job.id)
    assert await attached.aresults() == [Person(name="Cy", age=5)]
