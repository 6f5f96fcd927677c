"""`ResponsesClient` plumbing over `httpx.MockTransport`: lifecycle, injection, laziness, timeouts, threads.

Result shapes, streams, retries and errors have their own modules; this one checks the client as an
object: what it creates and closes, what it leaves alone, when it sends, and with which timeouts.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from fakes import FakeEndpoint, json_reply, sse_reply

from gradient_integrations.core import ResponsesClient, build_request

from ._support import BASE_URL, acollect, collect, load_json, make_client, sse_event

REQUEST = build_request(model="m", input="hi")
BODY = load_json("pydo_created_at.json")
STREAM = (
    sse_event(json.dumps({"choices": [{"index": 0, "delta": {"content": "ok"}}]})) + sse_event("[DONE]")
).encode()


async def test_sync_and_async_give_the_same_result() -> None:
    script = FakeEndpoint(json_reply(BODY))
    client = make_client(script)
    assert client.create(REQUEST) == await client.acreate(REQUEST)
    assert script.count == 2
    await client.aclose()


def test_http_clients_are_created_lazily_and_reused() -> None:
    script = FakeEndpoint(json_reply(BODY))
    client = make_client(script)
    assert client._http is None and client._async_pools == {}  # nothing opened by the constructor
    client.create(REQUEST)
    first = client._http
    client.create(REQUEST)
    assert first is not None and client._http is first  # one pooled client per instance
    assert client._async_pools == {}  # sync use never opens an async pool


async def test_close_closes_what_the_client_created() -> None:
    script = FakeEndpoint(json_reply(BODY))
    client = make_client(script)
    client.create(REQUEST)
    await client.acreate(REQUEST)
    sync_http, async_http = client.http_client, client.http_async_client
    await client.aclose()  # closes both
    assert sync_http.is_closed and async_http.is_closed
    client.create(REQUEST)  # a closed client reopens on next use
    assert client.http_client is not sync_http
    client.close()


def test_injected_http_client_is_used_and_never_closed() -> None:
    script = FakeEndpoint(json_reply(BODY))
    http = httpx.Client(transport=script.transport)
    with ResponsesClient(api_key="k", base_url=BASE_URL, http_client=http) as client:
        client.create(REQUEST)
        assert client.http_client is http
    assert not http.is_closed and script.count == 1
    http.close()


async def test_injected_async_http_client_is_used_and_never_closed() -> None:
    script = FakeEndpoint(json_reply(BODY))
    ahttp = httpx.AsyncClient(transport=script.async_transport)
    async with ResponsesClient(api_key="k", base_url=BASE_URL, http_async_client=ahttp) as client:
        await client.acreate(REQUEST)
        assert client.http_async_client is ahttp
    assert not ahttp.is_closed and script.count == 1
    await ahttp.aclose()


def test_context_manager_closes() -> None:
    script = FakeEndpoint(json_reply(BODY))
    with make_client(script) as client:
        client.create(REQUEST)
        http = client.http_client
    assert http.is_closed


async def test_streams_send_nothing_until_iterated() -> None:
    script = FakeEndpoint(sse_reply([STREAM]))
    client = make_client(script)
    stream, astream = client.stream(REQUEST), client.astream(REQUEST)
    assert script.count == 0
    assert stream.result.text == "" and stream.result.finish_reason is None
    assert collect(stream)[1] is None and script.count == 1
    assert (await acollect(astream))[1] is None and script.count == 2
    assert stream.result.text == astream.result.text == "ok"


def test_stream_timeout_reads_are_bounded_by_the_idle_timeout() -> None:
    # The whole rule, min(read timeout, stream_idle_timeout), is in test_timeouts.
    script = FakeEndpoint(sse_reply([STREAM]))
    client = make_client(script, timeout=30.0, stream_idle_timeout=7.0)
    collect(client.stream(REQUEST))
    script.replies = [json_reply(BODY)]
    client.create(REQUEST)
    stream_timeout, create_timeout = (request.extensions["timeout"] for request in script.requests)
    assert (stream_timeout["read"], stream_timeout["connect"]) == (7.0, 5.0)
    assert (create_timeout["read"], create_timeout["connect"]) == (30.0, 5.0)
    script.replies = [sse_reply([STREAM])]
    collect(make_client(script, timeout=30.0, stream_idle_timeout=None).stream(REQUEST))
    assert script.requests[-1].extensions["timeout"]["read"] == 30.0  # no idle limit: the read timeout


async def test_concurrent_async_calls_share_one_client() -> None:
    script = FakeEndpoint(json_reply(BODY))
    client = make_client(script)
    results = await asyncio.gather(*(client.acreate(REQUEST) for _ in range(25)))
    assert {result.text for result in results} == {"The ocean covers over 70% of Earth."}
    assert script.count == 25
    await client.aclose()


def test_concurrent_threads_share_one_client() -> None:
    script = FakeEndpoint(json_reply(BODY))
    client = make_client(script)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: client.create(REQUEST), range(40)))
    assert len({id(result) for result in results}) == 40 and script.count == 40
    assert all(result.usage is not None and result.usage.total_tokens == 27 for result in results)
