"""The scripted model's documented rules, checked one by one on the pure model (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from gradient_integrations import InvalidRequestError, build_request
from gradient_integrations.local import ScriptedModel, ScriptedTurn
from gradient_integrations.local.schema_values import MAX_CHARS, MAX_HINTS

from ._cases import JOKE_SCHEMA, TIME_TOOL, TOOL_HISTORY, WEATHER_TOOL


def answer(scripted: ScriptedModel | None = None, /, **fields: Any) -> ScriptedTurn:
    """One answer from `scripted` (a fresh model by default); `fields` are the request's."""
    fields.setdefault("model", "llama3.3-70b-instruct")
    return (scripted or ScriptedModel()).respond(build_request(**fields))


def text_of(turn: ScriptedTurn) -> str:
    return "".join(turn.text)


def test_text_echoes_the_last_user_message_in_word_sized_pieces() -> None:
    turn = answer(
        input=[{"role": "user", "content": "first"}, {"role": "user", "content": "Hello big world"}]
    )
    assert turn.text == ["You", " said:", " Hello", " big", " world"]
    assert (turn.finish_reason, turn.status, turn.tool_calls, turn.reasoning) == ("stop", "completed", [], [])


def test_the_same_request_gets_the_same_answer() -> None:
    assert answer(input="Say something").text == answer(input="Say something").text


def test_instructions_and_system_messages_prefix_the_answer() -> None:
    from_instructions = answer(input="Hi", instructions="Answer in French please")
    assert text_of(from_instructions) == "(following instructions: Answer in French please) You said: Hi"
    from_system = answer(
        input=[{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "Hi"}]
    )
    assert text_of(from_system).startswith("(following instructions: Be terse.) ")


def test_a_words_directive_answers_with_exactly_that_many_pieces() -> None:
    turn = answer(input="Please stream [words:2500] now")
    assert len(turn.text) == 2500 == turn.output_tokens
    assert text_of(turn).split()[:3] == ["alpha", "bravo", "charlie"]


def test_stop_cuts_before_the_first_stop_string_and_still_finishes_with_stop() -> None:
    turn = answer(input="alpha beta gamma delta", stop=["delta", "beta"])
    assert text_of(turn) == "You said: alpha "
    assert turn.finish_reason == "stop"


def test_max_output_tokens_truncates_with_length_and_incomplete() -> None:
    turn = answer(input="one two three four", max_output_tokens=2)
    assert turn.text == ["You", " said:"]
    assert (turn.finish_reason, turn.status, turn.output_tokens) == ("length", "incomplete", 2)


def test_an_answer_that_fits_its_budget_is_complete() -> None:
    turn = answer(input="one", max_output_tokens=3)
    assert (turn.finish_reason, turn.output_tokens) == ("stop", 3)


def test_gpt_oss_reasons_first_and_counts_reasoning_tokens() -> None:
    turn = answer(model="openai-gpt-oss-20b", input="Why?")
    assert "".join(turn.reasoning) == 'The user wrote "Why?". I will repeat it back.'
    assert turn.reasoning_tokens == len(turn.reasoning) > 0
    assert turn.output_tokens == len(turn.reasoning) + len(turn.text)


@pytest.mark.parametrize(("effort", "sentences"), [("low", 1), ("medium", 2), ("high", 3)])
def test_reasoning_effort_sets_how_long_the_model_reasons(effort: str, sentences: int) -> None:
    turn = answer(model="openai-gpt-oss-120b", input="Why", reasoning={"effort": effort})
    assert "".join(turn.reasoning).count(".") == sentences


def test_other_models_reason_only_when_the_server_says_so() -> None:
    assert answer(input="Why?").reasoning == []
    assert answer(ScriptedModel(always_reason=True), input="Why?").reasoning != []


def test_reasoning_spends_the_token_budget_first() -> None:
    turn = answer(model="openai-gpt-oss-20b", input="Hi", max_output_tokens=4)
    assert (len(turn.reasoning), turn.text, turn.finish_reason) == (4, [], "length")


