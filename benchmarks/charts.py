"""PNG charts of the side-by-side ratios in results.json, one per section, embedded in RESULTS.md.

    python -m benchmarks.charts                            # benchmarks/results.json -> benchmarks/charts/
    python -m benchmarks.charts --results PATH --out DIR   # PATH -> DIR/charts/
    python -m benchmarks.charts --markdown                 # ... and re-render RESULTS.md next to them

`python -m benchmarks.run` calls `render_charts` itself whenever it writes RESULTS.md; this entry point
redraws the charts (and, with `--markdown`, RESULTS.md) from an existing results.json without rerunning
any benchmark.

Data-driven: nothing here knows a benchmark by name. A column is a ratio when its key says so (`vs_*`,
`*ratio`, `*_vs_*`, `x_*`) or its header starts with "x "; a section gets a chart when some ratio column
has figures for two or more contenders. The chart has one panel per ratio column, one horizontal bar per
contender (in the table's order), on a log scale that starts at 1.0: every ratio in these tables is a
cost (time, CPU or memory) over a baseline's, so a bar left of the line costs less than the baseline and
one right of it costs more. The baselines are the rows whose figure is exactly 1 (one per group of rows);
a column with no such row is relative to something outside the table (e.g. the answer size), named by its
header. Our contenders (`ours: ...`, `gradient_integrations...`) are drawn in blue and the others in
grey; a section none of whose rows is tagged compares our own variants only, so all of them are ours.

matplotlib is imported only inside `render_charts` (Agg backend, no display), so `import benchmarks.run`
and `python -m benchmarks.run --smoke` do not pay for it. Output is deterministic: the same results give
byte-identical PNGs (bundled DejaVu fonts, no "Software" metadata, fixed hash salt).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHARTS_DIR = "charts"  # next to RESULTS.md; the Markdown links are relative to it
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results.json"
DPI = 100
OURS = "#0069ff"  # DigitalOcean blue
BASELINE = "#3b3b3b"
PEER = "#a9a9a9"
_RATIO_KEY = re.compile(r"^(vs_.+|.*ratio|.+_vs_.+|x_.+)$")
_EXPLANATION = (
    "Each bar: the contender's figure divided by the baseline's (log scale). "
    "Left of the 1.0 line costs less than the baseline, right of it costs more."
)
_LABEL_WIDTH = 46  # characters per line of a contender's name on the y axis


@dataclass(frozen=True)
class Panel:
    """One ratio column of a section: header, baseline rows (those reading 1) and each row's figure."""

    key: str
    header: str
    baselines: tuple[str, ...]  # none when relative to something outside the table; several for groups
    values: dict[str, float]  # contender -> ratio, only the rows that have a drawable figure
    off_scale: dict[str, float]  # contender -> a figure a log scale cannot show (0, infinity)


@dataclass(frozen=True)
class Chart:
    """One section's chart: the file it is written to and what it shows."""

    section: str
    title: str
    filename: str
    contenders: list[str]  # every contender with a figure in at least one panel, in the table's order
    ours: frozenset[str]
    panels: list[Panel]


# -- what to draw (no matplotlib) ----------------------------------------------------------------------
def is_ratio(column: dict[str, Any]) -> bool:
    return bool(_RATIO_KEY.match(column["key"])) or column["header"].startswith("x ")


