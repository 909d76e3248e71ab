"""Metrics: Dice and IoU pooled over pixels (smp's confusion counts); colour JSD; PSNR."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon


@dataclass
class PixelCounts:
    """Pooled pixel confusion counts; Dice and IoU are 1 when prediction and target are empty."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> None:
        """Add a batch: probabilities (sigmoid outputs) and 0/1 targets of the same shape."""
        import segmentation_models_pytorch as smp  # on use: the generator's stages skip its 1.7 s

        tp, fp, fn, tn = smp.metrics.get_stats(
            probs.float(), target.long(), mode="binary", threshold=threshold
        )
        self.tp += int(tp.sum())
        self.fp += int(fp.sum())
        self.fn += int(fn.sum())
        self.tn += int(tn.sum())

    @property
    def dice(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 1.0 if denom == 0 else 2 * self.tp / denom

    @property
    def iou(self) -> float:
        denom = self.tp + self.fp + self.fn
        return 1.0 if denom == 0 else self.tp / denom

    @property
    def precision(self) -> float:
        """Share of the predicted pixels that are wheat (1 when nothing is predicted)."""
        return 1.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        """Share of the wheat pixels that are predicted (1 when there is no wheat)."""
        return 1.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)

    @property
    def mask_fraction(self) -> float:
        """Share of all pixels predicted as wheat (over-segmentation shows as more than the
        target's)."""
        return (self.tp + self.fp) / max(1, self.tp + self.fp + self.fn + self.tn)

    @property
    def target_mask_fraction(self) -> float:
        """Share of all pixels that are wheat in the target masks."""
        return (self.tp + self.fn) / max(1, self.tp + self.fp + self.fn + self.tn)


def rgb_histograms(images: np.ndarray, bins: int = 64) -> np.ndarray:
    """Normalised per-channel histograms (3×bins) of uint8 N×H×W×3 images over fixed bins on [0, 1].

    No per-image stretching: pixel value v falls in bin floor(v / 256 · bins).
    """
    images = np.asarray(images)
    idx = (images.reshape(-1, 3).astype(np.int64) * bins) // 256
    counts = np.stack([np.bincount(idx[:, c], minlength=bins) for c in range(3)]).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) between two discrete distributions: the
    square of scipy's Jensen–Shannon distance."""
    return float(jensenshannon(np.asarray(p, np.float64), np.asarray(q, np.float64), base=2) ** 2)


def mean_rgb_jsd(reference: np.ndarray, generated: np.ndarray, bins: int = 64) -> float:
    """Mean over R, G, B of the JSD between the colour histograms of two image sets."""
    h_ref, h_gen = rgb_histograms(reference, bins), rgb_histograms(generated, bins)
    return float(np.mean([jensen_shannon(h_ref[c], h_gen[c]) for c in range(3)]))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 image sets, pooled over all pixels."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
