"""The conformance corpus: every real recording, replayed through all three layers in all four call modes.

Each 2xx exchange in `tests/fixtures/recorded/` (vLLM's Responses server, OpenAI's Responses API) is served
in pseudo-random byte pieces to the core `ResponsesClient`, to `ChatGradient` and to `GradientLLM`, through
`invoke` / `stream` / `ainvoke` / `astream` (a JSON recording answers a stream request, and a stream
recording a plain one: the client reads whichever form arrives). Each must give the exact text, reasoning,
tool calls (count, names, parsed arguments, the first-id-seen rule), usage and finish state in
`expected.json`; a recorded `response.failed` must raise `ResponseFailedError` with the server's message.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from corpus import Exchange
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ThinkingBlock
from replay import (
    ANSWERS,
    MODES,
    Expected,
    assert_fails_as_recorded,
    chat_model,
    check_result,
    core_client,
    llama_llm,
    model_of,
)

from gradient_integrations.core import (
    ResponseResult,
    build_request,
)
from gradient_integrations.llama_index import GradientLLM

IDS = [exchange.name for exchange in ANSWERS]


# -- the core ----------------------------------------------------------------------------------------
async def core_result(exchange: Exchange, mode: str) -> ResponseResult:
    client = core_client(exchange, f"core/{mode}")
    request = build_request(model=model_of(exchange), input="replayed")
    if mode == "invoke":
        return client.create(request)
    if mode == "ainvoke":
        return await client.acreate(request)
    if mode == "stream":
        with client.stream(request) as stream:
            for _ in stream:
                pass
            return stream.result
    async with client.astream(request) as astream:
        async for _ in astream:
            pass
        return astream.result


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exchange", ANSWERS, ids=IDS)
async def test_core_reads_every_recording(exchange: Exchange, mode: str) -> None:
    expected = Expected.of(exchange)
    if expected.status == "failed":
        return await assert_fails_as_recorded(expected, core_result(exchange, mode))
    check_result(await core_result(exchange, mode), expected)


# -- LangChain ---------------------------------------------------------------------------------------
async def langchain_message(exchange: Exchange, mode: str) -> AIMessage:
    llm = chat_model(exchange, f"langchain/{mode}")
    prompt = [HumanMessage("replayed")]
    if mode == "invoke":
        return llm.invoke(prompt)
    if mode == "ainvoke":
        return await llm.ainvoke(prompt)
    stream = llm.stream(prompt) if mode == "stream" else None
    chunks = list(stream) if stream is not None else [chunk async for chunk in llm.astream(prompt)]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return merged


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exchange", ANSWERS, ids=IDS)
async def test_chat_gradient_reads_every_recording(exchange: Exchange, mode: str) -> None:
    expected = Expected.of(exchange)
    if expected.status == "failed":
        return await assert_fails_as_recorded(expected, langchain_message(exchange, mode))
    message = await langchain_message(exchange, mode)
    assert message.content == expected.text
    assert message.additional_kwargs.get("reasoning_content", "") == expected.reasoning
    assert not message.invalid_tool_calls
    got_calls = [(call["name"], call["args"], call["id"]) for call in message.tool_calls]
    assert got_calls == [(call.name, call.arguments, call.id) for call in expected.calls]
    if expected.usage is None:
        assert message.usage_metadata is None
    else:
        assert message.usage_metadata is not None
        assert message.usage_metadata["input_tokens"] == expected.usage["input_tokens"]
        assert message.usage_metadata["output_tokens"] == expected.usage["output_tokens"]
        assert message.usage_metadata["total_tokens"] == expected.usage["total_tokens"]
    assert message.response_metadata["finish_reason"] == expected.finish_reason
    assert message.response_metadata["status"] == expected.status
    # Built-in tools' items and the text's annotations, where ChatOpenAI keeps them in v0.
    outputs = message.additional_kwargs.get("tool_outputs", [])
    if expected.server_tools is not None:
        assert [(item["type"], item["id"]) for item in outputs] == [
            (tool["type"], tool["id"]) for tool in expected.server_tools
        ]
    if expected.citations is not None:
        annotations = message.additional_kwargs.get("annotations", [])
        assert [found.get("url") for found in annotations] == [found["url"] for found in expected.citations]


# -- LlamaIndex --------------------------------------------------------------------------------------
async def llama_response(exchange: Exchange, mode: str) -> tuple[GradientLLM, ChatResponse]:
    llm = llama_llm(exchange, f"llama_index/{mode}")
    prompt = [ChatMessage(role=MessageRole.USER, content="replayed")]
    if mode == "invoke":
        return llm, llm.chat(prompt)
    if mode == "ainvoke":
        return llm, await llm.achat(prompt)
    last: ChatResponse | None = None
    if mode == "stream":
        for last in llm.stream_chat(prompt):  # noqa: B007 - the last response holds the whole answer
            pass
    else:
        async for last in await llm.astream_chat(prompt):  # noqa: B007
            pass
    assert last is not None
    return llm, last


def _thinking(response: ChatResponse) -> str:
    return "".join(
        block.content or "" for block in response.message.blocks if isinstance(block, ThinkingBlock)
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exchange", ANSWERS, ids=IDS)
async def test_gradient_llm_reads_every_recording(exchange: Exchange, mode: str) -> None:
    expected = Expected.of(exchange)
    if expected.status == "failed":
        return await assert_fails_as_recorded(expected, llama_response(exchange, mode))
    llm, response = await llama_response(exchange, mode)
    assert (response.message.content or "") == expected.text
    assert _thinking(response) == expected.reasoning
    selections = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    got_calls = [(tool.tool_name, tool.tool_kwargs, tool.tool_id) for tool in selections]
    assert got_calls == [(call.name, call.arguments, call.id) for call in expected.calls]
    kwargs: dict[str, Any] = response.additional_kwargs
    if expected.usage is not None:
        assert kwargs["prompt_tokens"] == expected.usage["input_tokens"]
        assert kwargs["completion_tokens"] == expected.usage["output_tokens"]
        assert kwargs["total_tokens"] == expected.usage["total_tokens"]
    assert kwargs["finish_reason"] == expected.finish_reason
    assert kwargs["status"] == expected.status
    extra = response.message.additional_kwargs  # llama-index OpenAIResponses' names
    if expected.server_tools is not None:
        assert [(item["type"], item["id"]) for item in extra.get("built_in_tool_calls", [])] == [
            (tool["type"], tool["id"]) for tool in expected.server_tools
        ]
    if expected.citations is not None:
        got = [found.get("url") for found in extra.get("annotations", [])]
        assert got == [found["url"] for found in expected.citations]


def test_the_corpus_has_what_the_issue_asks() -> None:
    """At least 8 real 2xx recordings from at least 2 independent producers, streamed and not."""
    recorded = [exchange for exchange in ANSWERS if exchange.kind == "recorded"]
    assert len(recorded) >= 8
    assert {exchange.producer for exchange in recorded} >= {"vllm", "openai"}
    for producer in ("vllm", "openai"):
        forms = {exchange.stream for exchange in recorded if exchange.producer == producer}
        assert forms == {True, False}, producer
    assert all(json.loads(exchange.body) for exchange in recorded if not exchange.stream)


# -- built-in tools in LangChain v1 content blocks ---------------------------------------------------
WITH_SERVER_TOOLS = [exchange for exchange in ANSWERS if Expected.of(exchange).server_tools]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exchange", WITH_SERVER_TOOLS, ids=[e.name for e in WITH_SERVER_TOOLS])
async def test_v1_blocks_hold_each_server_tool_run_and_the_citations(exchange: Exchange, mode: str) -> None:
    expected = Expected.of(exchange)
    assert expected.server_tools is not None and expected.citations is not None
    llm = chat_model(exchange, f"langchain-v1/{mode}")
    llm.output_version = "v1"
    prompt = [HumanMessage("replayed")]
    if mode in ("invoke", "ainvoke"):
        message = llm.invoke(prompt) if mode == "invoke" else await llm.ainvoke(prompt)
    else:
        chunks = list(llm.stream(prompt)) if mode == "stream" else [c async for c in llm.astream(prompt)]
        message = chunks[0]
        for chunk in chunks[1:]:
            message = message + chunk
    blocks = message.content_blocks
    calls = [block for block in blocks if block["type"] == "server_tool_call"]
    results = [block for block in blocks if block["type"] == "server_tool_result"]
    assert [block["id"] for block in calls] == [tool["id"] for tool in expected.server_tools]
    assert [block["tool_call_id"] for block in results] == [tool["id"] for tool in expected.server_tools]
    assert message.tool_calls == []  # an agent runs none of them
    texts = [block for block in blocks if block["type"] == "text"]
    assert "".join(block["text"] for block in texts) == expected.text
    cited = [annotation for block in texts for annotation in block.get("annotations", [])]
    assert [(c.get("url"), c.get("start_index")) for c in cited] == [
        (c["url"], c["start_index"]) for c in expected.citations
    ]
