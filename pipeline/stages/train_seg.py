"""Stage train_seg: the downstream U-Net trained only on the generated pairs (Table 1, col. 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from pipeline.errors import run_stage
from pipeline.io import read_dataset
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.segmentation import SegModelConfig, build_unet, fit, save_model, split_pairs
from pipeline.training import close_dist, init_dist, main_live

log = logging.getLogger(__name__)

DATA = Path("data/generated")
OUT = Path("models/seg/synthset")
LIVE = Path("dvclive/train_seg")


def main() -> None:
    params = load_params()
    p, seed = params.train_seg, params.seed
    images, masks = read_dataset(DATA)
    train, val = split_pairs(images, masks, p.val_fraction, stage_rng(seed, "train_seg", "split"))
    n_val = 0 if val is None else len(val[0])
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p, scale=params.prepare.sr_size / params.prepare.crop)
    model = build_unet(config)
    dist = init_dist()
    try:
        with main_live(LIVE, dist) as live:
            if live is not None:
                info = {"encoder": p.encoder, "train_pairs": len(train[0]), "val_pairs": n_val}
                live.log_params(info)
            fit(model, train, val, p, seed, live, dist)
        if dist.main:
            save_model(model, config, OUT)
            log.info("saved the segmentation model trained on generated pairs to %s", OUT)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
