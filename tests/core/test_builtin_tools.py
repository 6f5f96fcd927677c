"""The platform's request vocabulary: built-in tools, routers, reasoning effort and prompt caching.

What goes on the wire for each documented form (DO blog "Serverless Inference: A Deep Dive", docs "Use
Reasoning", "Use Prompt Caching"); the refusals are in `tests/reliability/test_bad_input.py`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gradient_integrations.core import (
    BuiltInTool,
    FunctionTool,
    KnowledgeBaseRetrievalTool,
    McpTool,
    WebSearchTool,
    build_request,
)
from gradient_integrations.core.options import resolve_options
from gradient_integrations.core.request import REASONING_EFFORTS

SECRET = "mcp-token-5f1d3c"
MCP = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.deepwiki.com/mcp",
    "authorization": SECRET,
    "allowed_tools": ["ask_question"],
}
ADD = {"type": "function", "name": "add", "parameters": {"type": "object", "properties": {}}}


def body(**fields: Any) -> dict[str, Any]:
    return build_request(**{"model": "m", "input": "hi", **fields}).to_body(stream=False)


def test_each_documented_built_in_tool_goes_out_as_documented_beside_a_function_tool() -> None:
    tools = [
        {"type": "web_search", "max_uses": 3, "max_results": 5},
        {"type": "knowledge_base_retrieval", "knowledge_base_id": "kb-9a1"},
        MCP,
        ADD,
    ]
    assert body(tools=tools)["tools"] == tools  # order kept, nothing added or dropped


def test_typed_values_and_dicts_give_the_same_body() -> None:
    typed = [
        WebSearchTool(max_uses=3, max_results=5),
        KnowledgeBaseRetrievalTool(knowledge_base_id="kb-9a1"),
        McpTool(
            server_label="deepwiki",
            server_url="https://mcp.deepwiki.com/mcp",
            authorization=SECRET,
            allowed_tools=["ask_question"],
        ),
        FunctionTool(name="add"),
    ]
    dicts = [
        {"type": "web_search", "max_uses": 3, "max_results": 5},
        {"type": "knowledge_base_retrieval", "knowledge_base_id": "kb-9a1"},
        MCP,
        ADD,
    ]
    assert body(tools=typed) == body(tools=dicts)


def test_fields_a_later_release_documents_are_kept_and_the_escape_hatch_sends_any_type() -> None:
    sent = body(
        tools=[
            {"type": "web_search", "user_location": {"country": "US"}},
            BuiltInTool(type="code_interpreter", container={"type": "auto"}),
        ]
    )["tools"]
    assert sent == [
        {"type": "web_search", "user_location": {"country": "US"}},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    with pytest.raises(ValueError, match="'function' tools are FunctionTool"):
        BuiltInTool(type="function")


def test_the_mcp_authorization_is_masked_everywhere_but_the_body(caplog: pytest.LogCaptureFixture) -> None:
    request = build_request(model="m", input="hi", tools=[MCP])
    tool = request.tools[0] if request.tools else None
    assert isinstance(tool, McpTool)
    logging.getLogger("test").warning("request %r tool %s", request, tool)
    assert SECRET not in repr(request) and SECRET not in str(tool) and SECRET not in caplog.text
    assert SECRET not in request.model_dump_json() and SECRET not in json.dumps(tool.model_dump())
    assert request.to_body(stream=True)["tools"][0]["authorization"] == SECRET


def test_function_names_leave_built_in_tools_out_and_required_may_force_a_built_in_one() -> None:
    request = build_request(
        model="m", input="hi", tools=[{"type": "web_search"}, ADD], tool_choice="required"
    )
    assert request.function_names() == ["add"]
    assert [tool.name for tool in request.function_tools()] == ["add"]
    only_search = build_request(model="m", input="hi", tools=[{"type": "web_search"}], tool_choice="required")
    assert only_search.to_body(stream=False)["tool_choice"] == "required"


def test_built_in_tools_go_ahead_of_function_tools_and_a_call_replaces_the_instances() -> None:
    instance = {"built_in_tools": [{"type": "web_search"}]}
    options = resolve_options(instance, {}, {"tools": [ADD]}, owner="X")
    assert [tool.type for tool in options.fields["tools"]] == ["web_search", "function"]
    per_call = resolve_options(
        instance,
        {},
        {"built_in_tools": [{"type": "knowledge_base_retrieval", "knowledge_base_id": "k"}]},
        owner="X",
    )
    assert [tool.type for tool in per_call.fields["tools"]] == ["knowledge_base_retrieval"]
    none = resolve_options(instance, {}, {"built_in_tools": []}, owner="X")
    assert "tools" not in none.fields


@pytest.mark.parametrize("effort", REASONING_EFFORTS)
def test_every_documented_reasoning_effort_is_sent_as_reasoning_effort(effort: str) -> None:
    options = resolve_options({"model": "m"}, {}, {"reasoning_effort": effort}, owner="X")
    assert options.request("hi").to_body(stream=False)["reasoning"] == {"effort": effort}


def test_the_documented_efforts_include_dos_and_the_chat_specs_words() -> None:
    # "Use Reasoning": none|low|medium|high|max; the chat-completions spec: minimal and xhigh too.
    assert {"none", "low", "medium", "high", "max", "minimal", "xhigh"} == set(REASONING_EFFORTS)


def test_a_router_is_a_model_id() -> None:
    assert body(model="router:support")["model"] == "router:support"


def test_prompt_cache_retention_and_cache_control_go_out_as_documented() -> None:
    sent = body(
        prompt_cache_retention="24h",
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "long shared prefix",
                        "cache_control": {"type": "ephemeral"},
                    },
                    {
                        "type": "input_text",
                        "text": "question",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    },
                ],
            }
        ],
    )
    assert sent["prompt_cache_retention"] == "24h"
    parts = sent["input"][0]["content"]
    assert parts[0]["cache_control"] == {"type": "ephemeral"}
    assert parts[1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
