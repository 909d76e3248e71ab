"""A study's figures: Dice per row with its seed spread, and one sample grid per variant."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from pipeline.io import atomic_file


def dice_bars(path: Path, numbers: dict) -> None:
    """Grouped bars of every Dice column: mean over seeds, ± std, each seed as a dot; the paper's
    value, where transcribed, as a black diamond."""
    columns = [c for c in numbers["columns"] if c.endswith("Dice")]
    table = numbers["rows"]
    width = 0.8 / len(table)
    fig = Figure(figsize=(3.6 + 2.2 * len(columns), 4.2), layout="constrained")
    ax = fig.subplots()
    for i, row in enumerate(table):
        x = np.arange(len(columns)) + (i - (len(table) - 1) / 2) * width
        cells = [row["cells"].get(c) for c in columns]
        means = [c["mean"] if c else np.nan for c in cells]
        stds = [c["std"] if c else 0 for c in cells]
        bars = ax.bar(x, means, width, yerr=stds, capsize=2, label=row["label"])
        for xi, cell in zip(x, cells, strict=True):
            if cell:
                ax.plot([xi] * cell["n"], cell["values"], ".", color="k", ms=3)
        paper = [row["paper"].get(c, {}).get("value") for c in columns]
        for xi, value in zip(x, paper, strict=True):
            if value is not None:
                ax.plot(xi, float(value), "D", color="k", ms=5)
        bars.set_label(row["label"])
    ax.set_xticks(np.arange(len(columns)), columns)
    ax.set_ylabel("Dice (GWHD test quadrants)")
    ax.set_title(f"{numbers['study']}: mean ± std over seeds {numbers['seeds']} (dots: seeds)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def stacked(path: Path, pictures: list[tuple[str, bytes]]) -> None:
    """The variants' own PNGs (e.g. reports/generated_pairs.png) one above the other, titled."""
    images = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for _, data in pictures]
    height = sum(i.shape[0] for i in images) / 100 + 0.4 * len(images)
    width = max(i.shape[1] for i in images) / 100
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(len(images), 1, squeeze=False)[:, 0]
    for ax, (title, _), image in zip(axes, pictures, images, strict=True):
        ax.imshow(image)
        ax.set_title(title, fontsize=11, loc="left")
        ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    picture = Image.open(buffer).convert("RGB").quantize(colors=256)  # a fifth of the bytes
    with atomic_file(path) as tmp:
        picture.save(tmp, format="PNG", optimize=True)
