"""Benchmark (not a test): our concat generator's training step against diffusers' UNet2DModel
at matched widths, levels and attention, in one run on one device; prints the median of each and
the ratio (target: ours ≤ 1.0× diffusers').

    python benchmarks/vs_diffusers.py                    # demo and paper profiles
    python benchmarks/vs_diffusers.py --profiles paper --batch 2 --steps 5

Matched: 4 channels in and out (RGB + mask), the profile's `gen.widths` as levels,
`gen.layers_per_level` ResBlocks per encoder level, GroupNorm of 8 groups, self-attention only
in the bottleneck with `gen.heads` heads (diffusers: DownBlock2D/UpBlock2D levels and the
attention of UNetMidBlock2D). Not matched, and counted in the printed parameters: diffusers'
decoder has one ResBlock more per level than ours, and ours adds ScaleU skip scaling. A step is
q_sample, forward, ε-MSE, backward and Adam, on random data (bf16 autocast on CUDA).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from bench_gen import median_step
from diffusers import UNet2DModel

from pipeline.gen import generator as gen
from pipeline.gen.nets.paired_unet import build_generator, count_parameters
from pipeline.params import load_params
from pipeline.training import default_device

PROFILES = {"demo": Path("params.yaml"), "paper": Path("profiles/paper.yaml")}


def diffusers_twin(widths: tuple[int, ...], layers: int, heads: int, size: int) -> UNet2DModel:
    return UNet2DModel(
        sample_size=size,
        in_channels=4,
        out_channels=4,
        block_out_channels=tuple(widths),
        layers_per_block=layers,
        down_block_types=("DownBlock2D",) * len(widths),
        up_block_types=("UpBlock2D",) * len(widths),
        attention_head_dim=widths[-1] // heads,
        norm_num_groups=8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--batch", type=int, default=None, help="default: the profile's")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = default_device()
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads")
    head = "| profile | input | batch | ours | diffusers | ours s/step | diffusers s/step | ratio |"
    print(head + "\n" + "|---" * 8 + "|")
    for profile in args.profiles:
        params = load_params(PROFILES[profile])
        size, batch = params.prepare.gen_size, args.batch or params.gen.batch_size
        config = replace(gen.config(params.gen), arch="concat")
        torch.manual_seed(0)
        ours = build_generator(config).to(device)
        theirs = diffusers_twin(config.widths, config.layers_per_level, config.heads, size)
        theirs = theirs.to(device)
        ours_s = median_step(ours, lambda m, x, t: m(x, t), size, batch, device, args.steps)
        theirs_s = median_step(
            theirs, lambda m, x, t: m(x, t).sample, size, batch, device, args.steps
        )
        print(
            f"| {profile} | {size}² | {batch} | {count_parameters(ours) / 1e6:.2f} M | "
            f"{count_parameters(theirs) / 1e6:.2f} M | {ours_s:.3f} | {theirs_s:.3f} | "
            f"{ours_s / theirs_s:.2f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
