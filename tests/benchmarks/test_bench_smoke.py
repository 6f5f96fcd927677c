"""Every benchmark in `benchmarks/` still runs, in its smoke mode, and reports sane figures.

Nothing here asserts a timing: on a shared CI machine that would be flaky, and the targets are judged
by `make bench`, not by tests. What is asserted is what a broken benchmark would get wrong: a contender
missing from its table, a figure that is not a finite non-negative number (or not positive where it is
a time or a size), a ratio column whose baseline row is not exactly 1, a runner that writes files when
it should not or leaves a section out of RESULTS.md, and canned answers that the peers would not accept.
(No `__init__.py` here on purpose: `tests/benchmarks` as a package would shadow the `benchmarks` package.)
"""

from __future__ import annotations

import functools
import gc
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from benchmarks import (
    _common,
    _loopback_clients,
    batch_inference,
    core_overhead,
    embeddings,
    import_time,
    llama_index_stream,
    local_server_throughput,
    loopback_load,
    overhead_inprocess,
    ray_vs_abatch,
    run,
    scale,
    streaming,
)
from benchmarks._common import Section

LOOPBACK_PEERS = {
    _loopback_clients.RAW,
    _loopback_clients.CORE,
    _loopback_clients.CHAT_GRADIENT,
    _loopback_clients.GRADIENT_LLM,
    _loopback_clients.OPENAI_RESPONSES,
    _loopback_clients.OPENAI_CHAT,
    _loopback_clients.DO_LANGCHAIN,
    _loopback_clients.DO_LLAMA,
}
# Per module: section key -> every contender its table must list.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "overhead_inprocess": {
        "overhead_inprocess": {
            overhead_inprocess.FLOOR,
            overhead_inprocess.CORE,
            overhead_inprocess.CHAT_GRADIENT,
            overhead_inprocess.GRADIENT_LLM,
            overhead_inprocess.OPENAI_RESPONSES,
            overhead_inprocess.OPENAI_CHAT,
            overhead_inprocess.LANGCHAIN_FLOOR,
            overhead_inprocess.LLAMA_FLOOR,
            overhead_inprocess.CHAT_GRADIENT_MAPPING,
            overhead_inprocess.GRADIENT_LLM_MAPPING,
        }
    },
    "loopback_load": {
        "loopback_sequential": LOOPBACK_PEERS,
        "loopback_concurrent": LOOPBACK_PEERS | {_loopback_clients.CORE_NARROW_POOL},
    },
    "streaming": {
        "streaming": {
            streaming.RAW,
            streaming.CORE,
            streaming.CHAT_GRADIENT,
            streaming.CHAT_GRADIENT_TYPED,
            streaming.GRADIENT_LLM,
            streaming.LANGCHAIN_FLOOR,
            streaming.LLAMA_FLOOR,
            streaming.OPENAI_RESPONSES,
            streaming.OPENAI_CHAT,
        }
    },
    "import_time": {"import_time": {import_time.BARE, *import_time.MODULES, *import_time.FLOORS}},
    "scale": {
        "scale_history": {
            scale.CHAT_GRADIENT,
            scale.GRADIENT_LLM,
            scale.OPENAI_RESPONSES,
            scale.OPENAI_CHAT,
            scale.DO_LANGCHAIN,
            scale.REFERENCE,
        },
        "scale_memory": {
            scale.RAW,
            scale.CORE,
            scale.CHAT_STREAM,
            scale.LLM_STREAM,
            scale.LANGCHAIN_FLOOR,
            scale.LLAMA_FLOOR,
        },
    },
    "llama_index_stream": {
        "llama_index_stream": {
            llama_index_stream.CORE,
            llama_index_stream.LLM,
            llama_index_stream.LLM_ASYNC,
            llama_index_stream.LLM_COMPLETE,
            llama_index_stream.FLOOR,
            llama_index_stream.LLM_CONTENT,
            llama_index_stream.FLOOR_CONTENT,
        },
        "llama_index_stream_memory": {
            llama_index_stream.CORE,
            llama_index_stream.LLM,
            llama_index_stream.LLM_COMPLETE,
            llama_index_stream.FLOOR,
        },
    },
    "batch_inference": {"batch_inference": set(batch_inference.CONTENDERS)},
    "embeddings": {
        "embeddings": {
            embeddings.RAW,
            embeddings.RAW_ASYNC,
            embeddings.LANGCHAIN,
            embeddings.LANGCHAIN_ASYNC,
            embeddings.LLAMA,
            embeddings.OPENAI,
            embeddings.OPENAI_ASYNC,
        },
    },
    "ray_vs_abatch": {
        "ray_vs_abatch": {ray_vs_abatch.ABATCH, ray_vs_abatch.RAY, ray_vs_abatch.RAY_FIXED},
    },
}
MODULES = {
    "batch_inference": batch_inference,
    "overhead_inprocess": overhead_inprocess,
    "loopback_load": loopback_load,
    "streaming": streaming,
    "import_time": import_time,
    "scale": scale,
    "llama_index_stream": llama_index_stream,
    "embeddings": embeddings,
    "ray_vs_abatch": ray_vs_abatch,
}
# The row each ratio column is relative to, which must therefore read exactly 1.
BASELINES = {
    ("overhead_inprocess", "vs_floor"): overhead_inprocess.FLOOR,
    ("overhead_inprocess", "vs_chatopenai"): overhead_inprocess.OPENAI_RESPONSES,
    ("streaming", "vs_langchain_floor"): streaming.LANGCHAIN_FLOOR,
    ("streaming", "vs_raw"): streaming.RAW,
    ("loopback_sequential", "vs_raw"): _loopback_clients.RAW,
    ("loopback_concurrent", "vs_raw"): _loopback_clients.RAW,
    ("import_time", "vs_openai"): "langchain_openai",
    ("llama_index_stream", "vs_floor"): llama_index_stream.FLOOR,
    ("embeddings", "wall_ratio"): embeddings.RAW,
    ("embeddings", "cpu_ratio"): embeddings.RAW,
    ("batch_inference", "cpu_ratio"): batch_inference.RAW,
    ("ray_vs_abatch", "vs_abatch"): ray_vs_abatch.ABATCH,
}


