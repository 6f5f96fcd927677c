"""Ray Data on 2 workers against one process's `abatch`: the same prompts, the same server, side by side.

The local server runs in its own process (`LocalServerProcess`) and answers every request after a fixed
`latency_ms` (the `latency_ms:n` fault, standing in for a model's time to answer), so both contenders wait
on the same thing:

- one process: `ChatGradient.abatch(prompts, config={"max_concurrency": C})` on one event loop;
- Ray Data: `gradient_integrations.ray_data.predict` over `ray.data.from_items(rows)` on a pool of 2 actors
  (the callable class `GradientPredictor`, `C / 2` calls in flight in each, so both have `C` in flight),
  rows kept in order (`preserve_order`), on a local cluster of 2 CPUs started once beforehand
  (`ray.init`, not timed: its time is a note).

Each round times both, interleaved, with a fresh model each time (Ray starts new actors for every
execution, so its time includes starting them and importing the adapters in them: that is what a job
pays). Reported: median wall seconds for all N prompts, rows per second, the wall-time ratio to the
one-process `abatch`, and this process's CPU seconds (all of `abatch`'s; for Ray only the driver's, the
workers' is not counted), all measured in the same run. Every answer is checked, and must come back in order.
"Ray Data, 2 rows" is the fixed cost of one execution (actors, imports, scheduling) measured alongside.

Run alone with `python -m benchmarks.ray_vs_abatch [--smoke]`; `run()` returns the `Section` for
`benchmarks.run`. Needs the `ray` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from typing import Any

from gradient_integrations.langchain import ChatGradient
from gradient_integrations.local import LocalServerProcess
from gradient_integrations.ray_data import predict

from ._common import Column, Row, Section, median, ratio

MODEL = "llama3.3-70b-instruct"
WORKERS = 2
ABATCH = "ChatGradient.abatch, one process"
RAY = f"Ray Data, {WORKERS} workers (GradientPredictor)"
RAY_FIXED = f"Ray Data, {WORKERS} workers, 2 rows (fixed cost)"


@contextlib.contextmanager
def local_ray() -> Iterator[float]:
    """A 2-CPU Ray cluster on 127.0.0.1 (no dashboard, no usage stats); yields the seconds `ray.init` took."""
    names = ("RAY_ADDRESS", "RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("RAY_ADDRESS", None)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Read when `ray` is first imported: the cluster binds and talks on 127.0.0.1 only.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    import ray.data

    with warnings.catch_warnings():  # Ray's own: its DataContext reads deprecated settings when created
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray.data.DataContext.get_current()
    preserve = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        if not address.startswith("127.0.0.1:"):
            raise RuntimeError(f"the Ray cluster is not on loopback ({address}): import ray after this")
        yield time.perf_counter() - started
    finally:
        ray.shutdown()
        context.execution_options.preserve_order = preserve
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check(answers: list[str | None], prompts: list[str], who: str) -> None:
    expected = [f"You said: {prompt}" for prompt in prompts]
    if answers != expected:
        raise AssertionError(f"{who} did not return every answer in order")


def run(*, smoke: bool = False) -> list[Section]:
    count, latency_ms, concurrency, rounds = (40, 20, 8, 1) if smoke else (2000, 100, 64, 3)
    prompts = [f"prompt {index}" for index in range(count)]
    rows = [{"id": index, "prompt": prompt} for index, prompt in enumerate(prompts)]
    wall: dict[str, list[float]] = {ABATCH: [], RAY: [], RAY_FIXED: []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    with LocalServerProcess(faults=f"latency_ms:{latency_ms}") as server, local_ray() as init_seconds:
        import ray.data

        def one_process() -> None:
            model = ChatGradient(model=MODEL, base_url=server.base_url)

            async def go() -> list[Any]:
                try:
                    return await model.abatch(prompts, config={"max_concurrency": concurrency})
                finally:
                    await model.aclose()

            started, used = time.perf_counter(), time.process_time()
            answers = asyncio.run(go())
            wall[ABATCH].append(time.perf_counter() - started)
            cpu[ABATCH].append(time.process_time() - used)
            _check([answer.text for answer in answers], prompts, ABATCH)

        def on_ray(name: str, chosen: list[dict[str, Any]]) -> None:
            model = ChatGradient(model=MODEL, base_url=server.base_url)
            started, used = time.perf_counter(), time.process_time()
            out = predict(
                ray.data.from_items(chosen),
                model,
                workers=WORKERS,
                batch_size=max(1, min(256, len(chosen) // (2 * WORKERS))),
                max_concurrency=concurrency // WORKERS,
            ).take_all()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - used)
            _check([row["response"] for row in out], [row["prompt"] for row in chosen], name)

        for _ in range(rounds):
            one_process()
            on_ray(RAY, rows)
            on_ray(RAY_FIXED, rows[:2])
    return [_section(count, latency_ms, concurrency, rounds, wall, cpu, init_seconds)]


def _section(
    count: int,
    latency_ms: int,
    concurrency: int,
    rounds: int,
    wall: dict[str, list[float]],
    cpu: dict[str, list[float]],
    init_seconds: float,
) -> Section:
    baseline = median(wall[ABATCH])
    sizes = {ABATCH: count, RAY: count, RAY_FIXED: 2}
    rows = [
        Row(
            name,
            {
                "wall_s": median(samples),
                "rows_per_s": sizes[name] / median(samples),
                "vs_abatch": ratio(median(samples), baseline),
                "cpu_s": median(cpu[name]),
            },
        )
        for name, samples in wall.items()
    ]
    floor = count / concurrency * latency_ms / 1000
    return Section(
        key="ray_vs_abatch",
        title=f"Ray Data ({WORKERS} workers) vs one process's abatch: {count:,} prompts of {latency_ms} ms",
        method=(__doc__ or "").split("\n\n", 1)[1].strip()
        + f" N = {count:,}, C = {concurrency}, latency {latency_ms} ms, rounds: {rounds}.",
        columns=[
            Column("wall_s", "wall s", 2),
            Column("rows_per_s", "rows/s", 1),
            Column("vs_abatch", "wall vs abatch"),
            Column("cpu_s", "this process's CPU s (Ray: the driver's only)", 2),
        ],
        rows=rows,
        notes=[
            f"The floor with {concurrency} calls in flight is {floor:.2f} s ({count:,} x {latency_ms} ms / "
            f"{concurrency}); ray.init (a 2-CPU local cluster, once, in no row) took {init_seconds:.1f} s.",
            "On one 2-core machine Ray adds processes, not cores: it pays off when one process's CPU is the "
            "limit (many calls in flight, heavy pre- or post-processing per row) or across machines. The "
            "CPU column shows whether one process was: its wall time near its CPU time means it was.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (40 prompts)")
    for section in run(smoke=parser.parse_args().smoke):
        print(f"{section.title}\n")
        for row in section.rows:
            values = row.values
            print(
                f"  {row.contender:<48} {values['wall_s']:>8.2f} s {values['rows_per_s']:>9.1f} rows/s "
                f"{values['vs_abatch']:>6.2f}x {values['cpu_s']:>7.2f} s CPU"
            )
        for note in section.notes:
            print(f"  - {note}")


if __name__ == "__main__":
    main()
