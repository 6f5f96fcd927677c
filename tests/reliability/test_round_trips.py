"""Round trips: messages -> wire items -> messages keep roles, text, tool call ids, names and arguments.

Three loops per adapter:

1. History out (hypothesis): any LangChain / LlamaIndex conversation (system and developer turns, user
   text in one or several blocks, assistant text with reasoning and tool calls, tool results) is mapped to
   wire items by the adapter and decoded back by the small reference decoder here; nothing is lost.
2. Answer in and back out (hypothesis): a core `ResponseResult` becomes the adapter's assistant message
   (`message_from_result` / `chat_response_from_result`), which, replayed as history, becomes wire items
   whose `function_call`s and text equal the result's.
3. Over the wire: a tool call made by the local server's model, answered with a tool result and sent back,
   reaches the server as the same `function_call` (id, name, arguments) with a matching
   `function_call_output`, and the server's answer uses that output.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fakes import CountingTransport
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool as LlamaTool

from gradient_integrations.core import (
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    ReasoningItem,
    ResponseResult,
    ToolCall,
)
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.langchain._messages import message_from_result, messages_to_input
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.llama_index._messages import to_input_items
from gradient_integrations.llama_index._results import chat_response_from_result
from gradient_integrations.local import LocalServer

from ._support import MODEL

# -- strategies ----------------------------------------------------------------------------------------
TEXT = st.text(max_size=30)
NONEMPTY = st.text(min_size=1, max_size=30)
NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
IDS = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=20)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
ARGS = st.dictionaries(TEXT, JSON_VALUES, max_size=4)
CALLS = st.lists(st.tuples(IDS, NAMES, ARGS), max_size=3, unique_by=lambda call: call[0])


@st.composite
def langchain_histories(draw: st.DrawFn) -> list[BaseMessage]:
    history: list[BaseMessage] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["system", "developer", "user", "user_blocks", "assistant"]))
        if kind == "assistant" and history and isinstance(history[-1], AIMessage):
            kind = "user"  # two assistant turns in a row have no boundary on the wire: a user turn between
        if kind == "system":
            history.append(SystemMessage(draw(TEXT)))
        elif kind == "developer":
            history.append(SystemMessage(draw(TEXT), additional_kwargs={"__openai_role__": "developer"}))
        elif kind == "user":
            history.append(HumanMessage(draw(TEXT)))
        elif kind == "user_blocks":
            history.append(
                HumanMessage(
                    [{"type": "text", "text": text} for text in draw(st.lists(TEXT, min_size=1, max_size=3))]
                )
            )
        else:
            calls = draw(CALLS)
            reasoning = draw(st.one_of(st.just(""), NONEMPTY))
            history.append(
                AIMessage(
                    draw(TEXT if calls else NONEMPTY),
                    tool_calls=[{"id": i, "name": n, "args": a} for i, n, a in calls],
                    additional_kwargs={"reasoning_content": reasoning} if reasoning else {},
                )
            )
            history += [ToolMessage(draw(TEXT), tool_call_id=call_id) for call_id, _, _ in calls]
    return history


# -- a reference decoder: wire items back to LangChain messages ------------------------------------------
def decode_langchain(items: list[Any]) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    reasoning = ""
    for item in items:
        if isinstance(item, ReasoningItem):
            reasoning += "".join(part.text for part in item.content or [])
        elif isinstance(item, MessageItem) and item.role == "assistant":
            messages.append(AIMessage(_item_text(item), additional_kwargs=_reasoning(reasoning)))
            reasoning = ""
        elif isinstance(item, MessageItem):
            extra = {"__openai_role__": "developer"} if item.role == "developer" else {}
            cls = HumanMessage if item.role == "user" else SystemMessage
            messages.append(cls(_item_text(item), additional_kwargs=extra))
        elif isinstance(item, FunctionCallItem):
            # Calls belong to the assistant turn just decoded, unless reasoning opened a new turn.
            last = messages[-1] if messages else None
            if reasoning or not isinstance(last, AIMessage):
                last = AIMessage("", additional_kwargs=_reasoning(reasoning))
                messages.append(last)
                reasoning = ""
            call = {
                "id": item.call_id,
                "name": item.name,
                "args": json.loads(item.arguments),
                "type": "tool_call",
            }
            last.tool_calls = [*last.tool_calls, call]  # type: ignore[list-item]
        elif isinstance(item, FunctionCallOutputItem):
            messages.append(ToolMessage(item.output, tool_call_id=item.call_id))
    return messages


def _item_text(item: MessageItem) -> str:
    return item.content if isinstance(item.content, str) else "".join(part.text for part in item.content)


def _reasoning(text: str) -> dict[str, Any]:
    return {"reasoning_content": text} if text else {}


def _lc_view(message: BaseMessage) -> tuple[Any, ...]:
    """What must survive: role, text, reasoning, and each call's id, name and arguments."""
    role = message.additional_kwargs.get("__openai_role__") or message.type
    content: Any = message.content
    text = content if isinstance(content, str) else "\n".join(block["text"] for block in content)
    calls = tuple(
        (c["id"], c["name"], json.dumps(c["args"], sort_keys=True))
        for c in getattr(message, "tool_calls", [])
    )
    tool_call_id = getattr(message, "tool_call_id", None)
    return role, text, message.additional_kwargs.get("reasoning_content", ""), calls, tool_call_id


