"""Stage train_labeler: the copy-paste segmentation model (pseudo-labeler, Table 1 baseline); a
killed run resumes from checkpoints/train_labeler/."""

from __future__ import annotations

import logging
from dataclasses import asdict

import torch

from pipeline import artifacts
from pipeline.checkpoints import save_model
from pipeline.datasets import read_dataset
from pipeline.errors import run_stage
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit, split_pairs
from pipeline.training import Dist, array_checksum, default_device, fingerprint, main_live

log = logging.getLogger(__name__)


def main() -> None:
    params = load_params()
    p, seed = params.train_labeler, params.seed
    images, masks = read_dataset(artifacts.COPY_PASTE)
    train, val = split_pairs(
        images, masks, p.val_fraction, stage_rng(seed, "train_labeler", "split")
    )
    n_val = 0 if val is None else len(val[0])
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p)
    model = build_unet(config)
    guard = fingerprint(asdict(p), seed, array_checksum(images), array_checksum(masks))
    checkpoint = SegCheckpoint(
        artifacts.checkpoint("train_labeler"), guard, artifacts.live("train_labeler")
    )
    dist = Dist(0, 1, default_device())
    with main_live(artifacts.live("train_labeler"), dist, checkpoint.live_step) as live:
        live.log_params({"encoder": p.encoder, "train_pairs": len(train[0]), "val_pairs": n_val})
        fit(model, train, val, p, FitRun(seed, live, dist, checkpoint))
    save_model(model, config, artifacts.LABELER)
    checkpoint.clear()
    log.info("saved the labeler to %s", artifacts.LABELER)


if __name__ == "__main__":
    run_stage(main)
