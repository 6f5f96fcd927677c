"""Sections for the two benchmarks whose `main()` returns a dict: `core_overhead` and `load_streams`.

Both are written and run standalone by their own authors (`python -m benchmarks.core_overhead`,
`python -m benchmarks.load_streams`); `run.py` calls their `main()` and these functions turn the figures
into the same `Section` records as every other benchmark, so RESULTS.md has one format.
"""

from __future__ import annotations

from typing import Any

from ._common import Column, Row, Section, Target


def core_overhead_sections(*, smoke: bool) -> list[Section]:
    """The core-vs-raw paired measurement (`core_overhead.main`, sync and async) as a Section."""
    from . import core_overhead

    # Fewer rounds than its standalone default: the full `make bench` run has to stay within minutes.
    figures: dict[str, Any] = core_overhead.main(
        ["--smoke"] if smoke else ["--rounds", "21", "--batch", "100"]
    )
    rows = [
        Row(
            f"{mode}: {label}",
            {
                "core_us": figures[mode]["core_us"],
                "raw_us": figures[mode]["raw_us"],
                "overhead_us": figures[mode]["overhead_us"],
                "ratio": figures[mode]["ratio"],
            },
        )
        for mode, label in (("sync", "create vs httpx.Client"), ("async", "acreate vs httpx.AsyncClient"))
    ]
    limit = float(figures["target_ratio"])
    return [
        Section(
            key="core_overhead",
            title="1b. Core overhead, paired with raw httpx (sync and async)",
            method=(
                f"`benchmarks/core_overhead.py`: {figures['rounds']} rounds x {figures['batch']} calls per "
                "side on one `httpx.MockTransport`, same request bytes and headers; median of per-round "
                "ratios (core / raw), which cancels machine drift."
            ),
            columns=[
                Column("core_us", "core (µs)", 1),
                Column("raw_us", "raw httpx (µs)", 1),
                Column("overhead_us", "overhead (µs)", 1),
                Column("ratio", "x raw (median of rounds)"),
            ],
            rows=rows,
            targets=[
                Target(f"core {mode} <= {limit}x raw httpx", figures[mode]["ratio"], limit)
                for mode in ("sync", "async")
            ],
        )
    ]


def load_streams_sections(*, smoke: bool) -> list[Section]:
    """The concurrent-streams load test (`load_streams.main`, figures as a dict) as a Section."""
    from . import load_streams

    figures: dict[str, Any] = load_streams.main(smoke=smoke)
    streams = figures["streams"]
    columns = [
        Column("streams_per_second", "streams/s", 1),
        Column("stream_p50_ms", "p50 per stream (ms)", 1),
        Column("stream_p99_ms", "p99 per stream (ms)", 1),
        Column("errors", "errors", 0),
        Column("rss_peak_mib", "peak RSS (MiB)", 1),
        Column("heap_peak_kib", "traced heap peak (KiB)", 0),
    ]
    row = Row(
        f"ours: {streams:,} concurrent streams, half ChatGradient.astream, half GradientLLM.astream_chat",
        {column.key: float(figures[column.key]) for column in columns},
    )
    return [
        Section(
            key="load_streams",
            title=f"6. Load: {streams:,} concurrent streams over loopback",
            method=(
                f"`benchmarks/load_streams.py`: {streams:,} streams of {figures['words_per_stream']} words "
                f"at once against the local server process, {figures['rounds']} rounds (warm-up, timed, then "
                "traced); each stream must assemble exactly the scripted answer or it counts as an error."
            ),
            columns=columns,
            rows=[row],
            targets=[Target("errors across every stream of every round", figures["errors"], 0, "errors")],
            notes=[
                f"Traced Python heap after each round (KiB, relative to the start of tracing): "
                f"{figures['heap_after_each_round_kib']}; growth from the first to the last round "
                f"{figures['heap_growth_kib']} KiB. RSS after each timed round (MiB): "
                f"{figures['rss_after_each_round_mib']}.",
            ],
        )
    ]
