"""Fixtures for the LlamaIndex adapter unit tests: a fake endpoint and `GradientLLM`s wired to it.

End-to-end tests use the root `local_server` fixture instead (a real HTTP server on loopback).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fakes import FakeEndpoint, json_reply
from llama_index_fakes import FAKE_BASE_URL, FAKE_KEY, body

from gradient_integrations.llama_index import GradientLLM


@pytest.fixture(autouse=True)
def _close_llama_index_default_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the event loop llama-index-core leaves open after a sync test.

    Its `asyncio_run()` (used even by sync query engines, e.g. to estimate tokens) calls
    `asyncio.get_event_loop()` outside any loop, which creates a loop, makes it the thread's current one
    and never closes it; the suite turns the sockets it leaks into errors. Async tests' loops belong to
    pytest-asyncio, which closes them itself.
    """
    yield
    if inspect.iscoroutinefunction(request.function):
        return
    policy = asyncio.get_event_loop_policy()
    loop = getattr(getattr(policy, "_local", None), "_loop", None)  # read without creating one
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running() and not loop.is_closed():
        loop.close()
        policy.set_event_loop(None)


@pytest.fixture
def endpoint() -> FakeEndpoint:
    return FakeEndpoint(json_reply(body("ok")))


@pytest.fixture
def make_llm(endpoint: FakeEndpoint) -> Iterator[Callable[..., GradientLLM]]:
    """Build a `GradientLLM` wired to `endpoint` (sync and async); no retries unless asked for."""
    clients: list[httpx.Client | httpx.AsyncClient] = []

    def factory(**kwargs: Any) -> GradientLLM:
        sync_client = httpx.Client(transport=endpoint.transport)
        async_client = httpx.AsyncClient(transport=endpoint.async_transport)
        clients.extend([sync_client, async_client])
        options: dict[str, Any] = {
            "model": "m",
            "is_function_calling_model": True,  # "m" is no catalog model; the fake endpoint calls tools
            "api_key": FAKE_KEY,
            "base_url": FAKE_BASE_URL,
            "max_retries": 0,
        }
        options.update(kwargs)
        return GradientLLM(http_client=sync_client, async_http_client=async_client, **options)

    yield factory
    for client in clients:
        if isinstance(client, httpx.Client):
            client.close()
