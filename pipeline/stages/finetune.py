"""Stages finetune_gwhd and finetune_all (one per Table 1 row, via dvc.yaml `foreach`):

    python -m pipeline.stages.finetune gwhd <row> <base model folder>
    python -m pipeline.stages.finetune all <row> <base model folder>

(dvc.yaml runs them under torchrun with dist.nproc processes.)
`gwhd` fine-tunes the base model on the GWHD fine-tune set; `all` runs Najafian's self-training
rounds on the pseudo-labelled real frames first. The base `scratch` is the downstream U-Net of
train_seg, untrained: `gwhd real_only scratch` is the reference row "real only". Writes
models/seg/<row>_<mode>/ and dvclive/finetune_<mode>_<row>/; a killed run resumes from
checkpoints/finetune_<mode>_<row>/.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from pipeline import artifacts
from pipeline.checkpoints import save_model
from pipeline.data.layout import RawLayout
from pipeline.errors import run_stage
from pipeline.files import file_digest
from pipeline.params import load_params
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.finetuning import finetune_gwhd, frame_images, gwhd_finetune_set, self_train
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, load_unet
from pipeline.training import array_checksum, close_dist, fingerprint, init_dist, main_live

log = logging.getLogger(__name__)

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
        base = "scratch"
    else:
        model, config = load_unet(args.base)
        base = file_digest(args.base / "model.safetensors")
    dist = init_dist()
    model.to(dist.device)
    layout = RawLayout(Path(params.data.root))
    gwhd = gwhd_finetune_set(layout, params.extract_frames.size, config.scale)
    frames = frame_images(artifacts.FRAMES, config.scale) if args.mode == "all" else None
    name = f"finetune_{args.mode}_{args.row}"
    data = [array_checksum(a) for a in (*gwhd, *([] if frames is None else [frames]))]
    guard = fingerprint(asdict(p), asdict(config), seed, dist.world, args.mode, base, data)
    checkpoint = SegCheckpoint(artifacts.checkpoint(name), guard, artifacts.live(name), dist)
    out = artifacts.SEG / f"{args.row}_{args.mode}"
    torch.manual_seed(seed)
    try:
        with main_live(checkpoint.live, dist, checkpoint.live_step) as live:
            run = FitRun(seed, live, dist, checkpoint)
            if frames is None:
                finetune_gwhd(model, config, gwhd, p, run)
            else:
                self_train(model, config, frames, gwhd, p, run)
        if dist.main:
            save_model(model, config, out)
            log.info("saved %s (from %s)", out, args.base)
        checkpoint.clear()
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
