"""Ray Data: `ChatGradient` or `GradientLLM` over the rows of a `ray.data.Dataset`, one call per row.

This module owns the glue between a Ray Data job and the two adapters, nothing else: the callable class
`GradientPredictor` that `Dataset.map_batches` runs in a pool of actors ("workers"), the helper `predict`
that wires it up with a pool of the right size, and the per-worker pacing that makes a cluster-wide rate
limit hold. Requests, retries and keys are the core's business, untouched here. Ray is never imported by
this module (only `predict` imports `ray.data`, when called), so it imports without the `ray` extra.

    import ray.data
    from gradient_integrations.langchain import ChatGradient
    from gradient_integrations.ray_data import predict

    ray.init(runtime_env={"env_vars": {"GRADIENT_MODEL_ACCESS_KEY": key}})   # the workers' key
    out = predict(ray.data.from_items(rows), ChatGradient(model="llama3.3-70b-instruct"),
                  workers=4, requests_per_minute=600)                        # <= 600 calls/min in all

Contract (docs/scale-out.md has the long form):

- The model travels to the workers by pickle. A pickle never carries the access key (`core.secrets`):
  each worker reads it from its own environment, `GRADIENT_MODEL_ACCESS_KEY` (then `MODEL_ACCESS_KEY`,
  `DIGITALOCEAN_INFERENCE_KEY`), so pass it in `runtime_env={"env_vars": {...}}`. `base_url` and every
  other setting travel with the model; `GRADIENT_INFERENCE_ENDPOINT` is read on the worker if unset.
- Calls: LangChain models through `abatch(prompts, return_exceptions=True)` with `max_concurrency` calls
  in flight per worker; LlamaIndex LLMs through `acomplete(prompt)`, as many at once under a semaphore.
  Each worker keeps one event loop, so the model's connection pool lives across batches.
- Retries: those of the core's policy, inside each call (408/409/429/5xx and connection errors, up to the
  model's `max_retries`, Retry-After honoured). Nothing is retried here.
- Failures: a row whose call still fails (or whose prompt is null, which is not sent) gets `None` in
  `output_column` and `"<ExceptionType>: <message>"` in `error_column` (None on success); the job goes
  on. With `error_column=None` the first failure is raised instead, failing the batch (and, under Ray
  Data's defaults, the job).
- Order: a batch comes back in the order it came in. Across blocks Ray Data keeps the dataset's order only
  with `DataContext.get_current().execution_options.preserve_order = True` (set it before building the
  dataset) or carry an id column.
- Rate limit: `requests_per_minute` is the budget of the whole cluster, split evenly over the `workers`
  given (which must be the most actors the pool can have). Each worker starts its calls at least
  `workers * 60 / requests_per_minute` seconds apart (a token bucket holding one token), so in any window
  of `t` seconds the cluster starts at most `workers + requests_per_minute * t / 60` calls. It counts calls
  (rows), not HTTP attempts: the core's retries of a call come on top, after their own backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from ray.data import Dataset

    from .langchain import ChatGradient
    from .llama_index import GradientLLM

from ._extras import require_extra

__all__ = ["GradientPredictor", "predict"]


class _Pacer:
    """A token bucket of one token refilled every `interval` seconds, for one event loop.

    Slots are handed out in order (`_next` is reserved before the wait), so the k-th call of this pacer
    starts no earlier than `interval * k` seconds after the first.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = -math.inf

    def _reserve(self, blocking: bool) -> float | None:
        """Seconds to wait for the next slot, now reserved; None if not blocking and none is free now."""
        now = time.monotonic()
        start = max(now, self._next)
        if start > now and not blocking:
            return None
        self._next = start + self.interval
        return start - now

    async def wait(self) -> None:
        await self.aacquire()

    # LangChain's `BaseRateLimiter` interface, so a chat model's `rate_limiter=` can be this pacer.
    async def aacquire(self, *, blocking: bool = True) -> bool:
        delay = self._reserve(blocking)
        if delay:
            await asyncio.sleep(delay)
        return delay is not None

    def acquire(self, *, blocking: bool = True) -> bool:
        delay = self._reserve(blocking)
        if delay:
            time.sleep(delay)
        return delay is not None


