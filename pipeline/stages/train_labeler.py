"""Stage train_labeler: the copy-paste segmentation model (pseudo-labeler, Table 1 baseline)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from dvclive import Live

from pipeline.errors import run_stage
from pipeline.io import read_dataset
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.segmentation import SegModelConfig, build_unet, fit, save_model, split_pairs

log = logging.getLogger(__name__)

DATA = Path("data/copy_paste")
OUT = Path("models/labeler")
LIVE = Path("dvclive/train_labeler")


def main() -> None:
    params = load_params()
    p, seed = params.train_labeler, params.seed
    images, masks = read_dataset(DATA)
    train, val = split_pairs(
        images, masks, p.val_fraction, stage_rng(seed, "train_labeler", "split")
    )
    n_val = 0 if val is None else len(val[0])
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p)
    model = build_unet(config)
    with Live(str(LIVE), dvcyaml=False, save_dvc_exp=False) as live:
        live.log_params({"encoder": p.encoder, "train_pairs": len(train[0]), "val_pairs": n_val})
        fit(model, train, val, p, seed, live)
    save_model(model, config, OUT)
    log.info("saved the labeler to %s", OUT)


if __name__ == "__main__":
    run_stage(main)
