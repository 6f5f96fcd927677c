"""Per-event-loop async connection pools, and how each is closed on its own loop when that loop shuts down.

`ResponsesClient` keeps one `httpx.AsyncClient` per event loop (pooled connections belong to the loop that
opened them); this module holds the record it keeps per loop and the closer that releases it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import NamedTuple

import httpx

__all__ = ["AsyncPool", "close_on_loop_shutdown", "run_to_first_yield", "running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop, None outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncPool(NamedTuple):
    http: httpx.AsyncClient
    closer: AsyncGenerator[None, None] | None  # closes `http` when its loop shuts down


async def close_on_loop_shutdown(http: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Parked at its `yield` for the life of an event loop, then closes `http` on that loop.

    Pooled connections can only be closed on the loop that opened them, and nothing tells a client that a
    loop is going away, except this: asyncio registers every async generator started on a loop (its
    firstiter hook), and `loop.shutdown_asyncgens()` (run by `asyncio.run`, `asyncio.Runner` and
    pytest-asyncio before they close the loop) resumes each with GeneratorExit, on that loop. If instead
    the generator is dropped while its loop still runs (its client was garbage collected), asyncio's
    finalizer hook schedules the same close on that loop.
    """
    try:
        yield
    finally:
        await http.aclose()


def run_to_first_yield(generator: AsyncGenerator[None, None]) -> None:
    # The first step awaits nothing, so it can be driven here, synchronously; starting it is what
    # registers it with the running loop. The loop only holds it weakly: the caller must keep it.
    try:
        generator.asend(None).send(None)
    except StopIteration:
        return
    raise RuntimeError("the generator awaited before its first yield")
