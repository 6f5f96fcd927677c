"""Red team, configuration and input: mistakes are refused up front, with our errors naming what to fix.

- Cleartext: a key is never sent over plain http to a remote host unless the caller says
  `allow_insecure_http=True` (loopback needs nothing: the local server); the core, `ChatGradient` and
  `GradientLLM` all refuse it at construction with a `ConfigurationError` naming the option, whether the
  endpoint came as `base_url` or from GRADIENT_INFERENCE_ENDPOINT.
- Bad input is refused before a byte is sent (a counting transport proves 0 requests), as an
  `InvalidRequestError` whose `.field` names the field: a lone surrogate in the input text, extra headers
  that are not a mapping of strings or that carry CR/LF (header injection), an `extra_body` that is not
  JSON (an object, NaN); per call through both adapters too.
- Bad settings are `ConfigurationError`s at construction, never httpx's or a NaN that disables a limit: a
  malformed base URL, NaN timeouts (core and adapter fields), and `model_kwargs` / `additional_kwargs`
  that would silently replace the conversation (`input`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fakes import AsyncCountingTransport, CountingTransport
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from gradient_integrations.core import (
    ConfigurationError,
    InvalidRequestError,
    ResponsesClient,
    build_request,
)
from gradient_integrations.core.settings import API_KEY_ENV_VARS, ENDPOINT_ENV_VAR
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

from ._support import MODEL

KEY = "sk-do-x"
LOOPBACK = "http://127.0.0.1:9"  # never dialled: the counting transports refuse to forward anything
NAN = float("nan")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*API_KEY_ENV_VARS, ENDPOINT_ENV_VAR):
        monkeypatch.delenv(name, raising=False)


# -- 4: cleartext -------------------------------------------------------------------------------------
def test_a_key_over_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        ResponsesClient(api_key=KEY, base_url="http://example.com")


def test_a_plain_http_endpoint_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV_VAR, "http://example.com")
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        ResponsesClient(api_key=KEY)


def test_allow_insecure_http_is_the_explicit_opt_in() -> None:
    client = ResponsesClient(api_key=KEY, base_url="http://example.com", allow_insecure_http=True)
    assert client.settings.base_url == "http://example.com"
    client.close()


@pytest.mark.parametrize(
    "url", ["https://example.com", "http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"]
)
def test_https_and_loopback_need_no_opt_in(url: str) -> None:
    client = ResponsesClient(api_key=KEY, base_url=url)
    assert client.settings.base_url == url
    client.close()


def test_chat_gradient_refuses_cleartext_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        ChatGradient(model=MODEL, api_key=KEY, base_url="http://example.com")
    allowed = ChatGradient(model=MODEL, api_key=KEY, base_url="http://example.com", allow_insecure_http=True)
    assert allowed.client.settings.base_url == "http://example.com"
    allowed.client.close()


def test_gradient_llm_refuses_cleartext_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        GradientLLM(model=MODEL, api_key=KEY, base_url="http://example.com")
    allowed = GradientLLM(model=MODEL, api_key=KEY, base_url="http://example.com", allow_insecure_http=True)
    assert allowed.client.settings.base_url == "http://example.com"
    allowed.client.close()


# -- 10: bad input, refused before sending -----------------------------------------------------------
@pytest.fixture
def counted() -> Iterator[tuple[ResponsesClient, CountingTransport, AsyncCountingTransport]]:
    sync, async_ = CountingTransport(), AsyncCountingTransport()
    client = ResponsesClient(
        api_key=KEY, base_url=LOOPBACK, transport=sync, async_transport=async_, max_retries=0
    )
    yield client, sync, async_
    client.close()


def _build(**fields: Any) -> Any:
    fields.setdefault("model", MODEL)
    fields.setdefault("input", "hi")
    return build_request(**fields)


# (how to build the request, extra_headers, the field the error must name: equal or a dotted child)
BAD_INPUT: dict[str, tuple[dict[str, Any], Any, str]] = {
    "lone surrogate in the input text": ({"input": "hi \ud800"}, None, "input"),
    "lone surrogate in a message": ({"input": [{"role": "user", "content": "\udfff"}]}, None, "input"),
    "extra_headers not a mapping": ({}, "x", "extra_headers"),
    "an int header value": ({}, {"x-a": 1}, "extra_headers"),
    "CR/LF in a header value": ({}, {"x-a": "a\r\nb"}, "extra_headers"),
    "LF in a header name": ({}, {"x-a\nx-b": "v"}, "extra_headers"),
    "an object in extra_body": ({"extra_body": {"x": object()}}, None, "extra_body"),
    "NaN in extra_body": ({"extra_body": {"x": NAN}}, None, "extra_body"),
    "infinity nested in extra_body": ({"extra_body": {"x": [{"y": float("inf")}]}}, None, "extra_body"),
}


def _names(error: InvalidRequestError, field: str) -> bool:
    return error.field == field or error.field.startswith((f"{field}.", f"{field}["))


@pytest.mark.parametrize("how", ["create", "acreate", "stream", "astream"])
@pytest.mark.parametrize("name", sorted(BAD_INPUT))
async def test_bad_input_is_refused_before_sending(
    name: str, how: str, counted: tuple[ResponsesClient, CountingTransport, AsyncCountingTransport]
) -> None:
    client, sync, async_ = counted
    fields, headers, field = BAD_INPUT[name]
    with pytest.raises(InvalidRequestError) as caught:
        request = _build(**fields)
        if how == "create":
            client.create(request, extra_headers=headers)
        elif how == "acreate":
            await client.acreate(request, extra_headers=headers)
        elif how == "stream":
            list(client.stream(request, extra_headers=headers))
        else:
            [delta async for delta in client.astream(request, extra_headers=headers)]
    assert _names(caught.value, field), f"field {caught.value.field!r}, expected {field!r}"
    assert sync.count + async_.count == 0


def _lc(sync: CountingTransport, async_: AsyncCountingTransport, **kwargs: Any) -> ChatGradient:
    return ChatGradient(
        model=MODEL,
        base_url=LOOPBACK,
        http_client=httpx.Client(transport=sync),
        http_async_client=httpx.AsyncClient(transport=async_),
        **kwargs,
    )


def _llama(sync: CountingTransport, async_: AsyncCountingTransport, **kwargs: Any) -> GradientLLM:
    return GradientLLM(
        model=MODEL,
        base_url=LOOPBACK,
        http_client=httpx.Client(transport=sync),
        async_http_client=httpx.AsyncClient(transport=async_),
        **kwargs,
    )


PER_CALL: dict[str, tuple[dict[str, Any], str]] = {
    "CR/LF in a header value": ({"extra_headers": {"x-a": "a\r\nb"}}, "extra_headers"),
    "an int header value": ({"extra_headers": {"x-a": 1}}, "extra_headers"),
    "NaN in extra_body": ({"extra_body": {"x": NAN}}, "extra_body"),
    "an object in extra_body": ({"extra_body": {"x": object()}}, "extra_body"),
}


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
@pytest.mark.parametrize("name", sorted(PER_CALL))
async def test_bad_per_call_input_through_the_adapters(name: str, adapter: str) -> None:
    options, field = PER_CALL[name]
    sync, async_ = CountingTransport(), AsyncCountingTransport()
    errors: list[InvalidRequestError] = []
    if adapter == "langchain":
        chat = _lc(sync, async_)
        with pytest.raises(InvalidRequestError) as caught:
            chat.invoke("hi", **options)
        errors.append(caught.value)
        with pytest.raises(InvalidRequestError) as caught:
            await chat.ainvoke("hi", **options)
        errors.append(caught.value)
    else:
        llm = _llama(sync, async_)
        message = [ChatMessage(role=MessageRole.USER, content="hi")]
        with pytest.raises(InvalidRequestError) as caught:
            llm.chat(message, **options)
        errors.append(caught.value)
        with pytest.raises(InvalidRequestError) as caught:
            await llm.achat(message, **options)
        errors.append(caught.value)
    for error in errors:
        assert _names(error, field), f"field {error.field!r}, expected {field!r}"
    assert sync.count + async_.count == 0


# -- 10: bad settings ----------------------------------------------------------------------------------
def test_a_malformed_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        ResponsesClient(api_key=KEY, base_url="http://[::1")


@pytest.mark.parametrize("setting", ["timeout", "stream_idle_timeout"])
def test_nan_time_limits_are_configuration_errors(setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        ResponsesClient(api_key=KEY, base_url=LOOPBACK, **{setting: NAN})
    with pytest.raises(ConfigurationError, match=setting):
        ChatGradient(model=MODEL, base_url=LOOPBACK, **{setting: NAN})
    with pytest.raises(ConfigurationError, match=setting):
        GradientLLM(model=MODEL, base_url=LOOPBACK, **{setting: NAN})


def test_model_kwargs_cannot_replace_the_conversation() -> None:
    sync, async_ = CountingTransport(), AsyncCountingTransport()
    with pytest.raises(InvalidRequestError) as caught:
        _lc(sync, async_, model_kwargs={"input": "x"}).invoke("hi")
    assert "input" in caught.value.field
    with pytest.raises(InvalidRequestError) as caught:
        llm = _llama(sync, async_, additional_kwargs={"input": "x"})
        llm.chat([ChatMessage(role=MessageRole.USER, content="hi")])
    assert "input" in caught.value.field
    assert sync.count + async_.count == 0
