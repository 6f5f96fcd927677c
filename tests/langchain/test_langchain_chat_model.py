"""ChatGradient against a scripted MockTransport endpoint: construction, request bodies, the four call paths,
errors, secrets, pickling and copies. Each test asserts on what went over the wire or came back."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_support import MODEL, TEST_KEY, USAGE, do_chunks, json_reply, model_on, sse_reply

from gradient_integrations.core import (
    ConfigurationError,
    GradientError,
    InvalidRequestError,
    RateLimitError,
    StreamError,
)
from gradient_integrations.langchain import ChatGradient

ENV_KEYS = ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV_KEYS, "GRADIENT_INFERENCE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


# -- construction --------------------------------------------------------------------------------------
def test_aliases_model_name_and_max_output_tokens() -> None:
    model = ChatGradient(model_name="m", max_output_tokens=12)
    assert (model.model, model.max_tokens) == ("m", 12)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"temprature": 0.5}, "temprature"),
        ({"temperature": 3}, "temperature: must be between 0 and 2"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4 stop sequences"),
        ({"base_url": "ftp://x"}, r"base_url must be an http\(s\) URL"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"model_kwargs": {"input": "x"}}, "model_kwargs.input: is set by ChatGradient itself"),
        ({"default_headers": {"Authorization": "Bearer x"}}, "must not carry Authorization"),
    ],
)
def test_bad_settings_fail_at_construction(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(GradientError, match=message):
        ChatGradient(model="m", **fields)


def test_key_comes_from_env_in_documented_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_INFERENCE_KEY", "third")
    monkeypatch.setenv("MODEL_ACCESS_KEY", "second")
    assert ChatGradient(model="m").api_key.get_secret_value() == "second"  # type: ignore[union-attr]
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "first")
    assert ChatGradient(model="m").api_key.get_secret_value() == "first"  # type: ignore[union-attr]
    assert ChatGradient(model="m", api_key="explicit").api_key.get_secret_value() == "explicit"  # type: ignore[union-attr]


def test_missing_key_for_remote_endpoint_fails_before_any_request() -> None:
    endpoint = FakeEndpoint(json_reply())
    model = model_on(endpoint, api_key=None)
    with pytest.raises(ConfigurationError, match="GRADIENT_MODEL_ACCESS_KEY"):
        model.invoke("hi")
    assert endpoint.requests == []


# -- the request body ----------------------------------------------------------------------------------
def test_instance_fields_reach_the_body_and_the_key_the_header() -> None:
    endpoint = FakeEndpoint(json_reply())
    model = model_on(
        endpoint,
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["END"],
        instructions="Be terse.",
        user="user-7",
        reasoning={"effort": "low"},
        default_headers={"X-Team": "blue"},
    )
    model.invoke([HumanMessage("Hi")])
    assert endpoint.body == {
        "model": MODEL,
        "input": [{"role": "user", "content": "Hi"}],
        "instructions": "Be terse.",
        "max_output_tokens": 64,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "user": "user-7",
        "reasoning": {"effort": "low"},
    }
    headers = endpoint.requests[0].headers
    assert headers["authorization"] == f"Bearer {TEST_KEY}"
    assert headers["x-team"] == "blue"
    assert str(endpoint.requests[0].url) == "https://inference.example.test/v1/responses"


def test_per_call_overrides_win_over_instance_fields() -> None:
    endpoint = FakeEndpoint(json_reply())
    model = model_on(endpoint, temperature=0.2, stop=["END"], max_tokens=64)
    model.invoke("Hi", model="other-model", stop=["you"], temperature=1.5, max_tokens=5, top_p=0.5)
    body = endpoint.body
    assert (body["model"], body["stop"], body["temperature"], body["max_output_tokens"], body["top_p"]) == (
        "other-model",
        ["you"],
        1.5,
        5,
        0.5,
    )


def test_model_kwargs_extra_body_and_metadata_reach_the_body() -> None:
    endpoint = FakeEndpoint(json_reply())
    model = model_on(endpoint, model_kwargs={"user": "u1", "store": False}, extra_body={"seed": 7})
    model.invoke("Hi", request_metadata={"session": "abc"}, extra_body={"previous_response_id": "r0"})
    body = endpoint.body
    assert body["user"] == "u1" and body["metadata"] == {"session": "abc"}
    assert (body["store"], body["seed"], body["previous_response_id"]) == (False, 7, "r0")


def test_trace_metadata_is_never_sent_as_request_metadata() -> None:
    endpoint = FakeEndpoint(json_reply())
    model_on(endpoint, metadata={"trace": {"nested": 1}}).invoke("Hi", config={"metadata": {"run": "x"}})
    model_on(endpoint, request_metadata={"session": "s1"}).invoke("Hi")
    assert "metadata" not in endpoint.bodies[0]
    assert endpoint.bodies[1]["metadata"] == {"session": "s1"}


def test_unknown_call_parameter_is_rejected_before_any_request() -> None:
    endpoint = FakeEndpoint(json_reply())
    with pytest.raises(InvalidRequestError, match="frequency_penalty: the /v1/responses body has no"):
        model_on(endpoint).invoke("Hi", frequency_penalty=0.1)
    with pytest.raises(InvalidRequestError, match="temprature: is not a call option of ChatGradient; did"):
        model_on(endpoint).invoke("Hi", temprature=0.1)
    assert endpoint.requests == []


def test_invalid_per_call_value_names_the_field_before_any_request() -> None:
    endpoint = FakeEndpoint(json_reply())
    with pytest.raises(InvalidRequestError) as caught:
        model_on(endpoint).invoke("Hi", temperature=9)
    assert caught.value.field == "temperature"
    assert endpoint.requests == []


def test_image_input_is_rejected_before_any_request() -> None:
    endpoint = FakeEndpoint(json_reply())
    image = HumanMessage([{"type": "image", "url": "https://example.test/cat.png"}])
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]\.content\[0\].*text only"):
        model_on(endpoint).invoke([image])
    assert endpoint.requests == []


def test_extra_headers_are_sent_per_call() -> None:
    endpoint = FakeEndpoint(json_reply())
    model_on(endpoint).invoke("Hi", extra_headers={"x-gradient-fault": "latency_ms:1"})
    assert endpoint.requests[0].headers["x-gradient-fault"] == "latency_ms:1"


# -- results -------------------------------------------------------------------------------------------
def test_invoke_returns_the_mapped_message() -> None:
    reply = json_reply("4", reasoning="2+2", tool_calls=[("c1", "add", '{"a": 2, "b": 2}')])
    message = model_on(FakeEndpoint(reply)).invoke("2+2?")
    assert isinstance(message, AIMessage)
    assert message.content == "4"
    assert message.additional_kwargs["reasoning_content"] == "2+2"
    assert message.tool_calls[0]["args"] == {"a": 2, "b": 2}
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"] == {"cache_read": 4}
    assert message.response_metadata["model_name"] == MODEL


async def test_ainvoke_returns_the_same_message_as_invoke() -> None:
    reply = json_reply("4", reasoning="2+2")
    sync_message = model_on(FakeEndpoint(reply)).invoke("2+2?")
    async_message = await model_on(FakeEndpoint(reply)).ainvoke("2+2?")
    assert async_message.content == sync_message.content
    assert async_message.additional_kwargs == sync_message.additional_kwargs
    assert async_message.usage_metadata == sync_message.usage_metadata
    assert async_message.response_metadata == sync_message.response_metadata


def test_output_version_v1_gives_reasoning_and_text_blocks() -> None:
    message = model_on(FakeEndpoint(json_reply("4", reasoning="2+2")), output_version="v1").invoke("2+2?")
    assert [block["type"] for block in message.content] == ["reasoning", "text"]  # type: ignore[index]


def test_status_error_is_raised_typed_not_returned_as_content() -> None:
    endpoint = FakeEndpoint(httpx.Response(429, json={"id": "too_many_requests", "message": "slow down"}))
    with pytest.raises(RateLimitError, match="slow down"):
        model_on(endpoint).invoke("Hi")


# -- streaming -----------------------------------------------------------------------------------------
def test_stream_sends_stream_options_and_yields_deltas_then_one_last_chunk() -> None:
    endpoint = FakeEndpoint(sse_reply(do_chunks(["Hel", "lo"])))
    chunks = list(model_on(endpoint).stream("Hi"))
    assert endpoint.body["stream"] is True and endpoint.body["stream_options"] == {"include_usage": True}
    assert [chunk.content for chunk in chunks] == ["Hel", "lo", ""]
    assert [chunk.chunk_position for chunk in chunks] == [None, None, "last"]
    assert [chunk.usage_metadata is not None for chunk in chunks] == [False, False, True]
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_stream_usage_false_asks_for_no_usage_and_reports_none() -> None:
    endpoint = FakeEndpoint(sse_reply(do_chunks(["a"], usage={})))
    chunks = list(model_on(endpoint, stream_usage=False).stream("Hi"))
    assert endpoint.body["stream_options"] == {"include_usage": False}
    assert all(chunk.usage_metadata is None for chunk in chunks)


def test_streamed_tool_calls_keep_one_index_per_call_and_aggregate() -> None:
    events = do_chunks(
        [], tool_calls=[("c1", "add", ['{"a": 1', ', "b": 2}']), ("c2", "add", ['{"a": 3, "b": 4}'])]
    )
    full: AIMessageChunk | None = None
    indexes = []
    for chunk in model_on(FakeEndpoint(sse_reply(events))).stream("Hi"):
        indexes += [piece["index"] for piece in chunk.tool_call_chunks]
        full = chunk if full is None else full + chunk
    assert indexes == [0, 0, 1]
    assert full is not None
    assert [(call["id"], call["args"]) for call in full.tool_calls] == [
        ("c1", {"a": 1, "b": 2}),
        ("c2", {"a": 3, "b": 4}),
    ]


def interleaved_events() -> list[dict[str, Any] | str]:
    """Reasoning, text, two parallel calls (the first finishing late), then more text."""
    head = {"id": "resp_x", "object": "response.chunk", "created": 1, "model": MODEL}

    def delta(**fields: Any) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": fields, "finish_reason": None}]}

    def call(index: int, arguments: str, **first: Any) -> dict[str, Any]:
        function = {"arguments": arguments, **({"name": first["name"]} if first else {})}
        return delta(
            tool_calls=[{"index": index, **({"id": first["id"]} if first else {}), "function": function}]
        )

    return [
        delta(reasoning_content="plan"),
        delta(content="Calling"),
        call(0, '{"a": ', id="c1", name="add"),
        call(1, '{"x": 1}', id="c2", name="mul"),
        call(0, "1}"),
        delta(content=" done"),
        {**head, "choices": [], "usage": USAGE},
        "[DONE]",
    ]


@pytest.mark.parametrize("output_version", ["v0", "v1"])
def test_interleaved_stream_keeps_every_block_and_call_apart(output_version: str) -> None:
    model = model_on(FakeEndpoint(sse_reply(interleaved_events())), output_version=output_version)
    full: AIMessageChunk | None = None
    for chunk in model.stream("Hi"):
        full = chunk if full is None else full + chunk
    assert full is not None
    assert [(call["id"], call["args"]) for call in full.tool_calls] == [("c1", {"a": 1}), ("c2", {"x": 1})]
    blocks = [
        (block["type"], block.get("text") or block.get("reasoning") or block.get("id"))
        for block in full.content_blocks
    ]
    assert (
        blocks
        == [
            ("reasoning", "plan"),
            ("text", "Calling"),
            ("tool_call", "c1"),
            ("tool_call", "c2"),
            ("text", " done"),
        ]
        if output_version == "v1"
        else [
            ("reasoning", "plan"),
            ("text", "Calling done"),
            ("tool_call", "c1"),
            ("tool_call", "c2"),
        ]
    )


async def test_astream_yields_the_same_chunks_as_stream() -> None:
    events = do_chunks(["Hel", "lo"], reasoning=["hm"])
    sync_chunks = list(model_on(FakeEndpoint(sse_reply(events))).stream("Hi"))
    async_chunks = [chunk async for chunk in model_on(FakeEndpoint(sse_reply(events))).astream("Hi")]

    def view(chunk: AIMessageChunk) -> tuple[Any, ...]:
        return (chunk.content, chunk.additional_kwargs, chunk.usage_metadata, chunk.chunk_position)

    assert [view(chunk) for chunk in async_chunks] == [view(chunk) for chunk in sync_chunks]
    assert len(sync_chunks) == 4


def test_stream_and_invoke_agree_on_the_final_message() -> None:
    streamed: AIMessageChunk | None = None
    for chunk in model_on(FakeEndpoint(sse_reply(do_chunks(["Hello", " there", "!"])))).stream("Hi"):
        streamed = chunk if streamed is None else streamed + chunk
    invoked = model_on(FakeEndpoint(json_reply("Hello there!"))).invoke("Hi")
    assert streamed is not None
    assert (streamed.content, streamed.usage_metadata) == (invoked.content, invoked.usage_metadata)


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def test_invoke_with_streaming_true_streams_and_fires_a_token_per_delta() -> None:
    endpoint = FakeEndpoint(sse_reply(do_chunks(["a", "b", "c"])))
    handler = _Tokens()
    message = model_on(endpoint, streaming=True).invoke("Hi", config={"callbacks": [handler]})
    assert endpoint.body["stream"] is True
    assert message.content == "abc"
    assert handler.tokens == ["a", "b", "c", ""]


def test_disable_streaming_makes_stream_use_one_plain_request() -> None:
    endpoint = FakeEndpoint(json_reply("whole"))
    chunks = list(model_on(endpoint, disable_streaming=True).stream("Hi"))
    assert "stream" not in endpoint.body
    assert [chunk.content for chunk in chunks] == ["whole"]


def test_stream_failure_raises_the_typed_error_after_the_yielded_chunks() -> None:
    events = [*do_chunks(["one", "two"])[:2], {"error": {"message": "backend exploded", "code": "500"}}]
    received: list[str] = []
    with pytest.raises(StreamError, match="backend exploded") as caught:
        for chunk in model_on(FakeEndpoint(sse_reply(events))).stream("Hi"):
            received.append(str(chunk.content))
    assert received == ["one", "two"]
    assert caught.value.partial.text == "onetwo"
    assert not any("ERROR" in text for text in received)


async def test_async_stream_failure_raises_too() -> None:
    events = do_chunks(["one"])[:1]  # the connection ends without [DONE]
    with pytest.raises(StreamError, match="ended before"):
        async for _ in model_on(FakeEndpoint(sse_reply(events))).astream("Hi"):
            pass


class _CountingLimiter(BaseRateLimiter):
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return True


async def test_rate_limiter_is_acquired_once_per_call() -> None:
    limiter = _CountingLimiter()
    endpoint = FakeEndpoint(json_reply("x"))
    model = model_on(endpoint, rate_limiter=limiter)
    model.invoke("a")
    await model.ainvoke("b")
    assert limiter.acquired == 2 and len(endpoint.requests) == 2


# -- identity, tracing, secrets ------------------------------------------------------------------------
def test_ls_params_report_provider_and_per_call_model() -> None:
    model = ChatGradient(model="m", temperature=0.3, max_tokens=9, stop=["x"])
    assert model._get_ls_params() == {
        "ls_provider": "gradient",
        "ls_model_type": "chat",
        "ls_model_name": "m",
        "ls_temperature": 0.3,
        "ls_max_tokens": 9,
        "ls_stop": ["x"],
    }
    assert model._get_ls_params(model="other", stop=["y"])["ls_model_name"] == "other"
    assert model._get_ls_params(stop=["y"])["ls_stop"] == ["y"]


def test_identifying_params_describe_the_model_without_the_key() -> None:
    params = ChatGradient(model="m", api_key=TEST_KEY, temperature=0.1)._identifying_params
    assert params == {"model_name": "m", "base_url": "https://inference.do-ai.run", "temperature": 0.1}


def test_key_never_appears_in_repr_str_or_dumps() -> None:
    model = ChatGradient(model="m", api_key=TEST_KEY)
    for text in (repr(model), str(model), dumps(model), json.dumps(dumpd(model))):
        assert TEST_KEY not in text
    assert dumpd(model)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["GRADIENT_MODEL_ACCESS_KEY"],
    }


def test_load_round_trip_takes_the_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "from-env")
    original = ChatGradient(model="m", api_key=TEST_KEY, temperature=0.4, stop=["x"])
    restored = load(
        dumpd(original),
        secrets_from_env=True,
        valid_namespaces=["gradient_integrations"],
        allowed_objects=[ChatGradient],
    )
    assert isinstance(restored, ChatGradient)
    assert (restored.model, restored.temperature, restored.stop) == ("m", 0.4, ["x"])
    assert restored.api_key is not None and restored.api_key.get_secret_value() == "from-env"


def test_pickle_drops_the_key_and_the_unpickled_model_works(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = FakeEndpoint(json_reply("after pickling"))
    model = model_on(endpoint, temperature=0.5)
    model.invoke("warm up the client")
    data = pickle.dumps(model)
    assert TEST_KEY.encode() not in data
    monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "env-key-after-load")
    restored = pickle.loads(data)
    assert restored.api_key.get_secret_value() == "env-key-after-load"
    assert (restored.model, restored.temperature, restored.http_client) == (MODEL, 0.5, None)
    restored.http_client = httpx.Client(transport=endpoint.transport)
    assert restored.invoke("again").content == "after pickling"
    assert endpoint.requests[-1].headers["authorization"] == "Bearer env-key-after-load"


def test_model_copy_with_a_new_key_builds_its_own_client() -> None:
    endpoint = FakeEndpoint(json_reply("x"))
    model = model_on(endpoint)
    model.invoke("first")
    rotated = model.model_copy(update={"api_key": "rotated-key"})
    rotated.invoke("second")
    assert [request.headers["authorization"] for request in endpoint.requests] == [
        f"Bearer {TEST_KEY}",
        "Bearer rotated-key",
    ]
    assert rotated.client is not model.client


def test_deepcopy_shares_injected_pools_but_not_the_core_client() -> None:
    endpoint = FakeEndpoint(json_reply("copied"))
    model = model_on(endpoint, stop=["x"])
    model.invoke("first")
    clone = copy.deepcopy(model)
    assert clone.http_client is model.http_client
    assert clone.stop == model.stop and clone.stop is not model.stop
    assert clone.client is not model.client
    assert clone.invoke("second").content == "copied"


def test_usage_reported_once_per_stream_even_when_aggregated() -> None:
    total: AIMessageChunk | None = None
    for chunk in model_on(FakeEndpoint(sse_reply(do_chunks(["a", "b"])))).stream("Hi"):
        total = chunk if total is None else total + chunk
    assert total is not None and total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == USAGE["input_tokens"]
    assert total.usage_metadata["output_token_details"] == {"reasoning": 3}
