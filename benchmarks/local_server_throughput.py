"""The local server's own throughput: requests/s and stream chunks/s, so it is known not to be the bottleneck
of the client benchmarks that run against it (1,000 sequential calls, 500 concurrent calls, a 10,000-chunk
stream).

Two views, neither with a real client library in the way:

- in-process: the ASGI app called directly with a prebuilt scope (no sockets, no HTTP parsing): the cost
  of routing, validation (the core's request models), the scripted model and the encoders;
- over loopback: the server as a separate process (`python -m gradient_integrations.local --port 0`, so it
  does not share this process's GIL), driven by a minimal raw-socket HTTP/1.1 keep-alive client, which
  adds uvicorn + h11 and the kernel.

Run alone with `python -m benchmarks.local_server_throughput [--smoke]`; `run()` returns the `Section`s
for `benchmarks.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from gradient_integrations.local import LocalServerProcess, create_app

from ._common import Column, Row, Section, Target, median

BODY = json.dumps({"model": "llama3.3-70b-instruct", "input": "What is the capital of France?"}).encode()
CHAT_BODY = json.dumps(
    {
        "model": "llama3.3-70b-instruct",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }
).encode()


def stream_body(words: int) -> bytes:
    request = {"model": "llama3.3-70b-instruct", "input": f"[words:{words}]", "stream": True}
    return json.dumps({**request, "stream_options": {"include_usage": True}}).encode()


# -- in-process: the ASGI app alone ------------------------------------------------------------------
async def _call_app(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """(status, SSE events or 1) for one request handed straight to the app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    delivered = False
    status = 0
    events = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the app only listens for a disconnect that never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, events
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            events += message.get("body", b"").count(b"\n\n")

    await app(scope, receive, send)
    return status, events


async def _in_process(requests: int, words: int, rounds: int) -> dict[str, float]:
    app = create_app()
    openai = [(b"x-gradient-stream-dialect", b"openai")]
    figures: dict[str, list[float]] = {"json": [], "chat": [], "do_stream": [], "openai_stream": []}
    for _ in range(rounds):
        for key, path, body in (("json", "/v1/responses", BODY), ("chat", "/v1/chat/completions", CHAT_BODY)):
            started = time.perf_counter()
            for _ in range(requests):
                assert (await _call_app(app, path, body, []))[0] == 200
            figures[key].append(requests / (time.perf_counter() - started))
        for key, headers in (("do_stream", []), ("openai_stream", openai)):
            started = time.perf_counter()
            _, events = await _call_app(app, "/v1/responses", stream_body(words), headers)
            assert events >= words
            figures[key].append(events / (time.perf_counter() - started))
    return {key: median(values) for key, values in figures.items()}


