"""Stage train_labeler: the copy-paste segmentation model (pseudo-labeler, Table 1 baseline)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from pipeline.errors import run_stage
from pipeline.io import read_dataset
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.segmentation import SegModelConfig, build_unet, fit, save_model

log = logging.getLogger(__name__)

DATA = Path("data/copy_paste")
OUT = Path("models/labeler")
LIVE = Path("dvclive/train_labeler")


def main() -> None:
    params = load_params()
    p, seed = params.train_labeler, params.seed
    images, masks = read_dataset(DATA)
    order = stage_rng(seed, "train_labeler", "split").permutation(len(images))
    n_val = round(p.val_fraction * len(images))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    val = (images[val_idx], masks[val_idx]) if n_val else None
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p)
    model = build_unet(config)
    with Live(str(LIVE), dvcyaml=False, save_dvc_exp=False) as live:
        live.log_params({"encoder": p.encoder, "train_pairs": len(train_idx), "val_pairs": n_val})
        fit(model, (images[train_idx], masks[train_idx]), val, p, seed, live)
    save_model(model, config, OUT)
    log.info("saved the labeler to %s", OUT)


if __name__ == "__main__":
    run_stage(main)
