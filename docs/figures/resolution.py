"""The README's size figure: one Dice column of several Table 1 reports, row by row.

    python docs/figures/resolution.py OUT.png "LABEL=reports/field/table1.json" [...]

Each LABEL=REPORT is a report written by `python -m pipeline.study table1` (e.g. the field runs
at two generator sizes); the rows every report holds are drawn as grouped bars, mean ± std over
that report's seeds, each seed a dot. Run it from the repository root with `PYTHONPATH=.`.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.figures import save_figure
from pipeline.study.figures import plain, seed_dots


def resolution_figure(reports: list[tuple[str, dict]], column: str) -> Figure:
    """Bars of `column` for the rows all `reports` share, one colour per report."""
    shared = [
        r["label"]
        for r in reports[0][1]["rows"]
        if column in r["cells"]
        and all(
            any(s["label"] == r["label"] and column in s["cells"] for s in n["rows"])
            for _, n in reports
        )
    ]
    width = 0.8 / len(reports)
    fig = Figure(figsize=(2.0 + 1.6 * len(shared), 4.0), layout="constrained")
    ax = fig.subplots()
    for i, (label, numbers) in enumerate(reports):
        cells = [
            next(r["cells"][column] for r in numbers["rows"] if r["label"] == s) for s in shared
        ]
        x = np.arange(len(shared)) + (i - (len(reports) - 1) / 2) * width
        seeds = numbers["seeds"]
        ax.bar(
            x,
            [c["mean"] for c in cells],
            width,
            yerr=[c["std"] for c in cells],
            capsize=2,
            alpha=0.85,
            label=f"{label} ({len(seeds)} seeds)",
            error_kw={"elinewidth": 0.8, "ecolor": "0.3"},
        )
        for xi, cell in zip(x, cells, strict=True):
            seed_dots(ax, xi, cell, width)
    ax.set_xticks(np.arange(len(shared)), [textwrap.fill(plain(s), 18) for s in shared], fontsize=8)
    ax.set_ylim(0, 1.2 * ax.get_ylim()[1])
    ax.set_ylabel(f"{column} on the real test photos")
    ax.set_title(f"{column} by row at each size: mean ± std, dots: each seed", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", ncols=len(reports))
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("reports", nargs="+", help="LABEL=REPORT.json")
    parser.add_argument("--column", default="synthetic Dice")
    args = parser.parse_args()
    reports = []
    for entry in args.reports:
        label, path = entry.split("=", 1)
        reports.append((label, json.loads(Path(path).read_text())))
    save_figure(resolution_figure(reports, args.column), args.out)


if __name__ == "__main__":
    main()
