"""The built-in tools the local server emulates (`web_search`, `knowledge_base_retrieval`, `mcp`, and its own
`POST /mcp` MCP server), over real loopback HTTP with plain httpx: the JSON items in OpenAI's shapes, the
typed event streams against OpenAI's recordings, and the DO dialect (docs/local-server.md, "Platform
features")."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gradient_integrations.local import LocalServer
from gradient_integrations.local.mcp_client import McpFailure, _from_event_stream, loopback_problem

from ._spec import STREAM_CHUNK, spec_errors
from ._streams import (
    answer,
    collapsed,
    completed_output,
    do_chunks,
    done_items,
    post,
    recorded_events,
    typed_events,
    without_ids,
)

MCP_TOKEN = "mcp-secret-token-3f9a"
WRONG_TOKEN = "wrong-token-77c1"
TEAM_KB = ["Deploys happen every Tuesday at 10:00 UTC.", "The on-call rotation changes every Monday."]
MODEL = "llama3.3-70b-instruct"
WEB = {"model": MODEL, "input": "What is the capital of France?", "tools": [{"type": "web_search"}]}
KB_QUESTION = "Where does gradient-integrations read the model access key from?"
KB = {
    "model": MODEL,
    "input": KB_QUESTION,
    "tools": [{"type": "knowledge_base_retrieval", "knowledge_base_id": "demo-kb"}],
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(mcp_token=MCP_TOKEN, knowledge_bases={"team-kb": TEAM_KB}) as running:
        yield running


def mcp_tool(server: LocalServer, token: str | None = MCP_TOKEN, **fields: Any) -> dict[str, Any]:
    tool = {"type": "mcp", "server_label": "local", "server_url": f"{server.base_url}/mcp", **fields}
    if token is not None:
        tool["authorization"] = token
    return tool


def mcp_body(server: LocalServer, message: str, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": message, "tools": [mcp_tool(server, **fields)]}


def message_part(items: list[dict[str, Any]]) -> dict[str, Any]:
    message = next(item for item in items if item["type"] == "message")
    part: dict[str, Any] = message["content"][0]
    return part


# -- web_search -----------------------------------------------------------------------------------------
def test_web_search_adds_a_search_item_and_cites_its_pages(server: LocalServer) -> None:
    output = answer(server.base_url, WEB).json()["output"]
    search, message = output
    assert search["id"].startswith("ws_") and set(search) == {"id", "type", "status", "action"}
    assert (search["type"], search["status"]) == ("web_search_call", "completed")
    action = search["action"]
    assert (action["type"], action["query"]) == ("search", "capital France")
    assert len(action["sources"]) == 3 and all(source["type"] == "url" for source in action["sources"])
    assert action["sources"][0]["url"] == "https://docs.example.com/geography/paris"
    part = message["content"][0]
    [citation] = part["annotations"]
    assert citation == {
        "type": "url_citation",
        "start_index": citation["start_index"],
        "end_index": citation["end_index"],
        "url": "https://docs.example.com/geography/paris",
        "title": "Paris, capital of France",
    }
    assert part["text"][citation["start_index"] : citation["end_index"]] == (
        "([Paris, capital of France](https://docs.example.com/geography/paris))"
    )
    assert part["text"].startswith("Paris is the capital")


def test_web_search_preview_is_the_same_tool(server: LocalServer) -> None:
    body = {**WEB, "tools": [{"type": "web_search_preview"}]}
    assert without_ids(answer(server.base_url, body).json()["output"]) == without_ids(
        answer(server.base_url, WEB).json()["output"]
    )


def test_web_search_honours_max_uses_and_max_results(server: LocalServer) -> None:
    body = {
        "model": MODEL,
        "input": "What is the capital of France? How do rate limits work? What is MCP?",
        "tools": [{"type": "web_search", "max_uses": 2, "max_results": 2}],
    }
    output = answer(server.base_url, body).json()["output"]
    searches = [item for item in output if item["type"] == "web_search_call"]
    assert [search["action"]["query"] for search in searches] == ["capital France", "rate limits work"]
    assert all(len(search["action"]["sources"]) == 2 for search in searches)
    part = message_part(output)
    urls = [annotation["url"] for annotation in part["annotations"]]
    assert urls[:2] == [
        "https://docs.example.com/geography/paris",
        "https://docs.example.com/gradient/rate-limits",
    ]
    for annotation in part["annotations"]:
        span = part["text"][annotation["start_index"] : annotation["end_index"]]
        assert span == f"([{annotation['title']}]({annotation['url']}))"


def test_instructions_keep_the_citations_on_their_links(server: LocalServer) -> None:
    part = message_part(answer(server.base_url, {**WEB, "instructions": "Be brief."}).json()["output"])
    assert part["text"].startswith("(following instructions: Be brief.) Paris")
    [citation] = part["annotations"]
    assert part["text"][citation["start_index"] : citation["end_index"]].startswith("([Paris")


def test_no_search_runs_with_tool_choice_none(server: LocalServer) -> None:
    output = answer(server.base_url, {**WEB, "tool_choice": "none"}).json()["output"]
    assert [item["type"] for item in output] == ["message"]
    assert message_part(output) == {
        "type": "output_text",
        "text": f"You said: {WEB['input']}",
        "annotations": [],
    }


# -- knowledge_base_retrieval ---------------------------------------------------------------------------
def test_knowledge_base_retrieval_answers_from_the_best_document(server: LocalServer) -> None:
    retrieval, message = answer(server.base_url, KB).json()["output"]
    assert retrieval["id"].startswith("kb_")
    assert {key: retrieval[key] for key in ("type", "status", "knowledge_base_id", "queries")} == {
        "type": "knowledge_base_retrieval_call",
        "status": "completed",
        "knowledge_base_id": "demo-kb",
        "queries": [KB_QUESTION],
    }
    best = retrieval["results"][0]
    assert (best["id"], best["filename"]) == ("demo-kb-doc-2", "document-2.txt")
    assert "GRADIENT_MODEL_ACCESS_KEY" in best["text"]
    scores = [result["score"] for result in retrieval["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 < score <= 1 for score in scores)
    assert len(retrieval["results"]) <= 3
    part = message["content"][0]
    assert part["text"] == best["text"]
    assert part["annotations"] == [
        {
            "type": "file_citation",
            "file_id": "demo-kb-doc-2",
            "filename": "document-2.txt",
            "index": len(best["text"]) - 1,
        }
    ]


def test_a_configured_knowledge_base_is_searched(server: LocalServer) -> None:
    tool = {"type": "knowledge_base_retrieval", "knowledge_base_id": "team-kb"}
    output = answer(
        server.base_url, {"model": MODEL, "input": "When do deploys happen?", "tools": [tool]}
    ).json()["output"]
    assert output[0]["results"][0]["id"] == "team-kb-doc-1"
    assert message_part(output)["text"] == TEAM_KB[0]


def test_an_unknown_knowledge_base_is_a_404_naming_it(server: LocalServer) -> None:
    tools = [{"type": "web_search"}, {"type": "knowledge_base_retrieval", "knowledge_base_id": "kb-nope"}]
    response = post(server.base_url, "/v1/responses", {"model": MODEL, "input": "hi", "tools": tools})
    assert response.status_code == 404
    body = response.json()
    assert body["id"] == "not_found" and set(body) == {"id", "message", "request_id"}
    assert "tools[1].knowledge_base_id" in body["message"] and "'kb-nope'" in body["message"]
    assert "demo-kb" in body["message"] and "team-kb" in body["message"]


# -- mcp -------------------------------------------------------------------------------------------------
def test_mcp_lists_the_tools_calls_the_mentioned_one_and_answers_with_its_output(server: LocalServer) -> None:
    listing, call, message = answer(server.base_url, mcp_body(server, "Please add 2 and 3")).json()["output"]
    assert listing["id"].startswith("mcpl_") and set(listing) == {"id", "type", "server_label", "tools"}
    assert (listing["type"], listing["server_label"]) == ("mcp_list_tools", "local")
    assert [tool["name"] for tool in listing["tools"]] == ["add", "get_time", "lookup_order"]
    assert all(
        set(tool) == {"name", "description", "input_schema", "annotations"} for tool in listing["tools"]
    )
    assert listing["tools"][0]["annotations"] == {"read_only": True}
    assert call["id"].startswith("mcp_")
    assert {key: value for key, value in call.items() if key != "id"} == {
        "type": "mcp_call",
        "status": "completed",
        "approval_request_id": None,
        "arguments": call["arguments"],
        "error": None,
        "name": "add",
        "output": "5",
        "server_label": "local",
    }
    assert json.loads(call["arguments"]) == {"a": 2, "b": 3}
    assert message["content"][0]["text"] == "local.add returned: 5"


def test_mcp_allowed_tools_filter_the_list_and_the_calls(server: LocalServer) -> None:
    body = mcp_body(
        server, "What time is it in 'Europe/Paris'? Also add 1 and 2.", allowed_tools=["get_time"]
    )
    listing, call, _message = answer(server.base_url, body).json()["output"]
    assert [tool["name"] for tool in listing["tools"]] == ["get_time"]
    assert (call["name"], json.loads(call["arguments"])) == ("get_time", {"timezone": "Europe/Paris"})
    assert call["output"] == "2025-01-01T13:00:00+01:00 (Europe/Paris)"


def test_mcp_with_a_wrong_token_records_the_error_in_the_call_and_logs_no_token(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = answer(server.base_url, mcp_body(server, "lookup_order 'A-17' please", token=WRONG_TOKEN))
    _listing, call, message = response.json()["output"]
    assert (call["name"], call["status"], call["output"]) == ("lookup_order", "failed", None)
    assert "401" in call["error"]
    assert message["content"][0]["text"].startswith("local.lookup_order failed:")
    for secret in (WRONG_TOKEN, MCP_TOKEN):
        assert secret not in response.text  # the echoed tool is masked
        assert secret not in caplog.text
    assert "HTTP Request: POST" in caplog.text  # the MCP calls were made (and logged without headers)


def test_mcp_with_the_right_token_and_streamed_never_shows_the_token(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = typed_events(server.base_url, mcp_body(server, "lookup_order 'A-17'"), "openai")
    call = done_items(events)[1]
    assert call["status"] == "completed" and call["output"].startswith("Order A-17: ")
    assert MCP_TOKEN not in json.dumps([payload for _, payload in events]) and MCP_TOKEN not in caplog.text


def test_an_mcp_server_that_is_not_loopback_is_refused(server: LocalServer) -> None:
    tools = [
        {"type": "web_search"},
        {"type": "mcp", "server_label": "far", "server_url": "https://mcp.example.com/mcp"},
    ]
    response = post(server.base_url, "/v1/responses", {"model": MODEL, "input": "hi", "tools": tools})
    assert response.status_code == 400
    message = response.json()["message"]
    assert (
        message.startswith("tools[1].server_url: ") and "loopback" in message and "mcp.example.com" in message
    )


@pytest.mark.parametrize("token", ["two\nlines-SECRET", "n\u00f6n-ascii-SECRET"])
def test_an_authorization_that_is_no_header_value_is_refused_without_repeating_it(
    server: LocalServer, token: str
) -> None:
    response = post(server.base_url, "/v1/responses", mcp_body(server, "add 1 and 2", token=token))
    assert response.status_code == 400
    assert response.json()["message"].startswith("tools[0].authorization: ") and "SECRET" not in response.text


def test_an_mcp_server_whose_tools_cannot_be_listed_fails_the_request_with_424(server: LocalServer) -> None:
    tool = {"type": "mcp", "server_label": "gone", "server_url": f"{server.base_url}/no-such-mcp"}
    response = post(
        server.base_url, "/v1/responses", {"model": MODEL, "input": "add 1 and 2", "tools": [tool]}
    )
    assert response.status_code == 424
    assert response.json()["id"] == "failed_dependency"
    assert "tools[0]" in response.json()["message"] and "'gone'" in response.json()["message"]
    assert "HTTP 404" in response.json()["message"]


def test_no_mentioned_tool_means_only_the_listing(server: LocalServer) -> None:
    output = answer(server.base_url, mcp_body(server, "Hello there")).json()["output"]
    assert [item["type"] for item in output] == ["mcp_list_tools", "message"]
    assert message_part(output)["text"] == "You said: Hello there"


# -- the MCP endpoint itself --------------------------------------------------------------------------------
def rpc(
    server: LocalServer, method: str, params: dict[str, Any] | None = None, token: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    message = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or {}}
    return httpx.post(f"{server.base_url}/mcp", json=message, headers=headers, timeout=10)


def test_the_mcp_endpoint_speaks_json_rpc(server: LocalServer) -> None:
    initialized = rpc(server, "initialize", {"protocolVersion": "2025-06-18"}).json()
    assert initialized["result"]["serverInfo"]["name"] == "gradient-local-mcp"
    listed = rpc(server, "tools/list").json()["result"]["tools"]
    assert [tool["name"] for tool in listed] == ["add", "get_time", "lookup_order"]
    called = rpc(server, "tools/call", {"name": "add", "arguments": {"a": 1.5, "b": 1}}, MCP_TOKEN).json()
    assert called == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [{"type": "text", "text": "2.5"}], "isError": False},
    }
    failed = rpc(
        server, "tools/call", {"name": "get_time", "arguments": {"timezone": "Mars"}}, MCP_TOKEN
    ).json()
    assert (
        failed["result"]["isError"] is True and "unknown timezone" in failed["result"]["content"][0]["text"]
    )
    assert rpc(server, "tools/call", {"name": "nope"}, MCP_TOKEN).json()["error"]["code"] == -32602
    assert rpc(server, "resources/list").json()["error"]["code"] == -32601
    notification = httpx.post(
        f"{server.base_url}/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}
    )
    assert (notification.status_code, notification.content) == (202, b"")
    broken = httpx.post(f"{server.base_url}/mcp", content=b"{not json")
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, -32700)


def test_the_mcp_endpoint_wants_its_token_for_calls(server: LocalServer) -> None:
    refused = rpc(server, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}, WRONG_TOKEN)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert WRONG_TOKEN not in refused.text and MCP_TOKEN not in refused.text
    assert rpc(server, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}).status_code == 401


# -- streams ----------------------------------------------------------------------------------------------
CASES = {"web_search": WEB, "knowledge_base": KB}
_MCP_PROMPT = "Please add 2 and 3"


def _body(server: LocalServer, case: str) -> dict[str, Any]:
    return mcp_body(server, _MCP_PROMPT) if case == "mcp" else CASES[case]


@pytest.mark.parametrize("dialect", ["openai", "vllm"])
@pytest.mark.parametrize("case", ["web_search", "knowledge_base", "mcp"])
def test_a_streams_items_are_the_json_bodys_items(server: LocalServer, case: str, dialect: str) -> None:
    body = _body(server, case)
    expected = answer(server.base_url, body).json()["output"]
    events = typed_events(server.base_url, body, dialect)
    completed = completed_output(events)
    tool_items = [item for item in expected if item["type"] != "message"]
    assert without_ids([item for item in completed if item["type"] != "message"]) == without_ids(tool_items)
    assert without_ids(done_items(events)[: len(tool_items)]) == without_ids(tool_items)
    part = message_part(completed)
    assert (part["text"], part["annotations"]) == (
        message_part(expected)["text"],
        message_part(expected)["annotations"],
    )
    if dialect == "openai":  # the openai dialect keeps one id per item for the whole stream
        assert done_items(events) == completed
        assert without_ids(completed) == without_ids(expected)


_RECORDINGS = {
    "web_search": "openai/test_openai_include_raw_annotations_streaming#1",
    "knowledge_base": "openai/test_openai_responses_model_file_search_tool_stream#3",
    "mcp": "openai/test_openai_responses_model_mcp_server_tool_stream#0",
}


def _kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [kind.replace("file_search_call", "knowledge_base_retrieval_call") for kind, _ in events]


@pytest.mark.parametrize("dialect", ["openai", "vllm"])
@pytest.mark.parametrize("case", ["web_search", "knowledge_base", "mcp"])
def test_the_event_sequence_is_openais(server: LocalServer, case: str, dialect: str) -> None:
    recorded = recorded_events(_RECORDINGS[case])
    events = typed_events(server.base_url, _body(server, case), dialect)
    assert collapsed(_kinds(events)) == collapsed(_kinds(recorded))
    if case == "knowledge_base":  # OpenAI streamed the citation amid the deltas; after them is as valid
        return
    kinds = [kind for kind, _ in events]
    last_delta = max(index for index, kind in enumerate(kinds) if kind == "response.output_text.delta")
    assert (
        kinds.index(
            "response.output_text.annotation.added" if case == "web_search" else "response.output_text.done"
        )
        == last_delta + 1
    )


def _event_keys(events: list[tuple[str, dict[str, Any]]]) -> dict[str, set[frozenset[str]]]:
    """Key sets of the tool events, their items (added and done) and of the annotation events."""
    found: dict[str, set[frozenset[str]]] = {}
    for kind, payload in _pairs(events):
        item = payload.get("item")
        if isinstance(item, dict):
            if item["type"] == "message":
                continue
            found.setdefault(f"{kind} {item['type']}", set()).add(frozenset(item) - {"knowledge_base_id"})
        found.setdefault(kind, set()).add(frozenset(payload) - {"obfuscation"})
    return found


def _pairs(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    interesting = ("_call", "mcp_list_tools", "annotation", "output_item")
    renamed = []
    for kind, payload in events:
        if any(marker in kind for marker in interesting):
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "file_search_call":
                item = {**item, "type": "knowledge_base_retrieval_call"}
                payload = {**payload, "item": item}
            renamed.append((kind.replace("file_search_call", "knowledge_base_retrieval_call"), payload))
    return renamed


@pytest.mark.parametrize("case", ["web_search", "knowledge_base", "mcp"])
def test_tool_events_have_the_recorded_keys(server: LocalServer, case: str) -> None:
    recorded = _event_keys(recorded_events(_RECORDINGS[case]))
    local = _event_keys(typed_events(server.base_url, _body(server, case), "openai"))
    if case == "web_search":  # the sources come with OpenAI's `include`; the recording asked for none
        recorded["response.output_item.done web_search_call"] = {
            frozenset({"id", "type", "status", "action"})
        }
    assert local == recorded


def test_the_annotation_event_names_its_place(server: LocalServer) -> None:
    events = typed_events(server.base_url, WEB, "openai")
    [(_, added)] = [
        (kind, payload) for kind, payload in events if kind == "response.output_text.annotation.added"
    ]
    message = done_items(events)[-1]
    assert (added["item_id"], added["output_index"], added["content_index"], added["annotation_index"]) == (
        message["id"],
        1,
        0,
        0,
    )
    assert added["annotation"] == message["content"][0]["annotations"][0]
    vllm = typed_events(server.base_url, WEB, "vllm")
    [vllm_added] = [payload for kind, payload in vllm if kind == "response.output_text.annotation.added"]
    assert vllm_added["content_index"] == 1 and list(vllm_added)[-1] == "type"


def test_mcp_call_events_carry_the_arguments_and_a_failure(server: LocalServer) -> None:
    events = typed_events(
        server.base_url, mcp_body(server, "lookup_order 'B-2'", token=WRONG_TOKEN), "openai"
    )
    kinds = [kind for kind, _ in events]
    assert "response.mcp_call.failed" in kinds and "response.mcp_call.completed" not in kinds
    [(_, delta)] = [
        (kind, payload) for kind, payload in events if kind == "response.mcp_call_arguments.delta"
    ]
    assert json.loads(delta["delta"]) == {"order_id": "B-2"}
    added = next(
        payload["item"]
        for kind, payload in events
        if kind == "response.output_item.added" and payload["item"]["type"] == "mcp_call"
    )
    assert (added["status"], added["arguments"], added["output"], added["error"]) == (
        "in_progress",
        "",
        None,
        None,
    )


@pytest.mark.parametrize("case", ["web_search", "knowledge_base", "mcp"])
def test_the_do_stream_sends_the_text_and_chat_style_citations(server: LocalServer, case: str) -> None:
    body = _body(server, case)
    expected = message_part(answer(server.base_url, body).json()["output"])
    chunks = do_chunks(server.base_url, body)
    for chunk in chunks:
        assert spec_errors(chunk, STREAM_CHUNK) == []
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks if chunk["choices"])
    assert text == expected["text"]
    finish = chunks[-1]["choices"][0]
    assert finish["finish_reason"] == "stop"
    chat_form = [
        {"type": note["type"], note["type"]: {k: v for k, v in note.items() if k != "type"}}
        for note in expected["annotations"]
    ]
    assert finish["delta"].get("annotations", []) == chat_form


def test_chat_completions_run_the_built_in_tools_too(server: LocalServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": KB_QUESTION}], "tools": KB["tools"]}
    response = post(server.base_url, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert "GRADIENT_MODEL_ACCESS_KEY" in message["content"]
    [citation] = message["annotations"]
    assert citation["type"] == "file_citation" and citation["file_citation"]["file_id"] == "demo-kb-doc-2"
    chunks = do_chunks(server.base_url, body, "/v1/chat/completions")
    assert chunks[-1]["choices"][0]["delta"]["annotations"] == message["annotations"]


def test_built_in_tools_run_before_a_function_call(server: LocalServer) -> None:
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    body = {
        "model": MODEL,
        "input": "What is the weather in Paris?",
        "tools": [{"type": "web_search"}, weather],
    }
    output = answer(server.base_url, body).json()["output"]
    assert [item["type"] for item in output] == ["web_search_call", "function_call"]
    after = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    output = answer(server.base_url, {**body, "input": after}).json()["output"]  # answering tool results
    assert [item["type"] for item in output] == ["message"]
    assert message_part(output)["text"] == "Tool results: get_weather returned sunny"


def test_a_json_answer_keeps_the_items_but_not_the_citations(server: LocalServer) -> None:
    body = {**WEB, "text": {"format": {"type": "json_object"}}}
    output = answer(server.base_url, body).json()["output"]
    assert output[0]["type"] == "web_search_call"
    assert message_part(output)["annotations"] == [] and json.loads(message_part(output)["text"])


def test_a_cut_answer_keeps_only_the_citations_it_holds(server: LocalServer) -> None:
    output = answer(server.base_url, {**WEB, "max_output_tokens": 3}).json()["output"]
    assert message_part(output)["annotations"] == []
    assert len(message_part(answer(server.base_url, WEB).json()["output"])["annotations"]) == 1


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9/mcp", True),
        ("http://127.8.0.1/mcp", True),
        ("https://localhost/mcp", True),
        ("http://[::1]:8000/mcp", True),
        ("http://10.0.0.1/mcp", False),
        ("https://mcp.example.com/mcp", False),
        ("http://localhost.example.com/mcp", False),
    ],
)
def test_only_loopback_mcp_servers_are_reached(url: str, allowed: bool) -> None:
    assert (loopback_problem(url) is None) is allowed


def test_an_event_stream_answer_is_read_for_its_request_id() -> None:
    stream = (
        b'event: message\ndata: {"jsonrpc": "2.0", "method": "notifications/progress"}\n\n'
        b'event: message\ndata: {"jsonrpc": "2.0", "id": 3, "result": {"tools": []}}\n\n'
    )
    assert _from_event_stream(stream, 3) == {"jsonrpc": "2.0", "id": 3, "result": {"tools": []}}
    with pytest.raises(McpFailure, match="no answer"):
        _from_event_stream(stream, 4)
