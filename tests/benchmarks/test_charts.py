"""`benchmarks/charts.py`: the PNG charts of the side-by-side ratios, and their links in RESULTS.md.

What is asserted: every chart the plan names is written as a real PNG of sensible size, RESULTS.md links
exactly the charts that were written (each under its own section's table), the same results give the
same bytes (so an unchanged rerun leaves the committed PNGs alone), stale charts are removed, and
`import benchmarks.run` stays free of matplotlib. The committed RESULTS.md must be what results.json
renders to, and every chart it links must be committed. Drawing takes seconds, so those tests are `slow`.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import charts, run

RESULTS = run.DEFAULT_OUT / "results.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LINK = re.compile(r"^!\[[^\]]+\]\((charts/[^)]+)\)$", re.MULTILINE)


def column(key: str, header: str, digits: int = 2) -> dict[str, Any]:
    return {"key": key, "header": header, "digits": digits}


def section(key: str, columns: list[dict[str, Any]], rows: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Synthetic {key}",
        "method": "made up for the test",
        "columns": columns,
        "rows": [{"contender": name, "values": values, "note": ""} for name, values in rows.items()],
        "targets": [],
        "notes": [],
    }


# Edge cases the committed results do not have: a ratio with no figure, zero or infinity for some rows,
# a column relative to something outside the table, a one-row table, a table with no ratio at all.
EDGES = [
    section(
        "edge_ratios",
        [
            column("ms", "time (ms)"),
            column("vs_base", "x base"),
            column("x_size", "x size"),
            column("growth", "g"),
        ],
        {
            "base": {"ms": 2.0, "vs_base": 1.0, "x_size": 0.5, "growth": 1.0},
            "ours: fast": {"ms": 1.0, "vs_base": 0.5, "x_size": 0.25},
            "peer: slow, with a name long enough to be wrapped over two lines on the axis": {
                "ms": 200.0,
                "vs_base": 100.0,
                "x_size": float("inf"),
            },
            "peer: no ratio": {"ms": 3.0, "vs_base": 0.0},
        },
    ),
    section("edge_variants", [column("ratio", "x raw")], {"sync": {"ratio": 1.1}, "async": {"ratio": 1.2}}),
    section("edge_single", [column("vs_raw", "x raw")], {"only": {"vs_raw": 1.0}}),
    section("edge_no_ratio", [column("per_s", "per second")], {"a": {"per_s": 1.0}, "b": {"per_s": 2.0}}),
]


def committed() -> dict[str, Any]:
    results: dict[str, Any] = json.loads(RESULTS.read_text())
    return results


def sample() -> dict[str, Any]:
    results = committed()
    results["sections"] = [*results["sections"], *copy.deepcopy(EDGES)]
    return results


def small() -> dict[str, Any]:
    """Two committed sections and the edges: enough for what does not need every chart drawn."""
    results = sample()
    results["sections"] = [*results["sections"][:2], *results["sections"][-len(EDGES) :]]
    return results


def links(markdown: str) -> list[str]:
    return LINK.findall(markdown)


# -- the plan: cheap, no drawing -----------------------------------------------------------------------
def test_plan_charts_sections_with_side_by_side_ratios_only() -> None:
    planned = {chart.section: chart for chart in charts.plan({"sections": EDGES})}

    assert list(planned) == ["edge_ratios", "edge_variants"]
    edge = planned["edge_ratios"]
    assert edge.filename == "edge_ratios.png"
    assert [panel.key for panel in edge.panels] == ["vs_base", "x_size"]  # "growth" is not a ratio column
    by_key = {panel.key: panel for panel in edge.panels}
    assert by_key["vs_base"].baselines == ("base",)  # the row reading exactly 1
    assert by_key["x_size"].baselines == ()  # relative to something outside the table
    assert "peer: no ratio" not in by_key["vs_base"].values  # zero cannot go on a log scale
    assert len(by_key["x_size"].values) == 2  # nor can infinity
    assert by_key["x_size"].off_scale == {
        "peer: slow, with a name long enough to be wrapped over two lines on the axis": float("inf")
    }
    assert "peer: no ratio" not in edge.contenders
    assert edge.ours == {"ours: fast"}
    # No row says "ours": the section compares our own variants (e.g. the core's sync and async paths).
    assert planned["edge_variants"].ours == {"sync", "async"}


def test_committed_results_md_is_rendered_from_results_json_with_every_chart_committed() -> None:
    results = committed()
    markdown = (run.DEFAULT_OUT / "RESULTS.md").read_text()

    assert markdown == run.render_markdown(results), "rerun `python -m benchmarks.charts --markdown`"
    linked = links(markdown)
    assert linked == [f"{charts.CHARTS_DIR}/{chart.filename}" for chart in charts.plan(results)]
    committed_pngs = {
        f"{charts.CHARTS_DIR}/{path.name}" for path in (run.DEFAULT_OUT / "charts").glob("*.png")
    }
    assert committed_pngs == set(linked)


def test_importing_the_runner_does_not_import_matplotlib() -> None:
    code = "import sys, benchmarks.run; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], cwd=run.DEFAULT_OUT.parent, check=True)


# -- drawing -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_charts_are_valid_pngs_each_linked_under_its_section(tmp_path: Path) -> None:
    from matplotlib import image

    results = sample()
    run.write(results, tmp_path)
    markdown = (tmp_path / "RESULTS.md").read_text()

    written = sorted((tmp_path / charts.CHARTS_DIR).iterdir())
    assert [path.name for path in written] == sorted(chart.filename for chart in charts.plan(results))
    assert len(written) >= 8  # seven from the committed results, one or more from the edges
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC), path
        assert 10_000 < len(data) < 150_000, (path.name, len(data))
        height, width, _channels = image.imread(path).shape
        assert 250 <= height <= 2_000 and 600 <= width <= 2_000, (path.name, width, height)
    # Every written chart is linked, every link has its file, and each sits in its own section.
    assert sorted(links(markdown)) == sorted(f"{charts.CHARTS_DIR}/{path.name}" for path in written)
    keys = {entry["title"]: entry["key"] for entry in results["sections"]}
    files = charts.chart_files(results)
    for chunk in markdown.split("\n## ")[1:]:  # "Targets", then one chunk per section
        title = chunk.splitlines()[0]
        chart = files.get(keys.get(title, ""))
        assert links(chunk) == ([f"{charts.CHARTS_DIR}/{chart}"] if chart else []), title


@pytest.mark.slow
def test_same_results_give_identical_bytes_and_stale_charts_go(tmp_path: Path) -> None:
    results = small()
    first = charts.render_charts(results, tmp_path / "first")
    (tmp_path / "first" / "gone.png").write_bytes(PNG_MAGIC)  # a section that no longer exists
    (tmp_path / "first" / "keep.txt").write_text("not a chart")
    again = charts.render_charts(results, tmp_path / "first")
    second = charts.render_charts(results, tmp_path / "second")

    assert [path.name for path in first] == [path.name for path in again] == [path.name for path in second]
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name
    assert not (tmp_path / "first" / "gone.png").exists()
    assert (tmp_path / "first" / "keep.txt").exists()


@pytest.mark.slow
def test_cli_redraws_charts_and_markdown_from_an_existing_results_json(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(small()))

    written = charts.main(["--results", str(tmp_path / "results.json"), "--markdown"])

    assert {path.parent for path in written} == {tmp_path / charts.CHARTS_DIR}
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert markdown == run.render_markdown(small())
    assert sorted(links(markdown)) == sorted(f"{charts.CHARTS_DIR}/{path.name}" for path in written)


@pytest.mark.slow
def test_smoke_run_writes_charts_only_where_told(tmp_path: Path) -> None:
    committed_charts = run.DEFAULT_OUT / charts.CHARTS_DIR
    before = {path.name: path.stat().st_mtime_ns for path in committed_charts.glob("*.png")}

    run.main(["--smoke", "--only", "core_overhead"])
    assert {path.name: path.stat().st_mtime_ns for path in committed_charts.glob("*.png")} == before

    run.main(["--smoke", "--only", "core_overhead", "--out", str(tmp_path)])
    assert [path.name for path in (tmp_path / charts.CHARTS_DIR).iterdir()] == ["core_overhead.png"]
    assert links((tmp_path / "RESULTS.md").read_text()) == [f"{charts.CHARTS_DIR}/core_overhead.png"]
