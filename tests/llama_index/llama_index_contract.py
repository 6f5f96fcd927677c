"""A reusable contract suite for a LlamaIndex `FunctionCallingLLM` (LlamaIndex has no standard one).

Subclass `LLMContractTests` and provide an `llm_params` fixture (the keyword arguments that build a working
`GradientLLM`); every test then runs against that configuration. The assertions are about the contract,
not one model's wording: the eight chat/complete methods (sync and async, streaming or not) with
cumulative `message.content` and `delta`, the async streaming shape (a coroutine returning an async
generator), usage reported once, tools (`chat_with_tools`, `stream_chat_with_tools`, `predict_and_call`,
parallel calls honoured or trimmed, a tool round trip), structured output (plain, async and streaming),
metadata, and errors raised before any request or as typed errors.

Prompts name their tools and quote their arguments, which a real model and the local scripted model
both follow. `FaultInjectionContractTests` adds failure cases that need a server honouring the
`x-gradient-fault` header (the local server).
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ImageBlock, MessageRole
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from gradient_integrations.core import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
    StreamError,
)
from gradient_integrations.llama_index import GradientLLM

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny, 18 C in {city}"


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"10:30 in {city}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)
TIME = FunctionTool.from_defaults(fn=get_time)


class City(BaseModel):
    """A city and its country."""

    name: str = Field(description="The city's name")
    country: str = Field(description="The country it is in")
    population: int = Field(description="Number of inhabitants")


CITY_PROMPT = PromptTemplate(
    'Describe the city "{city}" in the country "{country}" with population {people}.'
)
CITY_ARGS = {"city": "Oslo", "country": "Norway", "people": 709000}


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def assert_usage(response: ChatResponse) -> None:
    """Counts in additional_kwargs (llama-index OpenAI names) and the server's own usage in `raw`."""
    assert isinstance(response.raw, dict) and response.raw["usage"]
    counts = [response.additional_kwargs[key] for key in USAGE_KEYS]
    assert all(isinstance(count, int) and count >= 0 for count in counts)
    prompt, completion, total = counts[:3]
    assert prompt > 0 and completion > 0 and total == prompt + completion


def assert_cumulative(responses: list[Any], content_of: Any) -> None:
    """Each streamed item's content is all deltas so far; usage only on the last; the text came in pieces."""
    assert responses, "the stream yielded nothing"
    joined = ""
    for item in responses:
        joined += item.delta or ""
        assert content_of(item) == joined
    assert sum(1 for item in responses if item.delta) >= 2
    with_usage = [index for index, item in enumerate(responses) if "prompt_tokens" in item.additional_kwargs]
    assert with_usage == [len(responses) - 1]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


