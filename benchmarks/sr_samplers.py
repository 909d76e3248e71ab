"""Compare SR samplers (not a test): PSNR and mask Dice of a trained super-resolver per sampler.

    python benchmarks/sr_samplers.py models/sr/final
    python benchmarks/sr_samplers.py models/sr/final --samplers ddpm:25 ddim:100 dpmsolver++:20

Degrades the first `--n` held-out crops of data/prepared/val_<size>.npy by the factor the weights
were trained for (size and factor from their config.json), super-resolves them with each sampler
(same seed) and scores the result against the original crops, beside bilinear/nearest upsampling.
Run it from the repository root after `dvc repro train_sr`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pipeline.checkpoints import trained_size
from pipeline.datasets import load_packed
from pipeline.gen.diffusion import to_model_space, to_uint8
from pipeline.gen.super_resolver import degrade, load, super_resolve, upsample_condition
from pipeline.metrics import PixelCounts, psnr
from pipeline.seeding import torch_generator


def dice(masks, truth) -> float:
    counts = PixelCounts()
    counts.add(torch.from_numpy(masks).float(), torch.from_numpy(truth))
    return counts.dice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument(
        "--samplers",
        nargs="+",
        default=["ddpm:25", "ddpm:100", "ddim:20", "ddim:100", "dpmsolver++:20"],
    )
    parser.add_argument("--n", type=int, default=16)
    args = parser.parse_args()
    model = load(args.weights)
    size, factor = trained_size(model, args.weights, "super-resolver"), model.config.factor
    hr = to_model_space(load_packed(Path(f"data/prepared/val_{size}.npy"))[: args.n])
    lowres = degrade(hr, factor)
    truth_images, truth_masks = to_uint8(hr)
    up_images, up_masks = to_uint8(upsample_condition(lowres, tuple(hr.shape[-2:])))
    print(f"{len(hr)} held-out {size}² crops, ×{factor}, weights {args.weights}")
    print("| method | PSNR (dB) | mask Dice | seconds |")
    print("|---|---|---|---|")
    up_psnr, up_dice = psnr(up_images, truth_images), dice(up_masks, truth_masks)
    print(f"| bilinear / nearest | {up_psnr:.2f} | {up_dice:.3f} | |")
    for spec in args.samplers:
        sampler, steps = spec.split(":")
        start = time.perf_counter()
        out = super_resolve(model, lowres, factor, sampler, int(steps), torch_generator(0, "sr"))
        seconds = time.perf_counter() - start
        images, masks = to_uint8(out)
        print(
            f"| {sampler} {steps} | {psnr(images, truth_images):.2f} "
            f"| {dice(masks, truth_masks):.3f} | {seconds:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
