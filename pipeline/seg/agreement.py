"""Teacher agreement of generated pairs: how well the teacher (the pseudo-labeler whose labels the
generator learned) finds the heads a generated mask marks, pair by pair, and the rule that keeps
the pairs whose agreement is as good as on the crops the generator learned from."""

from __future__ import annotations

import functools

import numpy as np
import torch

from pipeline.geometry import predict_at_scale
from pipeline.seg.segmentation import predict_list


def pair_dice(probs: np.ndarray, masks: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Dice of each prediction (probs >= threshold, N×H×W) against its mask; 1 where both are
    empty."""
    pred = probs.reshape(len(probs), -1) >= threshold
    true = np.asarray(masks).reshape(len(masks), -1) > 0
    overlap = (pred & true).sum(axis=1)
    total = pred.sum(axis=1) + true.sum(axis=1)
    return np.where(total > 0, 2 * overlap / np.maximum(total, 1), 1.0)


def teacher_dice(
    model: torch.nn.Module,
    images: np.ndarray,
    masks: np.ndarray,
    scale: float,
    batch_size: int,
    threshold: float,
) -> np.ndarray:
    """Per-pair Dice of the teacher's prediction at `threshold` (the one its pseudo-labels were
    cut at) against the masks; the images (uint8 N×S×S×3) are shown to it enlarged by `scale`
    (its input pixels per pair pixel) and its probabilities area-averaged back to the pairs'
    size."""
    predict = functools.partial(predict_list, model, batch_size=batch_size)
    probs = predict_at_scale(predict, list(images), scale, (images.shape[2], images.shape[1]))
    return pair_dice(probs, masks, threshold)


def agreement_threshold(crop_dice: np.ndarray, quantile: float) -> float:
    """The lowest agreement a generated pair needs: the `quantile` of the training crops' teacher
    Dice (their labels are the teacher's own, so this is what agreement looks like when the mask
    is right); quantile 0 keeps every pair (-inf)."""
    if not 0 <= quantile < 1:
        raise ValueError(f"a quantile in [0, 1) is needed, got {quantile}")
    return float(np.quantile(crop_dice, quantile)) if quantile > 0 else -np.inf
