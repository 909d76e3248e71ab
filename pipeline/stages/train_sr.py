"""Stage train_sr: the diffusion super-resolver (one process, or one per GPU under torchrun)."""

from __future__ import annotations

from pathlib import Path

from pipeline.diffusion_training import RunPaths
from pipeline.errors import run_stage
from pipeline.io import load_packed
from pipeline.params import load_params
from pipeline.sr_training import SRTraining
from pipeline.training import close_dist, init_dist

PREPARED = Path("data/prepared")
PATHS = RunPaths(Path("models/sr"), Path("checkpoints/train_sr"), Path("dvclive/train_sr"))


def main() -> None:
    params = load_params()
    sizes = params.prepare
    train = load_packed(PREPARED / f"train_{sizes.sr_size}.npy")
    val = load_packed(PREPARED / f"val_{sizes.sr_size}.npy")
    factor = sizes.sr_size // sizes.gen_size
    dist = init_dist()
    try:
        SRTraining(params.sr, params.seed, train, val, dist, factor).run(PATHS)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
