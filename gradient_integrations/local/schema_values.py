"""Schema-valid JSON values for the scripted model: tool-call arguments and structured output.

`value_for_schema(schema, hints)` walks a JSON schema (the subset tools and `text.format` use in practice:
`type` and type lists, `properties`/`required`, `items`/`minItems`/`maxItems`, `enum`, `const`, `default`,
`anyOf`/`oneOf`/`allOf`, local `$ref`s into `$defs`/`definitions`, numeric bounds, string lengths and common
`format`s) and returns a value that validates against it. Values come from `Hints` (numbers, quoted text and
proper nouns found in the user's message, consumed in order) where they fit, then from the schema's own
`default`/`enum`/`examples`, then from a fixed per-type fallback, so the result is deterministic.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Hints", "quoted_strings", "value_for_schema"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_QUOTED = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|(?<!\w)'([^']+)'(?!\w)")
_CAPITALIZED_RUN = re.compile(r"(?<![\w'])[A-Z][\w'-]*(?:,?\s+[A-Z][\w'-]*)*")
_MAX_DEPTH = 8
# Hostile schemas (minItems: 10**9) must not exhaust the server: beyond these the value is not padded.
_MAX_ITEMS = 100
_MAX_LENGTH = 10_000
_MAX_NUMBER = 1e15
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


def quoted_strings(text: str) -> list[str]:
    """Text in straight or curly double quotes, or in single quotes that are not apostrophes, in order."""
    return [next(group for group in match.groups() if group) for match in _QUOTED.finditer(text)]


def _proper_nouns(text: str) -> list[str]:
    """Runs of capitalized words that do not start a sentence ("San Francisco, CA")."""
    found: list[str] = []
    for match in _CAPITALIZED_RUN.finditer(text):
        run = match.group()
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\n":
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
        quoted = quoted_strings(text)
        # Digits inside quoted values belong to those values, not to numeric properties.
        unquoted = _QUOTED.sub(" ", text)
        numbers = deque(match.group() for match in _NUMBER.finditer(unquoted))
        return cls(numbers=numbers, strings=deque([*quoted, *_proper_nouns(unquoted)]))


def value_for_schema(schema: Any, hints: Hints | None = None, *, name: str = "value") -> Any:
    """A value valid under `schema`; `name` (the property name) is the last-resort string."""
    root = schema if isinstance(schema, dict) else {}
    return _Generator(root, hints or Hints()).value(root, name, 0)


class _Generator:
    """One walk over one schema. Every keyword is type-checked: a malformed schema gets a best-effort
    value, never an exception (the schema is the caller's JSON, validated by nobody before us)."""

    def __init__(self, root: dict[str, Any], hints: Hints) -> None:
        self.root = root
        self.hints = hints

    def resolve(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        hops = 0
        while isinstance(schema.get("$ref"), str) and hops < _MAX_DEPTH:
            target: Any = self.root
            ref = schema["$ref"]
            for part in ref.removeprefix("#/").split("/") if ref.startswith("#") else ():
                target = target.get(part, {}) if isinstance(target, dict) else {}
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**(target if isinstance(target, dict) else {}), **rest}
            hops += 1
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and depth < _MAX_DEPTH:
            merged = {key: value for key, value in schema.items() if key != "allOf"}
            for part in all_of:
                resolved = self.resolve(part, depth + 1) if isinstance(part, dict) else {}
                properties = {**_mapping(merged.get("properties")), **_mapping(resolved.get("properties"))}
                merged = {**resolved, **merged, "properties": properties}
            schema = merged
        return schema

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            return self.string({}, name)  # `true` or a malformed sub-schema accepts anything
        schema = self.resolve(schema, depth)
        if "const" in schema:
            return schema["const"]
        options = schema.get("enum")
        if isinstance(options, list) and options:
            return self.enum_value(options)
        for key in ("anyOf", "oneOf"):
            raw = schema.get(key)
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

    @staticmethod
    def kind(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
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

    def enum_value(self, options: list[Any]) -> Any:
        for index, hint in enumerate(self.hints.strings):
            if hint in options:
                del self.hints.strings[index]
                return hint
        return options[0]

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = _mapping(schema.get("properties"))
        return {str(key): self.value(sub, str(key), depth + 1) for key, sub in properties.items()}

    def array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        count = max(_whole(schema.get("minItems"), 1), 1)
        high = schema.get("maxItems")
        if isinstance(high, int) and not isinstance(high, bool):
            count = min(count, max(high, 0))
        items = schema.get("items", {})
        if isinstance(items, list):  # tuple validation (draft 4-7)
            return [self.value(item, name, depth + 1) for item in items[:_MAX_ITEMS]]
        return [self.value(items, name, depth + 1) for _ in range(min(count, _MAX_ITEMS))]

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
        pattern = schema.get("pattern")
        candidates: list[Any] = []
        if self.hints.strings and "format" not in schema:
            candidates.append(self.hints.strings[0])
        candidates += [schema.get("default"), *(schema.get("examples") or [])]
        candidates.append(_FORMAT_EXAMPLES.get(str(schema.get("format")), name))
        for candidate in candidates:
            if not isinstance(candidate, str):
                continue
            if pattern and not _matches(str(pattern), candidate):
                continue
            if self.hints.strings and candidate is self.hints.strings[0]:
                self.hints.strings.popleft()
            return _fit_length(schema, candidate)
        return _fit_length(schema, name)


def _matches(pattern: str, value: str) -> bool:
    try:
        with warnings.catch_warnings():  # odd patterns draw FutureWarnings from `re`; they are the caller's
            warnings.simplefilter("ignore")
            return re.search(pattern, value) is not None
    except re.error:
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
