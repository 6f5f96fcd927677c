"""The scripted model: a deterministic stand-in for an LLM, from a validated request to a `ScriptedTurn`.

The rules (`docs/local-server.md`, "The scripted model's rules", is the user-facing copy):

- Text: "You said: <last user message>", prefixed with "(following instructions: <first words>) " when
  `instructions` or system/developer messages are present. A `[words:N]` directive in the last user message
  answers with exactly N generated words instead (for long streams). After `function_call_output` items the
  answer is "Tool results: <name> returned <output>; ...".
- Pieces: text is split into word-sized pieces (`" word"`), one per stream delta and one output token each.
- Tools: when tools are given and `tool_choice` is not "none", the model calls the tools the last user message
  mentions (by full name, or by a distinctive part of it: "weather" for `get_weather`), in order of mention;
  a named `tool_choice` forces that tool, "required" falls back to the first tool; `parallel_tool_calls=false`
  keeps only the first. Arguments validate against the tool's schema (see `schema_values`); parallel calls
  take the message's values in turn (the first tool's string gets the first quoted text), starting over
  once they are used up (so two tools both get the only city named). After tool outputs (function call
  outputs since the last user message) it answers in text, unless `tool_choice` still requires a call: then
  it calls the mentioned tools not yet called since that message, else the last bound tool not yet called
  (where agent frameworks put a structured-answer tool, like LangChain's `ToolStrategy`), and only once
  every bound tool has been called the mentioned tools again (or the first tool). Arguments after tool
  outputs take the message's values first, then the tool outputs' numbers and whole texts.
- Structured output: `text.format` `json_schema` gives JSON valid under the schema, from the same values;
  `json_object` gives an object whose keys are the quoted words of the message (or `answer`). With tools
  the model may call them first, but its text answer, after tool outputs too, is always that JSON.
- Reasoning: a model id containing `gpt-oss` (or `always_reason`) reasons first, 0-5 sentences by
  `reasoning.effort` (`none`: no reasoning item at all; minimal/low 1, medium 2, high 3, xhigh 4, max 5).
- Built-in tools: the items the platform produced for them (`server_tools.Grounding`) go before the message,
  and its answer text (with `url_citation` / `file_citation` annotations) replaces "You said: ...", unless
  the model calls function tools, answers in JSON (`text.format`) or answers tool results.
- `stop` cuts the text before the first stop string; `max_output_tokens` truncates (reasoning first) and
  finishes with `length` (status `incomplete`). Tool calls are never truncated.
- Usage: input tokens are whitespace-separated words of everything sent; a prompt that starts with the same
  whole blocks of `cache_block` words as an earlier request reports those words as `cached_tokens`; an
  `anthropic-` model with `cache_control` parts reports Anthropic-style cache reads and writes instead
  (`prompt_cache`).

Bounds (the request is the caller's, and may be hostile): at most `MAX_HINTS` (1,000) numbers and 1,000
strings are taken from the message and tool outputs; arguments and `json_schema` answers stay within the
budget of `schema_values` (`MAX_STEPS`, `MAX_CHARS`); a `json_object` answer's values repeat at most
`MAX_CHARS` characters of the message in all; finding the mentioned tools is linear in message + tools.
`respond` is thread-safe (the server answers heavy requests in worker threads).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidRequestError
from ..core.request import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    MessageItem,
    NamedToolChoice,
    ReasoningItem,
    ResponseRequest,
)
from .mentions import mentioned_tools
from .prompt_cache import ANTHROPIC_PREFIX, BreakpointCache, PrefixCache
from .schema_values import MAX_CHARS, MAX_HINTS, Hints, quoted_strings, value_for_schema

if TYPE_CHECKING:
    from .server_tools import Grounding

__all__ = [
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedTurn",
    "last_user_message",
    "split_pieces",
]

_PIECE = re.compile(r"\s*\S+|\s+$")
_WORDS_DIRECTIVE = re.compile(r"\[words:(\d{1,7})\]")
_VOCABULARY = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
_MAX_WORDS = 1_000_000
_REASONING_SENTENCES = {"none": 0, "minimal": 1, "low": 1, "medium": 2, "high": 3, "xhigh": 4, "max": 5}


def split_pieces(text: str) -> list[str]:
    """Word-sized pieces that join back to `text` exactly (leading whitespace stays with its word)."""
    return _PIECE.findall(text)


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    call_id: str
    name: str
    arguments: str  # JSON text

    @property
    def tokens(self) -> int:
        return 1 + len(split_pieces(self.arguments))


@dataclass(slots=True)
class ScriptedTurn:
    """Everything one answer consists of; the wire encoders only format it."""

    reasoning: list[str]
    text: list[str]
    tool_calls: list[ScriptedCall]
    finish_reason: str  # stop | length | tool_calls
    input_tokens: int
    cached_tokens: int
    # Built-in tool items (web_search_call, mcp_call, ...), in output order before the message, and the
    # annotations of the message's text (character offsets into "".join(text)).
    server_items: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    # Anthropic-style cache writes (None: the request used no `cache_control`, nothing to report).
    cache_created_tokens: int | None = None
    cache_created_1h_tokens: int = 0

    @property
    def status(self) -> str:
        return "incomplete" if self.finish_reason == "length" else "completed"

    @property
    def reasoning_tokens(self) -> int:
        return len(self.reasoning)

    @property
    def output_tokens(self) -> int:
        return len(self.reasoning) + len(self.text) + sum(call.tokens for call in self.tool_calls)


@dataclass
class _Conversation:
    """What the model reads from the input: the system text, the last user turn, the tools called after it
    and their results."""

    system: list[str] = field(default_factory=list)
    last_user: str = ""
    called: set[str] = field(default_factory=set)
    tool_results: list[tuple[str, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    # `cache_control` markers: (words up to and including the marked part, ttl).
    breakpoints: list[tuple[int, str | None]] = field(default_factory=list)

    @classmethod
    def read(cls, request: ResponseRequest) -> _Conversation:
        convo = cls()
        if request.instructions:
            convo.system.append(request.instructions)
            convo.words += request.instructions.split()
        items = (
            [MessageItem(role="user", content=request.input)]
            if isinstance(request.input, str)
            else request.input
        )
        call_names: dict[str, str] = {}
        for item in items:
            if isinstance(item, MessageItem):
                if isinstance(item.content, str):
                    text = item.content
                    convo.words += text.split()
                else:
                    text = " ".join(part.text for part in item.content)
                    for part in item.content:
                        convo.words += part.text.split()
                        if part.cache_control is not None:
                            convo.breakpoints.append((len(convo.words), part.cache_control.ttl))
                if item.role in ("system", "developer"):
                    convo.system.append(text)
                elif item.role == "user":
                    convo.last_user, convo.called, convo.tool_results = text, set(), []
                elif item.role == "tool":  # chat-style tool message without a call id
                    convo.tool_results.append(("tool", text))
            elif isinstance(item, FunctionCallItem):
                call_names[item.call_id] = item.name
                convo.called.add(item.name)
                convo.words += [item.name, *item.arguments.split()]
            elif isinstance(item, FunctionCallOutputItem):
                convo.tool_results.append((call_names.get(item.call_id, item.call_id), item.output))
                convo.words += item.output.split()
            elif isinstance(item, ReasoningItem):
                convo.words += " ".join(part.text for part in item.content or []).split()
        for tool in request.function_tools():
            convo.words += [tool.name, *(tool.description or "").split()]
        return convo

    def hints(self) -> Hints:
        """The values answers take, in order: the last user message's, then the tool outputs' numbers
        and whole texts (so a structured answer's second string field gets what the tool said)."""
        hints = Hints.from_text(self.last_user)
        for _, output in self.tool_results:
            if len(hints.numbers) >= MAX_HINTS and len(hints.strings) >= MAX_HINTS:
                break  # as many as one text may give (thousands of tool outputs must not cost more)
            if len(hints.numbers) < MAX_HINTS:
                hints.numbers.extend(Hints.from_text(output).numbers)
            if output.strip() and len(hints.strings) < MAX_HINTS:
                hints.strings.append(output.strip())
        return hints


class ScriptedModel:
    """Deterministic answers (ids aside). One instance per server: it owns the prompt-prefix cache."""

    def __init__(self, *, always_reason: bool = False, cache_block: int = 32, cache_capacity: int = 65536):
        self.always_reason = always_reason
        self._cache = PrefixCache(cache_block, cache_capacity)
        self._breakpoints = BreakpointCache(cache_capacity)
        self._call_ids = itertools.count(1)
        self._salt = os.urandom(4).hex()

    def respond(self, request: ResponseRequest, grounding: Grounding | None = None) -> ScriptedTurn:
        """Answer one request, after the built-in tools' `grounding` (their items and grounded answer text).
        Raises `InvalidRequestError` for a malformed `text.format`."""
        convo = _Conversation.read(request)
        text_format = _text_format(request.text)
        calls = []
        hints = Hints()
        for tool in _chosen_tools(request, convo):
            if not (hints.strings or hints.numbers):
                # Parallel calls take the message's values in turn; once they are used up the next call
                # starts over, as a model would pass "Cairo" to both tools of 'weather and time in "Cairo"'.
                hints = convo.hints()
            calls.append(self._call(tool, hints))
        reasoning = self._reasoning(request, convo, calls) if self._reasons(request) else []
        text, annotations = "", list[dict[str, Any]]()
        if not calls:
            if grounding is None or grounding.text is None or text_format or convo.tool_results:
                text = _reply(convo, text_format)
            else:  # the built-in tools' answer, with its citations
                text, annotations = grounding.reply(_instructions_prefix(convo))
        finish_reason = "tool_calls" if calls else "stop"
        text = _cut_at_stop(text, request.stop)
        text_pieces = split_pieces(text)
        budget = request.max_output_tokens
        if budget is not None and len(reasoning) + len(text_pieces) > budget and not calls:
            reasoning = reasoning[:budget]
            text_pieces = text_pieces[: budget - len(reasoning)]
            finish_reason = "length"
        if annotations:  # a cut text keeps only the citations it still holds whole
            length = sum(len(piece) for piece in text_pieces)
            annotations = [a for a in annotations if a.get("end_index", a.get("index", 0)) <= length]
        input_tokens = max(len(convo.words), 1)
        turn = ScriptedTurn(reasoning, text_pieces, calls, finish_reason, input_tokens, 0)
        turn.server_items = list(grounding.items) if grounding is not None else []
        turn.annotations = annotations
        self._count_cached(request, convo, turn)
        return turn

    def _count_cached(self, request: ResponseRequest, convo: _Conversation, turn: ScriptedTurn) -> None:
        if convo.breakpoints and request.model.startswith(ANTHROPIC_PREFIX):
            use = self._breakpoints.lookup_and_store(request.model, convo.words, convo.breakpoints)
            turn.cached_tokens = min(use.read, turn.input_tokens)
            turn.cache_created_tokens, turn.cache_created_1h_tokens = use.created, use.created_1h
        else:
            turn.cached_tokens = min(self._cache.lookup_and_store(convo.words), turn.input_tokens)

    def _reasons(self, request: ResponseRequest) -> bool:
        return self.always_reason or "gpt-oss" in request.model.lower()

    def _call(self, tool: FunctionTool, hints: Hints) -> ScriptedCall:
        arguments = value_for_schema(tool.parameters, hints, name=tool.name)
        if not isinstance(arguments, dict):
            arguments = {}
        call_id = f"call_{self._salt}{next(self._call_ids):08x}"
        return ScriptedCall(call_id, tool.name, json.dumps(arguments, ensure_ascii=False))

    @staticmethod
    def _reasoning(request: ResponseRequest, convo: _Conversation, calls: list[ScriptedCall]) -> list[str]:
        effort = str((request.reasoning or {}).get("effort") or "medium")
        topic = " ".join(convo.last_user.split()[:12]) or "nothing"
        if calls:
            plan = f"I will call {', '.join(call.name for call in calls)}."
        elif convo.tool_results:
            plan = "The tool results are in, so I will report them."
        else:
            plan = "I will repeat it back."
        sentences = [f'The user wrote "{topic}".', plan, "That answers the request."]
        sentences += ["I checked the wording once more.", "Nothing else is needed."]  # xhigh, max
        return split_pieces(" ".join(sentences[: _REASONING_SENTENCES.get(effort, 2)]))


def _chosen_tools(request: ResponseRequest, convo: _Conversation) -> list[FunctionTool]:
    tools = request.function_tools()
    choice = request.tool_choice
    if not tools or choice == "none":
        return []
    if isinstance(choice, NamedToolChoice):
        return [tool for tool in tools if tool.name == choice.function.name][:1]
    if convo.tool_results and choice != "required":
        return []
    mentioned = mentioned_tools(tools, convo.last_user)
    if convo.tool_results and any(tool.name not in convo.called for tool in tools):
        # A call is still required: move on to a tool not called yet, rather than repeat the last round.
        pending = [tool for tool in mentioned if tool.name not in convo.called]
        mentioned = pending or [next(tool for tool in reversed(tools) if tool.name not in convo.called)]
    if not mentioned and choice == "required":
        mentioned = [tools[0]]
    return mentioned[:1] if request.parallel_tool_calls is False else mentioned


def last_user_message(request: ResponseRequest) -> tuple[str, bool]:
    """The last user message's text, and whether tool results follow it (the turn answers them)."""
    convo = _Conversation.read(request)
    return convo.last_user, bool(convo.tool_results)


def _text_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    spec = (text or {}).get("format")
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") not in ("text", "json_schema", "json_object"):
        raise InvalidRequestError("text.format.type", "must be one of 'text', 'json_schema', 'json_object'")
    if spec["type"] == "json_schema" and not isinstance(spec.get("schema"), dict):
        raise InvalidRequestError("text.format.schema", "a JSON schema object is required for 'json_schema'")
    return None if spec["type"] == "text" else spec


def _reply(convo: _Conversation, text_format: dict[str, Any] | None) -> str:
    if text_format is not None:
        if text_format["type"] == "json_schema":
            value = value_for_schema(text_format["schema"], convo.hints())
        else:
            keys = list(dict.fromkeys(quoted_strings(convo.last_user, MAX_HINTS))) or ["answer"]
            about = _tool_results_text(convo) if convo.tool_results else convo.last_user
            # Every value repeats the message: cut it so that all of them stay within the schema budget
            # (1,000 quoted words in a 1 MB message would otherwise make a 1 GB object).
            about = about[: max(MAX_CHARS // len(keys), 64)]
            value = {key: f"{key} for: {about}".strip() for key in keys}
        return json.dumps(value, ensure_ascii=False)
    directive = _WORDS_DIRECTIVE.search(convo.last_user)
    if directive and not convo.tool_results:
        count = min(int(directive.group(1)), _MAX_WORDS)
        words = (_VOCABULARY[i % len(_VOCABULARY)] for i in range(count))
        return " ".join(words)
    if convo.tool_results:
        body = _tool_results_text(convo)
    else:
        body = f"You said: {convo.last_user}" if convo.last_user.strip() else "You said nothing."
    return _instructions_prefix(convo) + body


def _instructions_prefix(convo: _Conversation) -> str:
    if not convo.system:
        return ""
    return f"(following instructions: {' '.join(' '.join(convo.system).split()[:12])}) "


def _tool_results_text(convo: _Conversation) -> str:
    return "Tool results: " + "; ".join(f"{name} returned {output}" for name, output in convo.tool_results)


def _cut_at_stop(text: str, stop: str | list[str] | None) -> str:
    stops = [stop] if isinstance(stop, str) else stop or []
    cuts = [text.find(s) for s in stops if s and s in text]
    return text[: min(cuts)] if cuts else text
