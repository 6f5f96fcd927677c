"""The request vocabulary: every option a caller may set, in one table, and the one rule that merges them.

Each row of `OPTIONS` says which body field an option fills, the other names it answers to (the ones users
bring from ChatOpenAI, OpenAIResponses, chat completions and LlamaIndex), and how a value given under an
alias becomes the field's value. Both adapters read options only through `resolve_options` (per call) and
`constructor_arguments` (at construction), so the same name means the same thing in LangChain and
LlamaIndex, and a reader finds where any field is mapped here, in one hop.

The merge rule: instance fields < `model_kwargs` (LlamaIndex: `additional_kwargs`) < per-call keyword
arguments; `extra_body` is merged into the body last and unvalidated. A name in no row is an error per call
and at construction (with a "did you mean" and a pointer to `model_kwargs` / `extra_body`); inside
`model_kwargs` it is sent verbatim, as ChatOpenAI does. The values themselves are validated when the
request is built (`request.build_request`, `values`), before anything is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel

from .builtin_tools import BuiltInToolValue, built_in_tool
from .errors import InvalidRequestError
from .request import ResponseRequest, build_request, check_effort
from .values import request_tools, text_format, tool_choice

__all__ = [
    "BUILT_IN_TOOLS",
    "OPTIONS",
    "REFUSED",
    "SETTING_ALIASES",
    "CallOptions",
    "Option",
    "built_in_tools",
    "constructor_arguments",
    "field_names",
    "resolve_options",
]


def _reasoning_effort(effort: Any) -> dict[str, Any] | None:
    check_effort(effort, "reasoning_effort")
    return None if effort is None else {"effort": effort}


def _response_format(value: Any) -> dict[str, Any]:
    return {"format": text_format(value)}


def _stream_usage(include: Any) -> dict[str, Any]:
    return {"include_usage": bool(include)}


@dataclass(frozen=True)
class Option:
    """One request option: the `body_field` it fills and the other names it answers to."""

    body_field: str
    doc: str
    aliases: tuple[str, ...] = ()
    # How a value given under an alias becomes the field's value (e.g. reasoning_effort -> reasoning).
    from_alias: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    # How any value of this field becomes its wire value (framework-neutral normalisation).
    normalize: Callable[[Any], Any] | None = None

    def value(self, name: str, given: Any) -> Any:
        """The field's value for `given` under `name` (this row's field name or one of its aliases)."""
        convert = self.from_alias.get(name) if self.from_alias else None
        return given if convert is None else convert(given)


OPTIONS: tuple[Option, ...] = (
    Option("model", "Model id, e.g. `openai-gpt-oss-120b`.", ("model_name",)),
    Option("instructions", "System-level instructions."),
    Option(
        "max_output_tokens",
        "Most tokens to generate (at least 1).",
        ("max_tokens", "max_completion_tokens"),
    ),
    Option("temperature", "Sampling temperature, 0 to 2."),
    Option("top_p", "Nucleus sampling, 0 to 1."),
    Option("stop", "Up to 4 stop sequences."),
    Option(
        "tools",
        "Function tools (flat Responses or chat form) and built-in tools (`web_search`, "
        "`knowledge_base_retrieval`, `mcp`); `built_in_tools=[...]` go ahead of them.",
        normalize=request_tools,
    ),
    Option(
        "tool_choice",
        "`auto`, `none`, `required` (or `any`/`True`), a tool name or a tool-choice dict.",
        normalize=tool_choice,
    ),
    Option("parallel_tool_calls", "Whether the model may call several tools at once."),
    Option(
        "metadata",
        "The body's `metadata`: string values, at most 16 pairs.",
        ("request_metadata", "call_metadata"),
    ),
    Option("user", "End-user id for abuse tracking."),
    Option(
        "text",
        "Output format, `{'format': {...}}`; `response_format` takes a pydantic class or schema instead.",
        ("response_format",),
        from_alias={"response_format": _response_format},
    ),
    Option(
        "reasoning",
        "Reasoning settings, e.g. `{'effort': 'low'}`; `reasoning_effort='low'` is the same. Efforts: "
        "`none`, `minimal`, `low`, `medium`, `high`, `xhigh`, `max`.",
        ("reasoning_effort",),
        from_alias={"reasoning_effort": _reasoning_effort},
    ),
    Option(
        "stream_options",
        "`{'include_usage': bool}` (streams only); `stream_usage=bool` is the same.",
        ("stream_usage",),
        from_alias={"stream_usage": _stream_usage},
    ),
    Option(
        "prompt_cache_retention",
        "How long OpenAI models keep a prompt's cache: `in_memory` or `24h`.",
    ),
    Option("truncation", "`auto` lets the server drop the oldest input that does not fit."),
    Option("include", "Extra output to include, e.g. `['reasoning.encrypted_content']`."),
)

# Names users bring that the endpoint has no field for, with what to do instead.
_FULL_HISTORY = "Gradient keeps no response state (chaining answers not_found_error): send the full history"
REFUSED: dict[str, str] = {
    "previous_response_id": _FULL_HISTORY,
    "store": _FULL_HISTORY,
    "seed": "the /v1/responses body has no seed field",
    "n": "the /v1/responses endpoint returns one answer per request; make several calls (batch)",
    "frequency_penalty": "the /v1/responses body has no frequency_penalty field",
    "presence_penalty": "the /v1/responses body has no presence_penalty field",
    "logit_bias": "the /v1/responses body has no logit_bias field",
    "logprobs": "the /v1/responses body has no logprobs field",
}
# Constructor names from ChatOpenAI / OpenAIResponses for settings (not body fields).
SETTING_ALIASES: dict[str, str] = {
    "request_timeout": "timeout",
    "api_base": "base_url",
    "openai_api_base": "base_url",
    "openai_api_key": "api_key",
}
# Server-side tools kept apart from the function tools a framework binds, sent ahead of them in `tools`.
BUILT_IN_TOOLS = "built_in_tools"
# Set by the adapters from messages and the call path, never by a caller.
_MANAGED = frozenset({"input", "stream"})
# Per call only: where the body and headers may be extended as-is.
_PASSTHROUGH = ("extra_body", "extra_headers")

_BY_NAME: dict[str, Option] = {}
for _option in OPTIONS:
    for _name in (_option.body_field, *_option.aliases):
        _BY_NAME[_name] = _option
_NORMALIZED = tuple(option.body_field for option in OPTIONS if option.normalize is not None)
_REQUEST_FIELDS = frozenset(ResponseRequest.model_fields)
if unmapped := {option.body_field for option in OPTIONS} - _REQUEST_FIELDS:
    raise AssertionError(f"options without a request field: {unmapped}")  # pragma: no cover


def _canonical(name: str, value: Any) -> tuple[str, Any] | None:
    """(field, value) for a known option name, None for an unknown one."""
    option = _BY_NAME.get(name)
    if option is None:
        return None
    return option.body_field, option.value(name, value)


def _unknown(name: str, owner: str, known: Iterable[str], where: str) -> InvalidRequestError:
    if name in REFUSED:
        return InvalidRequestError(
            name, f"{REFUSED[name]}; to send it anyway pass extra_body={{{name!r}: ...}}"
        )
    close = difflib.get_close_matches(name, sorted({*known, *_BY_NAME}), n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return InvalidRequestError(
        name,
        f"is not {where} of {owner}; {hint}send other request fields with model_kwargs={{...}} "
        "(validated where known) or extra_body={...} (sent as-is)",
    )


def built_in_tools(value: Any) -> list[BuiltInToolValue]:
    """`built_in_tools=[...]` as typed values, each refused by its place (`built_in_tools[i]...`)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidRequestError(
            BUILT_IN_TOOLS, "must be a list of tools, e.g. [WebSearchTool(max_results=5)]"
        )
    return [built_in_tool(tool, field=f"{BUILT_IN_TOOLS}[{i}]") for i, tool in enumerate(value)]