@settings(max_examples=80, deadline=None)
@given(history=langchain_histories())
def test_langchain_history_survives_the_wire(history: list[BaseMessage]) -> None:
    items = messages_to_input(history)
    assert [_lc_view(m) for m in decode_langchain(items)] == [_lc_view(m) for m in history]


# -- LlamaIndex histories --------------------------------------------------------------------------------
@st.composite
def llama_histories(draw: st.DrawFn) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["system", "developer", "user", "assistant"]))
        if kind == "assistant" and history and history[-1].role == MessageRole.ASSISTANT:
            kind = "user"  # as for LangChain: consecutive assistant turns merge on the wire
        if kind in ("system", "developer", "user"):
            texts = draw(st.lists(TEXT, min_size=1, max_size=3))
            history.append(
                ChatMessage(role=MessageRole(kind), blocks=[TextBlock(text=text) for text in texts])
            )
            continue
        calls = draw(CALLS)
        text = draw(TEXT if calls else NONEMPTY)
        blocks: list[Any] = [TextBlock(text=text)] if text else []
        blocks += [ToolCallBlock(tool_call_id=i, tool_name=n, tool_kwargs=a) for i, n, a in calls]
        history.append(ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks))
        history += [
            ChatMessage(
                role=MessageRole.TOOL, content=draw(TEXT), additional_kwargs={"tool_call_id": call_id}
            )
            for call_id, _, _ in calls
        ]
    return history