def test_the_tool_named_in_the_message_is_called_with_values_from_the_message() -> None:
    turn = answer(input="Use get_weather for 'Paris' over 3 days", tools=[WEATHER_TOOL, TIME_TOOL])
    assert [(call.name, json.loads(call.arguments)) for call in turn.tool_calls] == [
        ("get_weather", {"location": "Paris", "days": 3})
    ]
    assert (turn.text, turn.finish_reason) == ([], "tool_calls")


def test_a_distinctive_part_of_the_tool_name_counts_as_a_mention() -> None:
    turn = answer(input="What is the weather in San Francisco, CA?", tools=[WEATHER_TOOL, TIME_TOOL])
    assert [call.name for call in turn.tool_calls] == ["get_weather"]
    assert json.loads(turn.tool_calls[0].arguments) == {"location": "San Francisco, CA", "days": 1}


def test_several_mentioned_tools_are_called_in_parallel_in_order_of_mention() -> None:
    turn = answer(input="get_time in 'CET' then get_weather", tools=[WEATHER_TOOL, TIME_TOOL])
    assert [call.name for call in turn.tool_calls] == ["get_time", "get_weather"]
    assert json.loads(turn.tool_calls[0].arguments) == {"zone": "CET"}
    assert len({call.call_id for call in turn.tool_calls}) == 2


def test_parallel_tool_calls_false_keeps_only_the_first_call() -> None:
    turn = answer(
        input="get_time and get_weather", tools=[WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False
    )
    assert [call.name for call in turn.tool_calls] == ["get_time"]


def test_auto_without_a_mention_answers_in_text() -> None:
    turn = answer(input="Just chat with me", tools=[WEATHER_TOOL])
    assert (turn.tool_calls, turn.finish_reason) == ([], "stop")


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("none", []),
        ("required", ["get_weather"]),
        ({"type": "function", "function": {"name": "get_time"}}, ["get_time"]),
    ],
)
def test_tool_choice_overrides_what_the_message_mentions(tool_choice: Any, expected: list[str]) -> None:
    turn = answer(input="Nothing relevant", tools=[WEATHER_TOOL, TIME_TOOL], tool_choice=tool_choice)
    assert [call.name for call in turn.tool_calls] == expected


def test_tool_arguments_validate_against_the_tool_schema() -> None:
    turn = answer(input="get_weather for -5 days", tools=[WEATHER_TOOL])
    arguments = json.loads(turn.tool_calls[0].arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["parameters"])
    assert arguments["days"] == 1  # -5 breaks `minimum: 1`: the bound wins


def test_after_tool_outputs_the_model_answers_with_them() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL])
    assert (text_of(turn), turn.tool_calls) == ("Tool results: get_weather returned sunny", [])


def test_required_tool_choice_keeps_calling_after_tool_outputs() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL], tool_choice="required")
    assert [call.name for call in turn.tool_calls] == ["get_weather"]


def test_json_schema_format_gives_json_valid_under_the_schema() -> None:
    text_format = {"format": {"type": "json_schema", "name": "joke", "schema": JOKE_SCHEMA}}
    turn = answer(input="A joke about 'cats', rated 4", text=text_format)
    value = json.loads(text_of(turn))
    jsonschema.validate(value, JOKE_SCHEMA)
    assert value == {"setup": "cats", "punchline": "punchline", "rating": 4}


def test_json_object_format_uses_the_quoted_words_as_keys() -> None:
    turn = answer(input="Return 'setup' and 'punchline' keys", text={"format": {"type": "json_object"}})
    assert set(json.loads(text_of(turn))) == {"setup", "punchline"}
    plain = answer(input="Return JSON", text={"format": {"type": "json_object"}})
    assert list(json.loads(text_of(plain))) == ["answer"]


def test_json_object_values_repeat_the_message_within_the_schema_budget() -> None:
    # Each value repeats the message: 5,000 quoted words made 5,000 values of the whole 40 KB message.
    message = " ".join(f"'w{index}'" for index in range(5_000))
    turn = answer(input=message, text={"format": {"type": "json_object"}})
    value = json.loads(text_of(turn))
    assert len(value) == MAX_HINTS and list(value)[:2] == ["w0", "w1"]
    assert len(text_of(turn)) < 2 * MAX_CHARS


