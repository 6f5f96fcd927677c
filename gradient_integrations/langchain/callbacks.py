"""Tokens and dollars for LangChain: `get_gradient_callback()` and `GradientCallbackHandler`.

The LangChain counterpart of `get_openai_callback()`::

    with get_gradient_callback() as cb:
        model.invoke("hello")
        model.batch(["a", "b"])
        agent.invoke({"messages": [...]})
    print(cb)  # tokens, requests, dollars
    cb.total_cost, cb.cost_known, cb.by_model

Inside the block every LangChain run gets the handler (a configure hook, as `get_openai_callback` does), so
sync and async calls, `batch` (run in threads with the context copied), streams, chains and agents are
counted with no `callbacks=` argument. The block also makes its tally active for the core
(`core.usage.tracking`), which is how embedding calls (`GradientEmbeddings`) are counted: LangChain has no
callback event for them.

What is counted, and when:

- One answered chat call is counted from `on_llm_end`, which LangChain calls once per run: for a stream,
  once, with all chunks merged, and a merged chunk's `usage_metadata` is the sum of the chunks'.
  `ChatGradient` puts usage on its last chunk only, so a stream is counted once, with the numbers an
  `invoke` of the same prompt reports.
- Each generation with `usage_metadata` is one successful request; a generation without it (a model that
  does not report usage, or `stream_usage=False`) is not counted at all, as `OpenAICallbackHandler`
  does: there are no numbers to add. Failed and abandoned calls report no usage and are not counted.
- The model is the message's `response_metadata["model_name"]` (the model that answered), else the
  result's `llm_output["model_name"]`, else `core.usage.UNKNOWN_MODEL` (never priced).
- Nested blocks: the inner handle counts the calls made inside it, and the outer counts them too. A run
  can hold both handlers (the outer one inherited from a parent run, the inner one added for it); each
  tally still counts the result once (`core.usage.not_yet_counted`).

Prices come from the model catalog (`core.catalog.CATALOG`, or the `catalog` given). A model without a
price makes the cost unknown rather than zero: `cost_known` is False, `total_cost` sums the known part,
and `str(cb)` names the unpriced models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from ..core.catalog import ModelCatalog
from ..core.usage import UNKNOWN_MODEL, ModelUsage, UsageTally, not_yet_counted, tracking

__all__ = ["GradientCallbackHandler", "get_gradient_callback"]


class GradientCallbackHandler(BaseCallbackHandler):
    """Counts tokens, requests and dollars of the chat runs it sees, per model, into `tally`.

    Attributes read like `OpenAICallbackHandler`'s (`total_tokens`, `prompt_tokens`,
    `prompt_tokens_cached`, `completion_tokens`, `reasoning_tokens`, `successful_requests`, `total_cost`),
    plus `by_model`, `cost_known`, `unpriced_models` and `embedding_tokens`. Safe to share between threads:
    the tally has a lock. Pass one as a callback (`config={"callbacks": [handler]}`), or use
    `get_gradient_callback()`, which adds it to every run in its block.
    """

    run_inline = True  # cheap and thread-safe: no need for the async manager's executor hop
    raise_error = False

    def __init__(self, tally: UsageTally | None = None, *, catalog: ModelCatalog | None = None) -> None:
        super().__init__()
        self.tally = UsageTally(catalog) if tally is None else tally
        # The tallies this handler counts into: its own, and those of the `get_gradient_callback` blocks
        # it is nested in (set by `get_gradient_callback`).
        self._tallies: tuple[UsageTally, ...] = (self.tally,)

    # -- counting -----------------------------------------------------------------------------------
    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Count each generation that reports usage."""
        reports = list(_usage_reports(response))
        if not reports:
            return
        for tally in not_yet_counted(response, self._tallies):
            for report in reports:
                tally.add_chat(*report)

    # -- reading (OpenAICallbackHandler's names) ----------------------------------------------------
    @property
    def total_tokens(self) -> int:
        return self.tally.total_tokens

    @property
    def prompt_tokens(self) -> int:
        return self.tally.prompt_tokens

    @property
    def prompt_tokens_cached(self) -> int:
        return self.tally.cached_tokens

    @property
    def completion_tokens(self) -> int:
        return self.tally.completion_tokens

    @property
    def reasoning_tokens(self) -> int:
        return self.tally.reasoning_tokens

    @property
    def embedding_tokens(self) -> int:
        return self.tally.embedding_tokens

    @property
    def successful_requests(self) -> int:
        return self.tally.successful_requests

    @property
    def total_cost(self) -> float:
        """USD for the models with a price; `cost_known` says whether that is all of it."""
        return self.tally.total_cost

    @property
    def cost_known(self) -> bool:
        return self.tally.cost_known

    @property
    def unpriced_models(self) -> list[str]:
        return self.tally.unpriced_models

    @property
    def by_model(self) -> dict[str, ModelUsage]:
        return self.tally.by_model

    def __str__(self) -> str:
        return str(self.tally)

    def __repr__(self) -> str:
        return str(self.tally)

    # LangChain copies configs (and their callbacks): every copy must count into the same tally.
    def __copy__(self) -> GradientCallbackHandler:
        return self

    def __deepcopy__(self, memo: Any) -> GradientCallbackHandler:
        return self


def _usage_reports(response: LLMResult) -> Iterator[tuple[str, int, int, int, int, int]]:
    """(model, input, output, cached, reasoning, web searches) for each generation with `usage_metadata`."""
    fallback_model = _model_name(response.llm_output)
    for generations in response.generations:
        for generation in generations:
            if not isinstance(generation, ChatGeneration) or not isinstance(generation.message, AIMessage):
                continue
            usage = generation.message.usage_metadata
            if not usage:
                continue
            input_details: Mapping[str, Any] = usage.get("input_token_details") or {}
            output_details: Mapping[str, Any] = usage.get("output_token_details") or {}
            model = _model_name(generation.message.response_metadata) or fallback_model or UNKNOWN_MODEL
            yield (
                model,
                _int(usage.get("input_tokens")),
                _int(usage.get("output_tokens")),
                _int(input_details.get("cache_read")),
                _int(output_details.get("reasoning")),
                _int(generation.message.response_metadata.get("web_searches")),
            )


def _model_name(metadata: Mapping[str, Any] | None) -> str:
    name = (metadata or {}).get("model_name")
    return name if isinstance(name, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- the context manager ---------------------------------------------------------------------------
_gradient_callback_var: ContextVar[GradientCallbackHandler | None] = ContextVar(
    "gradient_callback", default=None
)
register_configure_hook(_gradient_callback_var, inheritable=True)


@contextmanager
def get_gradient_callback(*, catalog: ModelCatalog | None = None) -> Iterator[GradientCallbackHandler]:
    """Count the tokens, requests and dollars of every Gradient call made in the block.

    Chat calls of any LangChain run started in the block (sync, async, batch, streams, chains, agents)
    and embedding calls; nested blocks count into every enclosing handle too. `catalog` prices the
    models (default: the shipped catalog with anything `register_model` added).
    """
    handler = GradientCallbackHandler(catalog=catalog)
    enclosing = _gradient_callback_var.get()
    if enclosing is not None:
        handler._tallies = (*enclosing._tallies, handler.tally)
    with tracking(handler.tally):
        token = _gradient_callback_var.set(handler)
        try:
            yield handler
        finally:
            try:
                _gradient_callback_var.reset(token)
            except ValueError:  # left in another context than it was entered in
                _gradient_callback_var.set(enclosing)