class CallOptions(NamedTuple):  # a NamedTuple: built on every call, and a frozen dataclass is slower
    """One call's merged options: request fields by wire name, the raw extra body, extra headers."""

    fields: dict[str, Any]
    extra_body: dict[str, Any]
    extra_headers: Mapping[str, str] | None

    def request(self, input: Any) -> ResponseRequest:
        """The validated request for these options and `input` (wire items or a string)."""
        return build_request(input=input, extra_body=self.extra_body, **self.fields)


def resolve_options(
    instance: Mapping[str, Any],
    model_kwargs: Mapping[str, Any],
    call: Mapping[str, Any],
    *,
    owner: str,
    extra_body: Mapping[str, Any] | None = None,
) -> CallOptions:
    """Merge instance fields < `model_kwargs` < per-call options into one call's request options.

    `instance` holds the adapter's own fields by their names (None = not set); `extra_body` is the
    instance's raw body fields (a call's `extra_body` goes over it). `owner` names the adapter in errors.
    Tool and format values are normalised by their row; nothing here is sent.
    """
    fields: dict[str, Any] = {}
    body: dict[str, Any] = {}
    built_in: Any = None
    for name, value in instance.items():
        if value is not None:  # most instance fields are unset: skip them cheaply (this runs every call)
            if name == BUILT_IN_TOOLS:
                built_in = value
                continue
            row = _BY_NAME[name]
            fields[row.body_field] = row.value(name, value)
    for layer in (model_kwargs, call):
        for name, value in layer.items():
            option = _BY_NAME.get(name)
            if option is None:
                if name == BUILT_IN_TOOLS:
                    built_in = value  # a later layer's list replaces an earlier one's
                elif layer is call:
                    if name not in _PASSTHROUGH:
                        raise _unknown(name, owner, (), "a call option")
                elif name in _MANAGED:
                    raise InvalidRequestError(f"model_kwargs.{name}", f"is set by {owner} itself; remove it")
                else:
                    body[name] = value  # an explicit request for a field this package does not model
                continue
            fields[option.body_field] = option.value(name, value)
    if extra_body:
        body.update(extra_body)
    if call.get("extra_body"):
        body.update(call["extra_body"])
    for name in _MANAGED.intersection(body):
        # extra_body goes over the body last: it would silently replace the conversation or the mode.
        raise InvalidRequestError(f"extra_body.{name}", f"is set by {owner} itself from the call; remove it")
    if built_in:
        # Built-in tools go ahead of the function tools (llama-index's OpenAIResponses does the same).
        fields["tools"] = [*built_in_tools(built_in), *(fields.get("tools") or ())]
    # Tool and tool-choice values in every spelling become the core's types; None removes a field.
    for name in _NORMALIZED:
        if name in fields:
            fields[name] = _BY_NAME[name].normalize(fields[name])  # type: ignore[misc]
    if None in fields.values():  # a call's None unsets what a lower layer set
        fields = {name: value for name, value in fields.items() if value is not None}
    if "tools" not in fields:
        fields.pop("parallel_tool_calls", None)  # meaningless without tools
    return CallOptions(fields, body, call.get("extra_headers"))


