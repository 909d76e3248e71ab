"""A study's figures: Dice per row with its seed spread, and one sample grid per variant."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from pipeline.files import atomic_file


def plain(label: str) -> str:
    """A row label as a figure prints it: no markdown backticks."""
    return label.replace("`", "")


def dice_bars(path: Path, numbers: dict) -> None:
    """Write `dice_figure` as a PNG."""
    with atomic_file(path) as tmp:
        dice_figure(numbers).savefig(tmp, format="png", dpi=110)


def dice_figure(numbers: dict) -> Figure:
    """Grouped bars of every Dice column: mean over seeds with its ± std, each seed as a dot
    spread across its bar, and the paper's value, where it prints one, as a hollow diamond."""
    columns = [c for c in numbers["columns"] if c.endswith("Dice")]
    table = numbers["rows"]
    width = 0.8 / len(table)
    fig = Figure(figsize=(3.6 + 2.2 * len(columns), 4.4), layout="constrained")
    ax = fig.subplots()
    paper_shown = False
    for i, row in enumerate(table):
        x = np.arange(len(columns)) + (i - (len(table) - 1) / 2) * width
        cells = [row["cells"].get(c) for c in columns]
        means = [c["mean"] if c else np.nan for c in cells]
        stds = [c["std"] if c else 0 for c in cells]
        ax.bar(
            x,
            means,
            width,
            yerr=stds,
            capsize=2,
            label=plain(row["label"]),
            alpha=0.85,
            error_kw={"elinewidth": 0.8, "ecolor": "0.3"},
        )
        for xi, cell in zip(x, cells, strict=True):
            if cell:
                seed_dots(ax, xi, cell, width)
        for xi, c in zip(x, columns, strict=True):
            value = row["paper"].get(c, {}).get("value")
            if value is not None:
                ax.scatter(
                    xi,
                    float(value),
                    s=40,
                    marker="D",
                    facecolors="none",
                    edgecolors="k",
                    linewidths=1.2,
                    zorder=4,
                    label=None if paper_shown else "paper (its scale)",
                )
                paper_shown = True
    ax.set_xticks(np.arange(len(columns)), columns)
    ax.set_ylabel("Dice on the GWHD test quadrants")
    seeds = numbers["seeds"]
    fig.suptitle(  # the figure's, not the axes': constrained layout keeps it whole
        f"{numbers['title']}\nDice, mean ± std over {len(seeds)} seeds (dots: each seed)",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def seed_dots(ax, x: float, cell: dict, width: float) -> None:
    """Each seed's value of a cell as a white dot, spread across its bar of `width` at `x`."""
    offsets = np.linspace(-0.25, 0.25, cell["n"]) * width if cell["n"] > 1 else [0]
    ax.scatter(
        x + np.asarray(offsets),
        cell["values"],
        s=14,
        c="white",
        edgecolors="k",
        linewidths=0.8,
        zorder=3,
    )


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


def zoomed(path: Path, crops: list[tuple[str, str, np.ndarray]]) -> None:
    """Write `zoomed_figure` as a PNG."""
    with atomic_file(path) as tmp:
        zoomed_figure(crops).savefig(tmp, format="png", dpi=90)


def zoomed_figure(crops: list[tuple[str, str, np.ndarray]], factor: int = 4) -> Figure:
    """Settings that differ in detail only: each one's crop (label, the pair it shows, pixels),
    enlarged, beside its absolute difference, amplified `factor` times, to the crop of the first
    setting that shows the same pair."""
    first: dict[str, tuple[str, np.ndarray]] = {}
    for label, pair, crop in crops:
        first.setdefault(pair, (label, crop.astype(np.int16)))
    fig = Figure(figsize=(6.2, 3.0 * len(crops)), layout="constrained")
    axes = fig.subplots(len(crops), 2, squeeze=False)
    for (label, pair, crop), (left, right) in zip(crops, axes, strict=True):
        reference, pixels = first[pair]
        difference = np.abs(crop.astype(np.int16) - pixels)
        left.imshow(crop, interpolation="nearest")
        left.set_title(plain(label), fontsize=9, loc="left")
        right.imshow(np.clip(difference * factor, 0, 255).astype(np.uint8), interpolation="nearest")
        right.set_title(
            f"|difference| to {plain(reference)} ×{factor}\n"
            f"mean {difference.mean():.1f} grey levels",
            fontsize=8,
            loc="left",
        )
        for ax in (left, right):
            ax.axis("off")
    fig.suptitle(
        f"The first generated pair of {' and of '.join(first)}\n(top-left quarter, enlarged) per"
        " setting, and its difference",
        fontsize=10,
    )
    return fig
