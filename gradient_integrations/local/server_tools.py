"""The built-in tools DO runs on its side (`web_search`, `knowledge_base_retrieval`, `mcp`), emulated.

`ServerTools.plan(request)` checks a request's built-in tools (an unknown `knowledge_base_id` is a `404`, an
MCP `server_url` that is not loopback or an `authorization` that is no header value a `400`, all as
`PlatformError`) and runs the local ones at once; `ToolPlan.run_mcp()` then calls the MCP servers (async,
loopback only: `mcp_client`). `ToolPlan.grounding()` is what the scripted model gets: the output items
(OpenAI's shapes, in the order of `tools`) and an answer text with its citations. Tools run when the turn
answers a user message (not tool results) and `tool_choice` is not `none`; other built-in types
(`BuiltInTool`) are accepted and ignored.

- `web_search` (`max_uses`, default 1; `max_results`, default 3): one search per question of the last user
  message (sentences ending in `?`; else the whole message), at most `max_uses`, each a `web_search_call`
  `{"id": "ws_...", "type", "status": "completed", "action": {"type": "search", "query", "sources":
  [{"type": "url", "url"}]}}` over `retrieval.WEB_PAGES`. The answer is each cited page's text (the best
  result of each search and every other result sharing a word with the query, at most 3 pages) followed by
  ` ([title](url))`, and a `url_citation` annotation whose `start_index`/`end_index` cover `([title](url))`,
  as OpenAI's do.
- `knowledge_base_retrieval`: a `knowledge_base_retrieval_call` `{"id": "kb_...", "type", "status",
  "knowledge_base_id", "queries": [<last user message>], "results": [{"id", "filename", "score", "text"}]}`
  (the best 3 documents sharing a word with the query); the answer is the best document's text (first
  `_ANSWER_WORDS` words) with a `file_citation` `{"type", "file_id", "filename", "index"}` at its end.
- `mcp`: `mcp_list_tools` `{"id": "mcpl_...", "type", "server_label", "tools": [{"name", "description",
  "input_schema", "annotations"}]}` (filtered by `allowed_tools`), then one `mcp_call` `{"id": "mcp_...",
  "type", "status", "approval_request_id": null, "arguments", "error", "name", "output", "server_label"}`
  per listed tool the last user message mentions (as function tools are picked; arguments from the tool's
  `input_schema` and the message's values, `schema_values`). A call that fails (HTTP 401 from a wrong
  token, a JSON-RPC error, a tool error) is `status: "failed"` with `error` set and `output: null`, as
  OpenAI records it; a server whose tool list cannot be fetched fails the whole request with `424` (OpenAI's
  status for it). The answer says what each call returned (`<label>.<tool> returned: <output>`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.builtin_tools import KnowledgeBaseRetrievalTool, McpTool, WebSearchTool
from ..core.request import ResponseRequest
from .mcp_client import McpFailure, McpSession, loopback_problem
from .mentions import mentioned_tools
from .model import last_user_message
from .retrieval import KnowledgeBases, search_web
from .schema_values import Hints, value_for_schema

__all__ = ["Grounding", "PlatformError", "ServerTools", "ToolPlan", "has_server_tools"]

_QUESTION = re.compile(r"[^?.!\n]*\?")
_QUERY_WORD = re.compile(r"[\w'/-]+")
_QUESTION_WORDS = "what which who whom whose when where why how is are was were do does did the a an of"
_STOP = frozenset(_QUESTION_WORDS.split())
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
_MAX_QUERY_WORDS = 32
_MAX_CITED_PAGES = 3
_ANSWER_WORDS = 100
_MAX_MCP_CALLS = 8


class PlatformError(Exception):
    """A request the platform refuses (`status`, DO error message naming the field)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Grounding:
    """The built-in tools' part of an answer: output items, and the answer text with its annotations
    (`text` None: the tools found nothing to say, the model answers as usual)."""

    items: list[dict[str, Any]]
    text: str | None
    annotations: list[dict[str, Any]]

    def reply(self, prefix: str) -> tuple[str, list[dict[str, Any]]]:
        """The answer after `prefix`, with the annotations' offsets moved along."""
        annotations = [_shifted(annotation, len(prefix)) for annotation in self.annotations]
        return prefix + (self.text or ""), annotations


