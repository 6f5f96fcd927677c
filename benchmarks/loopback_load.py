"""Measurement 2: load over loopback against the local server: sequential calls, then concurrent calls.

The server runs in its own process (`LocalServerProcess`), so its CPU time never counts against the
client being measured. Every contender (`_loopback_clients`) asks the same question and must get the
scripted model's same answer: Responses clients on `/v1/responses`, chat-completions clients
(ChatOpenAI's default mode, DO's `langchain-gradient`, llama-index `GradientAI`) on
`/v1/chat/completions`.

Connections are counted in this process (`_sockets.ConnectionCounter`) for the server's port: one for
a whole sequential run means a reused keep-alive connection; for concurrent calls the figure is the
most any one burst opened, against our pool limit.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
from llama_index.core.base.llms.types import ChatMessage

from gradient_integrations.local import LocalServerProcess

from ._common import MODEL, PROMPT, Column, Row, Section, Target, median, ratio, time_interleaved
from ._floors import langchain_floor, llama_index_floor
from ._loopback_clients import (
    CORE,
    CORE_NARROW_POOL,
    OURS,
    POOL_LIMIT,
    RAW,
    async_contenders,
    point_peers_at,
    raw_text,
    sync_contenders,
)
from ._sockets import ConnectionCounter


@functools.cache
def _expected(root: str) -> str:
    with httpx.Client() as client:
        answer = client.post(f"{root}/v1/responses", json={"model": MODEL, "input": PROMPT})
    return raw_text(answer.raise_for_status().json())


def _check(name: str, answer: str, expected: str) -> None:
    if answer != expected:
        raise AssertionError(f"{name} answered {answer!r}, expected {expected!r}: fix the contender")


def _sequential(
    root: str, counter: ConnectionCounter, rounds: int, batch: int
) -> dict[str, dict[str, float]]:
    """Per contender: total seconds for rounds*batch calls, median ms per call, sockets opened."""
    opened: dict[str, int] = {}
    contenders: dict[str, Callable[[], str]] = {}
    for name, call in sync_contenders(root).items():
        before = counter.opened
        contenders[name] = call
        _check(name, call(), _expected(root))
        opened[name] = counter.opened - before  # connections of the first call, counted on below
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            before = counter.opened
            started = time.perf_counter()
            for _ in range(batch):
                call()
            samples[name].append(time.perf_counter() - started)
            opened[name] += counter.opened - before
    return {
        name: {"total_s": sum(values), "per_call_ms": median(values) / batch * 1e3, "sockets": opened[name]}
        for name, values in samples.items()
    }


async def _concurrent(
    root: str, counter: ConnectionCounter, rounds: int, calls: int
) -> dict[str, dict[str, float]]:
    """Per contender: median wall seconds for `calls` concurrent calls, most connections one burst opened."""
    contenders, aclose = async_contenders(root)
    try:
        return await _bursts(contenders, counter, rounds, calls, _expected(root))
    finally:
        await aclose()


async def _bursts(
    contenders: dict[str, Callable[[], Awaitable[str]]],
    counter: ConnectionCounter,
    rounds: int,
    calls: int,
    expected: str,
) -> dict[str, dict[str, float]]:
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    opened: dict[str, list[int]] = {name: [] for name in contenders}
    for name, call in contenders.items():
        _check(name, await call(), expected)
    for _ in range(rounds):
        for name, call in contenders.items():
            before = counter.opened
            started = time.perf_counter()
            answers = await asyncio.gather(*(call() for _ in range(calls)))
            walls[name].append(time.perf_counter() - started)
            opened[name].append(counter.opened - before)
            _check(name, answers[-1], expected)
    return {name: {"wall_s": median(walls[name]), "sockets": max(opened[name])} for name in contenders}


def _framework_floors(rounds: int) -> dict[str, float]:
    """Milliseconds per call of LangChain's and LlamaIndex's own call machinery, with no HTTP."""
    langchain = langchain_floor(PROMPT)
    llama_index = llama_index_floor([PROMPT])
    messages = [ChatMessage(role="user", content=PROMPT)]
    samples = time_interleaved(
        {"langchain": lambda: langchain.invoke(PROMPT), "llama_index": lambda: llama_index.chat(messages)},
        rounds=rounds,
        batch=100,
    )
    return {name: median(values) * 1e3 for name, values in samples.items()}


def _sections(
    sequential: dict[str, dict[str, float]],
    concurrent: dict[str, dict[str, float]],
    floors: dict[str, float],
    rounds: tuple[int, ...],
) -> list[Section]:
    seq_rounds, seq_batch, con_rounds, con_calls = rounds
    count = seq_rounds * seq_batch
    raw_total, raw_wall = sequential[RAW]["total_s"], concurrent[RAW]["wall_s"]
    raw_call = sequential[RAW]["per_call_ms"]
    extra_ms = {name: sequential[name]["per_call_ms"] - sequential[RAW]["per_call_ms"] for name in OURS}
    narrow, ours = concurrent[CORE_NARROW_POOL], concurrent[CORE]
    sequential_section = Section(
        key="loopback_sequential",
        title=f"2a. {count:,} sequential calls over loopback",
        method=(
            f"Local server in its own process; sync clients, {seq_rounds} interleaved rounds of {seq_batch} "
            "calls per contender; total wall time, the median over rounds of the time per call (the robust "
            "figure on a shared machine, and the one the target uses), TCP connections opened."
        ),
        columns=[
            Column("total_s", f"wall for {count:,} calls (s)", 2),
            Column("vs_raw_total", "x raw (wall)"),
            Column("per_call_ms", "median per call (ms)", 3),
            Column("vs_raw", "x raw (median)"),
            Column("sockets", "sockets opened", 0),
        ],
        rows=[
            Row(
                name,
                {
                    **figures,
                    "vs_raw_total": ratio(figures["total_s"], raw_total),
                    "vs_raw": ratio(figures["per_call_ms"], raw_call),
                },
            )
            for name, figures in sequential.items()
        ],
        targets=[
            Target(
                f"{name} sequential <= 1.3x raw httpx (median per call)",
                ratio(sequential[name]["per_call_ms"], raw_call),
                1.3,
            )
            for name in OURS
        ],
        notes=[
            f"Per call over raw httpx ({sequential[RAW]['per_call_ms']:.3f} ms): "
            + ", ".join(f"{name.removeprefix('ours: ')} {extra_ms[name]:+.3f} ms" for name in OURS)
            + ". The server's time is the same for everyone, so that is client work; of it, the frameworks' "
            f"own machinery, timed here with no HTTP at all, is {floors['langchain']:.3f} ms per call for "
            f"langchain-core (GenericFakeChatModel.invoke) and {floors['llama_index']:.3f} ms for "
            "llama-index-core (a fixed-answer LLM.chat); the rest is our core and mapping (section 1).",
        ],
    )
    concurrent_section = Section(
        key="loopback_concurrent",
        title=f"2b. {con_calls:,} concurrent async calls over loopback",
        method=(
            f"`asyncio.gather` of {con_calls:,} async calls per contender on one event loop, {con_rounds} "
            f"interleaved rounds; median wall time; most TCP connections one burst opened. Our pool limit "
            f"is {POOL_LIMIT:,} connections, as in the openai SDK (httpx's default and DO's SDK's: 100). "
            "Raw httpx runs with our timeouts (60 s, 5 s to connect): its default 5 s pool timeout fails "
            "such a burst."
        ),
        columns=[
            Column("wall_s", f"wall for {con_calls:,} calls (s)", 3),
            Column("vs_raw", "x raw httpx"),
            Column("sockets", "connections opened per burst", 0),
        ],
        rows=[
            Row(name, {**figures, "vs_raw": ratio(figures["wall_s"], raw_wall)})
            for name, figures in concurrent.items()
        ],
        targets=[
            Target(f"{name} concurrent <= 1.3x raw httpx", ratio(concurrent[name]["wall_s"], raw_wall), 1.3)
            for name in OURS
        ]
        + [
            Target(
                f"{name}: connections per burst <= pool limit ({POOL_LIMIT:,})",
                concurrent[name]["sockets"],
                POOL_LIMIT,
                "sockets",
            )
            for name in OURS
        ],
        notes=[
            "langchain-gradient has no async path: LangChain runs its sync call in a thread pool. It and "
            "llama-index GradientAI build a new SDK client (and so a new connection) for every call.",
            f"A pool narrower than the burst queues calls: on httpx's default pool our core takes "
            f"{narrow['wall_s']:.2f} s against {ours['wall_s']:.2f} s on ours. Queued requests cost httpcore "
            "time (it scans every connection for every queued request whenever one completes), and that "
            "pool churns too: httpcore closes any connection that falls idle while the pool holds more "
            "connections than `max_keepalive_connections`, as it compares that limit with the count of all "
            "connections (`len([c.is_idle() for c in connections])`), so in a burst wider than 20 "
            f"connections each freed connection is closed and reopened ({narrow['sockets']:.0f} opened; "
            "raw httpx with its defaults likewise).",
        ],
    )
    return [sequential_section, concurrent_section]


def run(*, smoke: bool = False) -> list[Section]:
    rounds = (1, 3, 1, 5) if smoke else (10, 100, 3, 500)
    seq_rounds, seq_batch, con_rounds, con_calls = rounds
    with LocalServerProcess() as server:
        root = server.base_url
        port = urlsplit(root).port
        assert port is not None
        point_peers_at(root)
        _expected(root)  # the reference answer, fetched before any connection is counted
        with ConnectionCounter(port).installed() as counter:
            sequential = _sequential(root, counter, seq_rounds, seq_batch)
            concurrent = asyncio.run(_concurrent(root, counter, con_rounds, con_calls))
    return _sections(sequential, concurrent, _framework_floors(seq_rounds), rounds)
