"""Pseudo-labels of the unlabelled frames (stage pseudo_label): Najafian's self-training rounds on
the frames (steps 2-3, no GWHD data) and the rule that sets the mask threshold."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from pipeline.finetuning import self_training_round
from pipeline.params import PseudoLabelParams, SegTrainParams
from pipeline.seg_checkpoint import SegCheckpoint
from pipeline.segmentation import IGNORE, predict_list
from pipeline.training import Dist

log = logging.getLogger(__name__)


def fraction_threshold(probs: list[np.ndarray], fraction: float) -> float:
    """The threshold at which masks `probs >= t` cover `fraction` of all pixels pooled: the
    (1 − fraction) quantile of the probabilities."""
    if not 0 < fraction < 1:
        raise ValueError(f"a mask fraction in (0, 1) is needed, got {fraction}")
    pooled = np.concatenate([p.ravel() for p in probs])
    return float(np.quantile(pooled, 1 - fraction))


def threshold_of(probs: list[np.ndarray], p: PseudoLabelParams, annotated_fraction: float) -> float:
    """The mask threshold of `p.threshold_rule` for these probabilities."""
    if p.threshold_rule == "fixed":
        return p.threshold
    return fraction_threshold(probs, annotated_fraction)


def round_labels(probs: np.ndarray, threshold: float, band: float) -> np.ndarray:
    """A self-training round's labels: probs >= threshold, as bool; with a band > 0, uint8 0/1
    with IGNORE where the probability lies within `band` of the threshold (no loss counts there)."""
    masks = probs >= threshold
    if band <= 0:
        return masks
    labels = masks.astype(np.uint8)
    labels[np.abs(probs - threshold) < band] = IGNORE
    return labels


def self_train_on_frames(
    model: torch.nn.Module,
    frames: np.ndarray,
    p: PseudoLabelParams,
    fit_p: SegTrainParams,
    annotated_fraction: float,
    seed: int,
    live=None,
    dist: Dist | None = None,
    checkpoint: SegCheckpoint | None = None,
) -> list[float]:
    """`p.rounds` rounds of labelling the frames (uint8 N×S×S×3, at the model's scale) with the
    current model at the rule's threshold (pixels within `p.ignore_band` of it ignored) and
    training it on them for `p.epochs` epochs with the optimiser settings of `fit_p` (round r:
    phase r of `checkpoint`); returns each round's threshold."""
    fit_p = replace(fit_p, epochs=p.epochs, val_fraction=0.0)
    notes = checkpoint.notes if checkpoint is not None else {}
    thresholds = list(notes.get("thresholds", []))
    for round_ in range(p.rounds):
        if checkpoint is not None:
            if checkpoint.done(round_):
                continue
            checkpoint.begin(round_, model)
        probs = predict_list(model, list(frames), p.batch_size, p.flips)
        thresholds = [*thresholds[:round_], threshold_of(probs, p, annotated_fraction)]
        notes["thresholds"] = thresholds
        log.info("round %d: threshold %.3f", round_ + 1, thresholds[-1])
        masks = round_labels(np.stack(probs), thresholds[-1], p.ignore_band)
        self_training_round(
            model, frames, masks, fit_p, seed + round_ + 1, live, dist, checkpoint, round_
        )
    return thresholds
