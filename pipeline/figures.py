"""Figures: grids of image/mask pairs with mask overlays, as matplotlib figures (for dvclive's
log_image) or written to reports/ as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.files import atomic_file

OVERLAY_COLOUR = np.array([255, 40, 200], np.float32)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image with mask pixels tinted magenta and the mask outline drawn solid."""
    out = image.astype(np.float32)
    m = np.asarray(mask) > 0
    out[m] = (1 - alpha) * out[m] + alpha * OVERLAY_COLOUR
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out[edge] = OVERLAY_COLOUR
    return out.astype(np.uint8)


DPI = 110


def pair_figure(
    images: list[np.ndarray],
    masks: list[np.ndarray],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> Figure:
    """Three rows per column: image, mask, overlay."""
    n = len(images)
    fig = Figure(figsize=(1.9 * n, 5.9), dpi=DPI)
    axes = fig.subplots(3, n, squeeze=False)
    for j, (img, mask) in enumerate(zip(images, masks, strict=True)):
        panels = (img, np.asarray(mask) > 0, overlay(img, mask))
        for i, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(panel, cmap="gray" if i == 1 else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        if titles:
            axes[0, j].set_title(titles[j], fontsize=7)
    for i, label in enumerate(("image", "mask", "overlay")):
        axes[i, 0].set_ylabel(label)
    return _finish(fig, suptitle)


def rows_figure(
    rows: list[tuple[str, list[np.ndarray]]],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> Figure:
    """One labelled row per entry of `rows` (label, images or masks), columns aligned (paper
    Fig. 5 style: upsampled low-resolution pair beside the super-resolved one)."""
    n = len(rows[0][1])
    fig = Figure(figsize=(1.9 * n, 1.95 * len(rows)), dpi=DPI)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for i, (label, panels) in enumerate(rows):
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            gray = np.asarray(panel).ndim == 2
            shown = np.asarray(panel) > 0 if gray else panel
            ax.imshow(shown, cmap="gray" if gray else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(label, fontsize=8)
    if titles:
        for j, title in enumerate(titles):
            axes[0, j].set_title(title, fontsize=7)
    return _finish(fig, suptitle)


def _finish(fig: Figure, suptitle: str) -> Figure:
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    """Write a figure as PNG atomically."""
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def pair_grid(
    path: Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> None:
    """Write a `pair_figure` as a PNG."""
    save_figure(pair_figure(images, masks, titles, suptitle), path)


def sr_grid(
    path: Path,
    rows: list[tuple[str, list[np.ndarray]]],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> None:
    """Write a `rows_figure` as a PNG."""
    save_figure(rows_figure(rows, titles, suptitle), path)
