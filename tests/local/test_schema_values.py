"""`value_for_schema` returns values that validate against the schema, preferring values from the message."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from gradient_integrations.local.schema_values import (
    MAX_CHARS,
    MAX_HINTS,
    MAX_STEPS,
    Hints,
    _Generator,
    quoted_strings,
    value_for_schema,
)


def valid_value(schema: dict[str, Any], message: str = "") -> Any:
    value = value_for_schema(schema, Hints.from_text(message))
    jsonschema.validators.validator_for(schema)(schema).validate(value)
    return value


def test_hints_take_numbers_quoted_text_and_proper_nouns_in_order() -> None:
    hints = Hints.from_text("Book 'Hotel 42' in San Francisco, CA for 3 nights at 99.5 dollars")
    assert list(hints.numbers) == ["3", "99.5"]  # the 42 belongs to the quoted name
    assert list(hints.strings) == ["Hotel 42", "San Francisco, CA"]


def test_apostrophes_are_not_quotes() -> None:
    assert quoted_strings("It's Bob's 'real' name and \u201ccurly\u201d too") == ["real", "curly"]


def test_numbers_and_strings_come_from_the_message() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "number"}, "name": {"type": "string"}},
        "required": ["a", "b", "name"],
    }
    assert valid_value(schema, "add 3 and 4.5 for 'Ann'") == {"a": 3, "b": 4.5, "name": "Ann"}


def test_an_integer_property_skips_fractional_numbers() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert valid_value(schema, "between 2.5 and 7") == {"n": 7}


def test_without_hints_the_schema_default_then_the_property_name_is_used() -> None:
    schema = {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "default": "celsius"},
            "city": {"type": "string"},
            "count": {"type": "integer", "default": 5},
            "flag": {"type": "boolean"},
        },
    }
    assert valid_value(schema) == {"unit": "celsius", "city": "city", "count": 5, "flag": True}


def test_an_enum_takes_a_quoted_member_or_else_its_first_member() -> None:
    schema = {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}}}
    assert valid_value(schema, "in 'CET'") == {"zone": "CET"}
    assert valid_value(schema, "in 'PST'") == {"zone": "UTC"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 10}, 10),
        ({"type": "integer", "exclusiveMaximum": 1}, 0),
        ({"type": "integer", "minimum": 1, "multipleOf": 4}, 4),
        ({"type": "number", "maximum": 0.25}, 0.25),
        ({"type": "string", "minLength": 8}, "valuexxx"),
        ({"type": "string", "maxLength": 2}, "va"),
        ({"type": "string", "format": "date"}, "2024-01-01"),
        ({"type": "string", "pattern": "^[0-9]+$", "examples": ["123"]}, "123"),
        ({"const": "fixed"}, "fixed"),
        ({"type": ["null", "integer"]}, 1),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1, 1]),
    ],
)
def test_constraints_are_honoured(schema: dict[str, Any], expected: Any) -> None:
    assert valid_value(schema) == expected


def test_refs_anyof_and_optional_fields_from_pydantic_schemas() -> None:
    class Address(BaseModel):
        street: str
        number: int = Field(ge=1)

    class Person(BaseModel):
        name: str
        nickname: str | None = None
        home: Address
        tags: list[str] = Field(min_length=1, max_length=3)

    value = valid_value(Person.model_json_schema(), "Add 'Ada' living at 12")
    assert value["name"] == "Ada"
    assert value["home"]["number"] == 12
    Person.model_validate(value)


def test_a_recursive_schema_terminates() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"child": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
            }
        },
        "$ref": "#/$defs/node",
    }
    valid_value(schema)


def test_allof_merges_properties() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    }
    assert valid_value(schema, "7 'x'") == {"a": 7, "b": "x"}


def _schemas() -> st.SearchStrategy[dict[str, Any]]:
    def bounded_integer(low: int | None, span: int | None, exclusive: bool) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if low is not None:
            schema["exclusiveMinimum" if exclusive else "minimum"] = low
            if span is not None:
                schema["maximum"] = low + span + 1
        return schema

    def bounded_string(low: int, extra: int | None, fmt: str | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": low}
        if extra is not None:
            schema["maxLength"] = low + extra + 10
        if fmt:
            schema["format"] = fmt
        return schema

    leaves = st.one_of(
        st.builds(
            bounded_integer, st.none() | st.integers(-50, 50), st.none() | st.integers(0, 20), st.booleans()
        ),
        st.builds(lambda low: {"type": "number", "minimum": low}, st.floats(-10, 10, allow_nan=False)),
        st.builds(
            bounded_string, st.integers(0, 12), st.none() | st.integers(0, 5), st.none() | st.just("date")
        ),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3, unique=True).map(
            lambda e: {"enum": e}
        ),
    )

    def containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        objects = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), children, max_size=4).flatmap(
            lambda props: st.builds(
                lambda required: {"type": "object", "properties": props, "required": required},
                st.lists(st.sampled_from(sorted(props)), unique=True) if props else st.just([]),
            )
        )
        arrays = st.builds(
            lambda items, low: {"type": "array", "items": items, "minItems": low, "maxItems": low + 2},
            children,
            st.integers(0, 3),
        )
        unions = st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
        return st.one_of(objects, arrays, unions)

    return st.recursive(leaves, containers, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(schema=_schemas(), message=st.text(alphabet="abc XY'\"0123456789.-", max_size=40))
def test_any_supported_schema_gets_a_valid_value(schema: dict[str, Any], message: str) -> None:
    valid_value(schema, message)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYWORDS = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "enum",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "minItems",
        "maxItems",
        "minLength",
        "minimum",
        "exclusiveMinimum",
        "multipleOf",
        "default",
        "pattern",
        "format",
    ]
)


@settings(max_examples=300, deadline=None)
@given(schema=st.dictionaries(_KEYWORDS, _JSON, max_size=6), message=st.text(max_size=30))
def test_a_malformed_schema_never_raises_and_gives_json(schema: dict[str, Any], message: str) -> None:
    value = value_for_schema(schema, Hints.from_text(message))
    json.dumps(value)


def test_hostile_sizes_are_capped() -> None:
    value = value_for_schema(
        {"type": "array", "minItems": 10**9, "items": {"type": "string", "minLength": 10**9}}
    )
    # Per level: strings of 10,000 characters, at most 100 items; in total: MAX_CHARS of text.
    assert len(value[0]) == 10_000 and len(value) < 100
    assert MAX_CHARS <= sum(map(len, value)) <= MAX_CHARS + 10_000


def _self_referencing_node(references: int, min_items: int = 1) -> dict[str, Any]:
    """The red team's schema: a `$defs` node whose properties refer back to it `references` times."""
    properties: dict[str, Any] = {
        "children": {"type": "array", "minItems": min_items, "items": {"$ref": "#/$defs/node"}}
    }
    properties.update({f"p{i}": {"$ref": "#/$defs/node"} for i in range(references)})
    return {
        "type": "object",
        "$defs": {"node": {"type": "object", "properties": properties}},
        "$ref": "#/$defs/node",
    }


