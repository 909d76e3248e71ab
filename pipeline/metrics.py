"""Segmentation metrics: Dice and IoU pooled over pixels (smp's confusion counts)."""

from __future__ import annotations

from dataclasses import dataclass

import segmentation_models_pytorch as smp
import torch


@dataclass
class PixelCounts:
    """Pooled pixel confusion counts; Dice and IoU are 1 when prediction and target are empty."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, probs: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> None:
        """Add a batch: probabilities (sigmoid outputs) and 0/1 targets of the same shape."""
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
