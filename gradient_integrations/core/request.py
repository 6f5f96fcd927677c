"""The request body of `POST /v1/responses`, as pydantic models, and its validation.

Field by field this follows DO's OpenAPI spec (`create_response_request.yml`) and the Stainless SDK's
`ResponseCreateParams`. Every field of the body is mapped here and only here: adapters build a
`ResponseRequest`, and `ResponseRequest.to_body(stream=...)` is the exact JSON that goes on the wire.

Invalid input raises `InvalidRequestError` naming the field and the fix, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    ValidationError,
    field_validator,
)

from .builtin_tools import (
    BUILT_IN_TOOL_CLASSES,
    REVEAL_SECRETS,
    BuiltInTool,
    KnowledgeBaseRetrievalTool,
    McpTool,
    WebSearchTool,
    built_in_tool,
    is_server_side,
)
from .errors import InvalidRequestError, first_validation_error

__all__ = [
    "REASONING_EFFORTS",
    "CacheControl",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "InputItem",
    "InputText",
    "MessageItem",
    "NamedToolChoice",
    "ReasoningItem",
    "ReasoningText",
    "RequestTool",
    "ResponseRequest",
    "StreamOptions",
    "ToolChoice",
    "build_request",
    "check_effort",
    "check_tool_results",
    "message_content",
]

MAX_STOP_SEQUENCES = 4
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
# DO's "Use Reasoning" doc lists none|low|medium|high|max; its chat-completions spec adds minimal and xhigh
# (OpenAI's words). All go out as `reasoning: {"effort": ...}`; the model decides what it supports.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


class _Wire(BaseModel):
    # Unknown fields on items are kept and sent: the endpoint grows faster than this file.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CacheControl(_Wire):
    """Anthropic's prompt-cache breakpoint on a content part (DO: "Use Prompt Caching", Anthropic models)."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


class InputText(_Wire):
    type: Literal["input_text"] = "input_text"
    text: str
    cache_control: CacheControl | None = None


class MessageItem(_Wire):
    """A conversation message. `content` is a string or `input_text` parts (the endpoint is text-only)."""

    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer", "tool"]
    content: str | list[InputText]


class FunctionCallItem(_Wire):
    """A tool call the model made earlier, replayed so the model sees its own call."""

    type: Literal["function_call"] = "function_call"
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str


class FunctionCallOutputItem(_Wire):
    """The result of a tool call, matched to the call by `call_id`."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str = Field(min_length=1)
    output: str


class ReasoningText(_Wire):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(_Wire):
    """Reasoning the model produced earlier (gpt-oss), replayed verbatim."""

    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    content: list[ReasoningText] | None = None
    summary: list[Any] = Field(default_factory=list)
    encrypted_content: str | None = None


def _item_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("function_call", "function_call_output", "reasoning") else "message"


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")],
    Discriminator(_item_kind),
]


class FunctionTool(_Wire):
    """A tool in the flat Responses form `{type, name, description, parameters}`."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


