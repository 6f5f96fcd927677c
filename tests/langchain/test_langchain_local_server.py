"""ChatGradient against the local Gradient-compatible server for what the standard suites do not cover:
failures mid-stream and retries (the core's job, surfaced unchanged), reasoning, stop and length limits,
both stream dialects, JSON modes, auth, pickling, and reuse across event loops."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from pydantic import BaseModel

from gradient_integrations.core import AuthenticationError, StreamError
from gradient_integrations.langchain import ChatGradient
from gradient_integrations.local import LocalServer

PLAIN = "llama3.3-70b-instruct"
REASONING = "openai-gpt-oss-20b"


@pytest.fixture
def model(local_server: Any) -> ChatGradient:
    return ChatGradient(model=PLAIN, base_url=local_server.base_url, max_retries=2)


def collect(chunks: Iterator[AIMessageChunk]) -> tuple[list[AIMessageChunk], AIMessageChunk]:
    seen = list(chunks)
    full = seen[0]
    for chunk in seen[1:]:
        full = full + chunk
    return seen, full


def test_disconnect_mid_stream_raises_after_the_chunks_that_arrived(model: ChatGradient) -> None:
    received: list[str] = []
    with pytest.raises(StreamError) as caught:
        for chunk in model.stream(
            "[words:20] go", extra_headers={"x-gradient-fault": "disconnect_mid_stream:4"}
        ):
            received.append(chunk.text)
    assert len(received) >= 3 and all(received)
    assert caught.value.partial.text == "".join(received)
    assert not any("error" in text.lower() for text in received)  # never error text as content


async def test_async_error_event_mid_stream_raises_the_typed_error(model: ChatGradient) -> None:
    received: list[str] = []
    with pytest.raises(StreamError, match="Stream error"):
        async for chunk in model.astream(
            "[words:20] go", extra_headers={"x-gradient-fault": "error_chunk:3"}
        ):
            received.append(chunk.text)
    assert len(received) == 3


@pytest.mark.parametrize("fault", ["rate_limit:1:0.01", "server_error:1"])
async def test_retryable_failures_are_retried_by_the_core(model: ChatGradient, fault: str) -> None:
    headers = {"x-gradient-fault": fault, "x-gradient-fault-key": f"lc-{fault}"}
    assert model.invoke("hello", extra_headers=headers).text == "You said: hello"
    assert (await model.ainvoke("hello", extra_headers=headers)).text == "You said: hello"


def test_reasoning_model_reports_reasoning_on_invoke_and_stream(local_server: Any) -> None:
    model = ChatGradient(model=REASONING, base_url=local_server.base_url, reasoning={"effort": "medium"})
    message = model.invoke("What is 6 times 7?")
    assert message.additional_kwargs["reasoning_content"]
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"]["reasoning"] > 0  # type: ignore[typeddict-item]
    chunks, full = collect(model.stream("What is 6 times 7?"))
    assert full.additional_kwargs["reasoning_content"] == message.additional_kwargs["reasoning_content"]
    assert full.text == message.text
    assert sum(1 for chunk in chunks if "reasoning_content" in chunk.additional_kwargs) > 1


def test_stop_cuts_the_answer_and_max_tokens_reports_length(model: ChatGradient) -> None:
    assert model.invoke("alpha beta gamma", stop=[" gamma"]).text == "You said: alpha beta"
    limited = model.invoke("[words:50] go", max_tokens=5)
    assert limited.response_metadata["finish_reason"] == "length"
    assert limited.response_metadata["status"] == "incomplete"
    assert limited.usage_metadata is not None and limited.usage_metadata["output_tokens"] == 5


def test_both_stream_dialects_give_the_same_message(model: ChatGradient) -> None:
    _, do_full = collect(model.stream("Compare the two dialects"))
    openai = {"x-gradient-stream-dialect": "openai"}
    _, openai_full = collect(model.stream("Compare the two dialects", extra_headers=openai))
    assert openai_full.text == do_full.text == "You said: Compare the two dialects"
    assert openai_full.usage_metadata == do_full.usage_metadata
    assert (
        openai_full.response_metadata["finish_reason"] == do_full.response_metadata["finish_reason"] == "stop"
    )


class Recipe(BaseModel):
    title: str
    minutes: int


@pytest.mark.parametrize("streamed", [False, True])
def test_json_schema_and_json_mode_end_to_end(model: ChatGradient, streamed: bool) -> None:
    prompt = "A recipe called 'soup' taking 25 minutes"
    structured = model.with_structured_output(Recipe, method="json_schema", strict=True)
    recipe = list(structured.stream(prompt))[-1] if streamed else structured.invoke(prompt)
    assert recipe == Recipe(title="soup", minutes=25)
    json_mode = model.with_structured_output(None, method="json_mode")
    answer = list(json_mode.stream(prompt))[-1] if streamed else json_mode.invoke(prompt)
    assert answer == {"soup": answer["soup"]}  # keys are the quoted words of the message


def test_wrong_key_is_a_typed_auth_error_that_never_shows_the_key() -> None:
    with LocalServer(api_key="sk-do-right-key") as server:
        wrong = ChatGradient(model=PLAIN, base_url=server.base_url, api_key="sk-do-wrong-key-123")
        with pytest.raises(AuthenticationError) as caught:
            wrong.invoke("hi")
        assert "sk-do-wrong-key-123" not in str(caught.value)
        right = ChatGradient(model=PLAIN, base_url=server.base_url, api_key="sk-do-right-key")
        assert right.invoke("hi").text == "You said: hi"


def test_unpickled_model_works_with_the_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer(api_key="sk-do-env-key") as server:
        original = ChatGradient(model=PLAIN, base_url=server.base_url, api_key="sk-do-env-key")
        assert original.invoke("before").text == "You said: before"
        data = pickle.dumps(original)
        assert b"sk-do-env-key" not in data
        monkeypatch.setenv("GRADIENT_MODEL_ACCESS_KEY", "sk-do-env-key")
        restored = pickle.loads(data)
        assert restored.invoke("after").text == "You said: after"
        assert asyncio.run(restored.ainvoke("async after")).text == "You said: async after"


def test_one_model_serves_successive_event_loops(model: ChatGradient) -> None:
    # Each asyncio.run() is a new loop; pooled connections from the previous one must not be reused.
    for round_number in range(3):
        message = asyncio.run(model.ainvoke(f"round {round_number}"))
        assert message.text == f"You said: round {round_number}"
