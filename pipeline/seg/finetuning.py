"""Fine-tuning segmentation models (Table 1, columns 2 and 3): on the GWHD fine-tune set, and
Najafian et al.'s steps 2-4 — rounds of pseudo-labelling the real extracted frames with the current
model and training on them — followed by the GWHD fine-tune.

Every image reaches a model at the scale the model was trained on (`SegModelConfig.scale` input
pixels per frame pixel); GWHD images are first brought to frame scale (shorter side
`extract_frames.size`), and images that are not square are centre-cropped to their shorter side
so that a set stacks into one array.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pipeline.data.layout import RawLayout, read_scaled_pair
from pipeline.datasets import read_manifest
from pipeline.geometry import centre_square, mask_fraction, resize_short_side
from pipeline.images import read_rgb
from pipeline.params import FinetuneParams, SegFitParams
from pipeline.seg.segmentation import IGNORE, FitRun, SegModelConfig, fit, predict_list

log = logging.getLogger(__name__)


def gwhd_finetune_set(
    layout: RawLayout, frame_size: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """gwhd/finetune pairs at frame scale times `scale`: uint8 N×S×S×3 images, bool masks."""
    pairs, _ = layout.gwhd("finetune")
    images, masks = [], []
    for pair in pairs:
        image, mask = read_scaled_pair(pair, round(frame_size * scale))
        images.append(centre_square(image))
        masks.append(centre_square(mask))
    return np.stack(images), np.stack(masks)


def frame_images(frames: Path, scale: float) -> np.ndarray:
    """The extracted frames (data/frames) at `scale`, centre-squared: uint8 N×S×S×3."""
    manifest = read_manifest(frames)
    images = []
    for path in manifest["image"]:
        image = read_rgb(frames / path)
        images.append(centre_square(resize_short_side(image, round(min(image.shape[:2]) * scale))))
    return np.stack(images)


def finetune_gwhd(
    model: torch.nn.Module,
    config: SegModelConfig,
    gwhd: tuple[np.ndarray, np.ndarray],
    p: FinetuneParams,
    run: FitRun,
) -> None:
    """Fine-tune on the GWHD fine-tune set for p.epochs epochs (phase `run.phase` of its
    checkpoint)."""
    if run.checkpoint is not None:
        run.checkpoint.end_phase()
    fit(model, gwhd, None, p.fit_params(config.size, p.epochs), run)


def self_train(
    model: torch.nn.Module,
    config: SegModelConfig,
    frames: np.ndarray,
    gwhd: tuple[np.ndarray, np.ndarray],
    p: FinetuneParams,
    run: FitRun,
) -> None:
    """p.rounds rounds of pseudo-labelling `frames` with the current model and training on them
    for p.frame_epochs epochs (Najafian steps 2-3), then the GWHD fine-tune (step 4). Round r is
    phase r of the run's checkpoint, seeded `run.seed + r + 1`; the fine-tune is phase p.rounds."""
    fit_p = p.fit_params(config.size, p.frame_epochs)
    self_training_rounds(
        model, frames, fit_p, run, rounds=p.rounds, threshold=p.threshold, batch_size=p.batch_size
    )
    finetune_gwhd(model, config, gwhd, p, replace(run, phase=p.rounds))


def round_labels(probs: np.ndarray, threshold: float, band: float) -> np.ndarray:
    """A self-training round's labels: probs >= threshold, as bool; with a band > 0, uint8 0/1
    with IGNORE where the probability lies within `band` of the threshold (no loss counts there)."""
    masks = probs >= threshold
    if band <= 0:
        return masks
    labels = masks.astype(np.uint8)
    labels[np.abs(probs - threshold) < band] = IGNORE
    return labels


def self_training_rounds(
    model: torch.nn.Module,
    frames: np.ndarray,
    fit_p: SegFitParams,
    run: FitRun,
    *,
    rounds: int,
    threshold: float,
    batch_size: int,
    band: float = 0.0,
    flips: bool = False,
) -> None:
    """Najafian steps 2-3, `rounds` times: the model predicts the frames (uint8 N×S×S×3, at its
    scale; `flips`: averaged over the flips), labels them at `threshold` with pixels within
    `band` of it ignored (`round_labels`), and trains on them (round r: phase r of the run's
    checkpoint, seeded `run.seed + r + 1`)."""
    checkpoint = run.checkpoint
    for round_ in range(rounds):
        if checkpoint is not None:
            if checkpoint.done(round_):
                continue
            checkpoint.begin(round_, model)
        probs = np.stack(predict_list(model, list(frames), batch_size, flips))
        round_run = replace(run, seed=run.seed + round_ + 1, phase=round_)
        self_training_round(model, frames, round_labels(probs, threshold, band), fit_p, round_run)


def self_training_round(
    model: torch.nn.Module,
    frames: np.ndarray,
    masks: np.ndarray,
    fit_p: SegFitParams,
    run: FitRun,
) -> None:
    """One Najafian round: train the model on the frames it has just labelled (`masks`: bool, or
    uint8 with IGNORE pixels)."""
    fraction = mask_fraction(masks == 1)
    log.info("self-training round: pseudo-label mask fraction %.3f", fraction)
    if run.live is not None:
        run.live.log_metric("round/mask_fraction", fraction, plot=False)
    fit(model, (frames, masks), None, fit_p, run)
