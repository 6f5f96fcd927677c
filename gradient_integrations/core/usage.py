"""Token and dollar accounting, shared by both adapters and free of any framework.

This module owns three things:

- **`UsageTally`**: per-model counters (prompt, completion, cached, reasoning and embedding tokens,
  successful requests, web searches), safe to add to from many threads at once. Dollars are prices from a
  `ModelCatalog` (the shipped `CATALOG` unless given one) times tokens, computed when read. A model the
  catalog has no price for makes the cost *unknown*, never zero: `total_cost` is then the sum of the
  known costs only, `cost_known` is False and `unpriced_models` names the models; `str(tally)` says so.
- **The active tallies** (`tracking`, `active_tallies`): a context variable holding the tallies open in
  the current context. What reports to them: the core's embedding calls (no framework event carries
  their usage, in either adapter) and LlamaIndex's end events (through `llama_index.usage`). It
  follows the usual contextvars rules: threads started with a copied context (LangChain's executors)
  and asyncio tasks created inside a `with tracking(...)` block see it; code running elsewhere does not.
- **Counting a report once** (`not_yet_counted`): one framework report (a LangChain `LLMResult`, a
  LlamaIndex response) can reach one tally by two routes (an outer handler inherited by a run and an
  inner one added for it). Each tally remembers, for as long as the report object lives, that it counted
  it, so it is counted once whatever the number of routes.

The adapters decide *what* was used (LangChain: `callbacks.GradientCallbackHandler`; LlamaIndex:
`usage.gradient_usage`); this module only adds it up.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from .catalog import CATALOG, ModelCatalog

__all__ = [
    "UNKNOWN_MODEL",
    "WEB_SEARCH_USD",
    "ModelUsage",
    "UsageTally",
    "active_tallies",
    "not_yet_counted",
    "tracking",
]

UNKNOWN_MODEL = "<unknown model>"
"""The name usage is counted under when the answer did not say which model served it (never priced)."""
WEB_SEARCH_USD = 0.01
"""One web search by the built-in `web_search` tool: "$10 per 1,000 requests" (DO blog "Serverless
Inference: A Deep Dive", 2026-06-01). Added to the cost of the model that ran it."""


@dataclass(frozen=True)
class ModelUsage:
    """What one model used. `cost_usd` is None when the catalog has no price for it (unknown, not free)."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    embedding_tokens: int = 0
    successful_requests: int = 0
    cost_usd: float | None = 0.0
    web_searches: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.embedding_tokens


class _Counts:
    __slots__ = ("cached", "completion", "embedding", "prompt", "reasoning", "requests", "searches")

    def __init__(self) -> None:
        self.prompt = self.completion = self.cached = self.reasoning = self.embedding = self.requests = 0
        self.searches = 0


def _count(value: int) -> int:
    return value if value > 0 else 0


class UsageTally:
    """Tokens, requests and dollars per model; every method is safe to call from any thread.

    `add_chat` counts one answered chat request; `add_embedding` one embedding call (which may have been
    sent as several batches). `cached_tokens` are part of the prompt tokens (as the endpoint reports them)
    and cost the catalog's cached rate when it has one; `reasoning_tokens` are part of the completion
    tokens. `total_tokens` is prompt + completion + embedding tokens.
    """

    def __init__(self, catalog: ModelCatalog | None = None) -> None:
        self.catalog = CATALOG if catalog is None else catalog
        self._lock = threading.Lock()
        self._models: dict[str, _Counts] = {}

    # -- adding -------------------------------------------------------------------------------------
    def add_chat(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        web_searches: int = 0,
    ) -> None:
        """Count one answered chat request (and the web searches DO ran for it)."""
        with self._lock:
            counts = self._counts(model)
            counts.prompt += _count(input_tokens)
            counts.completion += _count(output_tokens)
            counts.cached += _count(cached_tokens)
            counts.reasoning += _count(reasoning_tokens)
            counts.searches += _count(web_searches)
            counts.requests += 1

    def add_embedding(self, model: str, tokens: int) -> None:
        """Count one embedding call of `tokens` input tokens."""
        with self._lock:
            counts = self._counts(model)
            counts.embedding += _count(tokens)
            counts.requests += 1

    def _counts(self, model: str) -> _Counts:
        name = model or UNKNOWN_MODEL
        counts = self._models.get(name)
        if counts is None:
            counts = self._models[name] = _Counts()
        return counts

    # -- reading ------------------------------------------------------------------------------------
    @property
    def by_model(self) -> dict[str, ModelUsage]:
        """A snapshot per model, in the order models were first counted (a copy: later calls do not
        change it)."""
        with self._lock:
            rows = [
                (name, c.prompt, c.completion, c.cached, c.reasoning, c.embedding, c.requests, c.searches)
                for name, c in self._models.items()
            ]
        usage: dict[str, ModelUsage] = {}
        for name, prompt, completion, cached, reasoning, embedding, requests, searches in rows:
            # An embedding model's tokens are input tokens; a model used both ways pays input for both.
            cost = self.catalog.info(name).cost_usd(prompt + embedding, completion, cached)
            if cost is not None:
                cost += searches * WEB_SEARCH_USD
            usage[name] = ModelUsage(
                name, prompt, completion, cached, reasoning, embedding, requests, cost, searches
            )
        return usage

    def _sum(self, field: str) -> int:
        with self._lock:
            return sum(getattr(counts, field) for counts in self._models.values())

    @property
    def prompt_tokens(self) -> int:
        return self._sum("prompt")

    @property
    def completion_tokens(self) -> int:
        return self._sum("completion")

    @property
    def cached_tokens(self) -> int:
        return self._sum("cached")

    @property
    def reasoning_tokens(self) -> int:
        return self._sum("reasoning")

    @property
    def embedding_tokens(self) -> int:
        return self._sum("embedding")

    @property
    def total_tokens(self) -> int:
        with self._lock:
            return sum(c.prompt + c.completion + c.embedding for c in self._models.values())

    @property
    def successful_requests(self) -> int:
        return self._sum("requests")

    @property
    def web_searches(self) -> int:
        return self._sum("searches")

    @property
    def total_cost(self) -> float:
        """USD for the models with a price; see `cost_known` for whether that is all of it."""
        return sum(usage.cost_usd for usage in self.by_model.values() if usage.cost_usd is not None)

    @property
    def unpriced_models(self) -> list[str]:
        """The counted models the catalog has no price for (their cost is unknown), sorted."""
        return sorted(name for name, usage in self.by_model.items() if usage.cost_usd is None)

    @property
    def cost_known(self) -> bool:
        """False when some counted model has no price: `total_cost` is then a lower bound."""
        return not self.unpriced_models

    def __str__(self) -> str:
        usage = self.by_model.values()
        prompt = sum(u.prompt_tokens for u in usage)
        completion = sum(u.completion_tokens for u in usage)
        embedding = sum(u.embedding_tokens for u in usage)
        lines = [
            f"Tokens Used: {prompt + completion + embedding}",
            f"\tPrompt Tokens: {prompt}",
            f"\t\tPrompt Tokens Cached: {sum(u.cached_tokens for u in usage)}",
            f"\tCompletion Tokens: {completion}",
            f"\t\tReasoning Tokens: {sum(u.reasoning_tokens for u in usage)}",
        ]
        if embedding:
            lines.append(f"\tEmbedding Tokens: {embedding}")
        lines.append(f"Successful Requests: {sum(u.successful_requests for u in usage)}")
        searches = sum(u.web_searches for u in usage)
        if searches:
            lines.append(f"Web Searches: {searches} (USD {_dollars(searches * WEB_SEARCH_USD)})")
        known = sum(u.cost_usd for u in usage if u.cost_usd is not None)
        cost = f"Total Cost (USD): ${_dollars(known)}"
        unpriced = sorted(u.model for u in usage if u.cost_usd is None)
        if unpriced:
            cost += f" + unknown (no price for: {', '.join(unpriced)})"
        lines.append(cost)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"UsageTally(total_tokens={self.total_tokens}, successful_requests={self.successful_requests}, "
            f"total_cost={self.total_cost!r}, cost_known={self.cost_known})"
        )


def _dollars(amount: float) -> str:
    """At least cents, at most 8 decimals, no trailing zeros past the cents: 0.00, 1.50, 0.000123."""
    text = f"{amount:.8f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


# -- the tallies open in this context ------------------------------------------------------------------
_ACTIVE: ContextVar[tuple[UsageTally, ...]] = ContextVar("gradient_usage_tallies", default=())


def active_tallies() -> tuple[UsageTally, ...]:
    """The tallies open in the current context, outermost first (empty: nothing is tracking)."""
    return _ACTIVE.get()


@contextmanager
def tracking(tally: UsageTally) -> Iterator[UsageTally]:
    """Make `tally` active for the current context (nested blocks add to the ones already active)."""
    current = _ACTIVE.get()
    if tally in current:  # already counting here: counting it twice would double every report
        yield tally
        return
    token = _ACTIVE.set((*current, tally))
    try:
        yield tally
    finally:
        try:
            _ACTIVE.reset(token)
        except ValueError:  # left in another context (e.g. a generator resumed elsewhere): remove it there
            _ACTIVE.set(tuple(open_ for open_ in _ACTIVE.get() if open_ is not tally))


# -- one report, counted once per tally -------------------------------------------------------------
class _Ledger:
    """For each live report object: the ids of the tallies that counted it. Entries go with the object."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a weakref callback may run on this thread while it is held
        self._seen: dict[int, tuple[weakref.ref[Any], set[int]]] = {}

    def claim(self, report: object, tallies: Iterable[UsageTally]) -> tuple[UsageTally, ...]:
        key = id(report)
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or entry[0]() is not report:
                try:
                    ref = weakref.ref(report, partial(self._forget, key))
                except TypeError:  # cannot be watched: count it every time it is reported
                    return tuple(tallies)
                entry = self._seen[key] = (ref, set())
            counted = entry[1]
            fresh = tuple(tally for tally in tallies if id(tally) not in counted)
            counted.update(id(tally) for tally in fresh)
            return fresh

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and entry[0] is ref:
                del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


_LEDGER = _Ledger()


def not_yet_counted(report: object, tallies: Iterable[UsageTally]) -> tuple[UsageTally, ...]:
    """The tallies among `tallies` that have not counted `report` yet, now marked as having counted it.

    `report` is the framework's object for one finished call (it must support weak references, as
    pydantic models do; one that does not is never deduplicated). Marks last as long as the object.
    """
    return _LEDGER.claim(report, tallies)
