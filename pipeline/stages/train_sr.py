"""Stage train_sr: the diffusion super-resolver (one process, or one per GPU under torchrun)."""

from __future__ import annotations

from pipeline import artifacts
from pipeline.datasets import load_packed
from pipeline.errors import run_stage
from pipeline.gen.diffusion_training import RunPaths
from pipeline.gen.sr_training import SRTraining
from pipeline.params import load_params
from pipeline.training import close_dist, init_dist

PATHS = RunPaths(artifacts.SR_RUN, artifacts.checkpoint("train_sr"), artifacts.live("train_sr"))


def main() -> None:
    params = load_params()
    sizes = params.prepare
    train = load_packed(artifacts.prepared("train", sizes.sr_size))
    val = load_packed(artifacts.prepared("val", sizes.sr_size))
    factor = sizes.sr_size // sizes.gen_size
    dist = init_dist()
    try:
        SRTraining(params.sr, params.seed, train, val, dist, factor).run(PATHS)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
