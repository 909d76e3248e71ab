"""Benchmark (not a test): our TwoEncoder generator's training step against the paper's public
code's (`UnstableDiffusion`, separate encoders, `configs/seperate.json`) at paper widths, 128²,
in one run on one device; prints the median of each and the ratio (target: ours ≤ 0.8×).

    git --git-dir=/work/.mirror/VisionResearchLab+SynthSet/repo archive HEAD classeg \
        | tar x -C /tmp/synthset_public                   # any checkout of the public code
    python benchmarks/vs_public_code.py /tmp/synthset_public --batch 2 --steps 5

The public code is imported from that folder, not copied. Both get the same step: q_sample on
RGB + mask, forward, ε-MSE, backward, Adam (bf16 autocast on CUDA), random data. The public
network takes the image and the mask apart and embeds t itself; ours embeds t the same way.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch
from bench_gen import median_step

from pipeline.gen import generator as gen
from pipeline.gen.nets.paired_unet import build_generator, count_parameters
from pipeline.params import load_params
from pipeline.training import default_device

PAPER = Path("profiles/paper.yaml")


def public_two_encoder(folder: Path, widths: tuple[int, ...], layers: int, time_dim: int):
    """The public code's generator with separate encoders, as `configs/seperate.json` builds it."""
    sys.path.insert(0, str(folder))
    from classeg.extensions.unstable_diffusion.model.unstable_diffusion import UnstableDiffusion

    return UnstableDiffusion(
        im_channels=3,
        seg_channels=1,
        layer_depth=layers,
        channels=list(widths),
        shared_encoder=False,
        time_emb_dim=time_dim,
    )


def public_call(model, x, t):
    image, mask = model(x[:, :3], x[:, 3:], t.float())
    return torch.cat([image, mask], dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("public_code", type=Path, help="a checkout of the paper's public code")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds of each")
    args = parser.parse_args()
    device = default_device()
    params = load_params(PAPER)
    size = params.prepare.gen_size
    config = replace(gen.config(params.gen), arch="two_encoder")
    torch.manual_seed(0)
    ours = build_generator(config).to(device)
    theirs = public_two_encoder(
        args.public_code, config.widths, config.layers_per_level, config.time_dim
    ).to(device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads")
    ours_s, theirs_s = [], []
    for _ in range(args.repeats):  # alternate, so a drift of the machine hits both
        ours_s.append(
            median_step(ours, lambda m, x, t: m(x, t), size, args.batch, device, args.steps)
        )
        theirs_s.append(median_step(theirs, public_call, size, args.batch, device, args.steps))
    ours_m, theirs_m = min(ours_s), min(theirs_s)
    print("| input | batch | ours | public code | ours s/step | public s/step | ratio |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {size}² | {args.batch} | {count_parameters(ours) / 1e6:.2f} M | "
        f"{count_parameters(theirs) / 1e6:.2f} M | {ours_m:.3f} | {theirs_m:.3f} | "
        f"{ours_m / theirs_m:.2f}× |"
    )
    print(f"rounds (median s/step each): ours {ours_s}, public {theirs_s}")


if __name__ == "__main__":
    main()
