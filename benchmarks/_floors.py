"""Framework floors: what LangChain and LlamaIndex cost on their own, with no HTTP at all.

An adapter's time is framework + core + its own mapping. Measuring the frameworks alone with the same
answer (LangChain's `GenericFakeChatModel`, and the smallest LlamaIndex `CustomLLM` that returns a fixed
`ChatResponse`) lets RESULTS.md say how much of a cost is ours and how much is langchain-core's or
llama-index-core's, from measured numbers rather than guesses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback


def langchain_floor(answer: str) -> GenericFakeChatModel:
    """LangChain's own fake chat model, answering `answer` forever (streams it split on whitespace).

    Each call gets a freshly built `AIMessage`, as from any real model, so building one is in the floor.
    """
    return GenericFakeChatModel(messages=(AIMessage(content=answer) for _ in itertools.count()))


class FixedChunksChatModel(BaseChatModel):
    """LangChain streaming exactly the given pieces (any size; `GenericFakeChatModel` splits on spaces)."""

    pieces: list[str]

    @property
    def _llm_type(self) -> str:
        return "fixed-chunks"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(self.pieces)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self.pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class FixedAnswerLLM(CustomLLM):
    """The least a LlamaIndex LLM can do: hand back prebuilt pieces through the framework's callbacks."""

    pieces: list[str]

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="fixed-answer")

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="".join(self.pieces)))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def pieces() -> ChatResponseGen:
            text = ""
            for piece in self.pieces:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return pieces()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self.pieces))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise NotImplementedError("the benchmarks only stream through stream_chat")


def llama_index_floor(pieces: Sequence[str]) -> FixedAnswerLLM:
    return FixedAnswerLLM(pieces=list(pieces))
