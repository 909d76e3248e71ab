"""Where the generator's masks lose density (not a test): mask fraction per sampler.

    python benchmarks/mask_density.py --n 64 ddpm:1000 ddpm:100 ddim:100 dpmsolver++:25

Run from the root of a repository where `dvc repro` has run. Samples `--n` low-resolution pairs
from models/generator with each `sampler:steps` (the same start noise for every setting) and prints
one markdown row per setting: the mean mask fraction (mask channel > 0), its quartiles over pairs,
the share of mask-channel values that are neither background (< -0.9) nor head (> 0.9), and the
wall time, beside the training crops' mask fraction.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pipeline.checkpoints import trained_size
from pipeline.datasets import load_packed
from pipeline.gen import generator as gen
from pipeline.seeding import torch_generator

GENERATOR = Path("models/generator")
PREPARED = Path("data/prepared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", nargs="+", help="sampler:steps, e.g. ddpm:100")
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    generator = gen.load(GENERATOR)
    size = trained_size(generator, GENERATOR, "generator")
    train = load_packed(PREPARED / f"train_{size}.npy")
    fractions = (train[..., 3] > 0).mean(axis=(1, 2))
    quartiles = " / ".join(f"{q:.3f}" for q in np.quantile(fractions, [0.25, 0.5, 0.75]))
    print("| pairs | mask fraction | quartiles | undecided mask values | seconds |")
    print("|---|---|---|---|---|")
    print(f"| training crops ({len(train)}) | {fractions.mean():.3f} | {quartiles} | — | — |")
    for setting in args.settings:
        sampler, steps = setting.split(":")
        noise = [torch_generator(0, "mask_density", k) for k in range(args.n)]
        start = time.perf_counter()
        x = gen.sample(generator, args.n, size, sampler, int(steps), noise)
        seconds = time.perf_counter() - start
        mask = x[:, 3].numpy()
        per_pair = (mask > 0).mean(axis=(1, 2))
        quartiles = " / ".join(f"{q:.3f}" for q in np.quantile(per_pair, [0.25, 0.5, 0.75]))
        undecided = float((np.abs(mask) < 0.9).mean())
        print(
            f"| {sampler} {steps} | {per_pair.mean():.3f} | {quartiles} | {undecided:.3f} "
            f"| {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
