"""What the client opens, it closes: per-loop async pools, and streams a caller leaves early.

- Async pools belong to one event loop each. A pool is closed on its own loop when that loop shuts down
  (`asyncio.run`, pytest-asyncio), when its client is dropped while the loop runs, or by `aclose()`; two
  `asyncio.run` calls, or loops in two threads, never share or leak one.
- A stream left early (`break`, an error, a dropped stream) releases its connection at once, and one
  that a caller's own generator closes while the loop shuts it down logs nothing ("aclose(): asynchronous
  generator is already running" was the symptom).

Leaks are caught two ways: `no_leaks()` turns a ResourceWarning from a collected socket into a failure
of the test itself, and the suite runs with ResourceWarning as an error (pyproject.toml). Real loopback
sockets throughout: the session's local server, or `StallingServer` where a test must see the hang-up.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from gradient_integrations.core import BadRequestError, ResponsesClient, StreamDelta, build_request
from gradient_integrations.local import LocalServer

from ._loopback import StallingServer
from ._support import text_event

REQUEST = build_request(model="llama3.3-70b-instruct", input="tell me about the sea " * 10)
SLOW = {"x-gradient-fault": "chunk_delay_ms:5"}  # a stream still running when the caller leaves


@contextmanager
def no_leaks() -> Iterator[None]:
    """Fail if anything collected inside the block warns it was never closed (sockets, transports)."""
    leaked: list[str] = []
    gc.collect()  # what earlier tests left behind is theirs, not this block's

    def hook(unraisable: Any) -> None:
        leaked.append(f"{unraisable.exc_type.__name__}: {unraisable.exc_value}")

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            yield
            gc.collect()
    finally:
        sys.unraisablehook = previous
    assert leaked == []


def run_logging_loop_errors(main: Callable[[], Any]) -> list[str]:
    """`asyncio.run(main())`, returning what the loop reported to its exception handler, shutdown included."""
    errors: list[str] = []

    async def wrapped() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context["message"]))
        await main()

    asyncio.run(wrapped())
    return errors


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


# -- per-loop async pools ----------------------------------------------------------------------------
def test_each_loop_pool_is_closed_when_its_loop_shuts_down(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    pools: list[httpx.AsyncClient] = []

    async def call() -> None:
        assert (await client.acreate(REQUEST)).text
        pools.append(client.http_async_client)

    with no_leaks():
        asyncio.run(call())
        assert pools[0].is_closed  # closed by asyncio.run's shutdown, on its own loop
        asyncio.run(call())
        assert pools[1] is not pools[0] and pools[1].is_closed
    assert len(client._async_pools) <= 1  # the closed loops are not kept alive


async def test_a_pool_stays_open_while_its_loop_runs(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    await client.acreate(REQUEST)
    pool = client.http_async_client
    await client.acreate(REQUEST)
    assert client.http_async_client is pool and not pool.is_closed
    await client.aclose()


def test_a_dropped_client_closes_its_pool_on_its_running_loop(local_server: LocalServer) -> None:
    async def main() -> bool:
        client = ResponsesClient(base_url=local_server.base_url)
        await client.acreate(REQUEST)
        pool = client.http_async_client
        del client
        gc.collect()
        for _ in range(20):  # the close is scheduled on the loop: let it run
            await asyncio.sleep(0.01)
            if pool.is_closed:
                break
        return pool.is_closed

    with no_leaks():
        assert asyncio.run(main())


async def test_aclose_closes_this_loops_pool_and_a_later_call_opens_another(
    local_server: LocalServer,
) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    await client.acreate(REQUEST)
    first = client.http_async_client
    await client.aclose()
    assert first.is_closed and client._async_pools == {}
    await client.acreate(REQUEST)
    assert client.http_async_client is not first
    await client.aclose()


def test_loops_in_two_threads_get_their_own_pools_and_close_them(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    both_running = threading.Barrier(2, timeout=10)
    pools: list[httpx.AsyncClient] = []

    async def call() -> None:
        await client.acreate(REQUEST)
        both_running.wait()  # the two loops use the client at the same time
        await client.acreate(REQUEST)
        pools.append(client.http_async_client)

    with no_leaks():
        threads = [threading.Thread(target=asyncio.run, args=(call(),)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(pools) == 2 and pools[0] is not pools[1]
        assert all(pool.is_closed for pool in pools)


def test_an_injected_async_client_serves_every_loop_and_is_never_closed(local_server: LocalServer) -> None:
    async def main() -> None:
        shared = httpx.AsyncClient()
        client = ResponsesClient(base_url=local_server.base_url, http_async_client=shared)
        await client.acreate(REQUEST)
        assert client.http_async_client is shared and client._async_pools == {}
        await client.aclose()
        assert not shared.is_closed  # the caller's to close
        await shared.aclose()

    with no_leaks():
        asyncio.run(main())


def test_a_copy_opens_its_own_pools(local_server: LocalServer) -> None:
    async def main() -> None:
        client = ResponsesClient(base_url=local_server.base_url)
        await client.acreate(REQUEST)
        clone = copy.copy(client)
        await clone.acreate(REQUEST)
        assert clone.http_async_client is not client.http_async_client
        await clone.aclose()
        assert not client.http_async_client.is_closed  # closing the copy leaves the original's pool

    with no_leaks():
        asyncio.run(main())


# -- streams left early ------------------------------------------------------------------------------
@pytest.fixture
def hanging() -> Iterator[StallingServer]:
    # Two pieces, then silence with the connection held open: only the client can end it.
    with StallingServer([(0.0, text_event("Hel")), (0.0, text_event("lo"))]) as server:
        yield server


def test_breaking_out_of_a_stream_releases_its_connection(hanging: StallingServer) -> None:
    client = ResponsesClient(base_url=hanging.base_url)
    with no_leaks():
        for delta in client.stream(build_request(model="m", input="hi")):
            assert delta.text == "Hel"
            break
        assert wait_for(lambda: hanging.hangups == 1)
        stream = client.stream(build_request(model="m", input="hi"))
        next(stream)
        del stream  # dropped without a close
        assert wait_for(lambda: hanging.hangups == 2)
        client.close()


async def test_breaking_out_of_an_async_stream_releases_its_connection(hanging: StallingServer) -> None:
    client = ResponsesClient(base_url=hanging.base_url)

    async def hung_up(count: int) -> bool:
        for _ in range(200):
            if hanging.hangups >= count:
                return True
            await asyncio.sleep(0.01)
        return False

    async for delta in client.astream(build_request(model="m", input="hi")):
        assert delta.text == "Hel"
        break
    assert await hung_up(1)
    stream = client.astream(build_request(model="m", input="hi"))
    await stream.__anext__()
    del stream
    assert await hung_up(2)
    await client.aclose()


def test_leaving_an_async_stream_at_the_end_of_asyncio_run_leaks_nothing(local_server: LocalServer) -> None:
    pools: list[httpx.AsyncClient] = []

    async def main() -> None:
        client = ResponsesClient(base_url=local_server.base_url)
        for _ in range(3):
            async for _delta in client.astream(REQUEST, extra_headers=SLOW):
                break  # no close: the stream is dropped mid-answer as the program ends
        pools.append(client.http_async_client)

    with no_leaks():  # the client is collected with the coroutine: nothing of it may warn
        assert run_logging_loop_errors(main) == []
        assert pools[0].is_closed


def test_a_stream_closed_by_a_callers_generator_at_loop_shutdown_logs_nothing(
    local_server: LocalServer,
) -> None:
    # The adapters' pattern: a generator of the caller's wraps the stream in `async with`. Left early and
    # still referenced when the loop shuts down, both generators are closed by the loop at once; a stream
    # that is itself a generator was closed twice, and the loop logged "an error occurred during closing
    # of asynchronous generator" (RuntimeError: aclose(): asynchronous generator is already running).
    client = ResponsesClient(base_url=local_server.base_url)
    kept: list[AsyncIterator[StreamDelta]] = []

    async def wrapper() -> AsyncIterator[StreamDelta]:
        async with client.astream(REQUEST, extra_headers=SLOW) as stream:
            async for delta in stream:
                yield delta

    async def main() -> None:
        wrapped = wrapper()
        async for _delta in wrapped:
            break
        kept.append(wrapped)  # still alive at loop shutdown

    with no_leaks():
        errors = run_logging_loop_errors(main)
        kept.clear()
    assert errors == []


async def test_closing_a_stream_twice_at_once_is_harmless(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    stream = client.astream(REQUEST, extra_headers=SLOW)
    await stream.__anext__()
    assert await asyncio.gather(stream.aclose(), stream.aclose(), return_exceptions=True) == [None, None]
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()  # closed: nothing more, and nothing re-sent
    await client.aclose()


async def test_a_closed_stream_sends_nothing(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    stream, astream = client.stream(REQUEST), client.astream(REQUEST)
    stream.close()
    await astream.aclose()
    assert list(stream) == [] and [delta async for delta in astream] == []
    assert client._http is None and client._async_pools == {}  # no connection was ever opened


async def test_a_failed_stream_is_not_resent_when_iterated_again(local_server: LocalServer) -> None:
    client = ResponsesClient(base_url=local_server.base_url)
    refused = {"x-gradient-fault": "status:400"}
    stream, astream = (
        client.stream(REQUEST, extra_headers=refused),
        client.astream(REQUEST, extra_headers=refused),
    )
    with pytest.raises(BadRequestError):
        next(stream)
    with pytest.raises(BadRequestError):
        await astream.__anext__()
    assert list(stream) == [] and [delta async for delta in astream] == []
    client.close()
    await client.aclose()
