"""Stage train_seg (one per pre-training set, via dvc.yaml `foreach`):

    python -m pipeline.stages.train_seg <row> <data> [<data> ...]

The downstream U-Net trained on sets of pairs at the generated pairs' scale (Table 1, col. 1):
`synthset` on the generated pairs the teacher agrees with (data/agreed, every generated pair
unless agree.quantile > 0), `copy_paste` on as many copy-paste pairs
(data/copy_paste_crops), the reference row `pseudo` on the pseudo-labelled crops the generator
learned from (the training split of data/prepared at prepare.sr_size), and `pseudo_synthset` on
those crops and the generated pairs together. Writes models/seg/<row>/ and dvclive/train_seg_<row>/;
a killed run resumes from checkpoints/train_seg_<row>/.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from pipeline import artifacts
from pipeline.checkpoints import save_model
from pipeline.datasets import read_training_pairs
from pipeline.errors import run_stage
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit, split_pairs
from pipeline.training import array_checksum, close_dist, fingerprint, init_dist, main_live

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description="train the downstream U-Net on a set of pairs")
    parser.add_argument("row")
    parser.add_argument("data", type=Path, nargs="+", help="pair folders, trained on together")
    args = parser.parse_args()
    params = load_params()
    p, seed, sizes = params.train_seg, params.seed, params.prepare
    sets = [read_training_pairs(folder, sizes.sr_size) for folder in args.data]
    images, masks = (np.concatenate([s[k] for s in sets]) for k in (0, 1))
    train, val = split_pairs(images, masks, p.val_fraction, stage_rng(seed, "train_seg", "split"))
    n_val = 0 if val is None else len(val[0])
    torch.manual_seed(seed)
    config = SegModelConfig.from_params(p, scale=sizes.sr_size / sizes.crop)
    model = build_unet(config)
    out = artifacts.SEG / args.row
    dist = init_dist()
    guard = fingerprint(
        asdict(p), asdict(config), seed, dist.world, array_checksum(images), array_checksum(masks)
    )
    live_dir = artifacts.live(f"train_seg_{args.row}")
    checkpoint = SegCheckpoint(artifacts.checkpoint(f"train_seg_{args.row}"), guard, live_dir, dist)
    try:
        with main_live(live_dir, dist, checkpoint.live_step) as live:
            if live is not None:
                info = {"encoder": p.encoder, "train_pairs": len(train[0]), "val_pairs": n_val}
                live.log_params({**info, "data": " ".join(map(str, args.data))})
            fit(model, train, val, p, FitRun(seed, live, dist, checkpoint))
        if dist.main:
            save_model(model, config, out)
            log.info("saved the U-Net trained on %s to %s", " + ".join(map(str, args.data)), out)
        checkpoint.clear()
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
