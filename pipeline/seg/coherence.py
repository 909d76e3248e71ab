"""Image–mask coherence of generated pairs: does the labeler find the heads the generator drew, and
do generated masks cover as much of the crop as the training masks do?"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from scipy.stats import wasserstein_distance

from pipeline.geometry import predict_at_scale
from pipeline.metrics import PixelCounts
from pipeline.seg.segmentation import predict_list


def labeler_agreement(
    model: torch.nn.Module,
    images: np.ndarray,
    masks: np.ndarray,
    scale: float,
    batch_size: int,
) -> PixelCounts:
    """Pixel counts of the labeler's prediction (sigmoid ≥ 0.5) against the generated masks.

    Generated crops are smaller than the frames the labeler was trained on (a `crop`-pixel cut
    resized to `sr_size`), so images are first enlarged by `scale` = crop / sr_size (bilinear) to
    show the heads at the labeler's scale, and the probabilities are brought back (area average).
    """
    predict = functools.partial(predict_list, model, batch_size=batch_size)
    probs = predict_at_scale(predict, list(images), scale, (images.shape[2], images.shape[1]))
    counts = PixelCounts()
    counts.add(torch.from_numpy(probs), torch.from_numpy(masks > 0))
    return counts


def mask_fraction_histogram(
    generated: np.ndarray, training: np.ndarray, bins: int = 20
) -> pd.DataFrame:
    """Share of pairs per mask-fraction bin on [0, 1] for both sets (columns mask_fraction —
    the bin centre — generated, training)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    gen, _ = np.histogram(np.clip(generated, 0, 1), edges)
    train, _ = np.histogram(np.clip(training, 0, 1), edges)
    return pd.DataFrame(
        {
            "mask_fraction": np.round((edges[:-1] + edges[1:]) / 2, 4),
            "generated": gen / max(1, gen.sum()),
            "training": train / max(1, train.sum()),
        }
    )


def mask_fraction_summary(generated: np.ndarray, training: np.ndarray) -> dict[str, float]:
    """Means of both sets and the 1-D Wasserstein distance between their distributions."""
    return {
        "generated_mean": float(np.mean(generated)),
        "training_mean": float(np.mean(training)),
        "wasserstein": float(wasserstein_distance(generated, training)),
    }
