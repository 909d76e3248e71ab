"""The experiment report: Table 1 rows collated from the evaluate stages, as JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import artifacts
from pipeline.artifacts import COLUMNS, ROW_NAMES, model_name
from pipeline.errors import DataError
from pipeline.files import atomic_file
from pipeline.params import Params

FIGURES = {  # linked from reports/report.md, beside them
    "demo field / raw data": artifacts.DEMO_FIELD_GRID,
    "copy-paste training pairs": artifacts.COPY_PASTE_GRID,
    "pseudo-labelled frames": artifacts.PSEUDO_LABEL_GRID,
    "prepared crops": artifacts.PREPARE_GRID,
    "generator samples beside training crops": artifacts.GEN_SAMPLES,
    "generated pairs (Fig. 4)": artifacts.GENERATED_PAIRS,
    "upsampling beside super-resolution (Fig. 5)": artifacts.SR_COMPARE,
}


def read_rows(rows: dict[str, tuple[str, ...]], live_root: Path = artifacts.LIVE) -> dict:
    """{row: {column: {dice, iou}}} from each model's dvclive/evaluate_<model>/metrics.json."""
    table = {}
    for row, columns in rows.items():
        table[row] = {}
        for column in columns:
            path = artifacts.evaluation(model_name(row, column), live_root) / "metrics.json"
            if not path.is_file():
                raise DataError(f"metrics of {row} / {column} not found: {path}")
            metrics = json.loads(path.read_text())
            missing = [k for k in ("dice", "iou") if k not in metrics]
            if missing:
                raise DataError(f"{path} lacks {', '.join(missing)}")
            table[row][column] = {k: metrics[k] for k in ("dice", "iou")}
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
    names = {**ROW_NAMES, "synthset": f"SynthSet ({g.arch})"}
    scale = params.prepare.sr_size / params.prepare.crop
    for row, columns in table.items():
        cells = [
            f"{columns[c][k]:.3f}" if c in columns else "—"
            for c in COLUMNS
            for k in ("dice", "iou")
        ]
        lines.append(f"| {names.get(row, row)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Every U-Net row sees the test quadrants at {scale:g} of frame scale, like the "
        "generated pairs. Copy-Paste: the same U-Net trained on as many copy-paste pairs as there "
        "are generated ones. Reference rows: the U-Net trained on the pseudo-labelled crops the "
        "generator learned from (what the generator adds over its own training data), on those "
        "crops and the generated pairs together (what generated pairs add to them), and from "
        "scratch on the GWHD fine-tune set alone with the fine-tune budget (the bar that "
        "synthetic pre-training must clear). The teacher rows are the models that made the "
        "generator's training labels, at frame scale: the labeler trained on copy-paste frames, "
        "and the pseudo-labeler after its self-training rounds on the unlabelled frames.",
    ]
    lines += ["", "## Figures", ""]
    lines += [f"- [{title}]({path.name})" for title, path in FIGURES.items()]
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