class LLMContractTests:
    """The contract. Subclasses override the `llm_params` fixture."""

    @pytest.fixture
    def llm_params(self) -> dict[str, Any]:
        raise NotImplementedError("subclasses provide the GradientLLM keyword arguments")

    @pytest.fixture
    def llm(self, llm_params: dict[str, Any]) -> Iterator[GradientLLM]:
        llm = GradientLLM(**llm_params)
        yield llm
        llm.close()

    # -- metadata --------------------------------------------------------------------------------
    def test_metadata(self, llm: GradientLLM) -> None:
        meta = llm.metadata
        assert meta.is_chat_model and meta.is_function_calling_model
        assert meta.model_name == llm.model
        assert meta.context_window > 0
        assert llm.to_dict()["class_name"] == type(llm).class_name()

    # -- the eight methods -------------------------------------------------------------------------
    def test_chat(self, llm: GradientLLM) -> None:
        response = llm.chat(user("Name one colour."))
        assert response.message.role == MessageRole.ASSISTANT
        assert response.message.content
        assert response.additional_kwargs["finish_reason"] == "stop"
        assert_usage(response)

    async def test_achat(self, llm: GradientLLM) -> None:
        response = await llm.achat(user("Name one colour."))
        assert response.message.content
        assert_usage(response)

    def test_complete(self, llm: GradientLLM) -> None:
        completion = llm.complete("Name one animal.")
        assert completion.text
        assert completion.additional_kwargs["total_tokens"] > 0

    async def test_acomplete(self, llm: GradientLLM) -> None:
        completion = await llm.acomplete("Name one animal.")
        assert completion.text
        assert completion.additional_kwargs["total_tokens"] > 0

    def test_stream_chat(self, llm: GradientLLM) -> None:
        responses = list(llm.stream_chat(user("Count from one to ten in words.")))
        assert_cumulative(responses, lambda response: response.message.content)
        assert_usage(responses[-1])
        assert responses[-1].additional_kwargs["finish_reason"] == "stop"

    async def test_astream_chat(self, llm: GradientLLM) -> None:
        pending = llm.astream_chat(user("Count from one to ten in words."))
        assert inspect.iscoroutine(pending)
        stream = await pending
        assert isinstance(stream, AsyncGenerator)
        responses = [response async for response in stream]
        assert_cumulative(responses, lambda response: response.message.content)
        assert_usage(responses[-1])

    def test_stream_complete(self, llm: GradientLLM) -> None:
        completions = list(llm.stream_complete("Count from one to ten in words."))
        assert_cumulative(completions, lambda completion: completion.text)

    async def test_astream_complete(self, llm: GradientLLM) -> None:
        pending = llm.astream_complete("Count from one to ten in words.")
        assert inspect.iscoroutine(pending)
        completions = [completion async for completion in await pending]
        assert_cumulative(completions, lambda completion: completion.text)

    def test_stream_and_chat_agree_on_the_final_message_shape(self, llm: GradientLLM) -> None:
        messages = user("Say hello.")
        final = list(llm.stream_chat(messages))[-1]
        whole = llm.chat(messages)
        assert [type(b) for b in final.message.blocks] == [type(b) for b in whole.message.blocks]
        assert set(final.additional_kwargs) == set(whole.additional_kwargs)

    # -- tools -----------------------------------------------------------------------------------
    def test_chat_with_tools_calls_the_required_tool(self, llm: GradientLLM) -> None:
        response = llm.chat_with_tools([WEATHER], user_msg='Use get_weather for "Paris".', tool_required=True)
        (selection,) = llm.get_tool_calls_from_response(response)
        assert selection.tool_name == "get_weather" and selection.tool_id
        assert isinstance(selection.tool_kwargs["city"], str)
        assert response.additional_kwargs["finish_reason"] == "tool_calls"

    async def test_achat_with_tools_honours_a_named_tool_choice(self, llm: GradientLLM) -> None:
        response = await llm.achat_with_tools(
            [WEATHER, TIME], user_msg='What time is it in "Paris"?', tool_choice="get_time"
        )
        (selection,) = llm.get_tool_calls_from_response(response)
        assert selection.tool_name == "get_time"

    def test_stream_chat_with_tools_assembles_the_call(self, llm: GradientLLM) -> None:
        responses = list(
            llm.stream_chat_with_tools([WEATHER], user_msg='Use get_weather for "Lima".', tool_required=True)
        )
        (selection,) = llm.get_tool_calls_from_response(responses[-1])
        assert (selection.tool_name, selection.tool_kwargs["city"]) == ("get_weather", "Lima")
        assert_usage(responses[-1])

    async def test_astream_chat_with_tools_assembles_the_call(self, llm: GradientLLM) -> None:
        stream = await llm.astream_chat_with_tools(
            [WEATHER], user_msg='Use get_weather for "Lima".', tool_required=True
        )
        responses = [response async for response in stream]
        (selection,) = llm.get_tool_calls_from_response(responses[-1])
        assert selection.tool_kwargs == {"city": "Lima"}

    def test_parallel_calls_are_honoured_or_trimmed(self, llm: GradientLLM) -> None:
        prompt = 'Use get_weather and get_time for "Rome".'
        both = llm.chat_with_tools([WEATHER, TIME], user_msg=prompt, allow_parallel_tool_calls=True)
        names = [selection.tool_name for selection in llm.get_tool_calls_from_response(both)]
        assert sorted(names) == ["get_time", "get_weather"]
        ids = [selection.tool_id for selection in llm.get_tool_calls_from_response(both)]
        assert len(set(ids)) == 2
        one = llm.chat_with_tools([WEATHER, TIME], user_msg=prompt, allow_parallel_tool_calls=False)
        assert len(llm.get_tool_calls_from_response(one)) == 1

    def test_predict_and_call_runs_the_tool(self, llm: GradientLLM) -> None:
        answer = llm.predict_and_call([WEATHER], user_msg='Use get_weather for "Cairo".')
        assert answer.response == "Sunny, 18 C in Cairo"
        assert [source.tool_name for source in answer.sources] == ["get_weather"]

    async def test_apredict_and_call_runs_parallel_tools(self, llm: GradientLLM) -> None:
        answer = await llm.apredict_and_call(
            [WEATHER, TIME],
            user_msg='Use get_weather and get_time for "Cairo".',
            allow_parallel_tool_calls=True,
        )
        assert sorted(source.tool_name for source in answer.sources) == ["get_time", "get_weather"]
        assert "Sunny, 18 C in Cairo" in answer.response and "10:30 in Cairo" in answer.response

    def test_tool_result_round_trip(self, llm: GradientLLM) -> None:
        history = user('Use get_weather for "Quito".')
        first = llm.chat_with_tools([WEATHER], chat_history=history, tool_required=True)
        (selection,) = llm.get_tool_calls_from_response(first)
        result = WEATHER(**selection.tool_kwargs)
        history += [
            first.message,
            ChatMessage(
                role="tool", content=str(result), additional_kwargs={"tool_call_id": selection.tool_id}
            ),
        ]
        final = llm.chat_with_tools([WEATHER], chat_history=history)
        assert llm.get_tool_calls_from_response(final, error_on_no_tool_call=False) == []
        assert "18" in (final.message.content or "")

    def test_no_tool_call_is_an_error_only_when_asked(self, llm: GradientLLM) -> None:
        response = llm.chat_with_tools([WEATHER], user_msg="Just say hello.", tool_choice="none")
        assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
        with pytest.raises(ValueError, match="tool call"):
            llm.get_tool_calls_from_response(response)

    # -- structured output -------------------------------------------------------------------------
    def test_structured_predict(self, llm: GradientLLM) -> None:
        city = llm.structured_predict(City, CITY_PROMPT, **CITY_ARGS)
        assert isinstance(city, City)
        assert City.model_validate(city.model_dump()) == city

    async def test_astructured_predict(self, llm: GradientLLM) -> None:
        city = await llm.astructured_predict(City, CITY_PROMPT, **CITY_ARGS)
        assert isinstance(city, City)

    def test_stream_structured_predict_ends_with_a_validated_object(self, llm: GradientLLM) -> None:
        partials = list(llm.stream_structured_predict(City, CITY_PROMPT, **CITY_ARGS))
        assert partials and isinstance(partials[-1], City)

    async def test_astream_structured_predict_ends_with_a_validated_object(self, llm: GradientLLM) -> None:
        stream = await llm.astream_structured_predict(City, CITY_PROMPT, **CITY_ARGS)
        partials = [partial async for partial in stream]
        assert partials and isinstance(partials[-1], City)

    # -- errors ----------------------------------------------------------------------------------
    def test_unsendable_input_is_rejected_before_any_request(self, llm_params: dict[str, Any]) -> None:
        # Aimed at a closed port: reaching the network would raise APIConnectionError instead.
        llm = GradientLLM(**{**llm_params, "base_url": closed_port_url()})
        image = ChatMessage(role="user", blocks=[ImageBlock(url="https://example.com/cat.png")])
        with pytest.raises(InvalidRequestError, match="ImageBlock"):
            llm.chat([image])
        with pytest.raises(InvalidRequestError, match="tool_call_id"):
            llm.stream_chat([ChatMessage(role="tool", content="orphan result")])
        with pytest.raises(InvalidRequestError, match="max_output_tokens"):
            llm.complete("hi", max_tokens=0)

    async def test_unreachable_endpoint_raises_a_typed_connection_error(
        self, llm_params: dict[str, Any]
    ) -> None:
        llm = GradientLLM(**{**llm_params, "base_url": closed_port_url(), "max_retries": 0})
        with pytest.raises(APIConnectionError):
            llm.chat(user("hi"))
        with pytest.raises(APIConnectionError):
            async for _ in await llm.astream_chat(user("hi")):
                pass


