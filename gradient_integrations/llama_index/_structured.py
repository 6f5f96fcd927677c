"""Structured output by constrained decoding: the `json_schema` method of `GradientLLM`.

`JsonSchemaProgram` asks the endpoint for JSON matching the output class's schema
(`text.format = {"type": "json_schema", ...}`, no tools) and validates the answer into the pydantic
class. Streaming yields partial objects while the JSON arrives (llama-index's own partial-JSON repair)
and a validated object last. The default `function_calling` method needs none of this: it is
llama-index's `FunctionCallingProgram` with the tool call forced.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator
from typing import Any, Generic

from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.llms.llm import LLM
from llama_index.core.program.utils import FlexibleModel, process_streaming_objects
from llama_index.core.prompts.base import BasePromptTemplate
from llama_index.core.types import BasePydanticProgram, Model
from pydantic import ValidationError

from gradient_integrations.core.values import text_format

__all__ = ["JsonSchemaProgram", "json_schema_format", "parse_structured"]

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def json_schema_format(output_cls: type[Any], *, strict: bool) -> dict[str, Any]:
    """The `text.format` value asking for JSON that matches `output_cls` (built by the core)."""
    return text_format(output_cls, strict=strict)


def parse_structured(output_cls: type[Model], text: str | None) -> Model:
    """Validate the model's JSON answer, with an error that shows what came back."""
    answer = (text or "").strip()
    fenced = _FENCE.match(answer)  # tolerate a ```json fence from a model that ignored the format
    if fenced:
        answer = fenced.group(1)
    try:
        return output_cls.model_validate_json(answer)
    except ValidationError as exc:
        raise ValueError(
            f"The model's answer is not a valid {output_cls.__name__}: {exc.error_count()} error(s), "
            f"first: {exc.errors(include_url=False)[0]['msg']}; answer was {answer[:200]!r}"
        ) from exc


class JsonSchemaProgram(BasePydanticProgram[Model], Generic[Model]):
    """Prompt -> chat with `text.format` json_schema -> validated `output_cls`."""

    def __init__(self, output_cls: type[Model], llm: LLM, prompt: BasePromptTemplate, *, strict: bool):
        self._output_cls = output_cls
        self._llm = llm
        self._prompt = prompt
        self._format = json_schema_format(output_cls, strict=strict)

    @property
    def output_cls(self) -> type[Model]:
        return self._output_cls

    def _messages(self, prompt_args: dict[str, Any]) -> list[ChatMessage]:
        return self._llm._extend_messages(self._prompt.format_messages(llm=self._llm, **prompt_args))

    def _options(self, llm_kwargs: dict[str, Any] | None) -> dict[str, Any]:
        options = dict(llm_kwargs or {})
        for tool_option in ("tools", "tool_choice", "tool_required", "allow_parallel_tool_calls"):
            options.pop(tool_option, None)  # the answer is the JSON text, never a tool call
        options["text"] = {"format": self._format}
        return options

    def __call__(self, *args: Any, llm_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Model:
        response = self._llm.chat(self._messages(kwargs), **self._options(llm_kwargs))
        return parse_structured(self._output_cls, response.message.content)

    async def acall(self, *args: Any, llm_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Model:
        response = await self._llm.achat(self._messages(kwargs), **self._options(llm_kwargs))
        return parse_structured(self._output_cls, response.message.content)

    def stream_call(
        self, *args: Any, llm_kwargs: dict[str, Any] | None = None, **kwargs: Any
    ) -> Generator[Model | FlexibleModel, None, None]:
        partial: list[Any] | None = None
        for response in self._llm.stream_chat(self._messages(kwargs), **self._options(llm_kwargs)):
            item, partial = self._next(response, partial)
            yield item

    async def astream_call(
        self, *args: Any, llm_kwargs: dict[str, Any] | None = None, **kwargs: Any
    ) -> AsyncGenerator[Model | FlexibleModel, None]:
        responses = await self._llm.astream_chat(self._messages(kwargs), **self._options(llm_kwargs))

        async def gen() -> AsyncGenerator[Model | FlexibleModel, None]:
            partial: list[Any] | None = None
            async for response in responses:
                item, partial = self._next(response, partial)
                yield item

        return gen()

    def _next(self, response: ChatResponse, partial: list[Any] | None) -> tuple[Any, list[Any] | None]:
        """A partial object while streaming; the validated object for the complete answer."""
        if "finish_reason" in response.additional_kwargs:
            return parse_structured(self._output_cls, response.message.content), partial
        item = process_streaming_objects(response, self._output_cls, cur_objects=partial, flexible_mode=True)
        return item, item if isinstance(item, list) else [item]