@dataclass
class _Step:
    """One built-in tool's items and its sentence of the answer (annotations relative to `text`)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    annotations: list[dict[str, Any]] = field(default_factory=list)
    mcp: tuple[int, McpTool] | None = None  # still to run: (position in tools, tool)


def has_server_tools(request: ResponseRequest) -> bool:
    return any(
        isinstance(tool, (WebSearchTool, KnowledgeBaseRetrievalTool, McpTool)) for tool in request.tools or ()
    )


class ToolPlan:
    """A request's built-in tool steps, in the order of its `tools`."""

    def __init__(self, steps: list[_Step], message: str, new_id: Any) -> None:
        self.steps = steps
        self.message = message
        self._new_id = new_id

    @property
    def needs_mcp(self) -> bool:
        return any(step.mcp is not None for step in self.steps)

    async def run_mcp(self) -> None:
        """Call the MCP servers (one after the other, in `tools` order)."""
        for step in self.steps:
            if step.mcp is not None:
                await _run_mcp(step, *step.mcp, self.message, self._new_id)
                step.mcp = None

    def grounding(self) -> Grounding | None:
        if not self.steps:
            return None
        items = [item for step in self.steps for item in step.items]
        text, annotations = "", []
        for step in self.steps:
            if not step.text:
                continue
            if text:
                text += " "
            annotations += [_shifted(annotation, len(text)) for annotation in step.annotations]
            text += step.text
        return Grounding(items, text or None, annotations)


class ServerTools:
    """Runs the built-in tools; `knowledge_bases` are what `knowledge_base_retrieval` searches."""

    def __init__(self, knowledge_bases: KnowledgeBases) -> None:
        self.knowledge_bases = knowledge_bases
        self._counter = itertools.count(1)
        self._salt = os.urandom(4).hex()

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{self._salt}{next(self._counter):08x}"

    def plan(self, request: ResponseRequest) -> ToolPlan:
        """Check the built-in tools and run the local ones. Raises `PlatformError`."""
        tools = list(request.tools or ())
        for position, tool in enumerate(tools):
            if isinstance(tool, KnowledgeBaseRetrievalTool):
                if self.knowledge_bases.documents(tool.knowledge_base_id) is None:
                    known = ", ".join(self.knowledge_bases.ids)
                    raise PlatformError(
                        404,
                        f"tools[{position}].knowledge_base_id: no knowledge base {tool.knowledge_base_id!r} "
                        f"on this server; knowledge bases: {known}",
                    )
            elif isinstance(tool, McpTool):
                if problem := loopback_problem(tool.server_url):
                    raise PlatformError(400, f"tools[{position}].server_url: {problem}")
                secret = tool.authorization.get_secret_value() if tool.authorization is not None else ""
                if not _HEADER_VALUE.fullmatch(secret):  # the value itself is never repeated
                    raise PlatformError(
                        400,
                        f"tools[{position}].authorization: must be printable ASCII on one line (it is sent "
                        "as an HTTP header)",
                    )
        message, answers_tool_results = last_user_message(request)
        if answers_tool_results or request.tool_choice == "none":
            return ToolPlan([], message, self._new_id)
        steps: list[_Step] = []
        for position, tool in enumerate(tools):
            if isinstance(tool, WebSearchTool):
                steps.append(self._web_search(tool, message))
            elif isinstance(tool, KnowledgeBaseRetrievalTool):
                steps.append(self._retrieve(tool, message))
            elif isinstance(tool, McpTool):
                steps.append(_Step(mcp=(position, tool)))
        return ToolPlan(steps, message, self._new_id)

    def _web_search(self, tool: WebSearchTool, message: str) -> _Step:
        step = _Step()
        cited: dict[str, Any] = {}
        for query in _search_queries(message, tool.max_uses or 1):
            results = search_web(query, tool.max_results or 3)
            sources = [{"type": "url", "url": page.url} for _, page in results]
            action = {"type": "search", "query": query, "sources": sources}
            step.items.append(
                {"id": self._new_id("ws"), "type": "web_search_call", "status": "completed", "action": action}
            )
            for rank, (score, page) in enumerate(results):
                if rank == 0 or score > 0:
                    cited.setdefault(page.url, page)
        for page in list(cited.values())[:_MAX_CITED_PAGES]:
            if step.text:
                step.text += " "
            step.text += page.text + " "
            link = f"([{page.title}]({page.url}))"
            step.annotations.append(
                {
                    "type": "url_citation",
                    "start_index": len(step.text),
                    "end_index": len(step.text) + len(link),
                    "url": page.url,
                    "title": page.title,
                }
            )
            step.text += link
        return step

    def _retrieve(self, tool: KnowledgeBaseRetrievalTool, message: str) -> _Step:
        query = " ".join(message.split())[:1000]
        found = self.knowledge_bases.search(tool.knowledge_base_id, query) or []
        results = [
            {"id": document.id, "filename": document.filename, "score": score, "text": document.text}
            for score, document in found
        ]
        item = {
            "id": self._new_id("kb"),
            "type": "knowledge_base_retrieval_call",
            "status": "completed",
            "knowledge_base_id": tool.knowledge_base_id,
            "queries": [query],
            "results": results,
        }
        if not found:
            text = f"The knowledge base {tool.knowledge_base_id} has nothing about that."
            return _Step(items=[item], text=text)
        best = found[0][1]
        text = " ".join(best.text.split()[:_ANSWER_WORDS])
        index = len(text) - 1 if text[-1:] in ".!?" else len(text)
        citation = {"type": "file_citation", "file_id": best.id, "filename": best.filename, "index": index}
        return _Step(items=[item], text=text, annotations=[citation])


