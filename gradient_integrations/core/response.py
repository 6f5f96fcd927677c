"""What `/v1/responses` sends back: the documented body shapes, and the normalized result adapters map from.

The body models (`ResponseBody`, `OutputItemBody`, `ChoiceBody`, ...) name the documented fields:
Responses-style `output[]` items (`message` with `output_text` parts, bare `text` items, `function_call`,
`reasoning`, and built-in tools' items such as `web_search_call`) and chat-style `choices[].message`.
Every field is optional and unknown fields are kept (`extra="allow"`). The local server builds its bodies
from them; the client reads nothing through them: `reader.ResponseReader` is the one place that
interprets what arrives, streamed or whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from .quota import Quota
from .server_items import Citation, ServerToolCall

__all__ = [
    "ChoiceBody",
    "OutputItemBody",
    "ResponseBody",
    "ResponseResult",
    "StreamChunkBody",
    "ToolCall",
    "Usage",
]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class OutputContentBody(_Lenient):
    type: str | None = None
    text: str | None = None


class OutputItemBody(_Lenient):
    type: str | None = None
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[OutputContentBody] | str | None = None
    text: str | None = None  # bare `{"type": "text", "text": ...}` items (Stainless SDK shape)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None


class FunctionBody(_Lenient):
    name: str | None = None
    arguments: str | None = None


class ToolCallBody(_Lenient):
    id: str | None = None
    index: int | None = None
    type: str | None = None
    function: FunctionBody | None = None


class MessageBody(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallBody] | None = None


class ChoiceBody(_Lenient):
    index: int | None = None
    finish_reason: str | None = None
    message: MessageBody | None = None
    delta: MessageBody | None = None


class ResponseBody(_Lenient):
    id: str | None = None
    object: str | None = None
    created: int | None = None
    created_at: int | None = None
    model: str | None = None
    status: str | None = None
    output: list[OutputItemBody] | None = None
    choices: list[ChoiceBody] | None = None
    usage: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None


class StreamChunkBody(_Lenient):
    """DO's `response.chunk`: chat-completions-like `choices[].delta`, usage on the last chunk."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[ChoiceBody] | None = None
    usage: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, whichever naming the server used."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # read from the prompt cache
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0  # written to the prompt cache (Anthropic models)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call. `arguments` is the raw JSON text the model produced (it may be invalid)."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ResponseResult:
    """One model turn, normalized from any documented body shape or from a stream."""

    id: str = ""
    model: str = ""
    created: int | None = None
    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    status: str | None = None
    # What built-in tools did on DO's side, and the sources the text cites (`server_items`).
    server_tool_calls: list[ServerToolCall] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    # From the answer's headers: the route a `router:<name>` model chose, and the rate limits left.
    route: str | None = None
    quota: Quota | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def web_searches(self) -> int:
        """How many web searches DO ran for this answer (billed apart from tokens)."""
        return sum(1 for call in self.server_tool_calls if call.name == "web_search")