def _drawable(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _tagged_ours(contender: str) -> bool:
    return contender.lower().startswith("ours") or "gradient_integrations" in contender


def _filename(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".png"


def plan(results: dict[str, Any]) -> list[Chart]:
    """The charts `render_charts` would write for these results, in section order (cheap: no drawing)."""
    charts = []
    for section in results["sections"]:
        panels = []
        for column in section["columns"]:
            if not is_ratio(column):
                continue
            values = {
                row["contender"]: float(row["values"][column["key"]])
                for row in section["rows"]
                if _drawable(row["values"].get(column["key"]))
            }
            if len(values) < 2:
                continue
            off_scale = {
                row["contender"]: float(row["values"][column["key"]])
                for row in section["rows"]
                if row["contender"] not in values and column["key"] in row["values"]
            }
            baselines = tuple(name for name, value in values.items() if value == 1.0)
            panels.append(Panel(column["key"], column["header"], baselines, values, off_scale))
        if not panels:
            continue
        contenders = [
            row["contender"] for row in section["rows"] if any(row["contender"] in p.values for p in panels)
        ]
        tagged = {name for name in contenders if _tagged_ours(name)}
        charts.append(
            Chart(
                section=section["key"],
                title=section["title"],
                filename=_filename(section["key"]),
                contenders=contenders,
                ours=frozenset(tagged or contenders),
                panels=panels,
            )
        )
    return charts


def chart_files(results: dict[str, Any]) -> dict[str, str]:
    """Section key -> chart file name (relative to the charts directory), for RESULTS.md's links."""
    return {chart.section: chart.filename for chart in plan(results)}


# -- drawing -------------------------------------------------------------------------------------------
def _label(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def _ticks(low: float, high: float) -> list[float]:
    """Readable ticks within [low, high] on a log axis: 1-2-5 steps, finer when the range is narrow."""
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.1, 1.2, 1.3, 1.4, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = sorted(
            {
                round(mantissa * 10.0**exponent, 6)
                for exponent in range(-4, 6)
                for mantissa in mantissas
                if low <= mantissa * 10.0**exponent <= high
            }
        )
        if len(ticks) >= 3:
            if len(ticks) > 9:  # every other one, keeping 1x
                one = ticks.index(1.0) if 1.0 in ticks else 0
                ticks = [tick for index, tick in enumerate(ticks) if (index - one) % 2 == 0]
            return ticks
    return [1.0]


def _tick_text(value: float, _position: object = None) -> str:
    return f"{value:g}x"


def _draw(chart: Chart, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    labels = [textwrap.fill(name, _LABEL_WIDTH) for name in chart.contenders]
    lines = sum(label.count("\n") + 1 for label in labels)
    height = 1.9 + 0.3 * len(labels) + 0.16 * lines
    width = 4.1 + 3.9 * len(chart.panels)
    style = {
        "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs on every machine
        "font.size": 9,
        "svg.hashsalt": "benchmarks",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(style):
        figure, axes = pyplot.subplots(
            1, len(chart.panels), figsize=(width, height), sharey=True, squeeze=False, layout="constrained"
        )
        try:
            for axis, panel in zip(axes[0], chart.panels, strict=True):
                _panel(axis, chart, panel)
            axes[0][0].set_yticks(range(len(labels)), labels)
            axes[0][0].set_ylim(len(labels) - 0.4, -0.6)  # the table's order, top to bottom
            figure.suptitle(textwrap.fill(chart.title, int(width * 9)), fontsize=12, fontweight="bold")
            handles = [Patch(color=OURS, label="ours (gradient-integrations)")]
            if any(
                name not in chart.ours and name not in panel.baselines
                for panel in chart.panels
                for name in panel.values
            ):
                handles.append(Patch(color=PEER, label="peers and floors"))
            if any(panel.baselines for panel in chart.panels):
                handles.append(Patch(color=BASELINE, label="baseline (1.0)"))
            legend = figure.legend(
                handles=handles,
                loc="outside lower center",
                ncols=len(handles),
                frameon=False,
                title=textwrap.fill(_EXPLANATION, int(width * 15)),
                title_fontsize=8.5,
            )
            legend.get_title().set_color("#555555")
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
        finally:
            pyplot.close(figure)


def _panel(axis: Any, chart: Chart, panel: Panel) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    values = list(panel.values.values())
    low, high = min([*values, 1.0]), max([*values, 1.0])
    decades = max(math.log10(high / low), 0.4)
    pad = 10 ** (0.24 * decades)
    axis.set_xscale("log")
    axis.set_xlim(low / pad, high * pad)
    for index, name in enumerate(chart.contenders):
        value = panel.values.get(name)
        if value is None:
            off = panel.off_scale.get(name)
            axis.annotate(
                "no figure" if off is None else f"{off:g}x (off the log scale)",
                (1.0, index),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="#777777",
            )
            continue
        baseline = name in panel.baselines
        color = BASELINE if baseline else OURS if name in chart.ours else PEER
        axis.barh(index, abs(value - 1.0), left=min(value, 1.0), height=0.62, color=color)
        if baseline:
            axis.plot([1.0], [index], marker="D", markersize=6, color=BASELINE)
        right = value >= 1.0
        axis.annotate(
            _label(value) + (" (baseline)" if baseline else ""),
            (value, index),
            xytext=(4 if right else -4, 0),
            textcoords="offset points",
            ha="left" if right else "right",
            va="center",
            fontsize=8,
            fontweight="bold" if name in chart.ours else "normal",
        )
    axis.axvline(1.0, color=BASELINE, linewidth=1, linestyle="--", zorder=0)
    axis.xaxis.set_major_locator(FixedLocator(_ticks(low / pad, high * pad)))
    axis.xaxis.set_major_formatter(FuncFormatter(_tick_text))
    axis.xaxis.set_minor_locator(NullLocator())
    axis.grid(axis="x", color="#e4e4e4", linewidth=0.6, zorder=0)
    axis.set_axisbelow(True)
    axis.tick_params(axis="y", length=0)
    title = panel.header
    if len(panel.baselines) == 1:
        title += f"\n1.0 = {textwrap.shorten(panel.baselines[0], 60)}"
    elif panel.baselines:
        title += "\n1.0 = the baseline of each group (diamonds)"
    axis.set_title(title, fontsize=9)


def render_charts(results: dict[str, Any], directory: Path) -> list[Path]:
    """Write one PNG per chart in `plan(results)` into `directory`; return their paths.

    Any other `*.png` in `directory` is removed, so the directory holds exactly the charts that the
    RESULTS.md rendered from the same results links to (a section that went away takes its chart along).
    """
    charts = plan(results)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / chart.filename for chart in charts]
    for stale in sorted(set(directory.glob("*.png")) - set(written)):
        stale.unlink()
    for chart, path in zip(charts, written, strict=True):
        _draw(chart, path)
    return written


def main(argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.charts", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results.json to chart")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"write DIR/{CHARTS_DIR}/ (default: next to --results)"
    )
    parser.add_argument("--markdown", action="store_true", help="also re-render RESULTS.md in that directory")
    args = parser.parse_args(argv)
    out: Path = args.out if args.out is not None else args.results.parent
    results = json.loads(args.results.read_text())
    written = render_charts(results, out / CHARTS_DIR)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    if args.markdown:
        from .run import render_markdown

        (out / "RESULTS.md").write_text(render_markdown(results))
        print(f"wrote {out / 'RESULTS.md'}")
    return written


if __name__ == "__main__":
    main()
