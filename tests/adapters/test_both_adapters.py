"""Both adapters speak the core's one request vocabulary, against the local server.

The same intent gives the same body from `ChatGradient` and `GradientLLM`; the names users bring from
ChatOpenAI / OpenAIResponses work in both, unknown ones fail in both the same way, the key is held the same
way, and both release their pools. Bodies are captured by a transport that forwards to the local server.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool as LlamaTool
from pydantic import BaseModel, Field

from gradient_integrations.core import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
    StreamError,
    StreamTimeoutError,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

MODEL = "llama3.3-70b-instruct"
KEY_VARS = ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")


class Answer(BaseModel):
    """A city and what the weather is there."""

    city: str = Field(description="The city")
    summary: str
    note: str | None = None


class Recorder(httpx.BaseTransport):
    """Forwards to the real loopback server and keeps every request body."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.bodies: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.read()))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


def both(local_server: Any, recorder: Recorder, **fields: Any) -> tuple[ChatGradient, GradientLLM]:
    http = httpx.Client(transport=recorder)
    chat = ChatGradient(model=MODEL, base_url=local_server.base_url, http_client=http, **fields)
    llm = GradientLLM(model=MODEL, base_url=local_server.base_url, http_client=http, **fields)
    return chat, llm


def sent(recorder: Recorder) -> tuple[dict[str, Any], dict[str, Any]]:
    chat_body, llm_body = recorder.bodies
    return chat_body, llm_body


# -- one vocabulary ------------------------------------------------------------------------------------
def test_the_same_options_give_the_same_body(local_server: Any, recorder: Recorder) -> None:
    chat, llm = both(
        local_server, recorder, temperature=0.3, max_completion_tokens=50, reasoning_effort="low"
    )
    options = {"top_p": 0.9, "request_metadata": {"run": "7"}, "truncation": "auto", "stop": ["END"]}
    chat.invoke([HumanMessage("hi")], **options)
    llm.chat([ChatMessage(role="user", content="hi")], **options)
    chat_body, llm_body = sent(recorder)
    assert chat_body == llm_body
    assert chat_body["max_output_tokens"] == 50 and chat_body["reasoning"] == {"effort": "low"}
    assert chat_body["metadata"] == {"run": "7"} and chat_body["truncation"] == "auto"


def test_response_format_becomes_text_format_in_both(local_server: Any, recorder: Recorder) -> None:
    chat, llm = both(local_server, recorder)
    message = chat.invoke("Describe 'Paris'", response_format=Answer)
    reply = llm.chat([ChatMessage(role="user", content="Describe 'Paris'")], response_format=Answer)
    chat_body, llm_body = sent(recorder)
    assert chat_body["text"] == llm_body["text"]
    assert chat_body["text"]["format"]["type"] == "json_schema"
    assert chat_body["text"]["format"]["name"] == "Answer"
    # The scripted model honours the format; ChatGradient also parses into the class, as ChatOpenAI does.
    assert isinstance(message.additional_kwargs["parsed"], Answer)
    assert Answer.model_validate_json(reply.message.content or "").city


def test_a_chat_style_response_format_dict_works_in_both(local_server: Any, recorder: Recorder) -> None:
    chat, llm = both(local_server, recorder)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema, "strict": True},
    }
    json.loads(chat.invoke("Name 'Rome'", response_format=response_format).text)
    json.loads(
        llm.chat([ChatMessage(role="user", content="hi")], response_format=response_format).message.content
        or ""
    )
    chat_body, llm_body = sent(recorder)
    expected = {
        "type": "json_schema",
        "name": "city",
        "schema": {**schema, "additionalProperties": False},
        "strict": True,
    }
    assert chat_body["text"]["format"] == llm_body["text"]["format"] == expected


def test_stream_usage_options_are_accepted_per_call_by_both(local_server: Any, recorder: Recorder) -> None:
    chat, llm = both(local_server, recorder)
    chunks = list(chat.stream("hi", stream_options={"include_usage": False}))
    responses = list(llm.stream_chat([ChatMessage(role="user", content="hi")], stream_usage=False))
    chat_body, llm_body = sent(recorder)
    assert chat_body["stream_options"] == llm_body["stream_options"] == {"include_usage": False}
    assert all(chunk.usage_metadata is None for chunk in chunks)
    assert responses[-1].raw is not None


