"""Bad input is refused before any byte goes on the wire, with a message naming the field at fault.

Two layers, one rule:

- **The core** (`build_request` and `ResponsesClient`): each case builds the request and hands it to a
  client on the fake endpoint (`tests/fakes.py`), the way an adapter does. The endpoint must see 0
  requests, the error must be `InvalidRequestError` (a `ValueError`) whose `field` names the offending
  field, and the message must say what is wrong with the value given, with no pydantic wall of text
  chained underneath. Requests built without `build_request` are checked by the client too.
- **The adapters** (the catalogue): each entry is one mistake a user can make through `ChatGradient` or
  `GradientLLM` (unknown message types, media blocks, tool schemas that are not JSON Schema objects, a
  `tool_choice` naming an absent tool, out-of-range sampling values, non-positive token limits, too many
  stop strings, oversize metadata, empty input, tool results that are not text, bad settings...). The
  adapter is built on counting transports whose inner transport fails the test if it is ever reached;
  every entry must raise a `ValueError` (our `InvalidRequestError` / `ConfigurationError`, or pydantic's
  error for a constructor argument) whose message names the offending field, and the transports must have
  seen 0 requests. Each entry runs on the sync path and, through its async twin, on the async path.

New cases go in `CORE_CASES` (core-level) or `CATALOGUE` (through an adapter).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from core._support import load_json, make_client
from fakes import AsyncCountingTransport, CountingTransport, FakeEndpoint, json_reply
from langchain_core.messages import AIMessage, ChatMessage, FunctionMessage, HumanMessage, ToolMessage
from llama_index.core.base.llms.types import (
    AudioBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.base.llms.types import ChatMessage as LlamaMessage
from llama_index.core.tools import FunctionTool as LlamaTool
from pydantic import BaseModel

from gradient_integrations.core import (
    FunctionTool,
    InvalidRequestError,
    NamedToolChoice,
    ResponseRequest,
    build_request,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM

from ._support import MODEL

# == the core: build_request and the client ============================================================
TOOL = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}

# (fields on top of a valid minimal request, expected `field`, text the message must contain)
CORE_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "temperature too high": ({"temperature": 3.5}, "temperature", "must be between 0 and 2, got 3.5"),
    "temperature negative": ({"temperature": -0.1}, "temperature", "between 0 and 2"),
    "temperature not a number": ({"temperature": "hot"}, "temperature", "valid number"),
    "top_p above 1": ({"top_p": 1.5}, "top_p", "must be between 0 and 1, got 1.5"),
    "max_output_tokens zero": ({"max_output_tokens": 0}, "max_output_tokens", "must be >= 1, got 0"),
    "max_output_tokens negative": ({"max_output_tokens": -5}, "max_output_tokens", "must be >= 1, got -5"),
    "five stop sequences": ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4 stop sequences, got 5"),
    "empty stop string": ({"stop": ""}, "stop", "is an empty string"),
    "empty stop string in a list": ({"stop": ["END", ""]}, "stop[1]", "is an empty string; remove it"),
    "tool result before any call": (
        {
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call_output", "call_id": "call_9", "output": "42"},
            ]
        },
        "input[1]",
        "call_id 'call_9', which matches no tool call before it",
    ),
    "tool result for another call": (
        {
            "input": [
                {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_2", "output": "42"},
            ]
        },
        "input[1]",
        "matches no tool call before it",
    ),
    "17 metadata pairs": ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "at most 16 pairs"),
    "metadata key too long": ({"metadata": {"k" * 65: "v"}}, "metadata", "longer than 64 characters"),
    "metadata value too long": ({"metadata": {"k": "v" * 513}}, "metadata", "longer than 512 characters"),
    "metadata value not text": ({"metadata": {"k": 1}}, "metadata.k", "valid string"),
    "empty input string": ({"input": ""}, "input", "must be a non-empty string"),
    "empty input list": ({"input": []}, "input", "non-empty list of items"),
    "unknown role": ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "'user', 'assistant'"),
    "image part": (
        {"input": [{"role": "user", "content": [{"type": "input_image", "url": "u"}]}]},
        "input[0].content[0].type",
        "'input_text'",
    ),
    "function_call_output without call_id": (
        {
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call_output", "call_id": "", "output": ""},
            ]
        },
        "input[1].call_id",
        "at least 1 character",
    ),
    "tool_choice names an absent tool": (
        {"tools": [TOOL], "tool_choice": NamedToolChoice.of("get_time")},
        "tool_choice",
        "names tool 'get_time', which is not among tools ['get_weather']",
    ),
    "tool_choice required without tools": (
        {"tool_choice": "required"},
        "tool_choice",
        "needs at least one tool",
    ),
    "tool_choice unknown word": ({"tool_choice": "any"}, "tool_choice", "'none', 'auto' or 'required'"),
    "duplicate tool names": ({"tools": [TOOL, TOOL]}, "tools", "tool names must be unique"),
    "tool name with a space": ({"tools": [{"name": "get weather"}]}, "tools[0].name", "^[A-Za-z0-9_-]+$"),
    "tool name too long": ({"tools": [{"name": "t" * 65}]}, "tools[0].name", "at most 64 characters"),
    "empty model": ({"model": ""}, "model", "at least 1 character"),
    "unknown top-level field": ({"max_tokens": 5}, "max_tokens", "Extra inputs are not permitted"),
    # -- the platform's own vocabulary: built-in tools, routers, reasoning effort, prompt caching ------
    "unknown built-in tool type": (
        {"tools": [TOOL, {"type": "code_interpreter"}]},
        "tools[1]",
        "pass BuiltInTool(type='code_interpreter', ...)",
    ),
    "web_search max_results zero": (
        {"tools": [{"type": "web_search", "max_results": 0}]},
        "tools[0].max_results",
        "greater than or equal to 1",
    ),
    "knowledge base without its id": (
        {"tools": [{"type": "knowledge_base_retrieval"}]},
        "tools[0].knowledge_base_id",
        "Field required",
    ),
    "mcp server_url not http": (
        {"tools": [{"type": "mcp", "server_label": "docs", "server_url": "file:///etc/passwd"}]},
        "tools[0].server_url",
        "must be an http(s) URL",
    ),
    "mcp server_label with a space": (
        {"tools": [{"type": "mcp", "server_label": "my docs", "server_url": "https://mcp.example.com"}]},
        "tools[0].server_label",
        "^[A-Za-z0-9_-]+$",
    ),
    "two mcp servers, one label": (
        {
            "tools": [
                {"type": "mcp", "server_label": "d", "server_url": f"https://mcp{i}.example.com"}
                for i in (1, 2)
            ]
        },
        "tools",
        "server_label values must be unique",
    ),
    "tool_choice names a built-in tool": (
        {"tools": [{"type": "web_search"}], "tool_choice": NamedToolChoice.of("web_search")},
        "tool_choice",
        "not among tools []",
    ),
    "reasoning effort unknown": (
        {"reasoning": {"effort": "extreme"}},
        "reasoning.effort",
        "'none', 'minimal'",
    ),
    "router without a name": ({"model": "router:"}, "model", "use 'router:<name>'"),
    "prompt_cache_retention unknown": (
        {"prompt_cache_retention": "1h"},
        "prompt_cache_retention",
        "'in_memory' or '24h'",
    ),
    "cache_control ttl unknown": (
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "x",
                            "cache_control": {"type": "ephemeral", "ttl": "2h"},
                        }
                    ],
                }
            ]
        },
        "input[0].content[0].cache_control.ttl",
        "'5m' or '1h'",
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(("fields", "field", "text"), CORE_CASES.values(), ids=CORE_CASES.keys())
def test_core_bad_request_is_refused_before_sending(
    fields: dict[str, Any], field: str, text: str, stream: bool
) -> None:
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    client = make_client(script)
    with pytest.raises(InvalidRequestError) as caught:
        # The way an adapter calls the core: build the request, then send it.
        request = build_request(**{"model": "openai-gpt-oss-20b", "input": "hi", **fields})
        if stream:
            list(client.stream(request))
        else:
            client.create(request)
    assert script.count == 0
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert text in str(error)
    # No pydantic wall of text chained underneath the one clear message.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    client.create(build_request(model="m", input="hi"))  # the same client does send a good request
    assert script.count == 1


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"tool_choice": NamedToolChoice.of("absent")}, "tool_choice"),
        ({"tools": [FunctionTool(name="a"), FunctionTool(name="a")]}, "tools"),
    ],
)
async def test_requests_built_without_build_request_are_checked_by_the_client(
    update: dict[str, Any], field: str
) -> None:
    # An adapter may construct ResponseRequest directly or model_copy() one: the cross-field checks
    # that build_request runs must still happen before the client sends.
    script = FakeEndpoint(json_reply(load_json("pydo_created_at.json")))
    client = make_client(script)
    base = build_request(model="m", input="hi")
    direct = ResponseRequest(model="m", input="hi", **update)
    copied = base.model_copy(update=update)
    for request in (direct, copied):
        for send in (client.create, lambda r: list(client.stream(r))):
            with pytest.raises(InvalidRequestError) as caught:
                send(request)
            assert caught.value.field == field
        with pytest.raises(InvalidRequestError):
            await client.acreate(request)
    assert script.count == 0


# == the adapters: the catalogue ======================================================================
BASE_URL = "http://127.0.0.1:9"  # loopback, so no key is needed; nothing may ever be sent there


class Counted:
    """An adapter factory whose every model shares one pair of counting transports."""

    def __init__(self) -> None:
        self.sync = CountingTransport()
        self.async_ = AsyncCountingTransport()

    @property
    def sent(self) -> int:
        return self.sync.count + self.async_.count

    def chat(self, **kwargs: Any) -> ChatGradient:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("base_url", BASE_URL)
        return ChatGradient(
            http_client=httpx.Client(transport=self.sync),
            http_async_client=httpx.AsyncClient(transport=self.async_),
            **kwargs,
        )

    def llm(self, **kwargs: Any) -> GradientLLM:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("base_url", BASE_URL)
        return GradientLLM(
            http_client=httpx.Client(transport=self.sync),
            async_http_client=httpx.AsyncClient(transport=self.async_),
            **kwargs,
        )


@dataclass(frozen=True)
class Case:
    name: str
    field: str  # must appear in the error message
    call: Callable[[Counted], Any]  # the sync mistake
    acall: Callable[[Counted], Coroutine[Any, Any, Any]] | None = None  # its async twin
    known_bug: str | None = None  # an adapter gap this entry exposes; strict xfail until it is fixed


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _weather(city: str) -> str:
    """Weather for a city."""
    return city


class Person(BaseModel):
    name: str


HI = [HumanMessage("hi")]
U = LlamaMessage(role=MessageRole.USER, content="hi")
CALLED = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1"}])
LLAMA_TOOL = LlamaTool.from_defaults(_add)
IMAGE = {"type": "image", "url": "https://example.invalid/cat.png"}


def _lc(method: str, messages: Any, **kwargs: Any) -> Callable[[Counted], Any]:
    """`ChatGradient().<method>(messages, **kwargs)`: invoke or stream (consumed)."""

    def call(counted: Counted) -> Any:
        model = counted.chat()
        return (
            model.invoke(messages, **kwargs) if method == "invoke" else list(model.stream(messages, **kwargs))
        )

    return call


def _lc_async(method: str, messages: Any, **kwargs: Any) -> Callable[[Counted], Coroutine[Any, Any, Any]]:
    async def call(counted: Counted) -> Any:
        model = counted.chat()
        if method == "invoke":
            return await model.ainvoke(messages, **kwargs)
        return [chunk async for chunk in model.astream(messages, **kwargs)]

    return call


def _li(method: str, messages: Any, **kwargs: Any) -> Callable[[Counted], Any]:
    def call(counted: Counted) -> Any:
        llm = counted.llm()
        return llm.chat(messages, **kwargs) if method == "chat" else list(llm.stream_chat(messages, **kwargs))

    return call


def _li_async(method: str, messages: Any, **kwargs: Any) -> Callable[[Counted], Coroutine[Any, Any, Any]]:
    async def call(counted: Counted) -> Any:
        llm = counted.llm()
        if method == "chat":
            return await llm.achat(messages, **kwargs)
        return [response async for response in await llm.astream_chat(messages, **kwargs)]

    return call


def lc_case(name: str, field: str, messages: Any, method: str = "invoke", **kwargs: Any) -> Case:
    return Case(
        f"langchain-{name}", field, _lc(method, messages, **kwargs), _lc_async(method, messages, **kwargs)
    )


def li_case(name: str, field: str, messages: Any, method: str = "chat", **kwargs: Any) -> Case:
    return Case(
        f"llama_index-{name}", field, _li(method, messages, **kwargs), _li_async(method, messages, **kwargs)
    )


CATALOGUE: list[Case] = [
    # -- LangChain: messages --------------------------------------------------------------------------
    lc_case("function-message", "messages[0]", [FunctionMessage(name="f", content="x")]),
    lc_case("unknown-chat-role", "messages[0]", [ChatMessage(role="wizard", content="x")]),
    lc_case("image-block", "messages[0].content[1]", [HumanMessage(["look", IMAGE])]),
    lc_case("audio-block", "messages[0].content[0]", [HumanMessage([{"type": "audio", "base64": "AAAA"}])]),
    lc_case(
        "unknown-block", "messages[0].content[0]", [HumanMessage([{"type": "hologram", "x": 1}])], "stream"
    ),
    lc_case("empty-input", "input", []),
    lc_case(
        "tool-output-image",
        "messages[2].content[0]",
        [*HI, CALLED, ToolMessage(content=[IMAGE], tool_call_id="call_1")],
    ),
    lc_case(
        "tool-output-json-block",
        "messages[2].content[0]",
        [*HI, CALLED, ToolMessage(content=[{"type": "json", "json": {"a": 1}}], tool_call_id="call_1")],
    ),
    lc_case(
        "tool-output-no-id",
        "messages[2].tool_call_id",
        [*HI, CALLED, ToolMessage(content="3", tool_call_id="")],
    ),
    lc_case(
        "tool-call-no-name",
        "messages[1].content[0].name",
        [*HI, AIMessage([{"type": "tool_use", "id": "t1", "input": {}}])],
    ),
    # -- LangChain: call options -----------------------------------------------------------------------
    lc_case("top-p-too-high", "top_p", HI, top_p=1.5),
    lc_case("temperature-nan", "temperature", HI, "stream", temperature=float("nan")),
    lc_case("max-tokens-negative", "max_output_tokens", HI, max_tokens=-5),
    lc_case("five-stop-strings", "stop", HI, stop=["a", "b", "c", "d", "e"]),
    lc_case("empty-stop-string", "stop", HI, stop=""),
    lc_case("empty-stop-in-list", "stop[0]", HI, "stream", stop=["", "END"]),
    lc_case("reasoning-effort-unknown", "reasoning_effort", HI, reasoning_effort="turbo"),
    lc_case("built-in-tool-unknown-type", "tools[0]", HI, tools=[{"type": "code_interpreter"}]),
    lc_case("built-in-tools-not-a-list", "built_in_tools", HI, built_in_tools={"type": "web_search"}),
    lc_case(
        "function-tool-among-built-in-tools",
        "built_in_tools[1]",
        HI,
        built_in_tools=[{"type": "web_search"}, {"type": "function", "name": "add"}],
    ),
    Case(
        "langchain-bind-knowledge-base-without-id",
        "tools[1].knowledge_base_id",
        lambda c: c.chat().bind_tools([_add, {"type": "knowledge_base_retrieval"}]),
    ),
    lc_case(
        "tool-message-without-its-call",
        "messages[1]",
        [*HI, ToolMessage("42", tool_call_id="call_1")],
    ),
    lc_case(
        "tool-message-before-its-call",
        "messages[1]",
        [*HI, ToolMessage("42", tool_call_id="call_1"), CALLED],
        "stream",
    ),
    lc_case(
        "tool-message-for-another-call",
        "messages[2]",
        [*HI, CALLED, ToolMessage("42", tool_call_id="call_2")],
    ),
    Case(
        "langchain-base-url-of-chat-completions",
        "base_url",
        lambda c: c.chat(base_url="http://127.0.0.1:9/v1/chat/completions"),
    ),
    lc_case("unknown-option", "frobnicate", HI, frobnicate=1),
    lc_case("required-without-tools", "tool_choice", HI, tool_choice="required"),
    Case(
        "langchain-non-json-tool-schema",
        "tools[0].parameters",
        lambda c: c.chat().bind_tools([{"name": "lookup", "parameters": "not a schema"}]).invoke(HI),
    ),
    Case(
        "langchain-tool-not-a-tool",
        "tools[0]",
        lambda c: c.chat().bind_tools([42]).invoke(HI),  # type: ignore[list-item]  # the mistake under test
    ),
    Case(
        "langchain-tool-name-with-spaces",
        "tools[0].name",
        lambda c: c.chat().bind_tools([{"name": "look up", "parameters": {"type": "object"}}]).invoke(HI),
    ),
    Case(
        "langchain-tool-choice-absent",
        "tool_choice",
        lambda c: c.chat().bind_tools([_add], tool_choice="_weather").invoke(HI),
    ),
    Case("langchain-duplicate-tools", "tools", lambda c: c.chat().bind_tools([_add, _add]).invoke(HI)),
    Case(
        "langchain-structured-not-a-schema",
        "schema",
        lambda c: c.chat().with_structured_output(42).invoke(HI),  # type: ignore[arg-type]
    ),
    # -- LangChain: constructor ------------------------------------------------------------------------
    Case("langchain-temperature-high", "temperature", lambda c: c.chat(temperature=3)),
    Case("langchain-max-tokens-zero", "max_output_tokens", lambda c: c.chat(max_tokens=0)),
    Case(
        "langchain-oversize-metadata",
        "metadata",
        lambda c: c.chat(model_kwargs={"metadata": {"k" * 65: "v"}}),
    ),
    Case("langchain-managed-kwarg", "model_kwargs.stream", lambda c: c.chat(model_kwargs={"stream": True})),
    Case("langchain-empty-model", "model", lambda c: c.chat(model="")),
    Case("langchain-bad-base-url", "base_url", lambda c: c.chat(base_url="ftp://example.invalid")),
    Case("langchain-negative-retries", "max_retries", lambda c: c.chat(max_retries=-1)),
    Case(
        "langchain-auth-in-headers",
        "default_headers",
        lambda c: c.chat(default_headers={"Authorization": "x"}),
    ),
    # -- LlamaIndex: messages --------------------------------------------------------------------------
    li_case("empty-messages", "messages", []),
    li_case("empty-messages-stream", "messages", [], "stream"),
    li_case(
        "image-block",
        "messages[0].blocks[1]",
        [
            LlamaMessage(
                role="user", blocks=[TextBlock(text="a"), ImageBlock(url="https://example.invalid/a.png")]
            )
        ],
    ),
    li_case(
        "audio-block",
        "messages[0].blocks[0]",
        [LlamaMessage(role="user", blocks=[AudioBlock(audio=b"RIFF")])],
        "stream",
    ),
    li_case(
        "tool-output-document",
        "messages[1].blocks[0]",
        [
            U,
            LlamaMessage(
                role="tool",
                blocks=[DocumentBlock(data=b"%PDF-1.4", document_mimetype="application/pdf")],
                additional_kwargs={"tool_call_id": "c1"},
            ),
        ],
    ),
    # llama-index's ChatMessage silently drops content that is not text, leaving a tool result with no blocks.
    li_case(
        "tool-output-not-text",
        "messages[1]",
        [U, LlamaMessage(role="tool", content={"sum": 3}, additional_kwargs={"tool_call_id": "c1"})],
    ),
    li_case(
        "tool-output-no-id",
        "messages[1].additional_kwargs.tool_call_id",
        [U, LlamaMessage(role="tool", content="3")],
    ),
    li_case(
        "tool-call-in-user-turn",
        "messages[0].blocks[0]",
        [
            LlamaMessage(
                role="user", blocks=[ToolCallBlock(tool_call_id="c", tool_name="add", tool_kwargs={})]
            )
        ],
    ),
    li_case(
        "tool-call-no-id",
        "tool_call_id",
        [U, LlamaMessage(role="assistant", blocks=[ToolCallBlock(tool_name="add", tool_kwargs={})])],
    ),
    # -- LlamaIndex: call options ----------------------------------------------------------------------
    li_case("top-p-negative", "top_p", [U], top_p=-0.1),
    li_case("temperature-not-number", "temperature", [U], "stream", temperature="hot"),
    li_case("max-tokens-negative", "max_output_tokens", [U], max_tokens=-3),
    li_case("five-stop-strings", "stop", [U], stop=["a", "b", "c", "d", "e"]),
    li_case("empty-stop-string", "stop", [U], stop=""),
    li_case("empty-stop-in-list", "stop[1]", [U], "stream", stop=["END", ""]),
    li_case(
        "tool-result-without-its-call",
        "messages[1]",
        [U, LlamaMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "call_1"})],
    ),
    li_case(
        "tool-result-for-another-call",
        "messages[2]",
        [
            U,
            LlamaMessage(
                role="assistant",
                blocks=[ToolCallBlock(tool_call_id="call_1", tool_name="add", tool_kwargs={})],
            ),
            LlamaMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "call_2"}),
        ],
        "stream",
    ),
    Case(
        "llama_index-base-url-of-embeddings",
        "base_url",
        lambda c: c.llm(base_url="http://127.0.0.1:9/v1/embeddings"),
    ),
    li_case("oversize-metadata-value", "metadata", [U], metadata={"k": "v" * 600}),
    li_case("unknown-option", "frobnicate", [U], frobnicate=1),
    li_case("reasoning-effort-unknown", "reasoning_effort", [U], reasoning_effort="turbo"),
    li_case(
        "built-in-tool-per-call-bad",
        "built_in_tools[0].server_url",
        [U],
        built_in_tools=[{"type": "mcp", "server_label": "a", "server_url": "mcp.example.com"}],
    ),
    Case(
        "llama_index-tool-choice-absent",
        "tool_choice",
        lambda c: c.llm().chat_with_tools([LLAMA_TOOL], "hi", tool_choice="absent"),
        lambda c: c.llm().achat_with_tools([LLAMA_TOOL], "hi", tool_choice="absent"),
    ),
    Case(
        "llama_index-tool-choice-not-understood",
        "tool_choice",
        lambda c: c.llm().chat_with_tools([LLAMA_TOOL], "hi", tool_choice=42),
    ),
    Case(
        "llama_index-duplicate-tools",
        "tools",
        lambda c: c.llm().chat_with_tools([LLAMA_TOOL, LLAMA_TOOL], "hi"),
    ),
    # -- LlamaIndex: constructor -----------------------------------------------------------------------
    Case("llama_index-temperature-high", "temperature", lambda c: c.llm(temperature=5)),
    Case("llama_index-max-tokens-zero", "max_output_tokens", lambda c: c.llm(max_tokens=0)),
    Case(
        "llama_index-too-much-metadata",
        "metadata",
        lambda c: c.llm(metadata={str(i): "v" for i in range(17)}),
    ),
    Case("llama_index-empty-model", "model", lambda c: c.llm(model="")),
    Case("llama_index-router-without-name", "model", lambda c: c.llm(model="router:")),
    Case(
        "llama_index-reasoning-effort-unknown-constructor",
        "reasoning_effort",
        lambda c: c.llm(reasoning_effort="x"),
    ),
    Case(
        "llama_index-built-in-tool-unknown-type",
        "built_in_tools[0]",
        lambda c: c.llm(built_in_tools=[{"type": "computer_use"}]),
    ),
    Case(
        "langchain-reasoning-effort-unknown-constructor",
        "reasoning_effort",
        lambda c: c.chat(reasoning_effort="maximum"),
    ),
    Case("llama_index-bad-base-url", "base_url", lambda c: c.llm(base_url="ftp://example.invalid")),
    Case("llama_index-zero-idle-timeout", "stream_idle_timeout", lambda c: c.llm(stream_idle_timeout=0)),
    Case(
        "llama_index-auth-in-headers",
        "default_headers",
        lambda c: c.llm(default_headers={"authorization": "x"}),
    ),
]


def test_catalogue_is_large_and_covers_both_adapters() -> None:
    names = [case.name for case in CATALOGUE]
    assert len(names) == len(set(names))
    working = [case.name for case in CATALOGUE if not case.known_bug]
    assert len(working) >= 30
    assert sum(name.startswith("langchain-") for name in working) >= 15
    assert sum(name.startswith("llama_index-") for name in working) >= 15


def _check(error: BaseException, field: str, counted: Counted) -> None:
    assert isinstance(error, ValueError), repr(error)
    # Named as a field, not merely mentioned: "field: ...", "field must ..." or pydantic's "field\n  ...".
    named = re.compile(re.escape(field) + r"(:|\s+(must|may)\b|\n)")
    assert named.search(str(error)), f"{field!r} not named in: {error}"
    assert counted.sent == 0


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.xfail(strict=True, reason=case.known_bug)])
        if case.known_bug
        else pytest.param(case, id=case.name)
        for case in cases
    ]


@pytest.mark.parametrize("case", _params(CATALOGUE))
def test_bad_input_is_rejected_before_sending(case: Case) -> None:
    counted = Counted()
    with pytest.raises(ValueError) as caught:
        case.call(counted)
    _check(caught.value, case.field, counted)


ASYNC_CASES = [case for case in CATALOGUE if case.acall is not None]


@pytest.mark.parametrize("case", _params(ASYNC_CASES))
def test_bad_input_is_rejected_before_sending_async(case: Case) -> None:
    counted = Counted()
    assert case.acall is not None
    with pytest.raises(ValueError) as caught:
        asyncio.run(case.acall(counted))
    _check(caught.value, case.field, counted)


def test_counting_transport_does_count() -> None:
    """The guard itself: a well-formed call does reach the (failing) inner transport and is counted."""
    counted = Counted()
    with pytest.raises(AssertionError, match="unexpected request"):
        counted.chat().invoke(HI)
    with pytest.raises(AssertionError, match="unexpected request"):
        asyncio.run(counted.llm().achat([U]))
    assert counted.sync.count == 1 and counted.async_.count == 1
