"""Per-call overhead of the core's `ResponsesClient.create` against raw `httpx` + `json.loads`.

Both sides talk to the same in-process `httpx.MockTransport` (`_common.canned_transport`) serving the
same prebuilt `/v1/responses` body, so the difference is only the core's own work: validating and
encoding the request, headers and retry bookkeeping, and parsing the body into a `ResponseResult`.
The raw side posts the same request bytes with the same headers and `json.loads` the answer.

Method: interleaved rounds. Each round times a batch of calls for each side, in alternating order so
neither always runs first; the per-round ratio (core / raw) cancels the drift of a shared machine, and
the figure reported is the median of those ratios (target <= 1.3x), alongside the median per-call times.
Sync (`create` vs `httpx.Client`) and async (`acreate` vs `httpx.AsyncClient`) are measured alike.

    python -m benchmarks.core_overhead            # full run, ~20 s
    python -m benchmarks.core_overhead --smoke    # a few rounds, ~1 s: proves it runs

`measure()` and `main()` return the figures as a dict; `run()` returns them as a `_common.Section` like
the other measurement modules, for `benchmarks/run.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from gradient_integrations.core import ResponsesClient, build_request

from ._common import (
    ANSWER,
    FAKE_KEY,
    FAKE_ROOT,
    MODEL,
    PROMPT,
    Column,
    Row,
    Section,
    Target,
    canned_transport,
    encode,
    responses_body,
)

TARGET_RATIO = 1.3
MODES = {"sync": "create vs httpx.Client", "async": "acreate vs httpx.AsyncClient"}
URL = f"{FAKE_ROOT}/v1/responses"
HEADERS = {
    "Authorization": f"Bearer {FAKE_KEY}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def _raw_text(body: dict[str, Any]) -> str:
    return str(body["output"][0]["content"][0]["text"])


def _figures(core: Sequence[float], raw: Sequence[float]) -> dict[str, float]:
    ratios = [c / r for c, r in zip(core, raw, strict=True)]
    return {
        "core_us": statistics.median(core) * 1e6,
        "raw_us": statistics.median(raw) * 1e6,
        "overhead_us": statistics.median(c - r for c, r in zip(core, raw, strict=True)) * 1e6,
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def _time_batch(call: Callable[[], object], batch: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(batch):
        call()
    return (time.perf_counter() - started) / batch


async def _atime_batch(call: Callable[[], Awaitable[object]], batch: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(batch):
        await call()
    return (time.perf_counter() - started) / batch


def measure_sync(rounds: int, batch: int) -> dict[str, float]:
    transport = canned_transport({"/v1/responses": encode(responses_body())})
    request = build_request(model=MODEL, input=PROMPT)
    payload = json.dumps(request.to_body(stream=False), separators=(",", ":")).encode()
    core = ResponsesClient(api_key=FAKE_KEY, base_url=FAKE_ROOT, transport=transport)
    raw = httpx.Client(transport=transport)

    def core_call() -> str:
        return core.create(request).text

    def raw_call() -> str:
        return _raw_text(json.loads(raw.post(URL, content=payload, headers=HEADERS).content))

    assert core_call() == raw_call() == ANSWER, "both sides must read the same answer"
    _time_batch(core_call, batch)  # warm-up: pools, caches and lazily built clients
    _time_batch(raw_call, batch)
    core_times: list[float] = []
    raw_times: list[float] = []
    for number in range(rounds):
        # Alternate who goes first so a warm cache or a noisy neighbour favours neither side.
        pair = [(core_call, core_times), (raw_call, raw_times)]
        for call, times in pair if number % 2 == 0 else reversed(pair):
            times.append(_time_batch(call, batch))
    core.close()
    raw.close()
    return _figures(core_times, raw_times)


async def measure_async(rounds: int, batch: int) -> dict[str, float]:
    transport = canned_transport({"/v1/responses": encode(responses_body())})
    request = build_request(model=MODEL, input=PROMPT)
    payload = json.dumps(request.to_body(stream=False), separators=(",", ":")).encode()
    core = ResponsesClient(api_key=FAKE_KEY, base_url=FAKE_ROOT, async_transport=transport)
    raw = httpx.AsyncClient(transport=transport)

    async def core_call() -> str:
        return (await core.acreate(request)).text

    async def raw_call() -> str:
        response = await raw.post(URL, content=payload, headers=HEADERS)
        return _raw_text(json.loads(response.content))

    assert await core_call() == await raw_call() == ANSWER, "both sides must read the same answer"
    await _atime_batch(core_call, batch)
    await _atime_batch(raw_call, batch)
    core_times: list[float] = []
    raw_times: list[float] = []
    for number in range(rounds):
        pair = [(core_call, core_times), (raw_call, raw_times)]
        for call, times in pair if number % 2 == 0 else reversed(pair):
            times.append(await _atime_batch(call, batch))
    await core.aclose()
    await raw.aclose()
    return _figures(core_times, raw_times)


def measure(*, smoke: bool = False, rounds: int | None = None, batch: int | None = None) -> dict[str, Any]:
    """The figures, without printing: sync and async rows, the settings used and whether the target is met."""
    rounds = rounds or (3 if smoke else 41)
    batch = batch or (20 if smoke else 200)
    figures: dict[str, Any] = {
        "sync": measure_sync(rounds, batch),
        "async": asyncio.run(measure_async(rounds, batch)),
        "rounds": rounds,
        "batch": batch,
        "smoke": smoke,
        "target_ratio": TARGET_RATIO,
    }
    figures["met"] = all(figures[mode]["ratio"] <= TARGET_RATIO for mode in MODES)
    return figures


def run(*, smoke: bool = False) -> list[Section]:
    """The same figures as a `Section`, the form `benchmarks/run.py` renders."""
    figures = measure(smoke=smoke)
    columns = [
        Column("core_us", "core us/call", 1),
        Column("raw_us", "raw us/call", 1),
        Column("overhead_us", "overhead us", 1),
        Column("ratio", "ratio", 2),
    ]
    rows = [
        Row(label, {key: figures[mode][key] for key in ("core_us", "raw_us", "overhead_us", "ratio")})
        for mode, label in MODES.items()
    ]
    targets = [
        Target(f"{label}: core / raw", figures[mode]["ratio"], TARGET_RATIO) for mode, label in MODES.items()
    ]
    method = (
        f"Same MockTransport and body for both sides; {figures['rounds']} interleaved rounds of "
        f"{figures['batch']} calls, order alternating; median of per-round ratios."
    )
    return [Section("core_overhead", "Core per-call overhead vs raw httpx", method, columns, rows, targets)]


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    """Command line: `--smoke` for a tiny run; prints a summary and returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only proves the script works")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 41, smoke 3)")
    parser.add_argument(
        "--batch", type=int, default=None, help="calls per side per round (default 200, smoke 20)"
    )
    args = parser.parse_args(list(argv))
    figures = measure(smoke=args.smoke, rounds=args.rounds, batch=args.batch)
    print(f"core overhead vs raw httpx + json.loads ({figures['rounds']} rounds x {figures['batch']} calls)")
    for mode, label in MODES.items():
        row = figures[mode]
        print(
            f"  {label:30} core {row['core_us']:7.1f} us  raw {row['raw_us']:7.1f} us  "
            f"overhead {row['overhead_us']:6.1f} us  ratio {row['ratio']:.2f}x "
            f"(per round {row['ratio_min']:.2f}-{row['ratio_max']:.2f}; target <= {TARGET_RATIO}x)"
        )
    if figures["smoke"]:
        print("  smoke run: too short to judge the target")
    else:
        print(f"  target {'met' if figures['met'] else 'MISSED'}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
