"""Built-in tools in an answer: server-side tool items and citations through the one reader, and cache usage.

The real recordings (web_search, MCP, file_search from OpenAI's Responses API) are replayed by
`tests/recorded/`; these cases pin the rules: each item once whatever copies repeat it, never a caller's
tool call, annotations from events or from the whole message but not both, every usage spelling.
"""

from __future__ import annotations

import json
from typing import Any

from gradient_integrations.core import ResponseReader, parse_response
from gradient_integrations.core.reader import parse_usage

SEARCH = {
    "id": "ws_1",
    "type": "web_search_call",
    "status": "completed",
    "action": {
        "type": "search",
        "query": "gradient pricing",
        "sources": [{"type": "url", "url": "https://a.test"}],
    },
}
CITE = {"type": "url_citation", "start_index": 6, "end_index": 20, "url": "https://a.test", "title": "A"}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Price ([A](https://a.test))", "annotations": [CITE]}],
}
MCP_CALL = {
    "id": "mcp_1",
    "type": "mcp_call",
    "status": "failed",
    "name": "lookup_order",
    "server_label": "shop",
    "arguments": '{"order_id": "A-7"}',
    "output": None,
    "error": {"type": "http_error", "code": 401, "message": "Unauthorized"},
}
KB_CALL = {
    "id": "kb_1",
    "type": "knowledge_base_retrieval_call",
    "status": "completed",
    "queries": ["refund policy"],
    "results": [{"id": "doc-2", "filename": "refunds.md", "score": 0.8, "text": "30 days"}],
}


def body(*items: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_1", "model": "m", "status": "completed", "output": list(items)}


def events(*payloads: dict[str, Any]) -> list[str]:
    return [json.dumps(payload) for payload in payloads]


def test_a_json_answer_gives_each_server_tool_once_and_its_citations() -> None:
    result = parse_response(body(SEARCH, KB_CALL, MCP_CALL, MESSAGE))
    assert [(call.type, call.name) for call in result.server_tool_calls] == [
        ("web_search_call", "web_search"),
        ("knowledge_base_retrieval_call", "knowledge_base_retrieval"),
        ("mcp_call", "remote_mcp"),
    ]
    search, kb, mcp = result.server_tool_calls
    assert search.args == {"type": "search", "query": "gradient pricing"}
    assert search.output == {"sources": [{"type": "url", "url": "https://a.test"}]} and not search.failed
    assert kb.args == {"queries": ["refund policy"]} and kb.output == KB_CALL["results"]
    assert mcp.args == {"order_id": "A-7"} and (mcp.tool_name, mcp.server_label) == ("lookup_order", "shop")
    assert mcp.failed and mcp.error == MCP_CALL["error"] and mcp.item == MCP_CALL
    assert result.tool_calls == [] and result.finish_reason == "stop"  # never the caller's to run
    assert [(c.type, c.url, c.title, c.start_index, c.end_index) for c in result.citations] == [
        ("url_citation", "https://a.test", "A", 6, 20)
    ]


def test_a_stream_gives_each_item_once_though_three_copies_arrive() -> None:
    reader = ResponseReader()
    deltas = []
    for data in events(
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "ws_1", "type": "web_search_call", "status": "in_progress"},
        },
        {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"},
        {"type": "response.output_item.done", "output_index": 0, "item": SEARCH},
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "item_id": "msg_1",
            "delta": "Price ([A](https://a.test))",
        },
        {
            "type": "response.output_text.annotation.added",
            "output_index": 1,
            "item_id": "msg_1",
            "annotation_index": 0,
            "annotation": CITE,
        },
        {"type": "response.output_item.done", "output_index": 1, "item": MESSAGE},
        {"type": "response.completed", "response": body(SEARCH, MESSAGE)},
    ):
        deltas += reader.feed(data)
    kinds = [delta.kind for delta in deltas]
    assert kinds == ["server_tool", "text", "citation", "finish"]
    result = reader.result()
    assert len(result.server_tool_calls) == 1 and len(result.citations) == 1
    assert result == parse_response(body(SEARCH, MESSAGE))  # streamed and whole: the same result


def test_annotations_only_in_the_final_payload_are_read_from_it() -> None:
    reader = ResponseReader()
    deltas = []
    for data in events(
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": "msg_1",
            "delta": "Price ([A](https://a.test))",
        },
        {"type": "response.completed", "response": body(MESSAGE)},
    ):
        deltas += reader.feed(data)
    assert [delta.kind for delta in deltas] == ["text", "citation", "finish"]
    assert reader.result().citations[0].url == "https://a.test"


def test_chat_completions_annotations_in_their_nested_form() -> None:
    nested = {
        "type": "url_citation",
        "url_citation": {"url": "https://b.test", "title": "B", "start_index": 0, "end_index": 3},
    }
    result = parse_response(
        {
            "id": "c",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "abc", "annotations": [nested]},
                }
            ],
        }
    )
    assert [(c.url, c.title, c.start_index, c.end_index) for c in result.citations] == [
        ("https://b.test", "B", 0, 3)
    ]


def test_a_file_citation_keeps_its_file_and_position() -> None:
    cite = {"type": "file_citation", "file_id": "doc-2", "filename": "refunds.md", "index": 12}
    message = {
        **MESSAGE,
        "content": [{"type": "output_text", "text": "Refunds: 30 days.", "annotations": [cite]}],
    }
    (found,) = parse_response(body(KB_CALL, message)).citations
    assert (found.type, found.file_id, found.filename, found.index, found.url) == (
        "file_citation",
        "doc-2",
        "refunds.md",
        12,
        None,
    )


def test_cache_tokens_in_every_spelling() -> None:
    openai_style = parse_usage(
        {"input_tokens": 100, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 64}}
    )
    do_chat = parse_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "cache_read_input_tokens": 10,
            "cache_created_input_tokens": 80,
        }
    )
    anthropic = parse_usage(
        {
            "input_tokens": 100,
            "output_tokens": 5,
            "cache_creation_input_tokens": 70,
            "cache_read_input_tokens": 0,
        }
    )
    ephemeral = parse_usage(
        {
            "input_tokens": 9,
            "output_tokens": 1,
            "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4},
        }
    )
    assert openai_style is not None and (openai_style.cached_tokens, openai_style.cache_creation_tokens) == (
        64,
        0,
    )
    assert do_chat is not None and (do_chat.cached_tokens, do_chat.cache_creation_tokens) == (10, 80)
    assert anthropic is not None and (anthropic.cached_tokens, anthropic.cache_creation_tokens) == (0, 70)
    assert ephemeral is not None and ephemeral.cache_creation_tokens == 7
