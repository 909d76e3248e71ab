"""Fig. 9: where the generated images lie among the training crops, seen through the encoder of
the pseudo-labeler (trained on copy-paste pairs and self-trained on the real frames; no downloaded
weights), with the numbers that let the figure's claim be checked."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from PIL import Image
from scipy.spatial import cKDTree
from sklearn.decomposition import PCA

from pipeline import artifacts
from pipeline.datasets import load_packed
from pipeline.files import atomic_file
from pipeline.images import list_files, read_rgb
from pipeline.seg.segmentation import load_unet, to_input
from pipeline.study.experiments import fetch
from pipeline.study.figures import plain

EMBEDDER = artifacts.PSEUDO_LABELER.as_posix()
GENERATED = (artifacts.GENERATED / "images").as_posix()
K = 5  # neighbours of the coverage radius (Naeem et al. 2020)


def embed(folder: Path, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """N×D: the deepest encoder features of the saved U-Net, averaged over space, for images
    resized to the crop size it was trained on."""
    model, config = load_unet(folder)
    model.eval()
    size = (config.size, config.size)
    resized = np.stack(
        [np.asarray(Image.fromarray(i).resize(size, Image.BILINEAR)) for i in images]
    )
    out = []
    with torch.no_grad():
        for start in range(0, len(resized), batch_size):
            features = model.encoder(to_input(resized[start : start + batch_size]))[-1]
            out.append(features.mean(dim=(2, 3)).numpy())
    return np.concatenate(out)


def spread(reference: np.ndarray, generated: np.ndarray) -> float:
    """Total variance of the generated embeddings over that of the training crops (1: as spread)."""
    return float(generated.var(axis=0).sum() / reference.var(axis=0).sum())


def coverage(reference: np.ndarray, generated: np.ndarray, k: int = K) -> float:
    """Share of training crops with a generated image inside the ball to their k-th nearest
    training neighbour (Naeem et al. 2020): 1 when the generated set reaches every mode."""
    radius = cKDTree(reference).query(reference, k=k + 1)[0][:, -1]
    nearest = cKDTree(generated).query(reference, k=1)[0]
    return float((nearest <= radius).mean())


def experiment_embeddings(
    repo: Path, rev: str, sr_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training-crop embeddings, generated embeddings, generated images) of one experiment."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        embedder = fetch(repo, rev, EMBEDDER, tmp)
        crops = np.asarray(
            load_packed(fetch(repo, rev, artifacts.prepared("train", sr_size).as_posix(), tmp))
        )
        folder = fetch(repo, rev, GENERATED, tmp)
        generated = np.stack([read_rgb(p) for p in list_files(folder, (".png",))])
        return embed(embedder, crops[..., :3]), embed(embedder, generated), generated


def scatter(path: Path, panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write `scatter_figure` as a PNG."""
    with atomic_file(path) as tmp:
        scatter_figure(panels).savefig(tmp, format="png", dpi=90)


def scatter_figure(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> Figure:
    """One PCA panel per selection: training crops grey, generated images coloured, a few shown
    as sprites. PCA is fitted on the training crops, so every panel shares its axes."""
    fig = Figure(figsize=(4.2 * len(panels), 4.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    pca = PCA(n_components=2).fit(panels[0][1])
    for ax, (title, reference, generated, images) in zip(axes, panels, strict=True):
        ref, gen = pca.transform(reference), pca.transform(generated)
        ax.scatter(*ref.T, s=6, c="0.7", label="training crops")
        ax.scatter(*gen.T, s=8, c="tab:red", label="generated")
        shown = np.random.default_rng(0).choice(len(gen), size=min(10, len(gen)), replace=False)
        for i in shown:  # the same pair indices in every panel
            box = AnnotationBbox(OffsetImage(images[i], zoom=0.45), gen[i], frameon=False)
            ax.add_artist(box)
        ax.set_title(plain(title), fontsize=10)
        ax.set_xlabel("PC 1")
    axes[0].set_ylabel("PC 2")
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "Training crops and generated images in the pseudo-labeler's embedding (first two"
        " principal components of the crops), one panel per kept weight",
        fontsize=10,
    )
    return fig
