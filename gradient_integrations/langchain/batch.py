"""Batch Inference from LangChain: `submit_batch`, `asubmit_batch`, `attach_batch`, `aattach_batch`.

`ChatGradient.submit_batch(inputs, **call_options)` is the method form. These functions also take a
binding of a ChatGradient (`bind_tools(...)`, `bind(...)`) or a `with_structured_output(...)` chain: the
bound options travel in every line, and each answer goes through the chain's parser as `invoke` would send
it there (a parse failure is that item's exception). A binding forwards a method call to its model without
its bound options, so for a binding call these functions, not `bound.submit_batch` (which refuses).

Jobs, limits and results: `core.batch_jobs` (all I/O) and `core.batch` (lines and joining).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableSequence

from ..core import batch_jobs
from ..core.batch_jobs import BatchJob
from ..core.errors import InvalidRequestError
from ..core.request import ResponseRequest
from ..core.response import ResponseResult
from .chat_models import ChatGradient

__all__ = ["BatchJob", "aattach_batch", "asubmit_batch", "attach_batch", "submit_batch"]

Submittable = ChatGradient | Runnable[Any, Any]


def _unwrap(runnable: Submittable) -> tuple[ChatGradient, dict[str, Any], Runnable[Any, Any] | None]:
    """The model under a binding or a structured-output chain, the bound options, and the parser after."""
    after: Runnable[Any, Any] | None = None
    if isinstance(runnable, RunnableSequence):
        steps = runnable.steps
        after = steps[1] if len(steps) == 2 else RunnableSequence(*steps[1:])
        runnable = steps[0]
    options: dict[str, Any] = {}
    while isinstance(runnable, RunnableBinding):
        options = {**runnable.kwargs, **options}  # the outer binding's options win, as at invoke time
        runnable = runnable.bound
    if not isinstance(runnable, ChatGradient):
        raise InvalidRequestError(
            "model",
            f"expected a ChatGradient, a binding of one (bind_tools, bind) or a with_structured_output(...) "
            f"chain without include_raw, got {type(runnable).__name__}",
        )
    return runnable, options, after


def _plan(
    runnable: Submittable, inputs: Sequence[LanguageModelInput], call_options: Mapping[str, Any]
) -> tuple[ChatGradient, list[ResponseRequest], Callable[[ResponseResult], Any]]:
    model, bound, after = _unwrap(runnable)
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise InvalidRequestError("inputs", "must be a list of inputs (strings, message lists or prompts)")
    options = {**bound, **call_options}
    stop = options.pop("stop", None)
    calls = []
    for index, item in enumerate(inputs):
        try:
            calls.append(model._prepare(model._convert_input(item).to_messages(), stop, options))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"inputs[{index}].{exc.field}", exc.problem) from None
        except ValueError as exc:  # LangChain's own input conversion
            raise InvalidRequestError(f"inputs[{index}]", str(exc)) from None
    if calls and calls[0].extra_headers:
        raise InvalidRequestError(
            "extra_headers", "cannot travel in a batch line (lines carry bodies only); leave them out here"
        )
    first = calls[0] if calls else None

    def convert(result: ResponseResult) -> Any:
        message = model._batch_message(result, first)
        return message if after is None else after.invoke(message)

    return model, [call.request for call in calls], convert


def submit_batch(
    runnable: Submittable,
    inputs: Sequence[LanguageModelInput],
    *,
    batch_metadata: Mapping[str, str] | None = None,
    **call_options: Any,
) -> BatchJob[Any]:
    """Submit `inputs` as a Batch Inference job; see `ChatGradient.submit_batch`."""
    model, requests, convert = _plan(runnable, inputs, call_options)
    return batch_jobs.submit_batch(model.client, requests, convert, metadata=batch_metadata)


async def asubmit_batch(
    runnable: Submittable,
    inputs: Sequence[LanguageModelInput],
    *,
    batch_metadata: Mapping[str, str] | None = None,
    **call_options: Any,
) -> BatchJob[Any]:
    """Async `submit_batch`."""
    model, requests, convert = _plan(runnable, inputs, call_options)
    return await batch_jobs.asubmit_batch(model.client, requests, convert, metadata=batch_metadata)


def _attach_plan(runnable: Submittable) -> tuple[ChatGradient, Callable[[ResponseResult], Any]]:
    model, bound, after = _unwrap(runnable)
    options = dict(bound)
    stop = options.pop("stop", None)
    # The bound options, prepared once on a stand-in message, say how answers are read (a pydantic
    # `response_format` fills `additional_kwargs["parsed"]`), exactly as at submission.
    call = model._prepare([HumanMessage("re-attach")], stop, options)

    def convert(result: ResponseResult) -> Any:
        message: AIMessage = model._batch_message(result, call)
        return message if after is None else after.invoke(message)

    return model, convert


def attach_batch(runnable: Submittable, job_id: str | Sequence[str]) -> BatchJob[Any]:
    """Re-attach to a submitted job by its `BatchJob.id` (e.g. after a restart)."""
    model, convert = _attach_plan(runnable)
    return batch_jobs.attach_batch(model.client, job_id, convert)


async def aattach_batch(runnable: Submittable, job_id: str | Sequence[str]) -> BatchJob[Any]:
    """Async `attach_batch`."""
    model, convert = _attach_plan(runnable)
    return await batch_jobs.aattach_batch(model.client, job_id, convert)
