"""ChatGradient and the core catalog: `profile` from CATALOG (or None, or the user's), `register_model`,
offline token counting (`get_num_tokens`, `get_num_tokens_from_messages`, `trim_messages`), and
`verify_model=True` against the local server's `GET /v1/models`.

Requests are counted by transport wrappers on injected httpx clients, so "before any /v1/responses request"
and "listed once" are checked on the wire.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fakes import CountingTransport, InFlightTransport
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, trim_messages
from langchain_core.tools import tool

from gradient_integrations.core.catalog import CATALOG, register_model
from gradient_integrations.core.errors import InvalidRequestError, UnknownModelError
from gradient_integrations.core.tokens import estimate_tokens
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.local import LocalServer

MODEL = "openai-gpt-oss-120b"
MISSPELT = "openai-gpt-oss-120"


# -- profile --------------------------------------------------------------------------------------------
def test_profile_comes_from_the_catalog() -> None:
    info = CATALOG.get(MODEL)
    assert info is not None
    profile = ChatGradient(model=MODEL).profile
    assert profile is not None
    assert profile["max_input_tokens"] == info.context_window == 131072
    assert profile["max_output_tokens"] == info.max_output_tokens
    assert profile["tool_calling"] is info.tool_calling is True
    assert profile["structured_output"] is info.structured_output is True
    assert profile["reasoning_output"] is info.reasoning is True
    # The adapter sends text only, whatever the model could see.
    assert profile["text_inputs"] is True and profile["image_inputs"] is False


def test_profile_follows_the_model_name() -> None:
    llama = CATALOG.get("llama3.3-70b-instruct")
    assert llama is not None
    profile = ChatGradient(model="llama3.3-70b-instruct").profile
    assert profile is not None
    assert profile["max_input_tokens"] == llama.context_window
    assert profile["reasoning_output"] is False
    # A fact the catalog does not have is left out, not claimed False.
    assert llama.structured_output is None and "structured_output" not in profile


def test_unknown_model_has_no_profile() -> None:
    assert ChatGradient(model=f"no-such-model-{uuid.uuid4()}").profile is None


def test_embedding_model_has_no_chat_profile() -> None:
    assert ChatGradient(model="qwen3-embedding-0.6b").profile is None


def test_a_profile_passed_by_the_user_wins() -> None:
    mine = {"max_input_tokens": 1234, "tool_calling": False}
    assert ChatGradient(model=MODEL, profile=mine).profile == mine


def test_a_registered_model_gets_a_profile_in_new_instances() -> None:
    model_id = f"test-registered-model-{uuid.uuid4()}"  # unique: the process-wide catalog keeps it
    before = ChatGradient(model=model_id)
    assert before.profile is None
    register_model(model_id, context_window=65536, max_output_tokens=8192, tool_calling=True, reasoning=False)
    profile = ChatGradient(model=model_id).profile
    assert profile is not None
    assert profile["max_input_tokens"] == 65536
    assert profile["max_output_tokens"] == 8192
    assert profile["tool_calling"] is True and profile["reasoning_output"] is False
    assert "structured_output" not in profile
    assert before.profile is None  # an instance keeps the profile it was built with


def test_register_model_refuses_an_unknown_fact() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        register_model(f"test-registered-model-{uuid.uuid4()}", context_windw=1)
    assert caught.value.field == "context_windw"


# -- offline token counting -----------------------------------------------------------------------------
@pytest.fixture
def offline() -> Iterator[CountingTransport]:
    """A transport that fails any request: counting tokens must never touch the network."""

    class Refusing(CountingTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise AssertionError(f"token counting sent a request: {request.url}")

    transport = Refusing()
    yield transport
    transport.close()


@pytest.fixture
def counted_model(offline: CountingTransport) -> Iterator[ChatGradient]:
    with httpx.Client(transport=offline) as http:
        yield ChatGradient(model=MODEL, base_url="http://127.0.0.1:9", http_client=http)


@pytest.mark.parametrize(
    "text",
    ["", "hello", "The quick brown fox jumps over the lazy dog.", "naïve café 東京 " * 20, "x" * 5000],
)
def test_get_num_tokens_is_the_core_estimate(counted_model: ChatGradient, text: str) -> None:
    assert counted_model.get_num_tokens(text) == estimate_tokens(text)


def test_get_num_tokens_grows_with_text(counted_model: ChatGradient) -> None:
    assert 0 < counted_model.get_num_tokens("one two") < counted_model.get_num_tokens("one two " * 50)


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather in a city, in the given unit."""
    return f"18 {unit} in {city}"


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return f"10:30 in {city}"


CONVERSATION: list[BaseMessage] = [
    SystemMessage("You are a terse assistant."),
    HumanMessage("What is the weather like in Lisbon today? " * 3),
    AIMessage("Sunny and 18 degrees in Lisbon."),
    HumanMessage("And what time is it there? " * 3),
    AIMessage("It is half past ten."),
    HumanMessage("Thanks, last question: is it a good day for the beach?"),
]


