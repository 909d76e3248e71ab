"""Pseudo-labels of the unlabelled frames (stage pseudo_label): Najafian's self-training rounds on
the frames (steps 2-3, no GWHD data) and the rule that sets the final labels' mask threshold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from pipeline.params import PseudoLabelParams, SegFitParams
from pipeline.seg.finetuning import self_training_rounds
from pipeline.seg.segmentation import FitRun


def fraction_threshold(probs: list[np.ndarray], fraction: float) -> float:
    """The threshold at which masks `probs >= t` cover `fraction` of all pixels pooled: the
    (1 − fraction) quantile of the probabilities."""
    if not 0 < fraction < 1:
        raise ValueError(f"a mask fraction in (0, 1) is needed, got {fraction}")
    pooled = np.concatenate([p.ravel() for p in probs])
    return float(np.quantile(pooled, 1 - fraction))


def threshold_of(probs: list[np.ndarray], p: PseudoLabelParams, annotated_fraction: float) -> float:
    """The final labels' mask threshold of `p.threshold_rule` for these probabilities."""
    if p.threshold_rule == "fixed":
        return p.threshold
    return fraction_threshold(probs, annotated_fraction)


def self_train_on_frames(
    model: torch.nn.Module,
    frames: np.ndarray,
    p: PseudoLabelParams,
    fit_p: SegFitParams,
    run: FitRun,
) -> None:
    """`p.rounds` rounds of labelling the frames (uint8 N×S×S×3, at the model's scale) with the
    current model at `p.threshold` (pixels within `p.ignore_band` of it ignored) and training it
    on them for `p.epochs` epochs with the optimiser settings of `fit_p` (round r: phase r of the
    run's checkpoint, seeded `run.seed + r + 1`).

    The rounds keep the fixed threshold whatever `p.threshold_rule`: re-fitting the threshold to
    the annotated mask share every round let the model shrink its masks round after round (one
    seed of the field profile ended at threshold 0.005 and Dice 0.32 on the real photos)."""
    fit_p = replace(fit_p, epochs=p.epochs)
    self_training_rounds(
        model,
        frames,
        fit_p,
        run,
        rounds=p.rounds,
        threshold=p.threshold,
        batch_size=p.batch_size,
        band=p.ignore_band,
        flips=p.flips,
    )