@functools.cache
def smoke(name: str) -> list[Section]:
    """One smoke run per benchmark module for the whole test session (they take seconds each)."""
    if name != "loopback_load":
        sections: list[Section] = MODULES[name].run(smoke=True)
        return sections
    # The DO packages, peers measured side by side there, leak their pools: langchain-gradient builds a
    # new pydo client per call, llama-index's GradientAI a new AsyncGradient per async call, and neither
    # is closed. The benchmark cannot close what it never sees, so their warnings are off for this run and
    # their sockets are collected before it ends, not in whichever test runs when they are freed. Our own
    # clients are closed by the benchmark (`async_contenders`' aclose) and leak-checked everywhere else.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        sections = MODULES[name].run(smoke=True)
        gc.collect()
    return sections


def assert_sane(section: Section) -> None:
    assert section.rows, f"{section.key} has no rows"
    assert section.method and section.title
    first = section.columns[0].key
    for row in section.rows:
        assert row.values, f"{section.key}: {row.contender} has no figures"
        assert set(row.values) <= {column.key for column in section.columns}, row.values
        for key, value in row.values.items():
            assert math.isfinite(value) and value >= 0, f"{section.key}: {row.contender} {key} = {value}"
        # The first column is always a time, a rate or a size: zero would mean nothing was measured.
        assert row.values[first] > 0, f"{section.key}: {row.contender} {first} = {row.values[first]}"
    for target in section.targets:
        assert math.isfinite(target.measured) and target.measured >= 0, target
        assert target.limit >= 0, target
        assert target.met is (target.measured <= target.limit)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES))
def test_smoke_run_lists_every_contender_with_sane_figures(name: str) -> None:
    sections = smoke(name)

    assert {section.key: {row.contender for row in section.rows} for section in sections} == EXPECTED[name]
    for section in sections:
        assert_sane(section)
        for (key, column), baseline in BASELINES.items():
            if key == section.key:
                assert section.row(baseline).values[column] == pytest.approx(1.0)


@pytest.mark.slow
def test_loopback_smoke_keeps_our_connections_within_the_pool_limit() -> None:
    sequential, concurrent = smoke("loopback_load")

    for name in _loopback_clients.OURS:
        # Sequential calls reuse one keep-alive connection: a new one per call would be a pooling bug.
        assert sequential.row(name).values["sockets"] == 1
        assert 1 <= concurrent.row(name).values["sockets"] <= _loopback_clients.POOL_LIMIT
    assert {target.description for target in concurrent.targets} >= {
        f"{name}: connections per burst <= pool limit ({_loopback_clients.POOL_LIMIT:,})"
        for name in _loopback_clients.OURS
    }


