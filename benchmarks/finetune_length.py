"""How many fine-tune epochs the GWHD fine-tune set needs (not a test): validation Dice per epoch.

    python benchmarks/finetune_length.py --seeds 0 1 2 --epochs 120

Run from the root of a repository where `dvc repro` has run. Chooses `finetune.epochs` without
looking at the test photos: for each seed, a quarter of the GWHD fine-tune photos is held out, the
downstream U-Net (train_seg's architecture, from scratch: the "real only" row, the slowest to
converge) is fine-tuned on the rest with the `finetune` settings, and after every epoch it is scored
on the quadrants of the held-out photos. Prints a markdown row per epoch checkpoint: validation
Dice mean ± std over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from pipeline.data.layout import RawLayout
from pipeline.geometry import quadrants
from pipeline.params import load_params
from pipeline.seg.finetuning import gwhd_finetune_set
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit


class Record:
    """The part of a dvclive Live that `fit` uses, keeping the validation Dice per epoch."""

    def __init__(self) -> None:
        self.dice: list[float] = []

    def log_metric(self, name: str, value: float) -> None:
        if name == "val/dice":
            self.dice.append(value)

    def next_step(self) -> None:
        pass


def val_curve(seed: int, epochs: int) -> list[float]:
    params = load_params()
    sizes = params.prepare
    config = SegModelConfig.from_params(params.train_seg, scale=sizes.sr_size / sizes.crop)
    images, masks = gwhd_finetune_set(
        RawLayout(Path(params.data.root)), params.extract_frames.size, config.scale
    )
    order = np.random.default_rng(seed).permutation(len(images))
    held = order[: len(images) // 4]
    kept = order[len(images) // 4 :]
    val_images = np.stack([q for image in images[held] for q in quadrants(image)])
    val_masks = np.stack([q for mask in masks[held] for q in quadrants(mask)])
    torch.manual_seed(seed)
    model = build_unet(config)
    record = Record()
    fit(
        model,
        (images[kept], masks[kept]),
        (val_images, val_masks),
        params.finetune.fit_params(config.size, epochs),
        FitRun(seed, record),
    )
    return record.dice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    curves = [val_curve(seed, args.epochs) for seed in args.seeds]
    print(f"| epochs | held-out Dice (mean ± std over seeds {args.seeds}) |\n|---|---|")
    for epoch in range(args.every, args.epochs + 1, args.every):
        values = [curve[epoch - 1] for curve in curves]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| {epoch} | {statistics.mean(values):.3f} ± {spread:.3f} |")


if __name__ == "__main__":
    main()