def test_many_tools_and_a_long_message_find_the_mentioned_tool() -> None:
    tools = [{"type": "function", "name": f"tool_{index}", "parameters": {}} for index in range(5_000)]
    tools.append({"type": "function", "name": "get_weather", "parameters": {}})
    message = "filler words " * 20_000 + "now the weather please, then tool_4321"
    turn = answer(input=message, tools=tools)
    assert [call.name for call in turn.tool_calls] == ["tool_4321", "get_weather"]


def test_a_malformed_text_format_is_an_invalid_request_naming_the_field() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        answer(input="x", text={"format": {"type": "json_schema", "name": "n"}})
    assert raised.value.field == "text.format.schema"


def test_input_tokens_count_the_words_of_everything_sent() -> None:
    turn = answer(input=TOOL_HISTORY, instructions="Be brief.", tools=[WEATHER_TOOL])
    # 2 instruction words, 9 user words, call name + 2 argument words, 1 output word, tool name + 4 words
    assert turn.input_tokens == 2 + 9 + 3 + 1 + 5


def test_a_repeated_prompt_prefix_reports_cached_tokens_in_whole_blocks() -> None:
    scripted = ScriptedModel(cache_block=4)
    shared = "w1 w2 w3 w4 w5 w6 w7 w8 w9"
    assert answer(scripted, input=shared).cached_tokens == 0
    assert answer(scripted, input=shared).cached_tokens == 8
    assert answer(scripted, input="w1 w2 w3 w4 w5 other words here and more").cached_tokens == 4
    assert answer(scripted, input="different start entirely here now").cached_tokens == 0


def test_short_prompts_never_report_cached_tokens_by_default() -> None:
    scripted = ScriptedModel()
    answer(scripted, input="short prompt")
    assert answer(scripted, input="short prompt").cached_tokens == 0


def test_parallel_calls_take_the_message_values_in_turn() -> None:
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {
            "type": "function",
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
        },
    ]
    turn = answer(input="What is the weather in 'Paris' and the time in 'UTC'?", tools=tools)
    assert [json.loads(call.arguments) for call in turn.tool_calls] == [{"city": "Paris"}, {"zone": "UTC"}]


# -- a call still required after tool outputs; structured answers after tool outputs ---------------------
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["city", "summary"],
    "additionalProperties": False,
}
# What LangChain's ToolStrategy binds: the user's tools, then a tool named after the answer schema.
ANSWER_TOOL = {
    "type": "function",
    "name": "Answer",
    "description": "The answer.",
    "parameters": ANSWER_SCHEMA,
}


def run_tool_loop(
    message: str, outputs: dict[str, str], *, rounds: int = 6, **fields: Any
) -> tuple[list[list[str]], ScriptedTurn]:
    """Drive the model like an agent: answer each tool call with `outputs[name]` and ask again, until the
    model answers in text or calls `Answer` (which ends a ToolStrategy agent). Returns the names called in
    each round and the last turn."""
    scripted = ScriptedModel()
    items: list[dict[str, Any]] = [{"role": "user", "content": message}]
    rounds_called: list[list[str]] = []
    for _ in range(rounds):
        turn = answer(scripted, input=items, **fields)
        rounds_called.append([call.name for call in turn.tool_calls])
        if not turn.tool_calls or "Answer" in rounds_called[-1]:
            return rounds_called, turn
        for call in turn.tool_calls:
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )
            items.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": outputs[call.name]}
            )
    raise AssertionError(f"no answer after {rounds} rounds: {rounds_called}")


def test_required_after_tool_outputs_calls_the_tool_not_yet_called_with_schema_valid_arguments() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL, ANSWER_TOOL], tool_choice="required")
    assert [call.name for call in turn.tool_calls] == ["Answer"]
    arguments = json.loads(turn.tool_calls[0].arguments)
    jsonschema.validate(arguments, ANSWER_SCHEMA)
    # The message's values first, then what the tool said.
    assert arguments == {"city": "Paris", "summary": "sunny"}
    assert (turn.text, turn.finish_reason) == ([], "tool_calls")


def test_a_tool_strategy_agent_calls_the_mentioned_tool_then_the_answer_tool() -> None:
    called, last = run_tool_loop(
        "What is the weather in 'Paris'?",
        {"get_weather": "sunny in Paris"},
        tools=[WEATHER_TOOL, ANSWER_TOOL],
        tool_choice="required",
    )
    assert called == [["get_weather"], ["Answer"]]
    assert json.loads(last.tool_calls[0].arguments) == {"city": "Paris", "summary": "sunny in Paris"}


