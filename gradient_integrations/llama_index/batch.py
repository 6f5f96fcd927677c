"""Batch Inference from LlamaIndex: the requests and result conversion behind `GradientLLM.submit_batch`.

Each input is a list of `ChatMessage`s (or a prompt string), and each line's body is what `chat(messages,
**kwargs)` would send; with `tools=`, what `chat_with_tools(tools, chat_history=messages, ...)` would
send. Results come back as `ChatResponse`s (tool calls kept in `additional_kwargs["tool_calls"]`, read
with `llm.get_tool_calls_from_response`). Jobs, limits and joining: `core.batch_jobs`, `core.batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import prompt_to_messages
from llama_index.core.base.llms.types import ChatMessage, ChatResponse

from ..core.errors import InvalidRequestError
from ..core.request import ResponseRequest
from ..core.response import ResponseResult
from ._results import chat_response_from_result
from ._tools import keep_first_tool_call

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from .base import GradientLLM

__all__ = ["BatchInput", "plan_batch", "read_batch_result"]

BatchInput = Sequence[ChatMessage] | str


def _messages(item: Any, index: int) -> list[ChatMessage]:
    if isinstance(item, str):
        return prompt_to_messages(item)
    if isinstance(item, ChatMessage):
        raise InvalidRequestError(
            f"inputs[{index}]", "is one ChatMessage; each input is a list of messages (wrap it: [message])"
        )
    if not isinstance(item, Sequence) or not all(isinstance(message, ChatMessage) for message in item):
        raise InvalidRequestError(
            f"inputs[{index}]", f"must be a list of ChatMessage or a prompt string, got {type(item).__name__}"
        )
    return list(item)


def plan_batch(
    llm: GradientLLM,
    inputs: Sequence[BatchInput],
    *,
    tools: Sequence[BaseTool] | None,
    tool_options: Mapping[str, Any],
    options: Mapping[str, Any],
) -> tuple[list[ResponseRequest], Callable[[ResponseResult], ChatResponse]]:
    """Every input's request (checked now, naming `inputs[i]`), and how an answer becomes a ChatResponse."""
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise InvalidRequestError("inputs", "must be a list of message lists (or prompt strings)")
    requests = []
    for index, item in enumerate(inputs):
        messages = _messages(item, index)
        call = dict(options)
        if tools:
            call = llm._prepare_chat_with_tools(tools, chat_history=messages, **tool_options, **options)
            messages = call.pop("messages")
        try:
            request, headers = llm._request(messages, call)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"inputs[{index}].{exc.field}", exc.problem) from None
        if headers:
            raise InvalidRequestError(
                "extra_headers",
                "cannot travel in a batch line (lines carry bodies only); leave them out here",
            )
        requests.append(request)
    keep_one = bool(tools) and not tool_options.get("allow_parallel_tool_calls", False)

    def convert(result: ResponseResult) -> ChatResponse:
        return read_batch_result(result, keep_one_tool_call=keep_one)

    return requests, convert


def read_batch_result(result: ResponseResult, *, keep_one_tool_call: bool = False) -> ChatResponse:
    """One batch answer as `chat` returns it (`chat_with_tools` keeps the first tool call unless parallel)."""
    response = chat_response_from_result(result)
    return keep_first_tool_call(response) if keep_one_tool_call else response