def constructor_arguments(
    arguments: Mapping[str, Any],
    *,
    owner: str,
    accepted: Collection[str],
    field_for: Mapping[str, str],
    kwargs_field: str,
) -> dict[str, Any]:
    """An adapter's constructor arguments with every known spelling mapped to its own fields.

    `accepted`: the adapter's field names and aliases. `field_for`: request field -> the adapter field
    that holds it (e.g. `max_output_tokens` -> `max_tokens`); request options without one go into
    `kwargs_field` (`model_kwargs` / `additional_kwargs`). Anything else raises `InvalidRequestError`
    naming the argument, with a "did you mean" for near-misses.
    """
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in accepted:
            out[name] = value
            continue
        setting = SETTING_ALIASES.get(name)
        if setting is not None and setting in accepted:
            out[setting] = value
            continue
        if name == BUILT_IN_TOOLS:
            extra[name] = built_in_tools(value)  # typed now: checked, and an MCP credential masked in repr
            continue
        known = _canonical(name, value)
        if known is not None and known[0] not in _MANAGED:
            target = field_for.get(known[0])
            if target is not None:
                out[target] = known[1]
            else:
                extra[known[0]] = known[1]
            continue
        raise _unknown(name, owner, accepted, "an argument")
    if extra:
        out[kwargs_field] = {**extra, **(out.get(kwargs_field) or {})}
    return out


def field_names(model: type[BaseModel]) -> frozenset[str]:
    """A pydantic model's field names and their aliases: what its constructor takes as its own."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        names.update(alias for alias in (info.alias, info.validation_alias) if isinstance(alias, str))
    return frozenset(names)


def option_table_markdown() -> str:
    """The option table of `docs/configuration.md`, generated from `OPTIONS` (a test keeps it in step)."""
    lines = ["| Option | Also accepted as | What it sets |", "| --- | --- | --- |"]
    for option in OPTIONS:
        aliases = ", ".join(f"`{alias}`" for alias in option.aliases) or "-"
        lines.append(f"| `{option.body_field}` | {aliases} | {option.doc} |")
    return "\n".join(lines)