# -- over loopback: the server in its own process -----------------------------------------------------
def _request(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
    return head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body


class RawConnection:
    """A keep-alive HTTP/1.1 connection that reads exactly one response per request (no client library)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        return cls(*await asyncio.open_connection(host, port))

    async def call(self, request: bytes) -> int:
        """Send one request; return the number of SSE events (or 1 for a JSON body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = re.search(rb"(?i)content-length: (\d+)", head)
        if length:
            await self.reader.readexactly(int(length.group(1)))
            return 1
        events = 0
        while True:  # chunked: size line, data, CRLF; a zero size ends the body
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return events
            events += data.count(b"\n\n")

    def close(self) -> None:
        self.writer.close()


async def _loopback(host: str, port: int, sequential: int, concurrent: int, words: int) -> dict[str, float]:
    single = await RawConnection.open(host, port)
    request = _request("/v1/responses", BODY)
    await single.call(request)  # warm up
    started = time.perf_counter()
    for _ in range(sequential):
        await single.call(request)
    sequential_rate = sequential / (time.perf_counter() - started)
    started = time.perf_counter()
    events = await single.call(_request("/v1/responses", stream_body(words)))
    stream_rate = events / (time.perf_counter() - started)
    single.close()
    pool = [await RawConnection.open(host, port) for _ in range(min(concurrent, 100))]

    async def worker(connection: RawConnection, calls: int) -> None:
        for _ in range(calls):
            await connection.call(request)

    share = [concurrent // len(pool) + (index < concurrent % len(pool)) for index in range(len(pool))]
    started = time.perf_counter()
    await asyncio.gather(*(worker(connection, calls) for connection, calls in zip(pool, share, strict=True)))
    concurrent_rate = concurrent / (time.perf_counter() - started)
    for connection in pool:
        connection.close()
    return {"sequential": sequential_rate, "concurrent": concurrent_rate, "stream": stream_rate}


def run(*, smoke: bool = False) -> list[Section]:
    requests, words, rounds = (50, 1_000, 1) if smoke else (1_000, 10_000, 5)
    sequential, concurrent = (50, 50) if smoke else (1_000, 500)
    local = asyncio.run(_in_process(requests, words, rounds))
    with LocalServerProcess() as server:  # its own process: it must not share this process's GIL
        address = urlsplit(server.base_url)
        assert address.hostname is not None and address.port is not None
        loop = asyncio.run(_loopback(address.hostname, address.port, sequential, concurrent, words))
    rows = [
        Row(
            "in-process app: POST /v1/responses (JSON)",
            {"per_s": local["json"], "cost_us": 1e6 / local["json"]},
        ),
        Row(
            "in-process app: POST /v1/chat/completions (JSON)",
            {"per_s": local["chat"], "cost_us": 1e6 / local["chat"]},
        ),
        Row(
            "in-process app: stream chunks, DO dialect",
            {"per_s": local["do_stream"], "cost_us": 1e6 / local["do_stream"]},
        ),
        Row(
            "in-process app: stream events, openai dialect",
            {"per_s": local["openai_stream"], "cost_us": 1e6 / local["openai_stream"]},
        ),
        Row(
            f"loopback: {sequential:,} sequential requests",
            {"per_s": loop["sequential"], "cost_us": 1e6 / loop["sequential"]},
        ),
        Row(
            f"loopback: {concurrent:,} concurrent requests",
            {"per_s": loop["concurrent"], "cost_us": 1e6 / loop["concurrent"]},
        ),
        Row(
            f"loopback: one {words:,}-chunk DO stream",
            {"per_s": loop["stream"], "cost_us": 1e6 / loop["stream"]},
        ),
    ]
    section = Section(
        key="local_server",
        title="Local server throughput (the server's own cost)",
        method=(
            f"In-process: the ASGI app called directly, {requests:,} JSON requests and one {words:,}-word "
            f"stream per round, median of {rounds} rounds. Loopback: the server in its own process, a raw "
            "HTTP/1.1 keep-alive socket client (no client library); concurrent requests share 100 "
            "connections."
        ),
        columns=[Column("per_s", "per second", 0), Column("cost_us", "server µs each", 1)],
        rows=rows,
        targets=[
            Target("in-process JSON request cost (µs)", 1e6 / local["json"], 500.0, "µs"),
            Target("in-process DO stream chunk cost (µs)", 1e6 / local["do_stream"], 10.0, "µs"),
        ],
        notes=[
            "A client benchmark against this server measures the client when the client's own cost per "
            "call or per chunk is well above the 'server µs each' figures here.",
        ],
    )
    return [section]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run, seconds long")
    for section in run(smoke=parser.parse_args().smoke):
        print(f"{section.title}\n{section.method}\n")
        for row in section.rows:
            print(f"  {row.contender:<52} {row.values['per_s']:>12,.0f}/s  {row.values['cost_us']:>8.1f} µs")
        for target in section.targets:
            verdict = "met" if target.met else "MISSED"
            print(f"  target {target.description}: {target.measured:.1f} <= {target.limit} ({verdict})")


if __name__ == "__main__":
    main()
