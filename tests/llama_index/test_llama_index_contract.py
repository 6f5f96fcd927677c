"""The LlamaIndex contract suite against the local Gradient-compatible server, in three configurations:
DO `response.chunk` streams, OpenAI-style typed `response.*` events with a reasoning model, and
structured output by `text.format` json_schema. Plus checks only the deterministic server allows."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import TextBlock, ThinkingBlock
from llama_index_contract import (
    CITY_ARGS,
    CITY_PROMPT,
    City,
    FaultInjectionContractTests,
    LLMContractTests,
    user,
)

from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local import LocalServer


class TestContractDoStream(LLMContractTests, FaultInjectionContractTests):
    @pytest.fixture
    def llm_params(self, local_server: LocalServer) -> dict[str, Any]:
        return {"model": "llama3.3-70b-instruct", "base_url": local_server.base_url, "max_retries": 0}

    def test_stream_and_chat_give_the_same_answer(self, llm: GradientLLM) -> None:
        messages = user("Say hello to the contract suite.")
        streamed = list(llm.stream_chat(messages))[-1]
        whole = llm.chat(messages)
        assert streamed.message.content == whole.message.content
        per_request = ("id", "quota")  # each answer has its own id, and the quota left after it
        assert {k: v for k, v in streamed.additional_kwargs.items() if k not in per_request} == {
            k: v for k, v in whole.additional_kwargs.items() if k not in per_request
        }
        assert streamed.additional_kwargs["quota"]["requests"]["remaining"] > 0


class TestContractTypedEventsWithReasoning(LLMContractTests, FaultInjectionContractTests):
    @pytest.fixture
    def llm_params(self, local_server: LocalServer) -> dict[str, Any]:
        return {
            "model": "openai-gpt-oss-20b",
            "base_url": local_server.base_url,
            "max_retries": 0,
            "default_headers": {"x-gradient-stream-dialect": "openai"},
            "reasoning": {"effort": "medium"},
        }

    def test_reasoning_is_kept_as_a_thinking_block_with_its_token_count(self, llm: GradientLLM) -> None:
        response = llm.chat(user("Why is the sky blue?"))
        thinking, text = response.message.blocks
        assert isinstance(thinking, ThinkingBlock) and thinking.content
        assert isinstance(text, TextBlock) and text.text
        assert thinking.num_tokens == response.additional_kwargs["reasoning_tokens"] > 0

    def test_streamed_reasoning_arrives_as_thinking_deltas(self, llm: GradientLLM) -> None:
        responses = list(llm.stream_chat(user("Why is the sky blue?")))
        thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
        final_thinking = responses[-1].message.blocks[0]
        assert isinstance(final_thinking, ThinkingBlock) and final_thinking.content == thinking != ""


class TestContractJsonSchemaStructuredOutput(LLMContractTests):
    @pytest.fixture
    def llm_params(self, local_server: LocalServer) -> dict[str, Any]:
        return {
            "model": "openai-gpt-4o-mini",
            "base_url": local_server.base_url,
            "max_retries": 0,
            "structured_output_method": "json_schema",
        }

    def test_structured_output_is_read_from_the_text_not_a_tool_call(self, llm: GradientLLM) -> None:
        partials = list(llm.stream_structured_predict(City, CITY_PROMPT, **CITY_ARGS))
        assert isinstance(partials[-1], City)
        assert len(partials) > 2  # the JSON streamed in pieces, each yielding a partial object
