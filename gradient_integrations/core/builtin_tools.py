"""Gradient's built-in tools: tools DigitalOcean runs on its own side, as typed, validated request values.

DigitalOcean documents three for `/v1/responses`, Chat Completions and Messages alike (DO blog "Serverless
Inference: A Deep Dive", 2026-06-01; `docs/platform-features.md` quotes each form):

* `WebSearchTool`: `{"type": "web_search", "max_uses": 3, "max_results": 5}`, billed per search;
* `KnowledgeBaseRetrievalTool`: `{"type": "knowledge_base_retrieval", "knowledge_base_id": "..."}`, a
  Gradient knowledge base searched on DO's side (the platform's own RAG);
* `McpTool`: `{"type": "mcp", "server_label", "server_url", "authorization", "allowed_tools"}`, a remote MCP
  server DO lists and calls.

The model calls them itself; their calls and results come back as output items (`web_search_call`,
`mcp_call`, ...) that `reader` keeps as `ServerToolCall`s, never as tool calls for the caller to run.
`BuiltInTool` is the explicit escape hatch for a type DO adds later: any fields, sent as given.

`McpTool.authorization` is the MCP server's credential: held as a `SecretStr` (masked in `repr`, logs and
LangChain traces) and written out only into the request body (`to_body`), where DO needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_serializer,
    field_validator,
)

from .errors import InvalidRequestError, first_validation_error

__all__ = [
    "BUILT_IN_TOOL_CLASSES",
    "BuiltInTool",
    "BuiltInToolValue",
    "KnowledgeBaseRetrievalTool",
    "McpTool",
    "WebSearchTool",
    "built_in_tool",
    "is_built_in_tool",
    "is_server_side",
]

# The context `ResponseRequest.to_body` dumps with: the only dump that writes secrets out in clear.
REVEAL_SECRETS = {"reveal_secrets": True}


class _BuiltIn(BaseModel):
    # Fields DO adds later (or OpenAI's, for forwarded models) are kept and sent.
    model_config = ConfigDict(extra="allow", frozen=True)


class WebSearchTool(_BuiltIn):
    """Let the model search the web on DO's side; results come back as `url_citation` annotations."""

    type: Literal["web_search", "web_search_preview", "web_search_2025_08_26"] = "web_search"
    max_uses: Annotated[int, Field(ge=1)] | None = None
    """Most searches the model may run for one answer."""
    max_results: Annotated[int, Field(ge=1)] | None = None
    """Most results each search returns to the model."""


class KnowledgeBaseRetrievalTool(_BuiltIn):
    """Let the model search a Gradient knowledge base (retrieval runs on DO's side, no client embeddings)."""

    type: Literal["knowledge_base_retrieval"] = "knowledge_base_retrieval"
    knowledge_base_id: str = Field(min_length=1)
    """The knowledge base's id (its UUID in the DO control panel)."""


class McpTool(_BuiltIn):
    """A remote MCP server whose tools DO lists and calls for the model."""

    type: Literal["mcp"] = "mcp"
    server_label: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """A short name for the server, unique among the request's MCP tools."""
    server_url: str
    """The server's `https://` URL (DO calls it, so it must be reachable from DO)."""
    authorization: SecretStr | None = None
    """Sent by DO to the server (e.g. an OAuth bearer token); masked everywhere but the request body."""
    allowed_tools: list[str] | None = None
    """Only these of the server's tools are offered to the model."""

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        return value

    @field_serializer("authorization", when_used="always")
    def _authorization(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        if value is None:
            return None
        context = info.context if isinstance(info.context, Mapping) else {}
        return value.get_secret_value() if context.get("reveal_secrets") else "**********"


class BuiltInTool(_BuiltIn):
    """Any other server-side tool type, sent exactly as given: `BuiltInTool(type="code_interpreter", ...)`.

    The escape hatch for a type DO documents after this release; the known types have their own classes,
    which check their fields.
    """

    type: str = Field(min_length=1)

    @field_validator("type")
    @classmethod
    def _not_function(cls, value: str) -> str:
        if value == "function":
            raise ValueError("'function' tools are FunctionTool; BuiltInTool is for server-side tool types")
        return value


BuiltInToolValue: TypeAlias = WebSearchTool | KnowledgeBaseRetrievalTool | McpTool | BuiltInTool

# Each documented `type` and the class that checks its fields (`request.RequestTool` is tagged from it).
BUILT_IN_TOOL_CLASSES: dict[str, type[BuiltInToolValue]] = {
    "web_search": WebSearchTool,
    "web_search_preview": WebSearchTool,
    "web_search_2025_08_26": WebSearchTool,
    "knowledge_base_retrieval": KnowledgeBaseRetrievalTool,
    "mcp": McpTool,
}
_DOCUMENTED = "web_search, knowledge_base_retrieval, mcp"


def is_built_in_tool(tool: object) -> bool:
    """True for a built-in tool value or a dict whose `type` is a built-in type (not a function tool)."""
    if isinstance(tool, _BuiltIn):
        return True
    return isinstance(tool, Mapping) and tool.get("type") in BUILT_IN_TOOL_CLASSES


def is_server_side(tool: object) -> bool:
    """A built-in tool value, or a dict whose `type` names no function tool: what `built_in_tool` reads
    (a documented type) or refuses with the escape hatch (any other)."""
    if isinstance(tool, _BuiltIn):
        return True
    return isinstance(tool, Mapping) and tool.get("type") not in (None, "function")


def built_in_tool(tool: BuiltInToolValue | Mapping[str, Any], *, field: str = "tools[0]") -> BuiltInToolValue:
    """A built-in tool from its typed value or its dict form; a bad field raises naming `{field}.<name>`."""
    if isinstance(tool, _BuiltIn):
        return tool
    if not isinstance(tool, Mapping):
        raise InvalidRequestError(field, f"must be a tool dict, got {type(tool).__name__}")
    kind = tool.get("type")
    cls = BUILT_IN_TOOL_CLASSES.get(kind) if isinstance(kind, str) else None
    if kind in (None, "function"):
        raise InvalidRequestError(
            field, "is a function tool, which the caller runs: pass it in tools (or bind_tools), not here"
        )
    if cls is None:
        raise InvalidRequestError(
            field,
            f"tool type {kind!r} is neither a function tool nor a built-in tool DigitalOcean documents "
            f"({_DOCUMENTED}); to send another type as it is, pass BuiltInTool(type={kind!r}, ...)",
        )
    try:
        return cls.model_validate(dict(tool))
    except ValidationError as exc:
        location, message = first_validation_error(exc)
        raise InvalidRequestError(f"{field}.{location}", message) from None
