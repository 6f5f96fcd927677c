"""`python -m benchmarks.run` (what `make bench` runs): every benchmark, then RESULTS.md and results.json.

    python -m benchmarks.run                      # full run (several minutes), writes benchmarks/RESULTS.md
    python -m benchmarks.run --smoke              # a tiny run of every benchmark, writes nothing
    python -m benchmarks.run --smoke --out DIR    # ... and writes RESULTS.md, results.json, charts/ in DIR
    python -m benchmarks.run --only streaming     # a subset (repeatable)

Each benchmark runs in a fresh interpreter (`run_one`). Its module's `run(smoke=...)` returns `Section`s;
`core_overhead.main()` and `load_streams.main()` return dicts, which `_wrapped` turns into Sections.
RESULTS.md is generated from results.json's data only: never edit it by hand. Each section with
side-by-side ratios gets a PNG chart in `charts/` next to it (`charts.py`; `python -m benchmarks.charts`
redraws them from an existing results.json), embedded under the section's table.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._common import Section
from ._wrapped import core_overhead_sections, load_streams_sections
from .charts import CHARTS_DIR, chart_files, render_charts

# The order; then the 1,000-stream load test, the local server's own throughput, and a long answer
# streamed through LlamaIndex against llama-index-core's floor; then 10,000 texts embedded; then a
# 50,000-request Batch Inference job; then Ray Data on 2 workers against one process's abatch.
BENCHMARKS = (
    "overhead_inprocess",
    "core_overhead",
    "loopback_load",
    "streaming",
    "import_time",
    "scale",
    "load_streams",
    "local_server_throughput",
    "llama_index_stream",
    "embeddings",
    "batch_inference",
    "ray_vs_abatch",
)
PACKAGES = (
    "gradient-integrations",
    "httpx",
    "httpx-sse",
    "pydantic",
    "langchain-core",
    "llama-index-core",
    "langchain-openai",
    "openai",
    "langchain-gradient",
    "pydo",
    "llama-index-llms-digitalocean-gradientai",
    "gradient",
    "ray",
)
DEFAULT_OUT = Path(__file__).resolve().parent


def _runner(name: str) -> Callable[..., list[Section]]:
    if name == "core_overhead":
        return core_overhead_sections
    if name == "load_streams":
        return load_streams_sections
    runner: Callable[..., list[Section]] = importlib.import_module(f".{name}", __package__).run
    return runner


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
    }


def versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _load() -> list[float] | None:
    return [round(value, 2) for value in os.getloadavg()] if hasattr(os, "getloadavg") else None


def run_one(name: str, *, smoke: bool) -> list[dict[str, Any]]:
    """One benchmark in a fresh interpreter: no benchmark pays for the heap, pools or patches of another.

    A long-lived process would make each one slower than the last (every cyclic GC pass scans all that
    the earlier ones left alive), so the child runs `--child-output FILE` and hands back its sections.
    """
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "sections.json"
        command = [sys.executable, "-m", "benchmarks.run", "--only", name, "--child-output", str(output)]
        done = subprocess.run(
            [*command, *(["--smoke"] if smoke else [])], cwd=DEFAULT_OUT.parent, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"benchmark {name} failed (exit status {done.returncode}); its output is above"
            )
        sections: list[dict[str, Any]] = json.loads(output.read_text())
    return sections


def run_all(names: Sequence[str], *, smoke: bool) -> dict[str, Any]:
    started_at = datetime.datetime.now(datetime.timezone.utc)
    load_before = _load()
    sections: list[dict[str, Any]] = []
    durations: dict[str, float] = {}
    for number, name in enumerate(names, start=1):
        print(f"[{number}/{len(names)}] {name} ...", flush=True)
        started = time.perf_counter()
        sections.extend(run_one(name, smoke=smoke))
        durations[name] = round(time.perf_counter() - started, 1)
        print(f"[{number}/{len(names)}] {name} done in {durations[name]} s", flush=True)
    return {
        "generated_at": started_at.isoformat(timespec="seconds"),
        "smoke": smoke,
        "machine": machine(),
        "load_average": {"before": load_before, "after": _load()},
        "versions": versions(),
        "durations_s": durations,
        "sections": sections,
    }


# -- rendering -----------------------------------------------------------------------------------------
def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:,.{digits}f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(results: dict[str, Any]) -> str:
    host = results["machine"]
    load = results["load_average"]
    lines = [
        "# Benchmarks: gradient-integrations side by side",
        "",
        "Generated by `python -m benchmarks.run` (`make bench`) from `results.json`; rerun it instead of "
        "editing. Every figure below was measured in that run."
        + (" **Smoke run: figures are not meaningful.**" if results["smoke"] else ""),
        "",
        f"- Date: {results['generated_at']}",
        f"- Machine: {host['cpus']} CPUs ({host['cpu_model']}), {host['implementation']} {host['python']}, "
        f"{host['os']}",
        f"- Load average (1/5/15 min) before: {load['before']}, after: {load['after']} (a busy shared "
        "machine inflates absolute times; the interleaved rounds keep the ratios comparable)",
        "- Versions: " + ", ".join(f"{name} {ver}" for name, ver in results["versions"].items()),
        "- Durations (s): " + ", ".join(f"{name} {secs}" for name, secs in results["durations_s"].items()),
        "",
        "## Targets",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|:---:|",
    ]
    for section in results["sections"]:
        for target in section["targets"]:
            suffix = "x" if target["unit"] == "x" else f" {target['unit']}"
            whole = suffix != "x" and all(float(target[key]).is_integer() for key in ("measured", "limit"))
            digits = 0 if whole else 2  # counts (sockets, errors) read as counts
            lines.append(
                f"| {_cell(target['description'])} | {_number(target['measured'], digits)}{suffix} | "
                f"{_number(target['limit'], digits)}{suffix} | {'yes' if target['met'] else '**no**'} |"
            )
    charts = chart_files(results)
    for section in results["sections"]:
        columns = section["columns"]
        lines += ["", f"## {section['title']}", "", section["method"], ""]
        lines.append("| contender | " + " | ".join(_cell(column["header"]) for column in columns) + " |")
        lines.append("|---|" + "---:|" * len(columns))
        for row in section["rows"]:
            cells = [_number(row["values"].get(column["key"]), column["digits"]) for column in columns]
            lines.append(f"| {_cell(row['contender'])} | " + " | ".join(cells) + " |")
        if section["key"] in charts:
            alt = re.sub(r"[\[\]]", "", section["title"])
            lines += ["", f"![{alt}: ratios side by side]({CHARTS_DIR}/{charts[section['key']]})"]
        if section["notes"]:
            lines.append("")
            lines += [f"- {note}" for note in section["notes"]]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    render_charts(results, out / CHARTS_DIR)
    (out / "RESULTS.md").write_text(render_markdown(results))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run of every benchmark; writes nothing")
    parser.add_argument("--out", type=Path, default=None, help="where to write RESULTS.md and results.json")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark")
    parser.add_argument("--child-output", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    if args.child_output is not None:  # the child side of run_one: run here, hand the sections back
        sections = [section.to_json() for name in names for section in _runner(name)(smoke=args.smoke)]
        args.child_output.write_text(json.dumps(sections))
        return {"sections": sections}
    results = run_all(names, smoke=args.smoke)
    out = args.out if args.out is not None else (None if args.smoke else DEFAULT_OUT)
    if out is not None:
        write(results, out)
        print(f"wrote {out / 'RESULTS.md'}, {out / 'results.json'} and {out / CHARTS_DIR}/*.png")
    for section in results["sections"]:
        for target in section["targets"]:
            verdict = "met" if target["met"] else "MISSED"
            print(
                f"  {verdict:6} {target['description']}: {target['measured']:.2f} (limit {target['limit']})"
            )
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
