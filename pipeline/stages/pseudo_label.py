"""Stage pseudo_label: label every extracted frame with the labeler, after `pseudo_label.rounds` of
Najafian self-training on the frames (each round labels at `pseudo_label.threshold`), at the
threshold of `pseudo_label.threshold_rule`.

Writes data/pseudo (pairs + manifest), models/pseudo_labeler (the model that labelled them: the
labeler itself after 0 rounds) and dvclive/pseudo_label: the threshold and mask fraction of the
labels beside the annotated masks', and as a diagnostic the pseudo-labeler's Dice and IoU on the
GWHD fine-tune set (it never trains on it). A killed run resumes its rounds from
checkpoints/pseudo_label.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pipeline import artifacts
from pipeline.checkpoints import save_model
from pipeline.data.layout import RawLayout, read_scaled_pair
from pipeline.datasets import PairWriter, read_manifest
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.files import atomic_dir, file_digest
from pipeline.geometry import mask_fraction
from pipeline.images import read_rgb
from pipeline.metrics import PixelCounts
from pipeline.params import load_params
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.finetuning import frame_images, gwhd_finetune_set
from pipeline.seg.pseudo_labeling import self_train_on_frames, threshold_of
from pipeline.seg.segmentation import FitRun, load_unet, predict_list
from pipeline.training import Dist, array_checksum, default_device, fingerprint, main_live

log = logging.getLogger(__name__)


def main() -> None:
    params = load_params()
    p, seed, frame_size = params.pseudo_label, params.seed, params.extract_frames.size
    layout = RawLayout(Path(params.data.root))
    annotated = [read_scaled_pair(pair, frame_size)[1] for pair in layout.annotated()]
    annotated_fraction = float(np.mean([mask_fraction(m) for m in annotated]))
    manifest = read_manifest(artifacts.FRAMES)
    model, config = load_unet(artifacts.LABELER)
    dist = Dist(0, 1, default_device())
    model.to(dist.device)
    frames = frame_images(artifacts.FRAMES, config.scale)
    fit_p = params.train_labeler
    guard = fingerprint(
        asdict(p),
        asdict(fit_p),
        seed,
        annotated_fraction,
        file_digest(artifacts.LABELER / "model.safetensors"),
        array_checksum(frames),
    )
    checkpoint = SegCheckpoint(
        artifacts.checkpoint("pseudo_label"), guard, artifacts.live("pseudo_label")
    )
    torch.manual_seed(seed)
    with main_live(artifacts.live("pseudo_label"), dist, checkpoint.live_step) as live:
        self_train_on_frames(model, frames, p, fit_p, FitRun(seed, live, dist, checkpoint))
        images = [read_rgb(artifacts.FRAMES / path) for path in manifest["image"]]
        probs = predict_list(model, images, p.batch_size, p.flips)
        threshold = threshold_of(probs, p, annotated_fraction)
        gwhd_images, gwhd_masks = gwhd_finetune_set(layout, frame_size, config.scale)
        counts = PixelCounts()
        gwhd_probs = np.stack(predict_list(model, list(gwhd_images), p.batch_size, p.flips))
        counts.add(torch.from_numpy(gwhd_probs), torch.from_numpy(gwhd_masks), threshold)
        fractions = [mask_fraction(prob >= threshold) for prob in probs]
        for key, value in {
            "threshold": threshold,
            "mask_fraction/pseudo": float(np.mean(fractions)),
            "mask_fraction/annotated": annotated_fraction,
            "mask_fraction/gwhd_finetune": mask_fraction(gwhd_masks),
            "gwhd_finetune/dice": counts.dice,
            "gwhd_finetune/iou": counts.iou,
        }.items():
            live.log_metric(key, value, plot=False)
        live.log_params({"rounds": p.rounds})
    save_model(model, config, artifacts.PSEUDO_LABELER)
    show = set(np.linspace(0, len(manifest) - 1, min(8, len(manifest))).astype(int).tolist())
    shown = []
    with atomic_dir(artifacts.PSEUDO) as out:
        writer = PairWriter(out)
        items = zip(manifest.itertuples(), images, probs, strict=True)
        for k, (row, image, prob) in enumerate(tqdm(items, total=len(images), desc="write")):
            mask = prob >= threshold
            writer.add(
                row.id,
                image,
                mask,
                source=row.source,
                frame=row.frame,
                checkpoint=str(artifacts.PSEUDO_LABELER if p.rounds else artifacts.LABELER),
                threshold=threshold,
            )
            if k in show:
                shown.append((image, mask))
        labelled = writer.close()
    checkpoint.clear()
    log.info(
        "labelled %d frames at threshold %.3f, mean mask fraction %.3f (annotated %.3f); "
        "GWHD fine-tune Dice %.3f",
        len(labelled),
        threshold,
        float(labelled["mask_fraction"].mean()),
        annotated_fraction,
        counts.dice,
    )
    shown_images, shown_masks = zip(*shown, strict=True)
    pair_grid(
        artifacts.PSEUDO_LABEL_GRID, list(shown_images), list(shown_masks), suptitle="pseudo-labels"
    )


if __name__ == "__main__":
    run_stage(main)
