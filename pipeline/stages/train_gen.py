"""Stage train_gen: the paired diffusion generator (one process, or one per GPU under torchrun)."""

from __future__ import annotations

from pathlib import Path

from pipeline.diffusion_training import RunPaths
from pipeline.errors import run_stage
from pipeline.gen_training import GeneratorTraining
from pipeline.io import load_packed
from pipeline.params import load_params
from pipeline.training import close_dist, init_dist

PREPARED = Path("data/prepared")
PATHS = RunPaths(Path("models/gen"), Path("checkpoints/train_gen"), Path("dvclive/train_gen"))


def main() -> None:
    params = load_params()
    size = params.prepare.gen_size
    train = load_packed(PREPARED / f"train_{size}.npy")
    val = load_packed(PREPARED / f"val_{size}.npy")
    dist = init_dist()
    try:
        GeneratorTraining(params.gen, params.seed, train, val, dist).run(PATHS)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