@pytest.mark.parametrize("name", ["previous_response_id", "store"])
def test_response_chaining_is_refused_by_both_with_the_way_out(
    local_server: Any, recorder: Recorder, name: str
) -> None:
    chat, llm = both(local_server, recorder)
    for call in (lambda: chat.invoke("hi", **{name: "x"}), lambda: llm.complete("hi", **{name: "x"})):
        with pytest.raises(InvalidRequestError, match=r"full history.*extra_body") as caught:
            call()
        assert caught.value.field == name
    assert recorder.bodies == []


# -- constructors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"seed": 1}, r"seed: the /v1/responses body has no seed field; .*extra_body=\{'seed'"),
        ({"temprature": 0.1}, "temprature: is not an argument of .*did you mean 'temperature'"),
        ({"max_token": 5}, "did you mean 'max_tokens'"),
        ({"colour": "red"}, "colour: is not an argument of .*model_kwargs=.*extra_body="),
    ],
)
def test_unknown_constructor_arguments_name_themselves_in_both(
    local_server: Any, adapter: type[Any], argument: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        adapter(model=MODEL, base_url=local_server.base_url, **argument)


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_names_from_chat_openai_are_mapped_in_both(local_server: Any, adapter: type[Any]) -> None:
    model = adapter(
        model=MODEL,
        openai_api_base=local_server.base_url,
        request_timeout=7,
        max_completion_tokens=40,
        reasoning_effort="high",
        openai_api_key="sk-do-test",
    )
    assert (model.base_url, model.timeout, model.max_tokens) == (local_server.base_url, 7, 40)
    assert model.reasoning == {"effort": "high"}
    assert model.api_key.get_secret_value() == "sk-do-test"
    assert adapter(model=MODEL, api_base=local_server.base_url).base_url == local_server.base_url


# -- one key strategy ------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_an_unpickled_model_without_a_key_says_which_variables_to_set(
    adapter: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = adapter(model=MODEL, api_key="sk-do-secret-123", base_url="https://inference.example.test")
    data = pickle.dumps(model)
    assert b"sk-do-secret-123" not in data
    restored = pickle.loads(data)
    call = (lambda: restored.invoke("hi")) if adapter is ChatGradient else (lambda: restored.complete("hi"))
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        call()
    monkeypatch.setenv("MODEL_ACCESS_KEY", "sk-do-from-env")
    assert pickle.loads(data).client.settings.api_key.get_secret_value() == "sk-do-from-env"


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_copies_share_the_key_and_never_show_it(adapter: type[Any]) -> None:
    import copy

    model = adapter(model=MODEL, api_key="sk-do-secret-456", base_url="https://inference.example.test")
    for clone in (copy.copy(model), copy.deepcopy(model), model.model_copy()):
        assert clone.api_key is model.api_key  # one immutable key object, never duplicated
        assert "sk-do-secret-456" not in repr(clone) + str(clone.model_dump())
        assert clone.client.settings.api_key.get_secret_value() == "sk-do-secret-456"


# -- tools and strict schemas ------------------------------------------------------------------------
def test_tool_names_the_endpoint_would_reject_are_refused_when_bound(
    local_server: Any, recorder: Recorder
) -> None:
    chat, llm = both(local_server, recorder)
    # LlamaIndex itself turns spaces into "_", but lets a name past the endpoint's 64 characters through.
    bad = LlamaTool.from_defaults(fn=lambda city: city, name="look_up_" * 9, description="Look up a city.")
    with pytest.raises(InvalidRequestError, match=r"tools\[0\]\.name.*at most 64") as caught:
        llm.chat_with_tools([bad], "hi")
    assert caught.value.field == "tools[0].name"
    with pytest.raises(InvalidRequestError, match=r"tools\[0\]\.name"):
        chat.bind_tools([{"name": "look up", "parameters": {"type": "object"}}])
    assert recorder.bodies == []


def _assert_strict(schema: dict[str, Any]) -> None:
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    assert {"type": "null"} in schema["properties"]["note"]["anyOf"]


def test_strict_json_schemas_follow_openai_rules_in_both(local_server: Any, recorder: Recorder) -> None:
    http = httpx.Client(transport=recorder)
    chat = ChatGradient(model=MODEL, base_url=local_server.base_url, http_client=http)
    llm = GradientLLM(
        model=MODEL,
        base_url=local_server.base_url,
        http_client=http,
        strict=True,
        structured_output_method="json_schema",
    )
    from llama_index.core.prompts import PromptTemplate

    chat.with_structured_output(Answer, method="json_schema", strict=True).invoke("Describe 'Oslo'")
    llm.structured_predict(Answer, PromptTemplate("Describe {city}"), city="'Oslo'")
    chat_body, llm_body = sent(recorder)
    for body in (chat_body, llm_body):
        assert body["text"]["format"]["strict"] is True
        _assert_strict(body["text"]["format"]["schema"])


# -- lifecycle -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_both_close_their_pools_as_context_managers(local_server: Any, adapter: type[Any]) -> None:
    with adapter(model=MODEL, base_url=local_server.base_url) as model:
        (model.invoke if adapter is ChatGradient else model.complete)("hi")
        pool = model.client.http_client
        assert not pool.is_closed
    assert pool.is_closed


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
async def test_both_close_their_async_pools(local_server: Any, adapter: type[Any]) -> None:
    async with adapter(model=MODEL, base_url=local_server.base_url) as model:
        await (model.ainvoke if adapter is ChatGradient else model.acomplete)("hi")
        pool = model.client.http_async_client  # this event loop's pool, the one the call used
        assert not pool.is_closed
    assert pool.is_closed


# -- timeouts a user can reason about ----------------------------------------------------------------
def _stream(model: Any, prompt: str, **options: Any) -> list[str]:
    if isinstance(model, ChatGradient):
        return [chunk.text for chunk in model.stream(prompt, **options)]
    return [response.delta or "" for response in model.stream_complete(prompt, **options)]


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_an_explicit_timeout_bounds_a_stalled_stream(local_server: Any, adapter: type[Any]) -> None:
    model = adapter(model=MODEL, base_url=local_server.base_url, timeout=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(StreamTimeoutError) as caught:
        _stream(model, "[words:20] go", extra_headers={"x-gradient-fault": "stall_mid_stream:3:20"})
    assert time.monotonic() - started < 5  # the 0.5 s read timeout, not the server's 20 s stall
    assert isinstance(caught.value, APITimeoutError) and isinstance(caught.value, APIConnectionError)
    assert caught.value.partial.text  # what arrived before the stall is kept
    model.close()


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_a_deadline_bounds_a_stream_that_keeps_flowing(local_server: Any, adapter: type[Any]) -> None:
    model = adapter(model=MODEL, base_url=local_server.base_url, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(StreamTimeoutError) as caught:
        _stream(model, "[words:200] go", extra_headers={"x-gradient-fault": "chunk_delay_ms:50"})
    assert time.monotonic() - started < 5  # 200 chunks x 50 ms would take 10 s
    assert caught.value.partial.text
    model.close()


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"stream_idle_timeout": 0}, "stream_idle_timeout"),
        ({"deadline": -2}, "deadline"),
    ],
)
def test_non_positive_time_limits_are_refused_at_construction(
    local_server: Any, adapter: type[Any], setting: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{field} must be > 0 seconds"):
        adapter(model=MODEL, base_url=local_server.base_url, **setting)


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_a_disconnect_mid_stream_is_a_connection_error_too(local_server: Any, adapter: type[Any]) -> None:
    model = adapter(model=MODEL, base_url=local_server.base_url)
    with pytest.raises(APIConnectionError) as caught:
        _stream(model, "[words:20] go", extra_headers={"x-gradient-fault": "disconnect_mid_stream:4"})
    assert isinstance(caught.value, StreamError) and caught.value.partial.text
    model.close()


@pytest.mark.parametrize("adapter", [ChatGradient, GradientLLM])
def test_breaking_out_of_an_async_stream_is_quiet_at_loop_shutdown(
    local_server: Any, adapter: type[Any]
) -> None:
    reported: list[dict[str, Any]] = []

    async def main() -> str:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
        model = adapter(model=MODEL, base_url=local_server.base_url)
        if isinstance(model, ChatGradient):
            stream: Any = model.astream("[words:50] go")
        else:
            stream = await model.astream_complete("[words:50] go")
        first = await anext(stream)  # then left open on purpose: asyncio closes it at loop shutdown
        return str(getattr(first, "text", None) or first.delta)

    assert asyncio.run(main())
    assert reported == []  # e.g. "aclose(): asynchronous generator is already running"
