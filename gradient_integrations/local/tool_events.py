"""Typed stream events for built-in tool items and text annotations (the `openai` and `vllm` dialects).

The sequences mirror OpenAI's recorded streams (`tests/fixtures/recorded/openai/`: web search, file search,
MCP): each item is `response.output_item.added` (the item in progress), its progress events, then
`response.output_item.done` (the whole item).

    web_search_call                 .web_search_call.in_progress, .searching, .completed
    knowledge_base_retrieval_call   .knowledge_base_retrieval_call.in_progress, .searching, .completed
                                    (added with `queries: []`, `results: null`, as file_search_call is)
    mcp_list_tools                  .mcp_list_tools.in_progress, .completed (added with `tools: []`)
    mcp_call                        .mcp_call.in_progress, .mcp_call_arguments.delta (the whole
                                    arguments), .mcp_call_arguments.done, then .mcp_call.completed or
                                    .mcp_call.failed (added with `arguments: ""`, `output: null`)

A message's annotations come as `response.output_text.annotation.added` events (`annotation_index`,
`annotation`), after its text deltas and before `response.output_text.done`.

`Emit(kind, payload)` is the dialect's event writer: it adds the `sequence_number` and puts `type` first
(`openai`) or last (`vllm`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SERVER_ITEM_TYPES", "Emit", "annotation_events", "server_item_events"]

Emit = Callable[[str, dict[str, Any]], bytes]

# item type -> (event prefix, progress stages before the last one)
_PROGRESS = {
    "web_search_call": ("response.web_search_call", ("in_progress", "searching")),
    "knowledge_base_retrieval_call": ("response.knowledge_base_retrieval_call", ("in_progress", "searching")),
    "mcp_list_tools": ("response.mcp_list_tools", ("in_progress",)),
    "mcp_call": ("response.mcp_call", ("in_progress",)),
}
SERVER_ITEM_TYPES = frozenset(_PROGRESS)


def _in_progress(item: dict[str, Any]) -> dict[str, Any]:
    """The item as `response.output_item.added` shows it, before the tool ran."""
    kind = item["type"]
    if kind == "web_search_call":
        return {"id": item["id"], "type": kind, "status": "in_progress"}
    if kind == "knowledge_base_retrieval_call":
        return {**item, "status": "in_progress", "queries": [], "results": None}
    if kind == "mcp_list_tools":
        return {**item, "tools": []}
    return {**item, "status": "in_progress", "arguments": "", "error": None, "output": None}


def server_item_events(item: dict[str, Any], output_index: int, emit: Emit) -> Iterator[bytes]:
    """All events of one built-in tool item (`SERVER_ITEM_TYPES`)."""
    prefix, stages = _PROGRESS[item["type"]]
    where = {"output_index": output_index, "item_id": item["id"]}
    yield emit("response.output_item.added", {"output_index": output_index, "item": _in_progress(item)})
    for stage in stages:
        yield emit(f"{prefix}.{stage}", where)
    if item["type"] == "mcp_call":
        yield emit("response.mcp_call_arguments.delta", {**where, "delta": item["arguments"]})
        yield emit("response.mcp_call_arguments.done", {**where, "arguments": item["arguments"]})
    last = "failed" if item.get("status") == "failed" else "completed"
    yield emit(f"{prefix}.{last}", where)
    yield emit("response.output_item.done", {"output_index": output_index, "item": item})


def annotation_events(
    annotations: list[dict[str, Any]], where: dict[str, Any], emit: Emit
) -> Iterator[bytes]:
    """`response.output_text.annotation.added` per annotation; `where` is item_id, output_index and
    content_index as the dialect orders them."""
    for index, annotation in enumerate(annotations):
        payload = {**where, "annotation_index": index, "annotation": annotation}
        yield emit("response.output_text.annotation.added", payload)
