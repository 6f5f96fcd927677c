"""Every ```python block of README.md runs as pasted, against the session's local server.

Each block is executed in a fresh interpreter (`sys.executable`) from an empty temporary directory, with
`GRADIENT_INFERENCE_ENDPOINT` pointing at the local server and every access-key variable removed, so a block
can reach nothing but loopback and needs no key. A block that starts its own `LocalServer` is fine too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devtools.notebooks import keyless_environment

if TYPE_CHECKING:
    from gradient_integrations.local import LocalServer

README = Path(__file__).resolve().parents[2] / "README.md"
MAX_README_LINES = 250
BLOCK_TIMEOUT = 100.0  # seconds; pytest's own timeout is 120 s per test

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")


def python_blocks(path: Path = README) -> list[tuple[int, str]]:
    """(line number of the opening fence, code) for every fenced block whose info string is `python`."""
    blocks: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    opening: re.Match[str] | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        match = _FENCE.match(line)
        if opening is None:
            if match:
                opening, start, body = match, number, []
            continue
        fence = opening["fence"]
        closing = match["fence"] if match and not match["info"] else ""  # a bare fence of the same kind
        if closing[:1] == fence[0] and len(closing) >= len(fence):
            if opening["info"].lower() in ("python", "py"):
                blocks.append((start, "\n".join(body) + "\n"))
            opening = None
            continue
        body.append(line)
    assert opening is None, f"{path.name}:L{start}: a fenced block is never closed"
    return blocks


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks() -> None:
    assert BLOCKS, "README.md has no ```python block: the parser or the README is broken"


def test_the_readme_stays_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines (at most {MAX_README_LINES}): move detail into docs/ and link it"
    )


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:L{line}" for line, _ in BLOCKS])
def test_readme_python_block_runs_as_pasted(
    line: int, code: str, local_server: LocalServer, tmp_path: Path
) -> None:
    env = keyless_environment()
    env["GRADIENT_INFERENCE_ENDPOINT"] = local_server.base_url
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    script = tmp_path / f"readme_L{line}.py"
    script.write_text(code, encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, script.name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"README.md:L{line}: the block ran longer than {BLOCK_TIMEOUT:g} s\n{stderr or ''}")
    assert done.returncode == 0, (
        f"README.md:L{line}: the block exited with {done.returncode}\n"
        f"--- stderr ---\n{done.stderr}\n--- stdout ---\n{done.stdout}"
    )
