"""Tokens and dollars for LlamaIndex: `gradient_usage()`, over LlamaIndex's instrumentation events.

::

    with gradient_usage() as usage:
        llm.chat(messages)
        index.as_query_engine(llm=llm).query("...")
    print(usage)  # tokens, requests, dollars
    usage.total_cost, usage.cost_known, usage.by_model

The block makes a `core.usage.UsageTally` active for the current context (`core.usage.tracking`) and
installs, once per process, `GradientUsageEventHandler` on LlamaIndex's root dispatcher. That handler counts
each `LLMChatEndEvent` and `LLMCompletionEndEvent` whose response carries `GradientLLM`'s usage into every
tally active where the event is dispatched. Embedding calls (`GradientEmbedding`) have no such event: the
core counts them into the same active tallies itself.

What is counted, and when:

- LlamaIndex dispatches one end event per call, with the call's final response; for a stream, once it has
  been read to its end (in the context of the code reading it), with the last response. `GradientLLM`
  puts usage on that last response only, so a stream is counted once, as the same call unstreamed.
  A stream abandoned before its end (or one that failed) sends no end event and is not counted.
- Only responses with `GradientLLM`'s usage keys (`prompt_tokens`, `completion_tokens` and `model` in
  `additional_kwargs`, see `_results.usage_kwargs`) are counted, under the model that answered; other
  LLMs' events are ignored. Each counts as one successful request.
- The handler does nothing but read a context variable when no tally is active, and counts a response
  at most once per tally (`core.usage.not_yet_counted`), even if a wrapper re-dispatches it.
- Contexts follow the contextvars rules: a stream read, or an asyncio task created, inside the block is
  counted; one read outside it (or in a thread started without a copy of the context) is not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeGuard

# llama-index-core re-exports get_dispatcher without listing it in __all__.
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent

from ..core.catalog import ModelCatalog
from ..core.usage import UNKNOWN_MODEL, UsageTally, active_tallies, not_yet_counted, tracking

__all__ = ["GradientUsageEventHandler", "gradient_usage", "install_usage_handler"]


class GradientUsageEventHandler(BaseEventHandler):
    """Counts `GradientLLM` chat and completion end events into the tallies active in their context."""

    @classmethod
    def class_name(cls) -> str:
        return "GradientUsageEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        tallies = active_tallies()
        if not tallies or not isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            return
        response = event.response
        if response is None:
            return
        report = _usage_report(response.additional_kwargs)
        if report is None:
            return
        for tally in not_yet_counted(response, tallies):
            tally.add_chat(*report)


def _usage_report(extra: Mapping[str, Any]) -> tuple[str, int, int, int, int, int] | None:
    """(model, prompt, completion, cached, reasoning, web searches) from `GradientLLM`'s
    `additional_kwargs`, or None."""
    prompt, completion, model = extra.get("prompt_tokens"), extra.get("completion_tokens"), extra.get("model")
    if not (_is_int(prompt) and _is_int(completion) and isinstance(model, str)):
        return None
    cached, reasoning = extra.get("cached_tokens"), extra.get("reasoning_tokens")
    return (
        model or UNKNOWN_MODEL,
        prompt,
        completion,
        cached if _is_int(cached) else 0,
        reasoning if _is_int(reasoning) else 0,
        searches if _is_int(searches := extra.get("web_searches")) else 0,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


_INSTALL_LOCK = threading.Lock()


def install_usage_handler() -> None:
    """Add the handler to LlamaIndex's root dispatcher unless it is there already (idempotent).

    `gradient_usage()` calls it; call it yourself only to count into tallies opened with
    `core.usage.tracking` directly.
    """
    root = get_dispatcher()
    with _INSTALL_LOCK:
        for handler in root.event_handlers:
            # By name, so a second copy of this module (a reload) does not add a second counter.
            if isinstance(handler, BaseEventHandler) and handler.class_name() == "GradientUsageEventHandler":
                return
        root.add_event_handler(GradientUsageEventHandler())


@contextmanager
def gradient_usage(*, catalog: ModelCatalog | None = None) -> Iterator[UsageTally]:
    """Count the tokens, requests and dollars of the `GradientLLM` and `GradientEmbedding` calls made in
    the block (nested blocks: each counts). `catalog` prices the models (default: the shipped catalog)."""
    install_usage_handler()
    with tracking(UsageTally(catalog)) as tally:
        yield tally
