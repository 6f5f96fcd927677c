"""Execute the quickstart notebooks with nbclient, scrub their outputs, and check them before a commit.

    python -m devtools.notebooks notebooks/*.ipynb     # re-execute and write back

Execution always runs without an access key (every key variable and the endpoint variable are removed
from the kernel's environment), so the notebooks talk to the in-process local server and their outputs
are reproducible. Scrubbing then replaces what only this machine has: its absolute paths (repository,
virtualenv, home, temp dir) become `<repo>`, `<venv>`, `<home>`, `<tmp>`; loopback ports and memory
addresses become placeholders. `problems()` is what the notebook tests assert empty: key-like strings,
absolute paths, error outputs, and code cells that were not executed in order.

nbclient and nbformat are imported only when a notebook is executed or read.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gradient_integrations.core.settings import API_KEY_ENV_VARS, ENDPOINT_ENV_VAR

from .cassettes import find_key_like

__all__ = [
    "DEFAULT_TIMEOUT",
    "environment_secrets",
    "execute",
    "keyless_environment",
    "main",
    "output_texts",
    "problems",
    "read",
    "scrub",
    "scrub_text",
    "write",
]

DEFAULT_TIMEOUT = 120  # seconds per cell; a healthy cell takes well under one
REPO_ROOT = Path(__file__).resolve().parents[1]
# Absolute paths as they appear in tracebacks and warnings on Linux, macOS and Windows. This catches
# paths under the usual roots; `problems()` also looks for this machine's own paths verbatim, wherever
# the checkout lives (a CI runner may clone into a root this pattern does not list).
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.<>/-])(?:/(?:home|Users|root|work|tmp|var|opt|usr|private)/|[A-Za-z]:\\)"
)
_LOOPBACK_PORT = re.compile(r"\b(127\.0\.0\.1|localhost):\d+")
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")


def keyless_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) without any access key or endpoint override."""
    dropped = {*API_KEY_ENV_VARS, "DIGITALOCEAN_TOKEN", ENDPOINT_ENV_VAR}
    return {name: value for name, value in (environ or os.environ).items() if name not in dropped}


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The access keys set in `environ` (default: this process's), to scan outputs for."""
    environ = os.environ if environ is None else environ
    return [environ[name] for name in API_KEY_ENV_VARS if environ.get(name)]


def _machine_paths() -> list[tuple[str, str]]:
    """This machine's absolute paths and their placeholders, longest first (so nested ones win)."""
    paths = {
        str(REPO_ROOT): "<repo>",
        sys.prefix: "<venv>",
        sys.base_prefix: "<python>",
        str(Path.home()): "<home>",
        tempfile.gettempdir(): "<tmp>",
    }
    resolved = {str(Path(path).resolve()): label for path, label in paths.items()}
    merged = {**resolved, **paths}
    return sorted(
        ((path, label) for path, label in merged.items() if len(path) > 1), key=lambda p: -len(p[0])
    )


def scrub_text(text: str) -> str:
    for path, label in _machine_paths():
        text = text.replace(path, label)
    text = _LOOPBACK_PORT.sub(r"\1:<port>", text)
    return _ADDRESS.sub("at 0x...", text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [_scrub_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    return value


def scrub(notebook: Any) -> Any:
    """Scrub every output of `notebook` (an nbformat `NotebookNode`) in place; returns it."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for field in ("text", "data", "traceback", "evalue"):
                if field in output:
                    output[field] = _scrub_value(output[field])
        cell.get("metadata", {}).pop("execution", None)  # timestamps: noise in every diff
    return notebook


def read(path: Path) -> Any:
    nbformat = importlib.import_module("nbformat")
    return nbformat.read(str(path), as_version=4)


def write(notebook: Any, path: Path) -> None:
    nbformat = importlib.import_module("nbformat")
    nbformat.write(notebook, str(path))


def execute(path: Path, *, timeout: int = DEFAULT_TIMEOUT) -> Any:
    """Run every cell of the notebook at `path` in a fresh kernel, keyless, from the notebook's folder.

    Raises nbclient's `CellExecutionError` (naming the cell and the error) on the first failing cell.
    Returns the executed notebook, scrubbed; the file itself is not touched.
    """
    nbclient = importlib.import_module("nbclient")
    notebook = read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=keyless_environment())
    return scrub(notebook)


def output_texts(notebook: Any) -> Iterator[tuple[int, str]]:
    """(cell index, text) for every textual output: streams, rich data, error tracebacks."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            pieces: list[Any] = [output.get("text", ""), output.get("evalue", "")]
            pieces.extend(output.get("traceback", []))
            pieces.extend(output.get("data", {}).values())
            for piece in pieces:
                text = "".join(piece) if isinstance(piece, list) else piece
                if isinstance(text, str) and text:
                    yield index, text


def problems(notebook: Any, secrets: Iterable[str] = ()) -> list[str]:
    """Why `notebook` must not be committed as is; empty when its outputs are clean and complete."""
    secrets = list(secrets)
    found: list[str] = []
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code_cells]
    if counts != list(range(1, len(code_cells) + 1)):
        found.append(f"code cells were not all executed once, in order: execution counts {counts}")
    machine_paths = [path for path, _ in _machine_paths()]  # resolved once, not per output
    for index, text in output_texts(notebook):
        found.extend(f"cell {index}: {finding}" for finding in find_key_like(text, secrets))
        if _ABSOLUTE_PATH.search(text) or any(path in text for path in machine_paths):
            found.append(f"cell {index}: output contains an absolute path of the machine that ran it")
    for index, cell in enumerate(notebook.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            found.append(f"cell {index}: has an error output")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Execute each notebook given (default: all of `notebooks/`) and write it back with scrubbed outputs."""
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    paths = paths or sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        notebook = execute(path)
        issues = problems(notebook, environment_secrets())
        if issues:
            print(f"{path}: not written: {'; '.join(issues)}", file=sys.stderr)
            return 1
        write(notebook, path)
        print(f"{path}: executed and written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
