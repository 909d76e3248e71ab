"""Stages finetune_gwhd and finetune_all (one per Table 1 row, via dvc.yaml `foreach`):

    python -m pipeline.stages.finetune gwhd <row> <base model folder>
    python -m pipeline.stages.finetune all <row> <base model folder>

(dvc.yaml runs them under torchrun with dist.nproc processes.)
`gwhd` fine-tunes the base model on the GWHD fine-tune set; `all` runs Najafian's self-training
rounds on the pseudo-labelled real frames first. The base `scratch` is the downstream U-Net of
train_seg, untrained: `gwhd real_only scratch` is the reference row "real only". Writes
models/seg/<row>_<mode>/ and dvclive/finetune_<mode>_<row>/.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from pipeline.errors import run_stage
from pipeline.finetuning import finetune_gwhd, frame_images, gwhd_finetune_set, self_train
from pipeline.layout import RawLayout
from pipeline.params import load_params
from pipeline.segmentation import SegModelConfig, build_unet, load_model, save_model
from pipeline.training import close_dist, init_dist, main_live

log = logging.getLogger(__name__)

FRAMES = Path("data/frames")
SCRATCH = Path("scratch")


def main() -> None:
    parser = argparse.ArgumentParser(description="fine-tune a segmentation model")
    parser.add_argument("mode", choices=("gwhd", "all"))
    parser.add_argument("row")
    parser.add_argument("base", type=Path)
    args = parser.parse_args()
    params = load_params()
    p, seed = params.finetune, params.seed
    if args.base == SCRATCH:
        sizes = params.prepare
        config = SegModelConfig.from_params(params.train_seg, scale=sizes.sr_size / sizes.crop)
        torch.manual_seed(seed)
        model = build_unet(config)
    else:
        model, config = load_model(args.base)
    dist = init_dist()
    model.to(dist.device)
    layout = RawLayout(Path(params.data.root))
    gwhd = gwhd_finetune_set(layout, params.extract_frames.size, config.scale)
    out = Path("models/seg") / f"{args.row}_{args.mode}"
    torch.manual_seed(seed)
    try:
        with main_live(Path("dvclive") / f"finetune_{args.mode}_{args.row}", dist) as live:
            if args.mode == "gwhd":
                finetune_gwhd(model, config, gwhd, p, seed, live, dist)
            else:
                frames = frame_images(FRAMES, config.scale)
                self_train(model, config, frames, gwhd, p, seed, live, dist)
        if dist.main:
            save_model(model, config, out)
            log.info("saved %s (from %s)", out, args.base)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
