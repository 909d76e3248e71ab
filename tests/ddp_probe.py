"""A tiny generator training that tests start through the launcher, as a stage would be:
`python -m pipeline.launch [--nnodes N] NPROC tests.ddp_probe OUT` (weights in OUT/models)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

from pipeline.gen.generator_training import GeneratorTraining
from pipeline.training import close_dist, init_dist
from tests.conftest import TINY_GEN, crops, run_paths


def main(out: Path) -> None:
    torch.set_num_threads(1)
    dist = init_dist()
    try:
        p = replace(TINY_GEN, epochs=2, ema_decay=0.0)
        GeneratorTraining(p, 0, crops(8), crops(4, 1), dist).run(run_paths(out))
    finally:
        close_dist(dist)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