@pytest.mark.parametrize(
    ("references", "min_items"),
    [(8, 1), (10, 1), (3, 100)],  # 8**8 and 10**8 values before the total budget, 100**8 with big arrays
)
def test_a_self_referencing_schema_is_bounded_in_total_not_only_per_level(
    references: int, min_items: int
) -> None:
    schema = _self_referencing_node(references, min_items)
    assert len(json.dumps(schema)) < 600
    value = value_for_schema(schema)
    assert isinstance(value, dict) and len(json.dumps(value)) < 512 * 1024  # was 28 MB and 13 s for (8, 1)


def test_a_const_reached_through_many_paths_is_copied_within_the_budget() -> None:
    big = {"text": "x" * 10_000}
    schema = {
        "type": "array",
        "minItems": 100,
        "items": {"type": "array", "minItems": 100, "items": {"const": big}},
    }
    value = value_for_schema(schema)
    assert len(json.dumps(value)) <= MAX_CHARS + 20_000  # not 100 * 100 * 10 KB = 100 MB


@pytest.mark.parametrize(
    "schema",
    [
        {
            "$defs": {
                "n": {"allOf": [{"$ref": "#/$defs/n"}] * 10, "properties": {"x": {"$ref": "#/$defs/n"}}}
            },
            "$ref": "#/$defs/n",
        },
        {
            "$defs": {
                "n": {"anyOf": [{"$ref": "#/$defs/n"}] * 50 + [{"properties": {"a": {"$ref": "#/$defs/n"}}}]}
            },
            "$ref": "#/$defs/n",
        },
        {
            "type": "array",
            "minItems": 100,
            "items": {"type": "array", "minItems": 100, "items": {"enum": list(range(10_000))}},
        },
    ],
    ids=["allOf-of-itself", "anyOf-of-itself", "large-enum-in-large-arrays"],
)
def test_other_multiplying_schemas_stay_within_the_step_budget(schema: dict[str, Any]) -> None:
    generator = _Generator(schema, Hints.from_text('"a" ' * 5_000))
    json.dumps(generator.value(schema, "value", 0))
    # At most one container's worth (one enum, one list of branches) past the budget.
    assert generator.steps <= MAX_STEPS + 20_000


def test_hints_from_a_long_message_are_capped_and_found_in_linear_time() -> None:
    text = "x Aa. Bb Cc " * 200_000 + "\u201c" * 100_000  # 2.5 MB: sentence starts, and unclosed curly quotes
    hints = Hints.from_text(text)  # was quadratic: minutes for this text
    assert len(hints.strings) == MAX_HINTS