def test_mentioned_tools_not_yet_called_come_before_the_last_bound_tool() -> None:
    called, _ = run_tool_loop(
        "get_time in 'UTC' and get_weather in 'Rome'",
        {"get_time": "noon", "get_weather": "rain"},
        tools=[WEATHER_TOOL, TIME_TOOL, ANSWER_TOOL],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    assert called == [["get_time"], ["get_weather"], ["Answer"]]


def test_without_a_mention_required_calls_the_first_tool_then_the_rest_last_first() -> None:
    scripted = ScriptedModel()
    items: list[dict[str, Any]] = [{"role": "user", "content": "Nothing relevant"}]
    called = []
    for _ in range(4):
        turn = answer(
            scripted, input=items, tools=[WEATHER_TOOL, TIME_TOOL, ANSWER_TOOL], tool_choice="required"
        )
        (call,) = turn.tool_calls
        called.append(call.name)
        items.append({"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": "{}"})
        items.append({"type": "function_call_output", "call_id": call.call_id, "output": "done"})
    # Once every tool has been called, "required falls back to the first tool" again.
    assert called == ["get_weather", "Answer", "get_time", "get_weather"]


def test_a_named_tool_choice_still_forces_its_tool_after_tool_outputs() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL, ANSWER_TOOL], tool_choice=choice)
    assert [call.name for call in turn.tool_calls] == ["get_weather"]


def test_auto_after_tool_outputs_still_answers_in_text_with_an_uncalled_tool_bound() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL, ANSWER_TOOL])
    assert (text_of(turn), turn.tool_calls) == ("Tool results: get_weather returned sunny", [])


def test_a_new_user_message_starts_the_called_tools_over() -> None:
    items = [
        *TOOL_HISTORY,
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "And the weather in 'Rome'?"},
    ]
    turn = answer(input=items, tools=[WEATHER_TOOL, ANSWER_TOOL], tool_choice="required")
    assert [(call.name, json.loads(call.arguments)) for call in turn.tool_calls] == [
        ("get_weather", {"location": "Rome", "days": 1})
    ]


def test_arguments_after_tool_outputs_take_numbers_from_the_outputs_too() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
        "required": ["city", "celsius"],
    }
    report = {"type": "function", "name": "Report", "parameters": schema}
    items = [
        {"role": "user", "content": "Weather in 'Oslo' please"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "cold, -3 degrees"},
    ]
    turn = answer(input=items, tools=[WEATHER_TOOL, report], tool_choice="required")
    assert [(call.name, json.loads(call.arguments)) for call in turn.tool_calls] == [
        ("Report", {"city": "Oslo", "celsius": -3})
    ]


JSON_SCHEMA_FORMAT = {
    "format": {"type": "json_schema", "name": "Answer", "schema": ANSWER_SCHEMA, "strict": True}
}


def test_json_schema_with_tools_calls_the_mentioned_tool_first_then_answers_with_the_json() -> None:
    # What LangChain's ProviderStrategy sends: the user's tools (tool_choice auto) and a json_schema format.
    called, last = run_tool_loop(
        "What is the weather in 'Paris'?",
        {"get_weather": "sunny in Paris"},
        tools=[WEATHER_TOOL],
        text=JSON_SCHEMA_FORMAT,
    )
    assert called == [["get_weather"], []]
    value = json.loads(text_of(last))
    jsonschema.validate(value, ANSWER_SCHEMA)
    assert value == {"city": "Paris", "summary": "sunny in Paris"}
    assert last.finish_reason == "stop"


def test_json_schema_after_tool_outputs_is_the_json_even_with_instructions() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL], instructions="Be brief.", text=JSON_SCHEMA_FORMAT)
    assert json.loads(text_of(turn)) == {"city": "Paris", "summary": "sunny"}


def test_json_object_after_tool_outputs_is_a_json_object_about_the_results() -> None:
    turn = answer(input=TOOL_HISTORY, tools=[WEATHER_TOOL], text={"format": {"type": "json_object"}})
    value = json.loads(text_of(turn))
    assert value == {"Paris": "Paris for: Tool results: get_weather returned sunny"}
