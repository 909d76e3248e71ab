"""A study's experiments collated: mean and spread over seeds per row and column, with the paper's
published numbers beside ours where they have been transcribed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import ttest_1samp

from pipeline.study.experiments import Result, param
from pipeline.study.grids import BEYOND_PAPER, Study, Variant

PAPER_NUMBERS = Path(__file__).with_name("paper.yaml")


@dataclass(frozen=True)
class Row:
    """A row of a study's table: a label, the variant whose experiments feed it, a Table 1 row."""

    label: str
    variant: Variant
    table_row: str


def experiment_name(variant: Variant, seed: int) -> str:
    """Named by setting and seed, not by study: studies that share a setting share its runs."""
    return f"{variant.slug}-s{seed}"


def rows(study: Study, variants: tuple[Variant, ...]) -> list[Row]:
    """One SynthSet row per variant, then the reference rows, read from the first variant."""
    table = [Row(v.label, v, "synthset") for v in variants]
    return table + [Row(label, variants[0], row) for row, label in study.references]


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (ddof 1; 0 for one value), n and the values themselves."""
    a = np.asarray(values, float)
    std = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return {"mean": float(a.mean()), "std": std, "n": len(a), "values": [float(v) for v in a]}


def paper_numbers(study: str, path: Path = PAPER_NUMBERS) -> dict:
    """{row label: {column header: {value, source}}} the paper publishes for this study."""
    return (yaml.safe_load(path.read_text()) or {}).get(study) or {}


def collate(
    study: Study,
    variants: tuple[Variant, ...],
    seeds: list[int],
    found: dict[str, Result],
    paper: dict,
) -> dict:
    """The study's numbers: every cell's spread over seeds and each row's difference to the first
    row paired by seed (seeds share every upstream stage, so pairing removes their noise)."""
    table = []
    for row in rows(study, variants):
        cells = {}
        for column in study.columns:
            key = column.path(row.table_row)
            if key is None:
                continue
            values = [
                param(found[experiment_name(row.variant, s)].metrics[column.file], key)
                for s in seeds
            ]
            if any(v is None for v in values):
                continue
            cells[column.header] = spread(values)
        table.append(
            {
                "label": row.label,
                "variant": row.variant.slug,
                "row": row.table_row,
                "params": row.variant.params,
                "cells": cells,
                "paper": paper.get(row.label, {}),
            }
        )
    first = table[0]["cells"]
    for entry in table[1:]:
        entry["delta_to_first"] = {
            header: spread(
                [a - b for a, b in zip(cell["values"], first[header]["values"], strict=True)]
            )
            for header, cell in entry["cells"].items()
            if header in first
        }
    run = {row["label"] for row in table}
    return {
        "study": study.name,
        "title": study.title,
        "paper_reference": study.paper,
        "seeds": seeds,
        "columns": [c.header for c in study.columns],
        "rows": table,
        "paper_only": {label: cells for label, cells in paper.items() if label not in run},
    }


def fastest_not_worse(numbers: dict, time_header: str, alpha: float = 0.05) -> dict | None:
    """The fastest row whose every Dice column is not worse than the first row's: the paired
    difference is positive, or a one-sample t-test over seeds cannot tell it from zero at `alpha`.
    None with fewer than two seeds."""
    if len(numbers["seeds"]) < 2:
        return None
    dice = [c for c in numbers["columns"] if c.endswith("Dice")]
    candidates = [numbers["rows"][0]]
    for row in numbers["rows"][1:]:
        deltas = [row.get("delta_to_first", {}).get(c) for c in dice]
        if all(
            d is not None and (d["mean"] >= 0 or ttest_1samp(d["values"], 0.0).pvalue >= alpha)
            for d in deltas
        ):
            candidates.append(row)
    timed = [r for r in candidates if time_header in r["cells"]]
    if not timed:
        return None
    best = min(timed, key=lambda r: r["cells"][time_header]["mean"])
    return {"label": best["label"], "alpha": alpha, "not_worse": [r["label"] for r in candidates]}


def _cell(cell: dict | None) -> str:
    if cell is None:
        return "—"
    if cell["n"] == 1:
        return f"{cell['mean']:.3f}"
    return f"{cell['mean']:.3f} ± {cell['std']:.3f}"


def markdown(numbers: dict, command: str, timing: str, figures: list[str], note: str = "") -> str:
    """The study report: our table (mean ± std over seeds), paired differences, the paper's."""
    columns = numbers["columns"]
    seeds = numbers["seeds"]
    head = "| row | " + " | ".join(columns) + " |"
    rule = "|---" * (len(columns) + 1) + "|"
    lines = [
        f"# Study `{numbers['study']}`: {numbers['title']}",
        "",
        f"Paper: {numbers['paper_reference']}. Command: `{command}`. {timing}",
        "",
        *([note, ""] if note else []),
        f"Ours: mean ± standard deviation over {len(seeds)} seeds ({', '.join(map(str, seeds))};"
        " the `seed` param, which reaches every stage)."
        + (
            " Dice and IoU pooled over the pixels of the GWHD test quadrants."
            if any(c.endswith("Dice") for c in columns)
            else ""
        ),
        "",
        head,
        rule,
    ]
    for row in numbers["rows"]:
        lines.append(
            f"| {row['label']} | " + " | ".join(_cell(row["cells"].get(c)) for c in columns) + " |"
        )
    first = numbers["rows"][0]["label"]
    lines += [
        "",
        f"Difference to the first row ({first}), paired by seed, mean ± std over seeds: a"
        " difference smaller than about twice its spread is noise at this number of seeds.",
        "",
        head,
        rule,
    ]
    for row in numbers["rows"][1:]:
        deltas = row.get("delta_to_first", {})
        cells = [
            f"{deltas[c]['mean']:+.3f}" + (f" ± {deltas[c]['std']:.3f}" if len(seeds) > 1 else "")
            if c in deltas
            else "—"
            for c in columns
        ]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    if fastest := numbers.get("fastest"):
        lines += [
            "",
            f"**Fastest setting not worse than {first}: {fastest['label']}.** Not worse: every"
            " Dice column's paired difference is positive or a t-test over the seeds cannot tell"
            f" it from zero (p ≥ {fastest['alpha']}); that holds for: "
            + ", ".join(fastest["not_worse"])
            + ". With few seeds the test is weak: read it as no evidence of harm, not as proof"
            " of equality.",
        ]
    lines += ["", "## The paper's published numbers", ""]
    published = [(f"{r['label']} (paper)", r["paper"]) for r in numbers["rows"] if r["paper"]]
    published += [
        (f"{label} (paper; not in this grid)", cells)
        for label, cells in numbers["paper_only"].items()
    ]
    if published:
        lines += [
            "Labelled **paper**: the paper's own values, not measured here, at the paper's scale"
            " (a 128 px generator and 256 px super-resolver trained on about 26 k frames of its"
            " own footage, 5000 pairs, GPUs): set beside ours to show where a run stands, not as"
            " a ratio of comparable numbers.",
            "",
            head,
            rule,
        ]
        for label, paper in published:
            cells = [
                f"{paper[c]['value']} (paper, {paper[c]['source']})" if c in paper else "—"
                for c in columns
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    else:
        where = numbers["paper_reference"]
        lines.append(
            "The paper has no such study, so no numbers of it stand beside ours."
            if where == BEYOND_PAPER
            else f"The paper prints no numbers for this study ({where}: figures only), so"
            " none stand beside ours."
        )
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)
