"""Figures written to reports/: grids of image/mask pairs with mask overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipeline.io import atomic_file

OVERLAY_COLOUR = np.array([255, 40, 200], np.float32)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The image with mask pixels tinted magenta and the mask outline drawn solid."""
    out = image.astype(np.float32)
    m = np.asarray(mask) > 0
    out[m] = (1 - alpha) * out[m] + alpha * OVERLAY_COLOUR
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out[edge] = OVERLAY_COLOUR
    return out.astype(np.uint8)


def pair_grid(
    path: Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> None:
    """Write a PNG with three rows per column: image, mask, overlay (DESIGN Fig. 4 style)."""
    n = len(images)
    fig = Figure(figsize=(1.9 * n, 5.9))
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
    _save(fig, path, suptitle)


def sr_grid(
    path: Path,
    rows: list[tuple[str, list[np.ndarray]]],
    titles: list[str] | None = None,
    suptitle: str = "",
) -> None:
    """Write a PNG with one labelled row per entry of `rows` (label, images or masks), columns
    aligned (DESIGN Fig. 5 style: upsampled low-resolution pair beside the super-resolved one)."""
    n = len(rows[0][1])
    fig = Figure(figsize=(1.9 * n, 1.95 * len(rows)))
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
    _save(fig, path, suptitle)


def _save(fig: Figure, path: Path, suptitle: str) -> None:
    """Title the figure and write it as PNG atomically."""
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
