"""The quickstart notebooks run top to bottom, and what is committed of them is clean and complete.

Each notebook is executed with nbclient in a fresh kernel with no access key in its environment (so on
the in-process local server): any cell error fails the test, naming the cell. The committed files are
checked as stored: every code cell executed once, in order, without an error output, and no output holds
a key-like string or an absolute path of the machine that ran it. Refresh the committed outputs with
`python -m devtools.notebooks` (docs/notebooks.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Scanned for besides `sk-do-` and `Bearer <token>`: any key this environment has.
SECRETS = notebooks.environment_secrets()

each_notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)


def test_both_quickstarts_exist() -> None:
    names = {path.name for path in NOTEBOOKS}

    assert {"langchain_quickstart.ipynb", "llama_index_quickstart.ipynb"} <= names


@each_notebook
def test_committed_notebook_is_executed_and_clean(path: Path) -> None:
    committed = notebooks.read(path)

    assert notebooks.problems(committed, SECRETS) == []
    outputs = [text for _, text in notebooks.output_texts(committed)]
    assert outputs, "the notebook was committed without outputs"


@pytest.mark.slow
@each_notebook
@pytest.mark.timeout(180)
def test_notebook_runs_without_errors(path: Path) -> None:
    committed = notebooks.read(path)

    executed = notebooks.execute(path)  # raises CellExecutionError on the first failing cell

    assert notebooks.problems(executed, SECRETS) == []
    # Outputs come from the same cells as the committed ones: a cell that went quiet (or a committed
    # notebook whose cells were edited without re-running it) shows up here.
    produced = {index for index, _ in notebooks.output_texts(executed)}
    assert produced == {index for index, _ in notebooks.output_texts(committed)}


def test_problems_and_scrub_catch_what_must_not_be_committed() -> None:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    repo_path = f"{notebooks.REPO_ROOT}/gradient_integrations/core/client.py"
    leaky = new_notebook(
        cells=[
            new_code_cell("a", execution_count=1, outputs=[new_output("stream", text=f"at {repo_path}\n")]),
            new_code_cell("b", execution_count=3, outputs=[new_output("stream", text="key sk-do-abc123\n")]),
            new_code_cell("c", execution_count=None, outputs=[new_output("error", ename="E", evalue="boom")]),
        ]
    )

    found = notebooks.problems(leaky)

    assert any("execution counts [1, 3, None]" in problem for problem in found)
    assert any(problem.startswith("cell 0: output contains an absolute path") for problem in found)
    assert any(problem.startswith("cell 1: line 1: matches") for problem in found)
    assert "cell 2: has an error output" in found
    notebooks.scrub(leaky)
    assert leaky.cells[0].outputs[0].text == "at <repo>/gradient_integrations/core/client.py\n"
    assert notebooks.scrub_text("http://127.0.0.1:54321/v1 <obj at 0x7f3a2b>") == (
        "http://127.0.0.1:<port>/v1 <obj at 0x...>"
    )


def test_problems_finds_this_machines_paths_under_any_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    # A checkout under a root the generic pattern does not list, e.g. a CI runner's /check/...
    monkeypatch.setattr(notebooks, "REPO_ROOT", Path("/check/work/main"))
    leaky = new_notebook(
        cells=[
            new_code_cell(
                "a",
                execution_count=1,
                outputs=[new_output("stream", text="at /check/work/main/gradient_integrations/demo.py\n")],
            )
        ]
    )

    assert notebooks.problems(leaky) == [
        "cell 0: output contains an absolute path of the machine that ran it"
    ]
    notebooks.scrub(leaky)
    assert leaky.cells[0].outputs[0].text == "at <repo>/gradient_integrations/demo.py\n"
    assert notebooks.problems(leaky) == []
