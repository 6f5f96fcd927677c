"""Load: 1,000 concurrent streams over loopback complete with 0 errors, and memory stays flat.

The local server runs in its own process (`LocalServerProcess`), so only the client's memory is measured
here. One `ChatGradient` and one `GradientLLM` are built once, as a user would keep them, sharing one httpx
pool wide enough for every stream to hold its own connection (so the streams really are concurrent on the
wire, not queued behind a smaller pool). Each round opens all streams at once, half through
`ChatGradient.astream` and half through `GradientLLM.astream_chat`; each must assemble exactly the scripted
model's answer (a fixed `[words:N]` reply) or it counts as an error.

After a warm-up round (imports, first-use caches and the pool itself are not load), memory is read two
ways, in separate rounds because tracing distorts both time and RSS. Timed rounds run untraced: throughput,
per-stream latency, and the process RSS from /proc before them, after each of them, and the kernel's
high-water mark. Traced rounds follow with `tracemalloc`: the Python heap after each round and the peak
while streams were open, relative to the start of tracing. "Flat" means the per-round figures level off:
a leak would add the same amount every round, whereas objects that replace older, untraced ones (a pooled
connection the server closed and the client reopened, a refreshed cache) add a one-off step.

`main(smoke)` returns the figures as a dict (scalars, plus the per-round lists) for `benchmarks/run.py`;
`python -m benchmarks.load_streams [--smoke]` prints them as JSON. Smoke mode runs 100 streams, not 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from gradient_integrations.langchain import ChatGradient
from gradient_integrations.llama_index import GradientLLM
from gradient_integrations.local.server import LocalServerProcess

MODEL = "llama3.3-70b-instruct"
FULL_STREAMS, SMOKE_STREAMS = 1_000, 100
WORDS_PER_STREAM = 40
MEASURED_ROUNDS = 3  # timed rounds, then as many traced rounds for the heap figures
KIB, MIB = 1024, 1024 * 1024


@dataclass
class RoundResult:
    errors: int
    latencies: list[float]
    elapsed: float


def _rss_kib(field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (peak) of this process in KiB; 0 where /proc is unavailable."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _raise_fd_limit(needed: int) -> None:
    # Each concurrent stream holds a socket; the default soft limit (often 1024) would cap the run.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class LoadClients:
    """The two adapters, built once, with pools sized for `concurrency` simultaneous streams."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        # Generous timeouts: under full load on 2 cores a stream may wait for the server process.
        timeout = httpx.Timeout(120.0, connect=60.0)
        self.http = httpx.AsyncClient(limits=limits, timeout=timeout)
        self.chat = ChatGradient(
            model=MODEL, base_url=base_url, http_async_client=self.http, timeout=120, stream_idle_timeout=120
        )
        self.llm = GradientLLM(
            model=MODEL, base_url=base_url, async_http_client=self.http, timeout=120, stream_idle_timeout=120
        )

    async def stream_once(self, index: int, prompt: str) -> str:
        if index % 2 == 0:
            parts = [str(chunk.content) async for chunk in self.chat.astream(prompt)]
            return "".join(parts)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        return "".join([response.delta or "" async for response in await self.llm.astream_chat(messages)])

    async def aclose(self) -> None:
        await self.http.aclose()


async def _one(clients: LoadClients, index: int, prompt: str, expected: str) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        ok = await clients.stream_once(index, prompt) == expected
    except Exception:  # any failure is one error; the figure is the count
        ok = False
    return ok, time.perf_counter() - started


async def _round(clients: LoadClients, streams: int, prompt: str, expected: str) -> RoundResult:
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(_one(clients, index, prompt, expected) for index in range(streams)))
    elapsed = time.perf_counter() - started
    return RoundResult(
        errors=sum(not ok for ok, _ in outcomes),
        latencies=[seconds for _, seconds in outcomes],
        elapsed=elapsed,
    )


def _heap_kib() -> float:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / KIB


async def _run(base_url: str, streams: int, words: int, rounds: int) -> dict[str, Any]:
    clients = LoadClients(base_url, streams)
    prompt = f"[words:{words}] load test"
    try:
        expected = str((await clients.chat.ainvoke(prompt)).content)
        if len(expected.split()) != words:
            raise RuntimeError(f"the local server answered {expected!r}, not {words} words")
        warmup = await _round(clients, streams, prompt, expected)
        # Timed rounds run untraced: tracemalloc slows allocation and its own bookkeeping inflates RSS.
        rss_before = _rss_kib("VmRSS")
        timed: list[RoundResult] = []
        rss_after_round: list[int] = []
        for _ in range(rounds):
            timed.append(await _round(clients, streams, prompt, expected))
            gc.collect()
            rss_after_round.append(_rss_kib("VmRSS"))
        rss_peak = _rss_kib("VmHWM")
        tracemalloc.start()
        heap_before = _heap_kib()
        traced: list[RoundResult] = []
        heap_after_round: list[float] = []
        for _ in range(rounds):
            traced.append(await _round(clients, streams, prompt, expected))
            heap_after_round.append(_heap_kib() - heap_before)
        heap_peak = tracemalloc.get_traced_memory()[1] / KIB - heap_before
        tracemalloc.stop()
    finally:
        await clients.aclose()
    latencies = sorted(seconds for result in timed for seconds in result.latencies)
    round_seconds = statistics.median(result.elapsed for result in timed)
    return {
        "streams": streams,
        "words_per_stream": words,
        "rounds": 1 + 2 * rounds,
        "errors": sum(result.errors for result in [warmup, *timed, *traced]),
        "round_seconds": round(round_seconds, 3),
        "streams_per_second": round(streams / round_seconds, 1),
        "stream_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "stream_p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "rss_before_mib": round(rss_before / KIB, 1),
        "rss_after_mib": round(rss_after_round[-1] / KIB, 1),
        "rss_peak_mib": round(rss_peak / KIB, 1),
        "rss_after_each_round_mib": [round(kib / KIB, 1) for kib in rss_after_round],
        "heap_after_each_round_kib": [round(kib, 1) for kib in heap_after_round],
        # ~0 when nothing leaks: a leak would grow the heap by the same amount every round.
        "heap_growth_kib": round(heap_after_round[-1] - heap_after_round[0], 1),
        "heap_peak_kib": round(heap_peak, 1),
    }


def main(smoke: bool = False) -> dict[str, Any]:
    """Run the load test (100 streams when `smoke`, else 1,000) and return its figures."""
    streams = SMOKE_STREAMS if smoke else FULL_STREAMS
    _raise_fd_limit(streams * 2 + 256)
    with LocalServerProcess() as server:
        figures = asyncio.run(_run(server.base_url, streams, WORDS_PER_STREAM, MEASURED_ROUNDS))
    return {"benchmark": "load_streams", "smoke": smoke, **figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_streams", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_STREAMS} streams instead of {FULL_STREAMS}"
    )
    figures = main(smoke=parser.parse_args().smoke)
    json.dump(figures, sys.stdout, indent=2)
    print()
    sys.exit(1 if figures["errors"] else 0)