@pytest.mark.slow
def test_local_server_throughput_smoke_reports_positive_rates() -> None:
    for section in local_server_throughput.run(smoke=True):
        assert_sane(section)


@pytest.mark.slow
def test_core_overhead_smoke_run_reports_both_modes() -> None:
    figures = core_overhead.measure(smoke=True, rounds=2, batch=5)
    assert figures["target_ratio"] == 1.3 and (figures["rounds"], figures["batch"]) == (2, 5)
    for mode in ("sync", "async"):
        row = figures[mode]
        assert row["core_us"] > 0 and row["raw_us"] > 0 and row["ratio"] > 0
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    assert figures["met"] == all(figures[mode]["ratio"] <= 1.3 for mode in ("sync", "async"))


@pytest.mark.slow
def test_runner_smoke_writes_only_where_told(tmp_path: Path) -> None:
    tracked = [run.DEFAULT_OUT / "RESULTS.md", run.DEFAULT_OUT / "results.json"]
    before = {path: path.stat().st_mtime_ns if path.exists() else None for path in tracked}

    results = run.main(["--smoke", "--only", "overhead_inprocess", "--only", "core_overhead"])
    assert {path: path.stat().st_mtime_ns if path.exists() else None for path in tracked} == before
    assert [section["key"] for section in results["sections"]] == ["overhead_inprocess", "core_overhead"]

    run.main(["--smoke", "--only", "core_overhead", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert written["smoke"] is True and written["machine"]["cpus"] >= 1
    core = written["sections"][0]
    assert core["key"] == "core_overhead"
    assert [row["contender"] for row in core["rows"]] == [
        "sync: create vs httpx.Client",
        "async: acreate vs httpx.AsyncClient",
    ]
    assert core["title"] in markdown and "Smoke run" in markdown
    for target in core["targets"]:
        assert target["description"] in markdown


def test_markdown_marks_missed_targets_and_missing_figures() -> None:
    section = Section(
        key="demo",
        title="A | B",
        method="how",
        columns=[_common.Column("a", "a (ms)", 1), _common.Column("b", "b")],
        rows=[_common.Row("only a", {"a": 1234.5})],
        targets=[_common.Target("slow thing", 2.0, 1.5), _common.Target("fast thing", 0.5, 1.5, "ms")],
    )
    results: dict[str, Any] = {
        "generated_at": "now",
        "smoke": False,
        "machine": run.machine(),
        "load_average": {"before": None, "after": None},
        "versions": {"httpx": "1"},
        "durations_s": {"demo": 1.0},
        "sections": [section.to_json()],
    }

    markdown = run.render_markdown(results)

    assert "| slow thing | 2.00x | 1.50x | **no** |" in markdown
    assert "| fast thing | 0.50 ms | 1.50 ms | yes |" in markdown
    assert "| only a | 1,234.5 | — |" in markdown
    assert "## A \\| B" not in markdown and "## A | B" in markdown  # titles are headings, not cells


def test_stream_pieces_are_what_langchains_fake_model_streams() -> None:
    for count in (1, 2, 9, 10):
        pieces = _common.answer_pieces(count)
        split = re.split(r"(\s)", "".join(pieces))
        assert len(pieces) == count
        assert split[:count] == pieces and split[count:] in ([], [""])


def test_canned_answers_are_valid_for_the_peers_sdks() -> None:
    pieces = _common.answer_pieces(5)
    Response.model_validate(_common.responses_body())
    ChatCompletion.model_validate(_common.chat_completion_body())
    events = TypeAdapter(ResponseStreamEvent)
    for line in _common.typed_stream(pieces).decode().split("\n\n"):
        if line:
            events.validate_python(json.loads(line.removeprefix("data: ")))
    for line in _common.chat_stream(pieces).decode().split("\n\n"):
        if line.startswith("data: {"):
            ChatCompletionChunk.model_validate(json.loads(line.removeprefix("data: ")))
    do_chunks = [line for line in _common.do_stream(pieces).decode().split("\n\n") if line]
    assert do_chunks[-1] == "data: [DONE]"
    contents = [json.loads(line.removeprefix("data: "))["choices"] for line in do_chunks[:-1]]
    assert "".join(choice[0]["delta"].get("content", "") for choice in contents if choice) == "".join(pieces)
