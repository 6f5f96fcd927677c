"""The request vocabulary (`core.options`): one table, one merge rule, one set of errors for both adapters."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gradient_integrations.core import InvalidRequestError, NamedToolChoice, ResponseRequest
from gradient_integrations.core.options import (
    OPTIONS,
    REFUSED,
    constructor_arguments,
    option_table_markdown,
    resolve_options,
)

OPTIONS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def resolve(
    instance: dict[str, Any] | None = None,
    model_kwargs: dict[str, Any] | None = None,
    call: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    return resolve_options(instance or {}, model_kwargs or {}, call or {}, owner="Adapter", **kwargs)


def test_every_row_fills_a_request_field() -> None:
    fields = set(ResponseRequest.model_fields)
    assert {option.body_field for option in OPTIONS} <= fields
    names = [name for option in OPTIONS for name in (option.body_field, *option.aliases)]
    assert len(names) == len(set(names)), "a name may belong to one row only"
    assert not set(names) & set(REFUSED)


def test_layers_merge_instance_then_model_kwargs_then_call() -> None:
    options = resolve(
        {"temperature": 0.1, "max_tokens": 10, "top_p": None},
        {"temperature": 0.2, "max_completion_tokens": 20, "user": "u"},
        {"max_tokens": 30},
    )
    assert options.fields == {"temperature": 0.2, "max_output_tokens": 30, "user": "u"}


def test_aliases_become_their_field_with_its_value() -> None:
    options = resolve(
        call={
            "reasoning_effort": "low",
            "request_metadata": {"k": "v"},
            "stream_usage": False,
            "response_format": {"type": "json_object"},
        }
    )
    assert options.fields == {
        "reasoning": {"effort": "low"},
        "metadata": {"k": "v"},
        "stream_options": {"include_usage": False},
        "text": {"format": {"type": "json_object"}},
    }


def test_tools_and_tool_choice_are_normalised_whatever_the_layer() -> None:
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    options = resolve({"model": "m"}, {"tools": [tool]}, {"tool_choice": {"type": "tool", "name": "add"}})
    assert options.fields["tools"][0].name == "add"
    assert options.fields["tool_choice"] == NamedToolChoice.of("add")
    request = options.request("hi")
    assert request.to_body(stream=False)["tool_choice"] == {"type": "function", "function": {"name": "add"}}


def test_parallel_tool_calls_without_tools_is_not_sent() -> None:
    assert "parallel_tool_calls" not in resolve({"parallel_tool_calls": False}).fields
    assert "tools" not in resolve(call={"tools": []}).fields


def test_none_per_call_unsets_an_instance_field() -> None:
    assert "temperature" not in resolve({"temperature": 0.3}, call={"temperature": None}).fields


def test_unknown_model_kwargs_are_sent_verbatim_and_extra_body_goes_last() -> None:
    options = resolve(
        model_kwargs={"top_k": 5, "store": False},
        call={"extra_body": {"top_k": 6}, "extra_headers": {"x-a": "1"}},
        extra_body={"seed": 1, "top_k": 7},
    )
    assert options.extra_body == {"top_k": 6, "store": False, "seed": 1}
    assert options.extra_headers == {"x-a": "1"}
    assert "top_k" not in options.fields


def test_managed_fields_are_refused_in_model_kwargs() -> None:
    with pytest.raises(InvalidRequestError, match=r"model_kwargs\.input: is set by Adapter itself"):
        resolve(model_kwargs={"input": "x"})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("temprature", "is not a call option of Adapter; did you mean 'temperature'?"),
        ("max_token", "did you mean 'max_tokens'?"),
        ("previous_response_id", "full history; to send it anyway pass extra_body="),
        ("seed", "no seed field; to send it anyway pass extra_body={'seed': ...}"),
        ("colour", "send other request fields with model_kwargs"),
    ],
)
def test_unknown_call_options_are_refused_with_the_way_out(name: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as caught:
        resolve(call={name: 1})
    assert caught.value.field == name


FIELD_FOR = {"max_output_tokens": "max_tokens", "reasoning": "reasoning", "metadata": "request_metadata"}
ACCEPTED = {"max_tokens", "reasoning", "request_metadata", "timeout", "base_url", "api_key", "model_kwargs"}


def construct(**arguments: Any) -> dict[str, Any]:
    return constructor_arguments(
        arguments, owner="Adapter", accepted=ACCEPTED, field_for=FIELD_FOR, kwargs_field="model_kwargs"
    )


def test_constructor_names_users_bring_are_mapped_to_the_adapters_fields() -> None:
    assert construct(
        max_completion_tokens=5,
        reasoning_effort="high",
        call_metadata={"a": "b"},
        request_timeout=3,
        openai_api_base="http://127.0.0.1:1",
        openai_api_key="k",
    ) == {
        "max_tokens": 5,
        "reasoning": {"effort": "high"},
        "request_metadata": {"a": "b"},
        "timeout": 3,
        "base_url": "http://127.0.0.1:1",
        "api_key": "k",
    }


def test_request_options_without_a_field_go_to_model_kwargs() -> None:
    out = construct(response_format={"type": "json_object"}, truncation="auto", model_kwargs={"user": "u"})
    assert out == {
        "model_kwargs": {"text": {"format": {"type": "json_object"}}, "truncation": "auto", "user": "u"}
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("temprature", "is not an argument of Adapter; did you mean 'temperature'?"),
        ("max_token", "did you mean 'max_tokens'?"),
        ("seed", "no seed field"),
        ("input", "is not an argument of Adapter"),
    ],
)
def test_unknown_constructor_arguments_are_refused_naming_them(name: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as caught:
        construct(**{name: 1})
    assert caught.value.field == name


def test_the_docs_option_table_is_the_code_table() -> None:
    assert option_table_markdown() in OPTIONS_PAGE.read_text(encoding="utf-8"), (
        "docs/configuration.md's request-option table is out of date: paste "
        "`python -c 'from gradient_integrations.core.options import option_table_markdown as t; print(t())'`"
    )
