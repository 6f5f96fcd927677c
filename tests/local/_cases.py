"""Requests that exercise every rule of the scripted model, shared by the conformance tests, plus a tiny
SSE reader (the server's framing is simple and the tests must see it byte-exact, not through a client)."""

from __future__ import annotations

import json
from typing import Any

from gradient_integrations.core import ResponseResult

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a place.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["location", "days"],
    },
}
TIME_TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "The time in a zone.",
    "parameters": {
        "type": "object",
        "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}},
        "required": ["zone"],
    },
}
JOKE_SCHEMA = {
    "type": "object",
    "properties": {
        "setup": {"type": "string"},
        "punchline": {"type": "string"},
        "rating": {"type": "integer"},
    },
    "required": ["setup", "punchline", "rating"],
    "additionalProperties": False,
}
TOOL_HISTORY = [
    {"role": "user", "content": "What is the weather in 'Paris' for 2 days?"},
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"location": "Paris"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
]

# name -> /v1/responses body (without `stream`)
CASES: dict[str, dict[str, Any]] = {
    "plain": {"model": "llama3.3-70b-instruct", "input": "Hello there"},
    "instructions": {"model": "llama3.3-70b-instruct", "input": "Hello", "instructions": "Answer briefly."},
    "message_items": {
        "model": "mistral-3-14B",
        "input": [
            {"role": "system", "content": "Be kind."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi there"}]},
        ],
    },
    "reasoning": {"model": "openai-gpt-oss-20b", "input": "Why is the sky blue?"},
    "tool_call": {"model": "m", "input": "Use get_weather for 'Paris' for 3 days", "tools": [WEATHER_TOOL]},
    "parallel_tools": {
        "model": "m",
        "input": "Call get_weather for 'Rome' and get_time",
        "tools": [WEATHER_TOOL, TIME_TOOL],
    },
    "named_tool": {
        "model": "openai-gpt-oss-120b",
        "input": "Anything",
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    },
    "tool_output": {"model": "m", "input": TOOL_HISTORY, "tools": [WEATHER_TOOL]},
    "json_schema": {
        "model": "m",
        "input": "Tell me a joke about cats",
        "text": {"format": {"type": "json_schema", "name": "joke", "schema": JOKE_SCHEMA, "strict": True}},
    },
    "json_object": {
        "model": "m",
        "input": "Reply with 'setup' and 'punchline' keys",
        "text": {"format": {"type": "json_object"}},
    },
    "stop": {"model": "m", "input": "Hello there friend", "stop": ["friend"]},
    "truncated": {"model": "m", "input": "one two three four five", "max_output_tokens": 3},
    "reasoning_truncated": {"model": "openai-gpt-oss-20b", "input": "Hi", "max_output_tokens": 4},
    "echoed_settings": {
        "model": "m",
        "input": "Hi",
        "temperature": 0.5,
        "top_p": 0.9,
        "user": "user-1",
        "metadata": {"k": "v"},
        "parallel_tool_calls": False,
        "tools": [TIME_TOOL],
        "tool_choice": "none",
    },
}


def chat_body(case: dict[str, Any]) -> dict[str, Any]:
    """The same work as a `/v1/chat/completions` body."""
    messages: list[dict[str, Any]] = []
    if case.get("instructions"):
        messages.append({"role": "system", "content": case["instructions"]})
    items = [{"role": "user", "content": case["input"]}] if isinstance(case["input"], str) else case["input"]
    for item in items:
        if item.get("type") == "function_call":
            function = {"name": item["name"], "arguments": item["arguments"]}
            call = {"id": item["call_id"], "type": "function", "function": function}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif item.get("type") == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
        else:
            content = item["content"]
            if isinstance(content, list):
                content = [{"type": "text", "text": part["text"]} for part in content]
            messages.append({"role": item["role"], "content": content})
    body: dict[str, Any] = {"model": case["model"], "messages": messages}
    for key in ("temperature", "top_p", "user", "metadata", "parallel_tool_calls", "stop"):
        if key in case:
            body[key] = case[key]
    if "max_output_tokens" in case:
        body["max_completion_tokens"] = case["max_output_tokens"]
    if "tools" in case:
        body["tools"] = [
            {"type": "function", "function": {k: v for k, v in tool.items() if k != "type"}}
            for tool in case["tools"]
        ]
    if "tool_choice" in case:
        body["tool_choice"] = case["tool_choice"]
    text_format = (case.get("text") or {}).get("format")
    if text_format and text_format["type"] == "json_schema":
        schema = {k: v for k, v in text_format.items() if k != "type"}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif text_format:
        body["response_format"] = {"type": text_format["type"]}
    return body


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) for each SSE event in a complete stream body."""
    events: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        events.append((name, "\n".join(data)))
    return events


def sse_json(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of a stream, asserting it ends with exactly one `[DONE]`."""
    datas = [data for _, data in sse_events(text)]
    assert datas[-1] == "[DONE]", f"stream does not end with [DONE]: {datas[-1:]}"
    assert datas.count("[DONE]") == 1
    return [json.loads(data) for data in datas[:-1]]


def comparable(result: ResponseResult) -> dict[str, Any]:
    """What must agree between a JSON and a streamed answer (ids and timestamps differ per call)."""
    return {
        "model": result.model,
        "text": result.text,
        "reasoning": result.reasoning,
        "tools": [(call.name, call.arguments) for call in result.tool_calls],
        "usage": result.usage,
        "finish_reason": result.finish_reason,
        "status": result.status,
    }
