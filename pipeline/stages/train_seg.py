"""Stage train_seg: the downstream U-Net trained only on the generated pairs (Table 1, col. 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from pipeline.errors import run_stage
from pipeline.io import read_dataset
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.segmentation import SegModelConfig, build_unet, fit, save_model
from pipeline.training import close_dist, init_dist, main_live

log = logging.getLogger(__name__)

DATA = Path("data/generated")
OUT = Path("models/seg/synthset")
LIVE = Path("dvclive/train_seg")


def main() -> None:
    params = load_params()
    p, seed = params.train_seg, params.seed
    images, masks = read_dataset(DATA)
    order = stage_rng(seed, "train_seg", "split").permutation(len(images))
    n_val = round(p.val_fraction * len(images))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    val = (images[val_idx], masks[val_idx]) if n_val else None
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p, scale=params.prepare.sr_size / params.prepare.crop)
    model = build_unet(config)
    dist = init_dist()
    try:
        with main_live(LIVE, dist) as live:
            if live is not None:
                info = {"encoder": p.encoder, "train_pairs": len(train_idx), "val_pairs": n_val}
                live.log_params(info)
            fit(model, (images[train_idx], masks[train_idx]), val, p, seed, live, dist)
        if dist.main:
            save_model(model, config, OUT)
            log.info("saved the segmentation model trained on generated pairs to %s", OUT)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