class GradientPredictor:
    """The callable class for `Dataset.map_batches`: one model call per row of `prompt_column`.

    `model`: a `ChatGradient` (or any LangChain chat model) or a `GradientLLM` (or any LlamaIndex LLM).
    `max_concurrency`: calls in flight per worker. `requests_per_minute`: the budget of the whole cluster,
    shared evenly by `workers` workers (see the module docstring for the exact bound). The batch is a
    mapping of column name to sequence (Ray's default and `"numpy"` batch formats); every input column is
    returned as it came, plus `output_column` (the answer text) and, unless None, `error_column`.
    """

    def __init__(
        self,
        model: ChatGradient | GradientLLM,
        *,
        prompt_column: str = "prompt",
        output_column: str = "response",
        error_column: str | None = "error",
        max_concurrency: int = 8,
        requests_per_minute: float | None = None,
        workers: int = 1,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        if requests_per_minute is not None and not requests_per_minute > 0:
            raise ValueError(f"requests_per_minute must be > 0 (or None), got {requests_per_minute!r}")
        if not hasattr(model, "abatch") and not hasattr(model, "acomplete"):
            raise TypeError(
                "model must be a LangChain chat model (ChatGradient) or a LlamaIndex LLM (GradientLLM), "
                f"got {type(model).__name__}"
            )
        self.prompt_column = prompt_column
        self.output_column = output_column
        self.error_column = error_column
        self.max_concurrency = max_concurrency
        self.requests_per_minute = requests_per_minute
        self.workers = workers
        self._pacer = None if requests_per_minute is None else _Pacer(workers * 60.0 / requests_per_minute)
        if self._pacer is not None and hasattr(model, "abatch"):
            # LangChain paces each call through the model's own hook, inside `abatch`.
            model = model.model_copy(update={"rate_limiter": self._pacer})
        self.model = model
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return (
            f"GradientPredictor({type(self.model).__name__}, workers={self.workers}, "
            f"requests_per_minute={self.requests_per_minute}, max_concurrency={self.max_concurrency})"
        )

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        column = list(batch[self.prompt_column])
        asked = [index for index, prompt in enumerate(column) if prompt is not None]
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        answers = self._loop.run_until_complete(self._answer([str(column[index]) for index in asked]))
        results: list[str | BaseException] = [ValueError(f"{self.prompt_column} is null")] * len(column)
        for index, answer in zip(asked, answers, strict=True):
            results[index] = answer
        out = dict(batch)
        out[self.output_column] = [None if isinstance(item, BaseException) else item for item in results]
        if self.error_column is not None:
            out[self.error_column] = [
                f"{type(item).__name__}: {item}" if isinstance(item, BaseException) else None
                for item in results
            ]
        else:
            for item in results:
                if isinstance(item, BaseException):
                    raise item
        return out

    async def _answer(self, prompts: Sequence[str]) -> list[str | BaseException]:
        if hasattr(self.model, "abatch"):
            chat = cast("ChatGradient", self.model)
            answers: Sequence[BaseMessage | Exception] = await chat.abatch(
                list(prompts), config={"max_concurrency": self.max_concurrency}, return_exceptions=True
            )
            return [item if isinstance(item, BaseException) else item.text for item in answers]
        llm = cast("GradientLLM", self.model)
        gate = asyncio.Semaphore(self.max_concurrency)
        pacer = self._pacer

        async def one(prompt: str) -> str:
            async with gate:
                if pacer is not None:
                    await pacer.wait()
                text: str = (await llm.acomplete(prompt)).text
                return text

        return list(await asyncio.gather(*(one(prompt) for prompt in prompts), return_exceptions=True))

    def close(self) -> None:
        """Close the async pools this predictor's calls opened, then its event loop. Ray Data calls
        `__del__` (which calls this) when it retires an actor gracefully. The model's sync pool, which
        these calls never use, is left alone: in the driver the model is still the caller's."""
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        try:
            loop.run_until_complete(self.model.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def __del__(self) -> None:
        # An interpreter at exit may have torn down what closing needs.
        with contextlib.suppress(Exception):
            self.close()

    # What Ray sends to a worker: the settings and the model (whose pickle drops key and pools).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_loop"] = None
        return state


def predict(
    dataset: Dataset,
    model: ChatGradient | GradientLLM,
    *,
    workers: int = 2,
    batch_size: int = 32,
    num_cpus: float = 0.5,
    runtime_env: Mapping[str, Any] | None = None,
    prompt_column: str = "prompt",
    output_column: str = "response",
    error_column: str | None = "error",
    max_concurrency: int = 8,
    requests_per_minute: float | None = None,
) -> Dataset:
    """`dataset.map_batches(GradientPredictor, ...)` on a pool of exactly `workers` actors, so the rate
    limit's split matches the pool. `num_cpus` is what each actor reserves (it mostly waits on the
    network); `runtime_env` (e.g. `{"env_vars": {"GRADIENT_MODEL_ACCESS_KEY": key}}`) is the actors'
    environment, on top of the job's. The result is lazy, like every Ray Data transform."""
    require_extra("ray", "ray", feature="gradient_integrations.ray_data.predict")
    from ray.data import ActorPoolStrategy

    options: dict[str, Any] = {"num_cpus": num_cpus}
    if runtime_env is not None:
        options["runtime_env"] = dict(runtime_env)
    return dataset.map_batches(
        GradientPredictor,
        fn_constructor_args=(model,),
        fn_constructor_kwargs={
            "prompt_column": prompt_column,
            "output_column": output_column,
            "error_column": error_column,
            "max_concurrency": max_concurrency,
            "requests_per_minute": requests_per_minute,
            "workers": workers,
        },
        compute=ActorPoolStrategy(size=workers),
        batch_size=batch_size,
        batch_format="numpy",
        **options,
    )