@dataclass(frozen=True)
class _ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]


async def _run_mcp(step: _Step, position: int, tool: McpTool, message: str, new_id: Any) -> None:
    label = tool.server_label
    secret = tool.authorization.get_secret_value() if tool.authorization is not None else None
    async with McpSession(tool.server_url, secret) as session:
        try:
            listed = await session.list_tools()
        except McpFailure as exc:
            raise PlatformError(
                424, f"tools[{position}]: error retrieving the tool list from MCP server {label!r}: {exc}"
            ) from None
        allowed = tool.allowed_tools
        listed = [entry for entry in listed if allowed is None or entry["name"] in allowed]
        tools = [
            _ListedTool(entry["name"], str(entry.get("description") or ""), _schema(entry.get("inputSchema")))
            for entry in listed
        ]
        step.items.append(
            {
                "id": new_id("mcpl"),
                "type": "mcp_list_tools",
                "server_label": label,
                "tools": [
                    {
                        "name": entry.name,
                        "description": entry.description,
                        "input_schema": entry.input_schema,
                        "annotations": _annotations(raw.get("annotations")),
                    }
                    for entry, raw in zip(tools, listed, strict=True)
                ],
            }
        )
        hints = Hints()
        sentences = []
        for chosen in mentioned_tools(tools, message)[:_MAX_MCP_CALLS]:
            if not (hints.strings or hints.numbers):
                hints = Hints.from_text(message)  # parallel calls take the message's values in turn
            arguments = value_for_schema(chosen.input_schema, hints, name=chosen.name)
            arguments = arguments if isinstance(arguments, dict) else {}
            call: dict[str, Any] = {
                "id": new_id("mcp"),
                "type": "mcp_call",
                "status": "completed",
                "approval_request_id": None,
                "arguments": json.dumps(arguments, ensure_ascii=False),
                "error": None,
                "name": chosen.name,
                "output": None,
                "server_label": label,
            }
            try:
                call["output"] = await session.call_tool(chosen.name, arguments)
                sentences.append(f"{label}.{chosen.name} returned: {call['output']}")
            except McpFailure as exc:
                call["status"], call["error"] = "failed", str(exc)
                sentences.append(f"{label}.{chosen.name} failed: {exc}")
            step.items.append(call)
        step.text = " ".join(sentences)


def _schema(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"type": "object", "properties": {}}


def _annotations(value: Any) -> dict[str, Any] | None:
    """MCP's tool annotations in OpenAI's `mcp_list_tools` form (`{"read_only": bool}`)."""
    if not isinstance(value, dict):
        return None
    return {"read_only": bool(value.get("readOnlyHint", False))}


def _search_queries(message: str, max_uses: int) -> list[str]:
    """One query per question in the message (else one for all of it): its words without question words."""
    questions = [match.group() for match in _QUESTION.finditer(message)] or [message]
    queries: list[str] = []
    for question in questions:
        words = [word for word in _QUERY_WORD.findall(question) if word.lower() not in _STOP]
        query = " ".join(words[:_MAX_QUERY_WORDS]) or " ".join(question.split()[:_MAX_QUERY_WORDS])
        if query and query not in queries:
            queries.append(query)
        if len(queries) >= max_uses:
            break
    return queries or ["(empty)"]


def _shifted(annotation: dict[str, Any], shift: int) -> dict[str, Any]:
    moved = dict(annotation)
    for key in ("start_index", "end_index", "index"):
        if key in moved:
            moved[key] += shift
    return moved