def _tool_kind(value: Any) -> str:
    """The union branch of a tool, by its class name: a typed value's own class; a dict's by its `type`
    (`builtin_tools.BUILT_IN_TOOL_CLASSES`), a function tool without one, `BuiltInTool` for any other."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    kind = value.get("type") if isinstance(value, dict) else None
    if kind is None or kind == "function":
        return "FunctionTool"
    cls = BUILT_IN_TOOL_CLASSES.get(kind) if isinstance(kind, str) else None
    return cls.__name__ if cls is not None else "BuiltInTool"


# A function tool the caller runs, or a built-in tool DO runs (`builtin_tools`).
_TOOL_CLASSES = (FunctionTool, WebSearchTool, KnowledgeBaseRetrievalTool, McpTool, BuiltInTool)
RequestTool = Annotated[
    Annotated[FunctionTool, Tag("FunctionTool")]
    | Annotated[WebSearchTool, Tag("WebSearchTool")]
    | Annotated[KnowledgeBaseRetrievalTool, Tag("KnowledgeBaseRetrievalTool")]
    | Annotated[McpTool, Tag("McpTool")]
    | Annotated[BuiltInTool, Tag("BuiltInTool")],
    Discriminator(_tool_kind),
]


class _FunctionName(_Wire):
    name: str


class NamedToolChoice(_Wire):
    """Force one tool: `{"type": "function", "function": {"name": ...}}` (the chat-style named form)."""

    type: Literal["function"] = "function"
    function: _FunctionName

    @classmethod
    def of(cls, name: str) -> NamedToolChoice:
        return cls(function=_FunctionName(name=name))


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class StreamOptions(_Wire):
    include_usage: StrictBool = True


class ResponseRequest(BaseModel):
    """One `/v1/responses` call. Build it with `build_request(...)` to get friendly errors."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    input: str | list[InputItem]
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[RequestTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    stop: str | list[str] | None = None
    stream_options: StreamOptions | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    # Not in DO's spec but accepted by the vLLM backend; used for structured output and gpt-oss effort.
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    # DO: "Use Prompt Caching" (OpenAI models, Chat Completions and Responses).
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    # OpenAI Responses fields that vLLM also accepts.
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    # Anything else the caller wants in the body, sent as given: merged last.
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _router_named(cls, value: str) -> str:
        if value.startswith("router:") and not value.removeprefix("router:").strip():
            raise ValueError("'router:' names no router; use 'router:<name>' (a router made in DO's panel)")
        return value

    @field_validator("input")
    @classmethod
    def _input_not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        if not value:
            raise ValueError("must be a non-empty string or a non-empty list of items")
        return value

    @field_validator("max_output_tokens", "temperature", "top_p", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any) -> Any:
        # JSON's true is no number, but pydantic would read it as 1: the endpoint's schema refuses it.
        if isinstance(value, bool):
            raise ValueError(f"must be a number, got {value}")
        return value

    @field_validator("max_output_tokens")
    @classmethod
    def _positive_tokens(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be >= 1, got {value}")
        return value

    @field_validator("temperature")
    @classmethod
    def _temperature_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 2:
            raise ValueError(f"must be between 0 and 2, got {value}")
        return value

    @field_validator("top_p")
    @classmethod
    def _top_p_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"must be between 0 and 1, got {value}")
        return value

    @field_validator("stop")
    @classmethod
    def _stop_count(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if len(value) > MAX_STOP_SEQUENCES:
                raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences, got {len(value)}")
            if not value:
                return None
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > MAX_METADATA_PAIRS:
            raise ValueError(f"at most {MAX_METADATA_PAIRS} pairs, got {len(value)}")
        for key, item in value.items():
            if len(key) > MAX_METADATA_KEY:
                raise ValueError(f"key {key[:20]!r}... is longer than {MAX_METADATA_KEY} characters")
            if len(item) > MAX_METADATA_VALUE:
                raise ValueError(f"value of {key!r} is longer than {MAX_METADATA_VALUE} characters")
        return value

    def check(self) -> None:
        """The checks across fields and items that pydantic's per-field validation cannot make.

        `build_request` runs them; so do the client and the batch encoder before sending, since a
        `ResponseRequest` made directly or by `model_copy(update=...)` skips `build_request`.
        """
        self._check_stop()
        self._check_tool_choice()
        check_effort((self.reasoning or {}).get("effort"), "reasoning.effort")
        if isinstance(self.input, list):
            check_tool_results(self.input)

    def _check_stop(self) -> None:
        # An empty stop string matches everywhere or nowhere, depending on the backend: never what was meant,
        # and an answer cut at its first token would not say why.
        stop = self.stop
        if stop == "":
            raise InvalidRequestError("stop", "is an empty string; pass a non-empty stop sequence, or None")
        if isinstance(stop, list):
            for position, sequence in enumerate(stop):
                if sequence == "":
                    raise InvalidRequestError(
                        f"stop[{position}]", "is an empty string; remove it or pass a non-empty stop sequence"
                    )

    def _check_tool_choice(self) -> None:
        choice = self.tool_choice
        if not self.tools and choice is None:
            return  # most requests: nothing to check (this runs on every call, twice)
        if isinstance(choice, NamedToolChoice):
            names = self.function_names()
            if choice.function.name not in names:
                raise InvalidRequestError(
                    "tool_choice",
                    f"names tool {choice.function.name!r}, which is not among tools {names}; "
                    "pass that tool in tools or choose one of them",
                )
        elif choice == "required" and not self.tools:
            raise InvalidRequestError("tool_choice", "'required' needs at least one tool in tools")
        tool_names = self.function_names()
        if len(set(tool_names)) != len(tool_names):
            raise InvalidRequestError("tools", f"tool names must be unique, got {tool_names}")
        labels = [tool.server_label for tool in self.tools or [] if isinstance(tool, McpTool)]
        if len(set(labels)) != len(labels):
            raise InvalidRequestError("tools", f"MCP server_label values must be unique, got {labels}")

    def function_tools(self) -> list[FunctionTool]:
        """The function tools (the ones the caller runs), in order; built-in tools are left out."""
        return [tool for tool in self.tools or [] if isinstance(tool, FunctionTool)]

    def function_names(self) -> list[str]:
        """The names of the function tools, in order."""
        return [tool.name for tool in self.function_tools()]

    def to_body(self, *, stream: bool) -> dict[str, Any]:
        """The JSON body. `stream_options` goes out only when streaming: the API answers 400 otherwise."""
        body = self.model_dump(
            mode="json", exclude_none=True, exclude={"extra_body", "stream_options"}, context=REVEAL_SECRETS
        )
        if stream:
            body["stream"] = True
            options = self.stream_options or StreamOptions()
            body["stream_options"] = options.model_dump(mode="json", exclude_none=True)
        body.update(self.extra_body)
        return body


def check_effort(effort: Any, field: str) -> None:
    """Refuse a reasoning effort DO does not document, naming `field` (`reasoning_effort` when given so)."""
    if effort is not None and effort not in REASONING_EFFORTS:
        raise InvalidRequestError(
            field, f"{effort!r} is not one of {', '.join(map(repr, REASONING_EFFORTS))}"
        )


def message_content(parts: Sequence[tuple[str, Any]], where: str = "content") -> str | list[InputText]:
    """A message's `content` from its text parts, each `(text, cache_control or None)`.

    Without a cache breakpoint the parts are joined by newlines into one string (as vLLM joins text
    parts); with one, they stay `input_text` parts so the breakpoint sits where the caller put it
    (Anthropic models on DO: "Use Prompt Caching"). A bad `cache_control` is named `{where}[i]....`.
    """
    if not any(control for _, control in parts):
        return "\n".join(text for text, _ in parts)
    content: list[InputText] = []
    for position, (text, control) in enumerate(parts):
        try:
            content.append(InputText(text=text, cache_control=control or None))
        except ValidationError as exc:
            location, message = first_validation_error(exc)
            raise InvalidRequestError(f"{where}[{position}].{location}", message) from None
    return content


def check_tool_results(
    items: Sequence[Any], owners: Sequence[int] | None = None, label: str = "input"
) -> None:
    """Refuse a tool result whose `call_id` matches no tool call before it, naming where it came from.

    The endpoint refuses such a history with a 400 that names no message (OpenAI: "No tool call found for
    function call output with call_id ..."), after a round trip. Item `i` is named `{label}[{owners[i]}]`:
    the adapters pass each item's message index and `label="messages"`; the default names `input[i]`.
    Items are wire models or plain dicts (an `extra_body` or a caller's raw items).
    """
    called: set[str] = set()
    for position, item in enumerate(items):
        if isinstance(item, dict):
            kind, call_id = item.get("type"), item.get("call_id")
        else:
            kind, call_id = getattr(item, "type", None), getattr(item, "call_id", None)
        if kind == "function_call" and isinstance(call_id, str):
            called.add(call_id)
        elif kind == "function_call_output" and call_id not in called:
            where = f"{label}[{owners[position] if owners is not None else position}]"
            raise InvalidRequestError(
                where,
                f"is a tool result for call_id {call_id!r}, which matches no tool call before it; keep the "
                "assistant message that made the call ahead of its result (trimming a history can cut it "
                "off) or drop this result",
            )


# pydantic's labels for the branch of a union a value was tried against: noise to a user, left out of names.
_UNION_LABELS = frozenset(
    {
        "str",
        "message",
        "function_call",
        "function_call_output",
        "reasoning",
        "int",
        "float",
        "bool",
        "dict[str,str]",
        "NamedToolChoice",
        *(cls.__name__ for cls in _TOOL_CLASSES),
    }
)
_UNION_PREFIXES = ("function-", "list[", "literal[", "is-instance")


def _location(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for piece in loc:
        if isinstance(piece, int):
            parts.append(f"[{piece}]")
        elif parts and (piece in _UNION_LABELS or piece.startswith(_UNION_PREFIXES)):
            continue  # the first piece is always a field name (`reasoning` is one, and an item's label)
        else:
            parts.append(("." if parts else "") + piece)
    return "".join(parts)


def build_request(**fields: Any) -> ResponseRequest:
    """Validate and build a request, turning pydantic's errors into one `InvalidRequestError`."""
    tools = fields.get("tools")
    if isinstance(tools, list):
        # A tool dict of a type no model knows would be read as the `BuiltInTool` escape hatch: only an
        # explicit `BuiltInTool(...)` may be, so an unknown dict is refused here with the way to send it.
        for position, tool in enumerate(tools):
            if isinstance(tool, dict) and is_server_side(tool):
                built_in_tool(tool, field=f"tools[{position}]")
    try:
        request = ResponseRequest.model_validate(fields)
    except ValidationError as exc:
        # For a union (`input` is a string or a list) the deepest error is the one about the user's value.
        first = max(exc.errors(include_url=False), key=lambda error: len(error["loc"]))
        field = _location(first["loc"]) or "request"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRequestError(field, message) from None
    request.check()
    return request