def decode_llama(items: list[Any]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for item in items:
        if isinstance(item, MessageItem):
            messages.append(
                ChatMessage(role=MessageRole(item.role), blocks=[TextBlock(text=str(item.content))])
            )
        elif isinstance(item, FunctionCallItem):
            block = ToolCallBlock(
                tool_call_id=item.call_id, tool_name=item.name, tool_kwargs=json.loads(item.arguments)
            )
            last = messages[-1] if messages else None
            if last is None or last.role != MessageRole.ASSISTANT:
                last = ChatMessage(role=MessageRole.ASSISTANT, blocks=[])
                messages.append(last)
            last.blocks.append(block)
        elif isinstance(item, FunctionCallOutputItem):
            messages.append(
                ChatMessage(
                    role=MessageRole.TOOL,
                    content=item.output,
                    additional_kwargs={"tool_call_id": item.call_id},
                )
            )
    return messages


def _li_view(message: ChatMessage) -> tuple[Any, ...]:
    text = "\n".join(block.text for block in message.blocks if isinstance(block, TextBlock))
    calls = tuple(
        (b.tool_call_id, b.tool_name, json.dumps(b.tool_kwargs, sort_keys=True))
        for b in message.blocks
        if isinstance(b, ToolCallBlock)
    )
    return message.role.value, text, calls, message.additional_kwargs.get("tool_call_id")


@settings(max_examples=80, deadline=None)
@given(history=llama_histories())
def test_llama_index_history_survives_the_wire(history: list[ChatMessage]) -> None:
    items = to_input_items(history)
    assert [_li_view(m) for m in decode_llama(items)] == [_li_view(m) for m in history]


# -- an answer in, replayed out --------------------------------------------------------------------------
@st.composite
def results(draw: st.DrawFn) -> ResponseResult:
    calls = [ToolCall(id=i, name=n, arguments=json.dumps(a)) for i, n, a in draw(CALLS)]
    return ResponseResult(
        id="resp_1",
        model=MODEL,
        text=draw(TEXT if calls else NONEMPTY),
        reasoning=draw(TEXT),
        tool_calls=calls,
    )


def _wire_calls(items: list[Any]) -> list[tuple[str, str, Any]]:
    return [(i.call_id, i.name, json.loads(i.arguments)) for i in items if isinstance(i, FunctionCallItem)]


def _wire_text(items: list[Any]) -> str:
    return "".join(str(i.content) for i in items if isinstance(i, MessageItem) and i.role == "assistant")


@settings(max_examples=80, deadline=None)
@given(result=results())
def test_langchain_answer_replays_as_the_same_items(result: ResponseResult) -> None:
    message = message_from_result(result, requested_model=MODEL)
    items = messages_to_input([HumanMessage("q"), message])
    assert _wire_calls(items) == [(c.id, c.name, json.loads(c.arguments)) for c in result.tool_calls]
    assert _wire_text(items) == result.text
    reasoning = "".join(p.text for i in items if isinstance(i, ReasoningItem) for p in i.content or [])
    assert reasoning == result.reasoning


@settings(max_examples=80, deadline=None)
@given(result=results())
def test_llama_index_answer_replays_as_the_same_items(result: ResponseResult) -> None:
    message = chat_response_from_result(result).message
    items = to_input_items([ChatMessage(role=MessageRole.USER, content="q"), message])
    assert _wire_calls(items) == [(c.id, c.name, json.loads(c.arguments)) for c in result.tool_calls]
    assert _wire_text(items) == result.text


# -- over the wire, with the local server's model ----------------------------------------------------------
def get_weather(city: str, days: int) -> str:
    """Weather forecast for a city over a number of days."""
    return f"sunny in {city} for {days} days"


PROMPT = 'Use get_weather for "Lisbon" over 3 days'


def _sent_items(transport: CountingTransport) -> list[dict[str, Any]]:
    items = transport.bodies[-1]["input"]
    assert isinstance(items, list)
    return items


def test_langchain_tool_round_trip_through_the_server(
    local_server: LocalServer, request: pytest.FixtureRequest
) -> None:
    transport = CountingTransport(httpx.HTTPTransport())
    http = httpx.Client(transport=transport)
    request.addfinalizer(http.close)  # an injected client is its owner's to close
    model = ChatGradient(model=MODEL, base_url=local_server.base_url, http_client=http)
    bound = model.bind_tools([get_weather])
    history: list[BaseMessage] = [HumanMessage(PROMPT)]
    answer = bound.invoke(history)
    assert isinstance(answer, AIMessage) and len(answer.tool_calls) == 1
    call = answer.tool_calls[0]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Lisbon", "days": 3}
    history += [answer, ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])]
    final = bound.invoke(history)
    sent = _sent_items(transport)
    function_calls = [item for item in sent if item.get("type") == "function_call"]
    outputs = [item for item in sent if item.get("type") == "function_call_output"]
    assert [(c["call_id"], c["name"], json.loads(c["arguments"])) for c in function_calls] == [
        (call["id"], "get_weather", {"city": "Lisbon", "days": 3})
    ]
    assert outputs == [
        {"type": "function_call_output", "call_id": call["id"], "output": "sunny in Lisbon for 3 days"}
    ]
    assert "sunny in Lisbon for 3 days" in str(final.content)
    assert transport.count == 2


def test_llama_index_tool_round_trip_through_the_server(
    local_server: LocalServer, request: pytest.FixtureRequest
) -> None:
    transport = CountingTransport(httpx.HTTPTransport())
    http = httpx.Client(transport=transport)
    request.addfinalizer(http.close)  # an injected client is its owner's to close
    llm = GradientLLM(model=MODEL, base_url=local_server.base_url, http_client=http)
    tool = LlamaTool.from_defaults(get_weather)
    response = llm.chat_with_tools([tool], user_msg=PROMPT)
    selections = llm.get_tool_calls_from_response(response)
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [
        ("get_weather", {"city": "Lisbon", "days": 3})
    ]
    output = str(tool.call(**selections[0].tool_kwargs))
    history = [
        ChatMessage(role=MessageRole.USER, content=PROMPT),
        response.message,
        ChatMessage(
            role=MessageRole.TOOL, content=output, additional_kwargs={"tool_call_id": selections[0].tool_id}
        ),
    ]
    final = llm.chat_with_tools([tool], chat_history=history)
    sent = _sent_items(transport)
    function_calls = [item for item in sent if item.get("type") == "function_call"]
    outputs = [item for item in sent if item.get("type") == "function_call_output"]
    assert [(c["call_id"], c["name"], json.loads(c["arguments"])) for c in function_calls] == [
        (selections[0].tool_id, "get_weather", {"city": "Lisbon", "days": 3})
    ]
    assert outputs == [{"type": "function_call_output", "call_id": selections[0].tool_id, "output": output}]
    assert output in (final.message.content or "")
    assert transport.count == 2
