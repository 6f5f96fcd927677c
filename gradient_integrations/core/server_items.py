"""What built-in tools leave in an answer: server-side tool calls and citations, read from output items.

A built-in tool (`builtin_tools`) runs on DO's side; the answer reports each run as an output item of its
own type and cites its sources as annotations on the text. Real recordings (OpenAI's Responses API, which
DO forwards for commercial models: `tests/fixtures/recorded/openai/`) show `web_search_call`,
`file_search_call`, `mcp_list_tools` and `mcp_call` items and `url_citation` / `file_citation` annotations;
DO's `knowledge_base_retrieval` is read the same way whatever its item is called. `reader` hands every
output item that is not a message, reasoning or function call to `server_tool_call`, and every annotation
to `citation`; both keep the item as it arrived (`item` / `raw`), so nothing DO adds later is lost.

Names follow LangChain's v1 reading of OpenAI's items (`server_tool_call.name`): `web_search`,
`file_search`, `remote_mcp` for an `mcp_call` (the MCP tool's own name is `tool_name`), `mcp_list_tools`,
and otherwise the item type without its `_call` suffix (`knowledge_base_retrieval`, `code_interpreter`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENT_ITEM_TYPES", "Citation", "ServerToolCall", "citation", "server_tool_call"]

# Output item types that carry the answer itself; any other typed item is a server-side tool's.
CONTENT_ITEM_TYPES = frozenset({"message", "reasoning", "function_call", "text"})
_NAMES = {"mcp_call": "remote_mcp", "mcp_list_tools": "mcp_list_tools"}
# The item fields that say what the tool was asked (its arguments), by item type.
_ARGUMENT_FIELDS = ("action", "queries", "query", "code", "arguments", "input")
_OUTPUT_FIELDS = ("output", "results", "tools", "outputs", "result")


@dataclass(frozen=True, slots=True)
class ServerToolCall:
    """One run of a built-in tool on DO's side: never a call for the caller (or an agent) to run.

    `args` is what the tool was asked (a web search's `action` without its sources, an MCP call's parsed
    arguments, a retrieval's queries); `output` what it returned (sources, results, the MCP tool's text),
    None when the item does not say; `status` the item's own (`completed`, `failed`, ...); `error` an
    MCP call's error. `item` is the output item exactly as it arrived.
    """

    id: str
    type: str
    name: str
    args: dict[str, Any]
    status: str | None = None
    output: Any = None
    error: Any = None
    tool_name: str | None = None  # an MCP call's tool
    server_label: str | None = None  # an MCP item's server
    item: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.status == "failed" or bool(self.error)


@dataclass(frozen=True, slots=True)
class Citation:
    """One annotation on the answer text: a cited URL (`url_citation`), a cited file or knowledge-base
    document (`file_citation`: `file_id`, `filename`, `index`), or another kind, kept in `raw`.

    `start_index` / `end_index` delimit the cited span of the answer text, where the annotation says.
    """

    type: str
    url: str | None = None
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    file_id: str | None = None
    filename: str | None = None
    index: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "mcp_call":
        raw = item.get("arguments")
        if isinstance(raw, str) and raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                return {"arguments": raw}  # kept as the model wrote it
            return parsed if isinstance(parsed, dict) else {"arguments": parsed}
        return {}
    action = item.get("action")
    if isinstance(action, dict):
        return {key: value for key, value in action.items() if key != "sources"}
    for name in _ARGUMENT_FIELDS:
        if name in item and item[name] is not None:
            return {name: item[name]}
    return {}


def _output(item: dict[str, Any]) -> Any:
    action = item.get("action")
    if isinstance(action, dict) and action.get("sources"):
        return {"sources": action["sources"]}
    for name in _OUTPUT_FIELDS:
        if item.get(name) is not None:
            return item[name]
    return None


def server_tool_call(item: dict[str, Any]) -> ServerToolCall:
    """The normalized view of one server-side tool's output item."""
    kind = str(item.get("type") or "")
    name = _NAMES.get(kind) or kind.removesuffix("_call")
    return ServerToolCall(
        id=str(item.get("id") or ""),
        type=kind,
        name=name,
        args=_arguments(item),
        status=_text(item.get("status")),
        output=_output(item),
        error=item.get("error") or None,
        tool_name=_text(item.get("name")) if kind.startswith("mcp") else None,
        server_label=_text(item.get("server_label")),
        item=item,
    )


def citation(annotation: dict[str, Any]) -> Citation:
    """One annotation, in OpenAI's Responses form (flat) or its Chat Completions form (nested under
    `url_citation`), as a `Citation`."""
    kind = str(annotation.get("type") or "")
    nested = annotation.get(kind)
    fields = nested if isinstance(nested, dict) else annotation
    return Citation(
        type=kind,
        url=_text(fields.get("url")),
        title=_text(fields.get("title")),
        start_index=_int(fields.get("start_index")),
        end_index=_int(fields.get("end_index")),
        file_id=_text(fields.get("file_id")),
        filename=_text(fields.get("filename")),
        index=_int(fields.get("index")),
        raw=annotation,
    )