def test_message_tokens_grow_with_messages_and_with_tools(counted_model: ChatGradient) -> None:
    counts = [counted_model.get_num_tokens_from_messages(CONVERSATION[:n]) for n in range(1, 7)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    # Each message costs at least its text.
    for n in range(1, 6):
        assert counts[n] - counts[n - 1] >= estimate_tokens(str(CONVERSATION[n].content))
    one_tool = counted_model.get_num_tokens_from_messages(CONVERSATION, tools=[get_weather])
    two_tools = counted_model.get_num_tokens_from_messages(CONVERSATION, tools=[get_weather, get_time])
    assert counts[-1] < one_tool < two_tools


def test_message_tokens_depend_on_the_model_template() -> None:
    messages = [HumanMessage("hello there")]
    harmony = ChatGradient(model=MODEL).get_num_tokens_from_messages(messages)
    plain = ChatGradient(model="llama3.3-70b-instruct").get_num_tokens_from_messages(messages)
    assert harmony > plain  # gpt-oss's harmony template adds a default system message


@pytest.mark.parametrize("budget", [150, 250, 400, 10_000])
def test_trim_messages_counts_with_the_model_offline(counted_model: ChatGradient, budget: int) -> None:
    trimmed = trim_messages(CONVERSATION, max_tokens=budget, token_counter=counted_model, strategy="last")
    assert trimmed == CONVERSATION[len(CONVERSATION) - len(trimmed) :]  # the newest messages, in order
    assert counted_model.get_num_tokens_from_messages(trimmed) <= budget
    if len(trimmed) < len(CONVERSATION):
        one_more = CONVERSATION[len(CONVERSATION) - len(trimmed) - 1 :]
        assert counted_model.get_num_tokens_from_messages(one_more) > budget
    if budget == 10_000:
        assert trimmed == CONVERSATION


def test_trim_messages_keeps_the_system_message_when_asked(counted_model: ChatGradient) -> None:
    # trim_messages counts the system message and the rest separately, so the per-request fixed cost
    # (gpt-oss: harmony's default system message) is counted twice: the budget leaves room for that.
    trimmed = trim_messages(
        CONVERSATION, max_tokens=160, token_counter=counted_model, strategy="last", include_system=True
    )
    assert trimmed[0] == CONVERSATION[0]
    assert trimmed[-1] == CONVERSATION[-1]
    assert len(trimmed) < len(CONVERSATION)
    assert counted_model.get_num_tokens_from_messages(trimmed) <= 160


# -- verify_model against the local server --------------------------------------------------------------
@pytest.fixture
def sync_wire(local_server: LocalServer) -> Iterator[tuple[CountingTransport, httpx.Client]]:
    transport = CountingTransport(httpx.HTTPTransport())
    with httpx.Client(transport=transport) as http:
        yield transport, http


def test_verify_model_names_a_suggestion_before_any_response_request(
    local_server: LocalServer, sync_wire: tuple[CountingTransport, httpx.Client]
) -> None:
    transport, http = sync_wire
    model = ChatGradient(model=MISSPELT, base_url=local_server.base_url, verify_model=True, http_client=http)
    with model:
        with pytest.raises(UnknownModelError) as caught:
            model.invoke("hi")
        assert caught.value.model == MISSPELT
        assert MODEL in caught.value.suggestions
        assert repr(MODEL) in str(caught.value)
        assert isinstance(caught.value, InvalidRequestError) and caught.value.field == "model"
        with pytest.raises(UnknownModelError):
            next(iter(model.stream("hi")))
    assert "/v1/responses" not in transport.paths
    assert transport.paths == ["/v1/models"]  # listed once, kept by the client


def test_without_verify_model_a_misspelt_model_is_sent(
    local_server: LocalServer, sync_wire: tuple[CountingTransport, httpx.Client]
) -> None:
    transport, http = sync_wire
    # The local server answers any chat model id: the default does not check.
    with ChatGradient(model=MISSPELT, base_url=local_server.base_url, http_client=http) as model:
        assert model.invoke("hi").text == "You said: hi"
    assert transport.paths == ["/v1/responses"]


async def test_verify_model_async_raises_before_any_response_request(local_server: LocalServer) -> None:
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = ChatGradient(
            model=MISSPELT, base_url=local_server.base_url, verify_model=True, http_async_client=http
        )
        async with model:
            with pytest.raises(UnknownModelError) as caught:
                await model.ainvoke("hi")
            assert MODEL in caught.value.suggestions
            with pytest.raises(UnknownModelError):
                async for _ in model.astream("hi"):
                    pass
    assert transport.paths == ["/v1/models"]


def test_verify_model_with_a_listed_model_lists_once_across_calls(
    local_server: LocalServer, sync_wire: tuple[CountingTransport, httpx.Client]
) -> None:
    transport, http = sync_wire
    with ChatGradient(
        model="llama3.3-70b-instruct", base_url=local_server.base_url, verify_model=True, http_client=http
    ) as model:
        assert model.invoke("one").text == "You said: one"
        streamed = "".join(chunk.text for chunk in model.stream("two"))
        assert streamed == "You said: two"
        assert model.invoke("three").text == "You said: three"
    assert transport.paths == ["/v1/models"] + ["/v1/responses"] * 3


async def test_verify_model_async_with_a_listed_model_lists_once(local_server: LocalServer) -> None:
    transport = InFlightTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        model = ChatGradient(
            model="llama3.3-70b-instruct",
            base_url=local_server.base_url,
            verify_model=True,
            http_async_client=http,
        )
        async with model:
            assert (await model.ainvoke("one")).text == "You said: one"
            streamed = "".join([chunk.text async for chunk in model.astream("two")])
            assert streamed == "You said: two"
            assert (await model.ainvoke("three")).text == "You said: three"
    assert transport.paths == ["/v1/models"] + ["/v1/responses"] * 3


def test_verify_model_checks_a_per_call_model_override(
    local_server: LocalServer, sync_wire: tuple[CountingTransport, httpx.Client]
) -> None:
    transport, http = sync_wire
    with ChatGradient(
        model="llama3.3-70b-instruct", base_url=local_server.base_url, verify_model=True, http_client=http
    ) as model:
        assert model.invoke("one").text == "You said: one"
        with pytest.raises(UnknownModelError):
            model.invoke("two", model=MISSPELT)
    assert transport.paths == ["/v1/models", "/v1/responses"]  # the list is not fetched again
