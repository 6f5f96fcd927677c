"""Bad input is refused before anything is sent, with a message naming the field and what to do.

Each case goes the way a caller would: build the request and hand it to a client whose transport counts
requests. The count must stay 0, the error must be `InvalidRequestError` (a `ValueError`) whose `field`
names the offending field, and the message must say what is wrong with the value given.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradient_integrations.core import (
    FunctionTool,
    InvalidRequestError,
    NamedToolChoice,
    ResponseRequest,
    build_request,
)

from ._support import Script, json_reply, load_json, make_client

TOOL = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}

# (fields on top of a valid minimal request, expected `field`, text the message must contain)
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "temperature too high": ({"temperature": 3.5}, "temperature", "must be between 0 and 2, got 3.5"),
    "temperature negative": ({"temperature": -0.1}, "temperature", "between 0 and 2"),
    "temperature not a number": ({"temperature": "hot"}, "temperature", "valid number"),
    "top_p above 1": ({"top_p": 1.5}, "top_p", "must be between 0 and 1, got 1.5"),
    "max_output_tokens zero": ({"max_output_tokens": 0}, "max_output_tokens", "must be >= 1, got 0"),
    "max_output_tokens negative": ({"max_output_tokens": -5}, "max_output_tokens", "must be >= 1, got -5"),
    "five stop sequences": ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4 stop sequences, got 5"),
    "17 metadata pairs": ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "at most 16 pairs"),
    "metadata key too long": ({"metadata": {"k" * 65: "v"}}, "metadata", "longer than 64 characters"),
    "metadata value too long": ({"metadata": {"k": "v" * 513}}, "metadata", "longer than 512 characters"),
    "metadata value not text": ({"metadata": {"k": 1}}, "metadata.k", "valid string"),
    "empty input string": ({"input": ""}, "input", "must be a non-empty string"),
    "empty input list": ({"input": []}, "input", "non-empty list of items"),
    "unknown role": ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "'user', 'assistant'"),
    "image part": (
        {"input": [{"role": "user", "content": [{"type": "input_image", "url": "u"}]}]},
        "input[0].content[0].type",
        "'input_text'",
    ),
    "function_call_output without call_id": (
        {
            "input": [
                {"role": "user", "content": "x"},
                {"type": "function_call_output", "call_id": "", "output": ""},
            ]
        },
        "input[1].call_id",
        "at least 1 character",
    ),
    "tool_choice names an absent tool": (
        {"tools": [TOOL], "tool_choice": NamedToolChoice.of("get_time")},
        "tool_choice",
        "names tool 'get_time', which is not among tools ['get_weather']",
    ),
    "tool_choice required without tools": (
        {"tool_choice": "required"},
        "tool_choice",
        "needs at least one tool",
    ),
    "tool_choice unknown word": ({"tool_choice": "any"}, "tool_choice", "'none', 'auto' or 'required'"),
    "duplicate tool names": ({"tools": [TOOL, TOOL]}, "tools", "tool names must be unique"),
    "tool name with a space": ({"tools": [{"name": "get weather"}]}, "tools[0].name", "^[A-Za-z0-9_-]+$"),
    "tool name too long": ({"tools": [{"name": "t" * 65}]}, "tools[0].name", "at most 64 characters"),
    "empty model": ({"model": ""}, "model", "at least 1 character"),
    "unknown top-level field": ({"max_tokens": 5}, "max_tokens", "Extra inputs are not permitted"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(("fields", "field", "text"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_refused_before_sending(
    fields: dict[str, Any], field: str, text: str, stream: bool
) -> None:
    script = Script(json_reply(load_json("pydo_created_at.json")))
    client = make_client(script)
    with pytest.raises(InvalidRequestError) as caught:
        # The way an adapter calls the core: build the request, then send it.
        request = build_request(**{"model": "openai-gpt-oss-20b", "input": "hi", **fields})
        if stream:
            list(client.stream(request))
        else:
            client.create(request)
    assert script.count == 0
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert text in str(error)
    # No pydantic wall of text chained underneath the one clear message.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    client.create(build_request(model="m", input="hi"))  # the same client does send a good request
    assert script.count == 1


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"tool_choice": NamedToolChoice.of("absent")}, "tool_choice"),
        ({"tools": [FunctionTool(name="a"), FunctionTool(name="a")]}, "tools"),
    ],
)
async def test_requests_built_without_build_request_are_checked_by_the_client(
    update: dict[str, Any], field: str
) -> None:
    # An adapter may construct ResponseRequest directly or model_copy() one: the cross-field checks
    # that build_request runs must still happen before the client sends.
    script = Script(json_reply(load_json("pydo_created_at.json")))
    client = make_client(script)
    base = build_request(model="m", input="hi")
    direct = ResponseRequest(model="m", input="hi", **update)
    copied = base.model_copy(update=update)
    for request in (direct, copied):
        for send in (client.create, lambda r: list(client.stream(r))):
            with pytest.raises(InvalidRequestError) as caught:
                send(request)
            assert caught.value.field == field
        with pytest.raises(InvalidRequestError):
            await client.acreate(request)
    assert script.count == 0
