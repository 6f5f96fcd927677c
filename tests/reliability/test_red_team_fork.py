"""Red team, processes, threads and event loops: one client, shared every way a program may share it.

- fork: a client that has already talked to the server (its pool holds a live keep-alive connection, sync
  or async) is inherited by 3 forked children, each firing 40 concurrent calls with prompts of its own
  (threads for `create`, `asyncio.gather` for `acreate`). Inherited sockets and locks must not be shared
  with the parent or between the children: every answer is the answer to its own prompt ("You said: ..."
  from the local server's scripted model), no call fails, and the parent keeps working afterwards.
- threads x loops: one client used from 8 threads, each running its own event loop with 10 sequential
  `acreate` calls, opens at most one async pool per loop (counted at `httpx.AsyncClient.__init__`) and
  leaks nothing (no ResourceWarning once everything is collected).
- a loop that ends while an `astream` is suspended mid-answer (still referenced) shuts down cleanly: no
  "asynchronous generator is already running" (or any other error) on stderr or in the logs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import socket
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import httpx
import pytest
from core._support import sse_json

from gradient_integrations.core import ResponsesClient, build_request
from gradient_integrations.local import LocalServer

from ._raw_server import RawServer, hold, http_head, read_request
from ._support import MODEL

CHILDREN = 3
CALLS_PER_CHILD = 40


def _request(prompt: str) -> Any:
    return build_request(model=MODEL, input=prompt)


def _expected(prompt: str) -> str:
    return f"You said: {prompt}"


def _sync_answers(client: ResponsesClient, prompts: list[str]) -> list[str]:
    def one(prompt: str) -> str:
        try:
            return client.create(_request(prompt)).text
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        return list(pool.map(one, prompts))


def _async_answers(client: ResponsesClient, prompts: list[str]) -> list[str]:
    async def one(prompt: str) -> str:
        try:
            return (await client.acreate(_request(prompt))).text
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    async def every() -> list[str]:
        return list(await asyncio.gather(*(one(prompt) for prompt in prompts)))

    return asyncio.run(every())


ANSWER = {"threads": _sync_answers, "asyncio": _async_answers}


def _child(client: ResponsesClient, flavour: str, tag: int, out: Connection) -> None:
    """In the forked child: the calls, then (prompt, answer) for every answer that is not its own."""
    try:
        prompts = [f"child {tag} pid {os.getpid()} prompt {n}" for n in range(CALLS_PER_CHILD)]
        answers = ANSWER[flavour](client, prompts)
        wrong = [(p, a) for p, a in zip(prompts, answers, strict=True) if a != _expected(p)]
        out.send(("done", wrong))
    except BaseException as exc:
        out.send(("crashed", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


def _report(receive: Connection) -> tuple[str, Any]:
    """What a child sent; ("silent", None) after 60 s, ("died", None) if it exited without a word."""
    if not receive.poll(60):
        return "silent", None
    try:
        return receive.recv()  # type: ignore[no-any-return]
    except EOFError:
        return "died", None


def _warm_up(client: ResponsesClient, how: str) -> None:
    """Use the client in the parent first, so the children inherit a pool with a live connection."""
    if how == "sync":
        assert client.create(_request("parent before")).text == _expected("parent before")
    else:
        answer = asyncio.run(client.acreate(_request("parent before (async)")))
        assert answer.text == _expected("parent before (async)")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is not available on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("children_use", ["threads", "asyncio"])
@pytest.mark.parametrize("parent_used", ["sync", "async"])
def test_forked_children_get_their_own_answers(
    local_server: LocalServer, parent_used: str, children_use: str
) -> None:
    # No retries: a call that broke on a shared connection must show, not be quietly repeated.
    client = ResponsesClient(base_url=local_server.base_url, timeout=10, max_retries=0)
    _warm_up(client, parent_used)
    context = multiprocessing.get_context("fork")
    children = []
    for tag in range(CHILDREN):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(client, children_use, tag, send), daemon=True)
        process.start()
        send.close()  # the child has its own copy
        children.append((process, receive))
    reports = []
    try:
        for process, receive in children:
            reports.append(_report(receive))
            process.join(timeout=10)
    finally:
        for process, receive in children:
            if process.is_alive():
                process.kill()
                process.join()
            receive.close()
    assert [process.exitcode for process, _ in children] == [0] * CHILDREN
    for status, wrong in reports:
        assert status == "done", (status, wrong)
        assert wrong == [], f"{len(wrong)} answers were not their own, e.g. {wrong[:3]}"
    # The parent's own client still works, both ways, after its children came and went.
    assert client.create(_request("parent after")).text == _expected("parent after")
    assert asyncio.run(client.acreate(_request("parent after (async)"))).text == _expected(
        "parent after (async)"
    )
    client.close()


# -- 11: threads, each with its own loop ---------------------------------------------------------------
def test_one_client_from_eight_threads_with_a_loop_each(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    original = httpx.AsyncClient.__init__

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        created.append(threading.get_ident())
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    client = ResponsesClient(base_url=local_server.base_url, max_retries=0)

    def thread(n: int) -> list[str]:
        async def calls() -> list[tuple[str, str]]:
            prompts = [f"thread {n} call {i}" for i in range(10)]
            return [(p, (await client.acreate(_request(p))).text) for p in prompts]

        return [answer for prompt, answer in asyncio.run(calls()) if answer != _expected(prompt)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(max_workers=8) as pool:
            wrong = [answer for answers in pool.map(thread, range(8)) for answer in answers]
        gc.collect()
    assert wrong == []
    assert 1 <= len(created) <= 8, f"{len(created)} async pools for 8 event loops"
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
    client.close()


# -- 12b: a loop that ends with a stream suspended --------------------------------------------------------
def _one_delta_then_hold(conn: socket.socket) -> None:
    read_request(conn)
    head = http_head(200, {"content-type": "text/event-stream"})
    conn.sendall(head + sse_json({"choices": [{"index": 0, "delta": {"content": "hello"}}]}).encode())
    hold(conn)


def test_a_loop_ending_under_a_suspended_astream_shuts_down_cleanly(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    held: list[Any] = []
    with RawServer(_one_delta_then_hold) as server:
        client = ResponsesClient(base_url=server.base_url, timeout=5, max_retries=0)

        async def main() -> str:
            stream = client.astream(_request("hi"))
            held.append(stream)  # still referenced when the loop shuts down
            async for delta in stream:
                if delta.kind == "text":
                    return delta.text
            return ""

        first = asyncio.run(main())
        err = capfd.readouterr().err
        logs = caplog.text
        held.clear()
        gc.collect()
        client.close()
    assert first == "hello"
    for text in (err, logs):
        assert "already running" not in text, text[-2000:]
        assert "Traceback" not in text, text[-2000:]
        assert "Task exception was never retrieved" not in text
    assert "error occurred during closing of asynchronous generator" not in logs
