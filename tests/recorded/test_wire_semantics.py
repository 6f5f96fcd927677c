"""Each typed-event rule of issue 11 (section 2), shown on the real recording that has the quirk.

Every test first asserts that the recording really shows the quirk (so the test cannot pass on a shape
nobody sends), then that the core, `ChatGradient` or `GradientLLM` read it right.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from corpus import Exchange, parse_sse
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from replay import CORPUS, EXPECTED, chat_model, core_client, llama_llm

from gradient_integrations.core import (
    FunctionCallItem,
    FunctionCallOutputItem,
    ResponseFailedError,
    ResponseReader,
    StreamDelta,
    StreamError,
    build_request,
)
from gradient_integrations.langchain._messages import messages_to_input

BY_NAME = {exchange.name: exchange for exchange in CORPUS}
GPT_OSS_TEXT = BY_NAME["vllm/reasoning-single-openai-gpt-oss-20b-streaming#0"]
GPT_OSS_TOOLS = BY_NAME["vllm/responses_tool_calls_3turn_streaming#0"]
QWEN_REQUIRED = BY_NAME["vllm/tool-call-required-Qwen-Qwen3-30B-A3B-FP8-streaming#0"]
QWEN36_TOOL = BY_NAME["vllm/codex-direct-vllm-http-function-tool-Qwen-Qwen3.6-35B-A3B-streaming#0"]
OPENAI_FAILED = BY_NAME["openai/context_length_exceeded-stream#0"]
OPENAI_INCOMPLETE = BY_NAME["openai/text-max_output_tokens-incomplete-stream#0"]
OPENAI_SUMMARY = BY_NAME["openai/test_openai_responses_thinking_part_iter#0"]
OPENAI_ANNOTATIONS = BY_NAME["openai/test_openai_include_raw_annotations_streaming#0"]


def events(exchange: Exchange) -> list[dict[str, Any]]:
    return [event.json() for event in parse_sse(exchange.body)[0] if event.data.startswith("{")]


def final_output(exchange: Exchange) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = events(exchange)[-1]["response"]["output"]
    return output


def read(exchange: Exchange) -> tuple[ResponseReader, list[StreamDelta]]:
    reader = ResponseReader()
    deltas = [delta for event in parse_sse(exchange.body)[0] for delta in reader.feed(event.data)]
    return reader, deltas


# -- the stream's end ---------------------------------------------------------------------------------
def test_no_done_marker_the_stream_ends_after_response_completed() -> None:
    assert b"[DONE]" not in GPT_OSS_TEXT.body
    assert events(GPT_OSS_TEXT)[-1]["type"] == "response.completed"
    # Bytes after the final event are never read as part of the answer (newer vLLM sends `[DONE]`).
    noisy = Exchange(
        **{**GPT_OSS_TEXT.__dict__, "body": GPT_OSS_TEXT.body + b"data: [DONE]\n\ndata: {oops\n\n"}
    )
    result = core_client(noisy, "semantics").create(build_request(model="m", input="hi"))
    assert result.text == EXPECTED[GPT_OSS_TEXT.name]["text"]
    # Cut just before the final event, the same stream is incomplete: an error with what had arrived.
    cut = GPT_OSS_TEXT.body[: GPT_OSS_TEXT.body.rindex(b"event: response.completed")]
    with pytest.raises(StreamError, match=r"ended before") as caught:
        core_client(Exchange(**{**GPT_OSS_TEXT.__dict__, "body": cut}), "semantics").create(
            build_request(model="m", input="hi")
        )
    assert caught.value.partial.text == EXPECTED[GPT_OSS_TEXT.name]["text"]


def test_sequence_number_on_every_event_and_vllm_reasoning_part_events() -> None:
    seen = events(GPT_OSS_TEXT)
    assert all(isinstance(event.get("sequence_number"), int) for event in seen)
    kinds = {event["type"] for event in seen}
    assert {"response.reasoning_part.added", "response.reasoning_part.done"} <= kinds
    reader, deltas = read(GPT_OSS_TEXT)
    # The reasoning part's `.done` repeats the whole text: it must not be added a second time.
    assert (
        "".join(d.text for d in deltas if d.kind == "reasoning") == EXPECTED[GPT_OSS_TEXT.name]["reasoning"]
    )
    assert reader.result().reasoning == EXPECTED[GPT_OSS_TEXT.name]["reasoning"]


# -- items: ids, duplicates, stray keys ----------------------------------------------------------------
def test_item_ids_in_deltas_differ_from_completed_ids_each_item_exactly_once() -> None:
    streamed_ids = {event["item_id"] for event in events(GPT_OSS_TOOLS) if "item_id" in event}
    completed_ids = {item["id"] for item in final_output(GPT_OSS_TOOLS)}
    assert streamed_ids and not streamed_ids & completed_ids  # the quirk: no id in common
    reader, deltas = read(GPT_OSS_TOOLS)
    result = reader.result()
    assert len(result.tool_calls) == 1  # output_item.done and response.completed repeat it: still one
    assert [d.kind for d in deltas].count("tool_call") == 1
    assert result.reasoning == EXPECTED[GPT_OSS_TOOLS.name]["reasoning"]


def test_output_item_done_with_null_id_and_stray_keys_and_text_at_content_index_1() -> None:
    done = [e["item"] for e in events(GPT_OSS_TOOLS) if e["type"] == "response.output_item.done"]
    stray = [item for item in done if item.get("type") == "function_call"]
    assert stray and stray[0]["id"] is None
    assert {"item_id", "output_index", "sequence_number"} <= set(stray[0]) and stray[0][
        "sequence_number"
    ] == -1
    text_events = [e for e in events(GPT_OSS_TEXT) if e["type"] == "response.output_text.delta"]
    assert text_events and all(event["content_index"] == 1 for event in text_events)
    calls = read(GPT_OSS_TOOLS)[0].result().tool_calls
    assert [(call.name, json.loads(call.arguments)) for call in calls] == [
        (call["name"], call["arguments"]) for call in EXPECTED[GPT_OSS_TOOLS.name]["tool_calls"]
    ]
    assert read(GPT_OSS_TEXT)[0].result().text == EXPECTED[GPT_OSS_TEXT.name]["text"]


def test_argument_deltas_that_do_not_add_up_the_complete_copy_wins() -> None:
    pieces = "".join(
        e["delta"] for e in events(QWEN36_TOOL) if e["type"] == "response.function_call_arguments.delta"
    )
    with pytest.raises(ValueError):
        json.loads(pieces)  # the quirk: `{}` then the real arguments
    reader, deltas = read(QWEN36_TOOL)
    chunks = [d.tool_call for d in deltas if d.tool_call is not None]
    expected = EXPECTED[QWEN36_TOOL.name]["tool_calls"][0]
    assert len(chunks) == 1 and json.loads(chunks[0].arguments) == expected["arguments"]
    assert json.loads(reader.result().tool_calls[0].arguments) == expected["arguments"]


# -- call ids: the first id seen wins, everywhere ------------------------------------------------------
@pytest.mark.parametrize("exchange", [GPT_OSS_TOOLS, QWEN_REQUIRED], ids=lambda e: e.name)
def test_streamed_and_completed_call_ids_differ_one_rule_for_chunks_message_and_history(
    exchange: Exchange,
) -> None:
    expected = EXPECTED[exchange.name]["tool_calls"]
    streamed = [call["call_id_streamed"] for call in expected]
    assert streamed != [call["call_id_final"] for call in expected]  # the quirk
    chunks = list(chat_model(exchange, "semantics").stream([HumanMessage("go")]))
    chunk_ids = [piece["id"] for chunk in chunks for piece in chunk.tool_call_chunks if piece.get("id")]
    assert chunk_ids == streamed
    message = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    assert isinstance(message, AIMessageChunk)
    assert [call["id"] for call in message.tool_calls] == streamed
    history = [HumanMessage("go"), message] + [
        ToolMessage("result", tool_call_id=call["id"]) for call in message.tool_calls
    ]
    items = messages_to_input(history)
    assert [item.call_id for item in items if isinstance(item, FunctionCallItem)] == streamed
    assert [item.call_id for item in items if isinstance(item, FunctionCallOutputItem)] == streamed
    llm = llama_llm(exchange, "semantics/llama")
    *_, last = llm.stream_chat([ChatMessage(role=MessageRole.USER, content="go")])
    selections = llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
    assert [selection.tool_id for selection in selections] == streamed


# -- how a stream ends badly or short ------------------------------------------------------------------
async def test_response_failed_is_a_stream_error_with_partial_and_the_server_message() -> None:
    kinds = [event["type"] for event in events(OPENAI_FAILED)]
    assert "response.failed" in kinds and "error" in kinds
    message = EXPECTED[OPENAI_FAILED.name]["error_message"]
    with pytest.raises(ResponseFailedError, match=message) as caught:
        async with core_client(OPENAI_FAILED, "semantics").astream(
            build_request(model="m", input="hi")
        ) as stream:
            async for _ in stream:
                pass
    assert isinstance(caught.value, StreamError) and caught.value.partial.text == ""
    # What arrived before `response.failed` is kept in `.partial`.
    reader = ResponseReader()
    reader.feed(json.dumps({"type": "response.output_text.delta", "output_index": 0, "delta": "Half an"}))
    failed = {"status": "failed", "output": [], "error": {"code": "server_error", "message": "model crashed"}}
    with pytest.raises(ResponseFailedError, match="model crashed") as caught:
        reader.feed(json.dumps({"type": "response.failed", "response": failed}))
    assert caught.value.partial.text == "Half an"


def test_response_incomplete_is_a_normal_end_with_finish_reason_length() -> None:
    assert events(OPENAI_INCOMPLETE)[-1]["type"] == "response.incomplete"
    message = chat_model(OPENAI_INCOMPLETE, "semantics").invoke([HumanMessage("go")])
    assert message.response_metadata["finish_reason"] == "length"
    assert message.response_metadata["status"] == "incomplete"
    # Text that arrived before the cut is the answer, not an error.
    reader = ResponseReader()
    reader.feed(json.dumps({"type": "response.output_text.delta", "output_index": 0, "delta": "Once upon"}))
    cut = {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}
    reader.feed(json.dumps({"type": "response.incomplete", "response": cut}))
    result = reader.result()
    assert (result.text, result.status, result.finish_reason) == ("Once upon", "incomplete", "length")


# -- OpenAI-only events (DO forwards OpenAI models) ----------------------------------------------------
def test_openai_only_events_are_handled_or_ignored_never_crashing() -> None:
    summary_kinds = {event["type"] for event in events(OPENAI_SUMMARY)}
    assert {"response.reasoning_summary_text.delta", "response.reasoning_summary_part.added"} <= summary_kinds
    assert read(OPENAI_SUMMARY)[0].result().reasoning == EXPECTED[OPENAI_SUMMARY.name]["reasoning"]
    annotation_kinds = {event["type"] for event in events(OPENAI_ANNOTATIONS)}
    assert {"response.output_text.annotation.added", "response.content_part.added"} <= annotation_kinds
    assert read(OPENAI_ANNOTATIONS)[0].result().text == EXPECTED[OPENAI_ANNOTATIONS.name]["text"]
    # `response.refusal.delta` appears in no recording we hold; OpenAI documents it: kept as `refusal`.
    reader = ResponseReader()
    for event in (
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "refusal"},
        },
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "I can't "},
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "help."},
        {"type": "response.refusal.done", "output_index": 0, "content_index": 0, "refusal": "I can't help."},
        {"type": "response.function_call_arguments.done", "output_index": 1, "arguments": "{}", "name": "f"},
        {"type": "response.completed", "response": {"status": "completed", "output": []}},
    ):
        reader.feed(json.dumps(event))
    result = reader.result()
    assert (result.refusal, result.text, len(result.tool_calls)) == ("I can't help.", "", 1)


def test_a_refusal_reaches_both_frameworks() -> None:
    """A refused answer (OpenAI's `refusal` content part) is not lost as an empty text."""
    body = {
        "id": "resp_refused",
        "status": "completed",
        "output": [
            {"type": "message", "content": [{"type": "refusal", "refusal": "I can't help with that."}]}
        ],
    }
    exchange = Exchange(
        name="refusal",
        producer="test",
        source_file="",
        interaction=0,
        request_body=None,
        status=200,
        content_type="application/json",
        stream=False,
        body=json.dumps(body).encode(),
    )
    message = chat_model(exchange, "semantics").invoke([HumanMessage("go")])
    assert (message.content, message.additional_kwargs["refusal"]) == ("", "I can't help with that.")
    streamed = list(chat_model(exchange, "semantics").stream([HumanMessage("go")]))
    assert streamed[-1].additional_kwargs["refusal"] == "I can't help with that."
    llm = llama_llm(exchange, "refusal")
    response = llm.chat([ChatMessage(role=MessageRole.USER, content="go")])
    assert response.additional_kwargs["refusal"] == "I can't help with that."
