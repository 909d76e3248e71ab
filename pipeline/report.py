"""The experiment report: Table 1 rows collated from the evaluate stages, as JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import DataError
from pipeline.io import atomic_file
from pipeline.params import Params

ROWS = ("copy_paste", "synthset")
COLUMNS = ("synthetic", "gwhd_finetune", "all_finetune")
FIGURES = {
    "demo field / raw data": "demo_field.png",
    "copy-paste training pairs": "copy_paste.png",
    "pseudo-labelled frames": "pseudo_label.png",
    "prepared crops": "prepare.png",
    "generator samples beside training crops": "gen_samples.png",
    "generated pairs (Fig. 4)": "generated_pairs.png",
    "upsampling beside super-resolution (Fig. 5)": "sr_compare.png",
}


def read_rows(rows: tuple[str, ...], live_root: Path = Path("dvclive")) -> dict:
    """{row: {column: {dice, iou}}} from each row's dvclive/evaluate_<row>/metrics.json."""
    table = {}
    for row in rows:
        path = live_root / f"evaluate_{row}" / "metrics.json"
        if not path.is_file():
            raise DataError(f"metrics of row {row!r} not found: {path}")
        metrics = json.loads(path.read_text())
        missing = [c for c in COLUMNS if c not in metrics]
        if missing:
            raise DataError(f"{path} lacks the column(s) {', '.join(missing)}")
        table[row] = {c: {k: metrics[c][k] for k in ("dice", "iou")} for c in COLUMNS}
    return table


def table1_markdown(table: dict, params: Params) -> str:
    """The rows as a markdown table with the generator that made the synthset row."""
    g, gen = params.gen, params.generate
    lines = [
        "# SynthSet report",
        "",
        f"Generator: `{g.arch}` with `{g.skip}` skips, discriminator {g.discriminator}, weights "
        f"`{params.select_gen.weights}`; {gen.n} generated pairs ({gen.sampler} "
        f"{gen.steps} steps, SR {gen.sr_sampler} {gen.sr_steps} steps); "
        f"segmentation encoder `{params.train_seg.encoder}`. Dice and IoU pooled over the pixels "
        f"of the GWHD test quadrants at {params.prepare.sr_size} px.",
        "",
        "| row | synthetic Dice | synthetic IoU | + GWHD Dice | + GWHD IoU | + all Dice "
        "| + all IoU |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"copy_paste": "Copy-Paste (labeler)", "synthset": f"SynthSet ({g.arch})"}
    for row, columns in table.items():
        cells = [f"{columns[c][k]:.3f}" for c in COLUMNS for k in ("dice", "iou")]
        lines.append(f"| {names.get(row, row)} | " + " | ".join(cells) + " |")
    lines += ["", "## Figures", ""]
    lines += [f"- [{title}]({name})" for title, name in FIGURES.items()]
    lines += [
        "",
        "Curves and per-domain Dice: `dvc plots show` (or `dvc plots diff` against another "
        "experiment).",
        "",
    ]
    return "\n".join(lines)


def write_report(path: Path, text: str) -> None:
    """Write a report file atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)
