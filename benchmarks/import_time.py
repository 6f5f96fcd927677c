"""Measurement 4: import time in a fresh interpreter, ours against the packages a user would pick instead.

Each sample is one new `python -c "import <module>"` process. Two figures per sample: the wall time of
the whole process minus the median wall time of `python -c "pass"` (what a user waits for on top of bare
Python), and the import alone timed inside the process with `perf_counter` (less noisy). Modules are
interleaved round by round; one unmeasured warm-up run per module first makes sure bytecode caches
exist, so every figure is the repeat-start case a user sees after installing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from ._common import Column, Row, Section, Target, median, ratio

BARE = "bare python (no import)"
OURS_CORE = "gradient_integrations"
OURS_LANGCHAIN = "gradient_integrations.langchain"
OURS_LLAMA_INDEX = "gradient_integrations.llama_index"
MODULES = [
    OURS_CORE,
    OURS_LANGCHAIN,
    OURS_LLAMA_INDEX,
    "langchain_openai",
    "llama_index.llms.openai",
    "langchain_gradient",
    "llama_index.llms.digitalocean.gradientai",
]
# What our modules cannot avoid importing: measured so the notes can say whose milliseconds they are.
DEPENDENCIES = "httpx, pydantic"
# The adapters' unavoidable stacks: our dependencies plus the framework base class each one subclasses
# (`langchain_core.language_models` alone is a lazy package; its `chat_models` module is the real import).
LANGCHAIN_STACK = f"{DEPENDENCIES}, langchain_core.language_models.chat_models"
LLAMA_INDEX_STACK = f"{DEPENDENCIES}, llama_index.core.llms.function_calling"
# `import httpx` also imports its CLI (httpx._main) and with it these, whenever they are installed.
HTTPX_CLI = "click, pygments.lexers, rich.console"
FLOORS = ["httpx", HTTPX_CLI, "pydantic", DEPENDENCIES, LANGCHAIN_STACK, LLAMA_INDEX_STACK]
# A user's installed packages have bytecode caches (pip compiles them at install); a machine that sets
# PYTHONDONTWRITEBYTECODE (this one does) would otherwise compile every module from source on every run
# and time the compiler. The warm-up run writes the caches; the measured runs read them.
_CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _sample(module: str | None) -> tuple[float, float]:
    """(process wall seconds, in-process import seconds) for one fresh interpreter."""
    code = "pass" if module is None else _PROBE.format(module=module)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=_CHILD_ENV
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed in a fresh interpreter:\n{done.stderr[-2000:]}")
    return wall, (float(done.stdout.strip()) if module is not None else 0.0)


def run(*, smoke: bool = False) -> list[Section]:
    rounds = 1 if smoke else 3
    modules = MODULES + FLOORS
    if not smoke:
        for module in modules:
            _sample(module)  # warm-up: compile .pyc files once
    walls: dict[str, list[float]] = {BARE: []}
    inside: dict[str, list[float]] = {}
    for _ in range(rounds):
        probes: list[str | None] = [None, *modules]
        if smoke:  # figures are not judged in a smoke run: spend its seconds on all CPUs at once
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                samples = list(pool.map(_sample, probes))
        else:
            samples = [_sample(module) for module in probes]
        walls[BARE].append(samples[0][0])
        for module, (wall, seconds) in zip(modules, samples[1:], strict=True):
            walls.setdefault(module, []).append(wall)
            inside.setdefault(module, []).append(seconds)
    bare = median(walls[BARE])
    extra = {module: median(walls[module]) - bare for module in modules}
    imported = {module: median(inside[module]) for module in modules}
    openai = imported["langchain_openai"]
    rows = [Row(BARE, {"wall_ms": bare * 1e3})]
    rows += [
        Row(
            module,
            {
                "wall_ms": median(walls[module]) * 1e3,
                "over_bare_ms": extra[module] * 1e3,
                "import_ms": imported[module] * 1e3,
                "vs_openai": ratio(imported[module], openai),
            },
        )
        for module in modules
    ]
    ms = {module: value * 1e3 for module, value in imported.items()}
    notes = [
        f"Whose milliseconds: `import gradient_integrations` ({ms[OURS_CORE]:.0f} ms) is "
        f"{ms[DEPENDENCIES]:.0f} ms of its dependencies imported together (httpx alone {ms['httpx']:.0f} ms, "
        f"of which up to {ms[HTTPX_CLI]:.0f} ms is httpx's optional CLI pulling in click, pygments and rich "
        f"because they are installed here; pydantic alone {ms['pydantic']:.0f} ms) plus "
        f"{ms[OURS_CORE] - ms[DEPENDENCIES]:.0f} ms of our own modules (whose pydantic request and "
        "response model classes are built at import).",
        f"`gradient_integrations.langchain` ({ms[OURS_LANGCHAIN]:.0f} ms) is "
        f"{ms[OURS_LANGCHAIN] - ms[LANGCHAIN_STACK]:.0f} ms over what it cannot avoid, our dependencies plus "
        f"langchain-core's BaseChatModel ({ms[LANGCHAIN_STACK]:.0f} ms, "
        f"{ms[LANGCHAIN_STACK] / ms['langchain_openai']:.2f}x langchain_openai on its own). "
        f"`gradient_integrations.llama_index` ({ms[OURS_LLAMA_INDEX]:.0f} ms) is "
        f"{ms[OURS_LLAMA_INDEX] - ms[LLAMA_INDEX_STACK]:.0f} ms over our dependencies plus "
        f"llama-index-core's FunctionCallingLLM ({ms[LLAMA_INDEX_STACK]:.0f} ms).",
    ]
    section = Section(
        key="import_time",
        title="4. Import time (fresh interpreter)",
        method=(
            f"{rounds} interleaved rounds of one fresh `{sys.executable.rsplit('/', 1)[-1]} -c` per module "
            "after one warm-up each, which writes the bytecode caches a user's install has "
            "(PYTHONDONTWRITEBYTECODE is unset for these processes); medians. `import` = timed inside "
            "the process; `over bare` = process wall time minus the bare interpreter's."
        ),
        columns=[
            Column("wall_ms", "process wall (ms)", 1),
            Column("over_bare_ms", "over bare python (ms)", 1),
            Column("import_ms", "import, in-process (ms)", 1),
            Column("vs_openai", "x langchain_openai"),
        ],
        rows=rows,
        targets=[
            Target(
                "gradient_integrations.langchain <= 0.5x langchain_openai",
                ratio(imported[OURS_LANGCHAIN], openai),
                0.5,
            ),
            Target(
                "core (gradient_integrations) <= 100 ms over bare Python", extra[OURS_CORE] * 1e3, 100, "ms"
            ),
        ],
        notes=notes,
    )
    return [section]