class FaultInjectionContractTests:
    """Failure cases for a server that honours `x-gradient-fault` (the local server). Needs `llm`."""

    secret = "sk-do-v1-contract-secret-key-42"
    # Enough stream events for some text to arrive first (typed streams open with bookkeeping events).
    events_before_fault = 8

    @staticmethod
    def fault(spec: str) -> dict[str, Any]:
        return {"extra_headers": {"x-gradient-fault": spec}}

    def test_status_error_is_typed_and_never_shows_the_key(self, llm_params: dict[str, Any]) -> None:
        llm = GradientLLM(**{**llm_params, "api_key": self.secret})
        with pytest.raises(AuthenticationError) as caught:
            llm.chat(user("hi"), **self.fault("status:401"))
        assert caught.value.status_code == 401
        assert self.secret not in str(caught.value) and self.secret not in repr(caught.value)

    def test_rate_limit_is_retried_then_surfaced(self, llm_params: dict[str, Any]) -> None:
        patient = GradientLLM(**{**llm_params, "max_retries": 2})
        assert patient.chat(user("retry me"), **self.fault("rate_limit:1")).message.content
        impatient = GradientLLM(**{**llm_params, "max_retries": 0})
        with pytest.raises(RateLimitError):
            impatient.chat(user("do not retry me"), **self.fault("rate_limit:1"))

    def test_stream_error_raises_after_the_deltas_already_yielded(self, llm: GradientLLM) -> None:
        received: list[ChatResponse] = []
        with pytest.raises(StreamError) as caught:
            for response in llm.stream_chat(
                user("Count from one to ten in words."),
                **self.fault(f"error_chunk:{self.events_before_fault}"),
            ):
                received.append(response)
        assert received, "the deltas before the failure were not yielded"
        assert caught.value.partial.text == received[-1].message.content

    async def test_async_stream_disconnect_raises_after_the_deltas(self, llm: GradientLLM) -> None:
        received: list[ChatResponse] = []
        stream = await llm.astream_chat(
            user("Count from one to ten in words."),
            **self.fault(f"disconnect_mid_stream:{self.events_before_fault}"),
        )
        with pytest.raises(StreamError):
            async for response in stream:
                received.append(response)
        assert received and all("prompt_tokens" not in r.additional_kwargs for r in received)

    async def test_malformed_body_is_an_api_error(self, llm: GradientLLM) -> None:
        with pytest.raises(APIError, match="invalid JSON"):
            await llm.achat(user("hi"), **self.fault("malformed_json"))
