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
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
