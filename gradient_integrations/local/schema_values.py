"""Schema-valid JSON values for the scripted model: tool-call arguments and structured output.

`value_for_schema(schema, hints)` walks a JSON schema (the subset tools and `text.format` use in practice:
`type` and type lists, `properties`/`required`, `items`/`minItems`/`maxItems`, `enum`, `const`, `default`,
`anyOf`/`oneOf`/`allOf`, local `$ref`s into `$defs`/`definitions`, numeric bounds, string lengths and common
`format`s) and returns a value that validates against it. Values come from `Hints` (numbers, quoted text and
proper nouns found in the user's message, consumed in order) where they fit, then from the schema's own
`default`/`enum`/`examples`, then from a fixed per-type fallback, so the result is deterministic.

The schema is the caller's JSON, so the walk is bounded whatever the schema says. Per level: 8 levels of
nesting, 100 array items, strings of 10,000 characters (and `MAX_HINTS`, 1,000 numbers and 1,000 strings,
taken from one text). In total, because per-level caps multiply (a 400-byte `$defs` node that refers to
itself eight times would expand to 8**8 values): one value costs at most `MAX_STEPS` (20,000) steps of work
(values, properties, `$ref` and `allOf` resolutions, `anyOf` branches, `enum` members) and holds at most
`MAX_CHARS` (256 Ki) characters of text (strings, keys, and `const`/`enum` values copied from the schema).
Past either budget the walk stops expanding: the containers being filled stop there, and what is left
comes back empty (`{}`, `[]`, `""`, `0`), so the value is cut short (and may then not validate) rather than
the server spending seconds and megabytes on one request. Legitimate schemas stay far below both.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import regex

__all__ = ["MAX_CHARS", "MAX_HINTS", "MAX_STEPS", "Hints", "quoted_strings", "value_for_schema"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
# Each alternative stops at the next opening quote of its kind, so text full of unclosed quotes is linear.
_QUOTED = re.compile(r"\"([^\"]+)\"|\u201c([^\u201c\u201d]+)\u201d|(?<!\w)'([^']+)'(?!\w)")
_CAPITALIZED_RUN = re.compile(r"(?<![\w'])[A-Z][\w'-]*(?:,?\s+[A-Z][\w'-]*)*")
_MAX_DEPTH = 8
# Hostile schemas (minItems: 10**9) must not exhaust the server: beyond these the value is not padded.
_MAX_ITEMS = 100
_MAX_LENGTH = 10_000
_MAX_NUMBER = 1e15
MAX_HINTS = 1_000  # numbers, and strings, taken from one text
# The budget of one whole value (see the module docstring): caps per level multiply, these do not.
MAX_STEPS = 20_000
MAX_CHARS = 256 * 1024
_KINDS = frozenset({"object", "array", "integer", "number", "boolean", "null", "string"})
_FORMAT_EXAMPLES = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def quoted_strings(text: str, limit: int | None = None) -> list[str]:
    """Text in straight or curly double quotes, or in single quotes that are not apostrophes, in order
    (only the first `limit`, if given)."""
    found = itertools.islice(_QUOTED.finditer(text), limit)
    return [next(group for group in match.groups() if group) for match in found]


def _proper_nouns(text: str, limit: int) -> list[str]:
    """Runs of capitalized words that do not start a sentence ("San Francisco, CA"), the first `limit`."""
    found: list[str] = []
    for match in _CAPITALIZED_RUN.finditer(text):
        if len(found) >= limit:
            break
        run = match.group()
        # The last character before the run that is not whitespace, found by scanning back over that
        # whitespace only: slicing the text up to each run would make a long message quadratic.
        before = match.start() - 1
        while before >= 0 and text[before].isspace():
            before -= 1
        if before < 0 or text[before] in ".!?:\n":
            run = run.split(None, 1)[1] if len(run.split(None, 1)) > 1 else ""
        run = run.strip(" ,")
        if run and run != "I":
            found.append(run)
    return found


@dataclass
class Hints:
    """Values found in a message, handed out in order of appearance (each one at most once)."""

    numbers: deque[str] = field(default_factory=deque)
    strings: deque[str] = field(default_factory=deque)

    @classmethod
    def from_text(cls, text: str) -> Hints:
        """The first `MAX_HINTS` numbers and strings of `text` (quoted text first, then proper nouns)."""
        quoted = quoted_strings(text, MAX_HINTS)
        # Digits inside quoted values belong to those values, not to numeric properties.
        unquoted = _QUOTED.sub(" ", text)
        numbers = deque(match.group() for match in itertools.islice(_NUMBER.finditer(unquoted), MAX_HINTS))
        nouns = _proper_nouns(unquoted, MAX_HINTS - len(quoted))
        return cls(numbers=numbers, strings=deque([*quoted, *nouns]))


def value_for_schema(schema: Any, hints: Hints | None = None, *, name: str = "value") -> Any:
    """A value valid under `schema`; `name` (the property name) is the last-resort string. The walk is
    bounded (`MAX_STEPS`, `MAX_CHARS`): past its budget the value is cut short instead of growing."""
    root = schema if isinstance(schema, dict) else {}
    return _Generator(root, hints or Hints()).value(root, name, 0)


class _Generator:
    """One walk over one schema. Every keyword is type-checked: a malformed schema gets a best-effort
    value, never an exception (the schema is the caller's JSON, validated by nobody before us).

    `steps` and `chars` count the work done and the text put in the value so far; once either is over
    budget (`spent`) no schema is expanded any more, and every loop stops at its next turn.
    """

    def __init__(self, root: dict[str, Any], hints: Hints) -> None:
        self.root = root
        self.hints = hints
        self.steps = 0
        self.chars = 0
        self._targets: dict[str, Any] = {}  # `$ref` -> what it points at, each pointer walked once
        self._sizes: dict[int, int] = {}  # id of a `const`/`enum`/`default` value -> its JSON length

    @property
    def spent(self) -> bool:
        return self.steps > MAX_STEPS or self.chars > MAX_CHARS

    def target(self, ref: str) -> Any:
        if ref not in self._targets:
            target: Any = self.root
            parts = ref.removeprefix("#/").split("/") if ref.startswith("#") else []
            self.steps += len(parts)
            for part in parts:
                target = target.get(part, {}) if isinstance(target, dict) else {}
            self._targets[ref] = target
        return self._targets[ref]

    def resolve(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        hops = 0
        while isinstance(schema.get("$ref"), str) and hops < _MAX_DEPTH and not self.spent:
            target = self.target(schema["$ref"])
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**(target if isinstance(target, dict) else {}), **rest}
            self.steps += 1 + len(schema)
            hops += 1
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and depth < _MAX_DEPTH and not self.spent:
            merged = {key: value for key, value in schema.items() if key != "allOf"}
            for part in all_of:
                if self.spent:
                    break
                resolved = self.resolve(part, depth + 1) if isinstance(part, dict) else {}
                properties = {**_mapping(merged.get("properties")), **_mapping(resolved.get("properties"))}
                merged = {**resolved, **merged, "properties": properties}
                self.steps += 1 + len(merged) + len(properties)
            schema = merged
        return schema

    def value(self, schema: Any, name: str, depth: int) -> Any:
        self.steps += 1
        if not isinstance(schema, dict):
            return self.string({}, name)  # `true` or a malformed sub-schema accepts anything
        if self.spent:
            return self.cut_short(schema)
        schema = self.resolve(schema, depth)
        if "const" in schema:
            return self.copied(schema["const"], schema)
        options = schema.get("enum")
        if isinstance(options, list) and options:
            return self.enum_value(options, schema)
        for key in ("anyOf", "oneOf"):
            raw = schema.get(key)
            if isinstance(raw, list):
                self.steps += len(raw)
            branches = (
                [self.resolve(o, depth) for o in raw if isinstance(o, dict)] if isinstance(raw, list) else []
            )
            if branches:
                non_null = [branch for branch in branches if branch.get("type") != "null"]
                if depth >= _MAX_DEPTH and len(non_null) < len(branches):
                    return None
                if depth >= 2 * _MAX_DEPTH:
                    # A branch that resolves back to itself (`{"$ref": "", "anyOf": [{}]}`) would recurse
                    # forever: past twice the depth limit, settle for a plain string.
                    return self.string({}, name)
                chosen = {**{k: v for k, v in schema.items() if k != key}, **(non_null or branches)[0]}
                self.steps += len(chosen)
                return self.value(chosen, name, depth + 1)
        kind = self.kind(schema)
        if depth >= _MAX_DEPTH and kind in ("object", "array"):
            return {} if kind == "object" else []
        if kind == "null":
            return None
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, name, depth)
        if kind in ("integer", "number"):
            return self.number(schema, integer=kind == "integer")
        if kind == "boolean":
            default = schema.get("default")
            return default if isinstance(default, bool) else True
        return self.string(schema, name)

    def cut_short(self, schema: dict[str, Any]) -> Any:
        """The value once the budget is spent: the cheapest of the schema's (unresolved) type."""
        return {"object": {}, "array": [], "integer": 0, "number": 0, "boolean": True, "null": None}.get(
            self.kind(schema), ""
        )

    def copied(self, value: Any, schema: dict[str, Any]) -> Any:
        """A value taken as is from the schema (`const`, an `enum` member), counted against the budget:
        the same 100 KB `const` reached through 10,000 paths must not make a 1 GB value."""
        if isinstance(value, str):
            size = len(value)
        elif isinstance(value, (dict, list)):
            if id(value) not in self._sizes:
                try:
                    self._sizes[id(value)] = len(json.dumps(value, default=str))
                except (ValueError, RecursionError):  # circular, or too deep to write: too big to copy
                    self._sizes[id(value)] = MAX_CHARS + 1
            size = self._sizes[id(value)]
        else:
            size = 1
        if self.chars + size > MAX_CHARS:
            self.chars = MAX_CHARS + 1
            return self.cut_short(schema)
        self.chars += size
        return value

    def kind(self, schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            self.steps += len(kind)
            named = [k for k in kind if isinstance(k, str)]
            non_null = [k for k in named if k != "null"]
            kind = non_null[0] if non_null else ("null" if named else None)
        if isinstance(kind, str) and kind in _KINDS:
            return kind
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"

    def enum_value(self, options: list[Any], schema: dict[str, Any]) -> Any:
        self.steps += len(options) + len(self.hints.strings)
        members = {option for option in options if isinstance(option, str)}
        for index, hint in enumerate(self.hints.strings):
            if hint in members:
                del self.hints.strings[index]
                self.chars += len(hint)
                return hint
        return self.copied(options[0], schema)

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = _mapping(schema.get("properties"))
        value: dict[str, Any] = {}
        for key, sub in properties.items():
            if self.spent:
                break
            self.chars += len(str(key))
            value[str(key)] = self.value(sub, str(key), depth + 1)
        return value

    def array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        count = max(_whole(schema.get("minItems"), 1), 1)
        high = schema.get("maxItems")
        if isinstance(high, int) and not isinstance(high, bool):
            count = min(count, max(high, 0))
        items = schema.get("items", {})
        # Tuple validation (draft 4-7) gives each position its own schema.
        positions = items[:_MAX_ITEMS] if isinstance(items, list) else [items] * min(count, _MAX_ITEMS)
        value: list[Any] = []
        for item in positions:
            if self.spent:
                break
            value.append(self.value(item, name, depth + 1))
        return value

    def number(self, schema: dict[str, Any], *, integer: bool) -> int | float:
        value: float | None = None
        while self.hints.numbers and value is None:
            candidate = float(self.hints.numbers.popleft())
            if abs(candidate) < _MAX_NUMBER and (not integer or candidate.is_integer()):
                value = candidate
        if value is None:
            default = schema.get("default")
            value = 1.0
            if (
                isinstance(default, (int, float))
                and not isinstance(default, bool)
                and abs(default) < _MAX_NUMBER
            ):
                value = float(default)
        with contextlib.suppress(OverflowError, ValueError):  # bounds like 1e400 or NaN: keep the value
            value = self.bounded(schema, value, integer=integer)
        return int(value) if integer else value

    @staticmethod
    def bounded(schema: dict[str, Any], value: float, *, integer: bool) -> float:
        step = 1.0 if integer else 0.5
        low, high = schema.get("minimum"), schema.get("maximum")
        ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(ex_low, bool):  # draft 4 spells exclusivity as a flag on minimum/maximum
            ex_low, low = (low if ex_low else None), (None if ex_low else low)
        if isinstance(ex_high, bool):
            ex_high, high = (high if ex_high else None), (None if ex_high else high)
        if isinstance(low, (int, float)) and value < low:
            value = math.ceil(low) if integer else float(low)
        if isinstance(ex_low, (int, float)) and value <= ex_low:
            value = math.floor(ex_low) + 1 if integer else ex_low + step
        if isinstance(high, (int, float)) and value > high:
            value = math.floor(high) if integer else float(high)
        if isinstance(ex_high, (int, float)) and value >= ex_high:
            value = math.ceil(ex_high) - 1 if integer else ex_high - step
        multiple = schema.get("multipleOf")
        if isinstance(multiple, (int, float)) and multiple > 0 and (value / multiple) % 1:
            value = math.ceil(value / multiple) * multiple
        return value

    def string(self, schema: dict[str, Any], name: str) -> str:
        value = self.chosen_string(schema, name)
        self.chars += len(value)
        return value

    def chosen_string(self, schema: dict[str, Any], name: str) -> str:
        pattern = schema.get("pattern")
        examples = schema.get("examples")
        candidates: list[Any] = []
        if self.hints.strings and "format" not in schema:
            candidates.append(self.hints.strings[0])
        candidates += [schema.get("default"), *(examples if isinstance(examples, list) else [])]
        candidates.append(_FORMAT_EXAMPLES.get(str(schema.get("format")), name))
        self.steps += len(candidates)
        for candidate in candidates:
            if not isinstance(candidate, str):
                continue
            if pattern and not _matches(str(pattern), candidate):
                continue
            if self.hints.strings and candidate is self.hints.strings[0]:
                self.hints.strings.popleft()
            return _fit_length(schema, candidate)
        return _fit_length(schema, name)


# A tool schema's `pattern` is the caller's: one like `^(a|a)*$` backtracks exponentially, and `re` can be
# neither interrupted nor left to a thread (it holds the GIL). The `regex` module takes a timeout.
PATTERN_TIMEOUT = 0.05


def _matches(pattern: str, value: str) -> bool:
    try:
        with warnings.catch_warnings():  # odd patterns draw FutureWarnings; they are the caller's
            warnings.simplefilter("ignore")
            return regex.search(pattern, value, timeout=PATTERN_TIMEOUT) is not None
    except TimeoutError:
        return False  # too costly to check: use another candidate (the field name)
    except regex.error:
        return True  # a pattern Python cannot compile cannot be honoured: do not let it block the answer


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _whole(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _fit_length(schema: dict[str, Any], value: str) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        value = value + "x" * (min(low, _MAX_LENGTH) - len(value))
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value
