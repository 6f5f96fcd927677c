"""`GradientLLM` against an in-process fake endpoint: what goes on the wire, what is rejected before it,
the key never showing anywhere, metadata, instrumentation events, and typed errors."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import pytest
from fakes import FakeEndpoint
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.core.types import PydanticProgramMode
from llama_index_fakes import FAKE_KEY, WEATHER, body, sse, text_chunks
from pydantic import BaseModel, SecretStr

from gradient_integrations.core import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    RateLimitError,
    StreamError,
)
from gradient_integrations.core.catalog import UNKNOWN_MODEL_DEFAULTS
from gradient_integrations.llama_index import GradientLLM

USER = [ChatMessage(role="user", content="hello")]
LLMFactory = Callable[..., GradientLLM]


class EventLog(BaseEventHandler):
    events: list[BaseEvent] = []

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [type(event).__name__ for event in self.events]


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    log = EventLog(events=[])
    root = get_dispatcher()
    root.add_event_handler(log)
    yield log
    root.event_handlers.remove(log)


# -- what goes on the wire ------------------------------------------------------------------------
def test_fields_additional_kwargs_and_call_options_compose_the_body(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    llm = make_llm(
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=["END"],
        instructions="be terse",
        metadata={"team": "docs"},
        user="u-1",
        reasoning={"effort": "low"},
        additional_kwargs={"temperature": 0.3, "store": False},
    )
    llm.chat(
        USER, max_tokens=20, extra_body={"previous_response_id": "resp_0"}, extra_headers={"x-trace": "t1"}
    )
    (sent,) = endpoint.bodies
    assert sent == {
        "model": "m",
        "input": [{"role": "user", "content": "hello"}],
        "instructions": "be terse",
        "max_output_tokens": 20,  # per call beats the field
        "temperature": 0.3,  # additional_kwargs beat the field
        "top_p": 0.9,
        "stop": ["END"],
        "metadata": {"team": "docs"},
        "user": "u-1",
        "reasoning": {"effort": "low"},
        "store": False,  # not a request field: sent verbatim
        "previous_response_id": "resp_0",
    }
    headers = endpoint.requests[0].headers
    assert headers["x-trace"] == "t1"
    assert headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert str(endpoint.requests[0].url) == "https://gradient.test/v1/responses"


def test_streaming_body_asks_for_a_stream_with_usage(make_llm: LLMFactory, endpoint: FakeEndpoint) -> None:
    endpoint.reply_sse(text_chunks("a"))
    list(make_llm().stream_chat(USER))
    assert endpoint.bodies[0]["stream"] is True
    assert endpoint.bodies[0]["stream_options"] == {"include_usage": True}


def test_unknown_call_option_is_rejected_before_any_request(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    llm = make_llm()
    with pytest.raises(InvalidRequestError) as caught:
        llm.chat(USER, temprature=0.5)
    assert caught.value.field == "temprature" and "extra_body" in str(caught.value)
    with pytest.raises(InvalidRequestError, match="ImageBlock"):
        llm.stream_chat([ChatMessage(role="user", blocks=[ImageBlock(url="https://x.test/a.png")])])
    with pytest.raises(InvalidRequestError, match="temperature"):
        llm.complete("hi", temperature=7)
    assert endpoint.requests == []


async def test_async_bad_input_is_rejected_at_await_before_any_request(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    llm = make_llm()
    with pytest.raises(InvalidRequestError, match="tool_call_id"):
        await llm.astream_chat([ChatMessage(role="tool", content="42")])
    with pytest.raises(InvalidRequestError, match="top_p"):
        await llm.achat(USER, top_p=3)
    assert endpoint.requests == []


def test_bad_constructor_values_fail_at_construction_naming_the_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        GradientLLM(model="m", base_url="http://127.0.0.1:9", temperature=5)
    assert caught.value.field == "temperature"
    with pytest.raises(InvalidRequestError, match="stop"):
        GradientLLM(model="m", base_url="http://127.0.0.1:9", stop=["a", "b", "c", "d", "e"])


def test_missing_key_for_a_remote_endpoint_fails_at_the_call_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY"):
        monkeypatch.delenv(name, raising=False)
    # Built keyless (e.g. on a driver that ships the model to workers holding the key), as ChatGradient.
    keyless = GradientLLM(model="m", base_url="https://inference.do-ai.run")
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        keyless.chat(USER)
    assert GradientLLM(model="m", base_url="http://127.0.0.1:9").api_key is None  # loopback needs none
    monkeypatch.setenv("MODEL_ACCESS_KEY", "from-env")
    assert GradientLLM(
        model="m", base_url="https://inference.do-ai.run"
    ).client.settings.api_key == SecretStr("from-env")


# -- the key never shows ---------------------------------------------------------------------------
def test_key_is_absent_from_every_representation(make_llm: LLMFactory) -> None:
    llm = make_llm(api_key=SecretStr(FAKE_KEY))
    assert isinstance(llm.api_key, SecretStr)
    outputs = [
        repr(llm),
        str(llm),
        str(llm.to_dict()),
        llm.to_json(),
        llm.json(),
        str(llm.model_dump()),
        llm.model_dump_json(),
        str(llm.to_payload()),
        repr(llm.client),
    ]
    for output in outputs:
        assert FAKE_KEY not in output
    assert FAKE_KEY.encode() not in pickle.dumps(llm)


def test_serialized_settings_round_trip_and_the_key_is_supplied_again() -> None:
    llm = GradientLLM(
        model="m", api_key=FAKE_KEY, base_url="http://127.0.0.1:9", temperature=0.3, metadata={"a": "b"}
    )
    restored = GradientLLM.from_json(llm.to_json(), api_key="another-key")
    assert restored.to_dict() == llm.to_dict()
    assert restored.call_metadata == {"a": "b"}
    assert restored.api_key == SecretStr("another-key")


def test_pickled_llm_resolves_its_key_from_the_environment(
    make_llm: LLMFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "env-key")
    restored = pickle.loads(pickle.dumps(make_llm(temperature=0.5)))
    assert isinstance(restored, GradientLLM)
    assert (restored.model, restored.temperature) == ("m", 0.5)
    assert restored.client.settings.api_key == SecretStr("env-key")


def test_error_that_echoes_the_key_is_redacted(make_llm: LLMFactory, endpoint: FakeEndpoint) -> None:
    endpoint.reply_json({"id": "unauthorized", "message": f"bad token Bearer {FAKE_KEY}"}, status=401)
    with pytest.raises(AuthenticationError) as caught:
        make_llm().chat(USER)
    assert FAKE_KEY not in str(caught.value) and caught.value.status_code == 401


# -- metadata ----------------------------------------------------------------------------------------
def test_metadata_describes_a_function_calling_chat_model(make_llm: LLMFactory) -> None:
    meta = make_llm(model="openai-gpt-oss-20b", max_tokens=300).metadata
    assert (meta.context_window, meta.num_output, meta.model_name) == (131_072, 300, "openai-gpt-oss-20b")
    assert meta.is_chat_model and meta.is_function_calling_model
    unknown = make_llm(model="brand-new-model", is_function_calling_model=None).metadata
    assert unknown.context_window == UNKNOWN_MODEL_DEFAULTS["context_window"] == 8192
    assert unknown.num_output == 2048  # a quarter of the window
    assert not unknown.is_function_calling_model  # not claimed for a model the catalog does not know
    assert make_llm(
        model="brand-new-model", is_function_calling_model=True
    ).metadata.is_function_calling_model
    assert make_llm(model="brand-new-model", context_window=4096).metadata.context_window == 4096
    assert GradientLLM.class_name() == "gradient_llm" == make_llm().to_dict()["class_name"]


# -- instrumentation and the async streaming contract -------------------------------------------
def test_chat_and_stream_fire_instrumentation_and_callback_events(
    make_llm: LLMFactory, endpoint: FakeEndpoint, event_log: EventLog
) -> None:
    debug = LlamaDebugHandler()
    llm = make_llm(callback_manager=CallbackManager([debug]))
    llm.chat(USER)
    assert event_log.names() == ["LLMChatStartEvent", "LLMChatEndEvent"]
    event_log.events.clear()
    endpoint.reply_sse(text_chunks("a", " b", usage={"input_tokens": 2, "output_tokens": 2}))
    chunks = list(llm.stream_complete("hi"))
    names = event_log.names()
    assert names[0] == "LLMCompletionStartEvent" and names[-1] == "LLMCompletionEndEvent"
    assert names.count("LLMCompletionInProgressEvent") == len(chunks) == 3
    assert len(debug.get_event_pairs(CBEventType.LLM)) == 2


async def test_astream_methods_are_coroutines_returning_async_generators(
    make_llm: LLMFactory, endpoint: FakeEndpoint, event_log: EventLog
) -> None:
    endpoint.reply_sse(text_chunks("x", " y"))
    llm = make_llm()
    pending = llm.astream_chat(USER)
    assert inspect.iscoroutine(pending)
    generator = await pending
    assert isinstance(generator, AsyncGenerator)
    contents = [response.message.content async for response in generator]
    assert contents == ["x", "x y", "x y"]
    assert event_log.names().count("LLMChatInProgressEvent") == 3
    completion = await llm.astream_complete("q")
    assert [chunk.text async for chunk in completion] == ["x", "x y", "x y"]


# -- streams: usage once, tool calls assembled, failures after the deltas -------------------------
def test_usage_arrives_once_on_the_last_streamed_response(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    endpoint.reply_sse(
        text_chunks("one", " two", usage={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7})
    )
    responses = list(make_llm().stream_chat(USER))
    with_usage = [r for r in responses if "prompt_tokens" in r.additional_kwargs]
    assert with_usage == [responses[-1]]
    assert responses[-1].additional_kwargs["total_tokens"] == 7
    assert [r.delta for r in responses] == ["one", " two", ""]


def test_streamed_tool_calls_are_assembled_and_selectable(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    piece = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":'}}
    rest = {"function": {"arguments": ' "Oslo"}'}}
    endpoint.reply_sse(
        sse(
            {"object": "response.chunk", "choices": [{"delta": {"tool_calls": [piece]}}]},
            {
                "object": "response.chunk",
                "choices": [{"delta": {"tool_calls": [rest]}, "finish_reason": "tool_calls"}],
            },
            "[DONE]",
        )
    )
    llm = make_llm()
    responses = list(llm.stream_chat_with_tools([WEATHER], user_msg="weather in Oslo?"))
    (selection,) = llm.get_tool_calls_from_response(responses[-1])
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "call_1",
        "get_weather",
        {"city": "Oslo"},
    )
    assert responses[-1].additional_kwargs["finish_reason"] == "tool_calls"


def test_failed_stream_raises_after_the_deltas_already_yielded(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    # Two text chunks, then the connection ends without usage or [DONE].
    endpoint.reply_sse(
        sse(*({"choices": [{"delta": {"content": piece}}]} for piece in ("partial", " answer")))
    )
    received: list[str | None] = []
    with pytest.raises(StreamError) as caught:
        for response in make_llm().stream_chat(USER):
            received.append(response.message.content)
    assert received == ["partial", "partial answer"]
    assert caught.value.partial.text == "partial answer"


async def test_async_stream_error_event_raises_after_deltas(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    endpoint.reply_sse(
        sse(
            {"object": "response.chunk", "choices": [{"delta": {"content": "half"}}]},
            {"error": {"message": "model crashed", "type": "server_error"}},
        )
    )
    received = []
    with pytest.raises(StreamError, match="model crashed"):
        async for response in await make_llm().astream_chat(USER):
            received.append(response.delta)
    assert received == ["half"]


def test_status_errors_are_typed(make_llm: LLMFactory, endpoint: FakeEndpoint) -> None:
    endpoint.reply_json({"id": "too_many_requests", "message": "API rate limit exceeded."}, status=429)
    with pytest.raises(RateLimitError, match="rate limit"):
        make_llm().complete("hi")
    assert len(endpoint.requests) == 1  # max_retries=0 in these tests


# -- tools and structured output on the wire -------------------------------------------------------
def test_chat_with_tools_sends_tools_and_trims_unrequested_parallel_calls(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    endpoint.reply_json(
        body(calls=[("c1", "get_weather", '{"city": "A"}'), ("c2", "get_weather", '{"city": "B"}')])
    )
    llm = make_llm()
    history = [ChatMessage(role="system", content="sys")]
    single = llm.chat_with_tools([WEATHER], user_msg="weather?", chat_history=history, tool_required=True)
    both = llm.chat_with_tools(
        [WEATHER], user_msg="weather?", allow_parallel_tool_calls=True, tool_choice="get_weather"
    )
    assert len(llm.get_tool_calls_from_response(single)) == 1
    assert len(llm.get_tool_calls_from_response(both)) == 2
    assert len(history) == 1  # the caller's history is not appended to
    first, second = endpoint.bodies
    assert first["tools"][0]["name"] == "get_weather" and first["tool_choice"] == "required"
    assert first["parallel_tool_calls"] is False
    assert [item["role"] for item in first["input"]] == ["system", "user"]
    assert second["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert second["parallel_tool_calls"] is True


def test_tool_choice_naming_an_unknown_tool_is_rejected_before_any_request(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    with pytest.raises(InvalidRequestError, match="not among tools"):
        make_llm().chat_with_tools([WEATHER], user_msg="x", tool_choice="get_time")
    bad_name = FunctionTool.from_defaults(fn=lambda: "x", name="n" * 65)  # the endpoint allows 64
    with pytest.raises(InvalidRequestError, match=r"tools\[0\]\.name"):
        make_llm().chat_with_tools([bad_name], user_msg="x")
    assert endpoint.requests == []


def test_stream_structured_predict_forces_the_tool_call(make_llm: LLMFactory, endpoint: FakeEndpoint) -> None:
    class City(BaseModel):
        name: str
        population: int

    call = {"id": "c", "function": {"name": "City", "arguments": '{"name": "Oslo", "population": 700000}'}}
    endpoint.reply_sse(sse({"choices": [{"delta": {"tool_calls": [call]}}]}, "[DONE]"))
    outputs = list(make_llm().stream_structured_predict(City, PromptTemplate("Describe {city}"), city="Oslo"))
    assert outputs[-1] == City(name="Oslo", population=700000)
    assert endpoint.bodies[0]["tool_choice"] == "required"


def test_json_schema_structured_predict_uses_text_format(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    class City(BaseModel):
        name: str

    endpoint.reply_json(body('{"name": "Oslo"}'))
    llm = make_llm(structured_output_method="json_schema")
    assert llm.structured_predict(City, PromptTemplate("Describe {c}"), c="Oslo") == City(name="Oslo")
    sent = endpoint.bodies[0]
    assert sent["text"]["format"]["type"] == "json_schema"
    assert sent["text"]["format"]["schema"]["required"] == ["name"]
    assert "tools" not in sent
    endpoint.reply_json(body('{"nom": "Oslo"}'))
    with pytest.raises(ValueError, match="not a valid City"):
        llm.structured_predict(City, PromptTemplate("Describe {c}"), c="Oslo")


def test_messages_with_blocks_round_trip_through_a_second_turn(
    make_llm: LLMFactory, endpoint: FakeEndpoint
) -> None:
    endpoint.reply_json(body("Let me look.", calls=[("call_7", "get_weather", '{"city": "Rome"}')]))
    llm = make_llm()
    first = llm.chat_with_tools([WEATHER], user_msg="weather in Rome?")
    (selection,) = llm.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role="user", content="weather in Rome?"),
        first.message,
        ChatMessage(
            role="tool",
            blocks=[TextBlock(text="22 C")],
            additional_kwargs={"tool_call_id": selection.tool_id},
        ),
    ]
    endpoint.reply_json(body("It is 22 C."))
    assert llm.chat(history).message.content == "It is 22 C."
    assert endpoint.bodies[1]["input"] == [
        {"role": "user", "content": "weather in Rome?"},
        {"role": "assistant", "content": "Let me look."},
        {
            "type": "function_call",
            "call_id": "call_7",
            "name": "get_weather",
            "arguments": '{"city": "Rome"}',
        },
        {"type": "function_call_output", "call_id": "call_7", "output": "22 C"},
    ]


def test_a_copy_aimed_elsewhere_gets_its_own_client(make_llm: LLMFactory) -> None:
    llm = make_llm()
    shared = llm.client
    assert llm.model_copy(update={"model": "other"}).client is shared  # same endpoint: one pool
    moved = llm.model_copy(update={"base_url": "http://127.0.0.1:9"})
    assert moved.client is not shared
    assert moved.client.settings.base_url == "http://127.0.0.1:9"


def test_explicit_program_modes_are_respected(make_llm: LLMFactory, endpoint: FakeEndpoint) -> None:
    class Pet(BaseModel):
        name: str

    prompt = PromptTemplate("Name a pet like {kind}")
    endpoint.reply_json(body('{"name": "Rex"}'))
    text_mode = make_llm(
        pydantic_program_mode=PydanticProgramMode.LLM, structured_output_method="json_schema"
    )
    assert text_mode.structured_predict(Pet, prompt, kind="dog") == Pet(name="Rex")
    assert "tools" not in endpoint.bodies[-1] and "text" not in endpoint.bodies[-1]  # llama-index parses text

    endpoint.reply_json(body(calls=[("c", "Pet", '{"name": "Tom"}')]))
    function_mode = make_llm(
        pydantic_program_mode=PydanticProgramMode.FUNCTION, structured_output_method="json_schema"
    )
    assert function_mode.structured_predict(Pet, prompt, kind="cat") == Pet(name="Tom")
    assert endpoint.bodies[-1]["tool_choice"] == "required" and "text" not in endpoint.bodies[-1]
