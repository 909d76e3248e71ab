"""Stage train_gen: the paired diffusion generator (one process, or one per GPU under torchrun)."""

from __future__ import annotations

from pipeline import artifacts
from pipeline.datasets import load_packed
from pipeline.errors import run_stage
from pipeline.gen.diffusion_training import RunPaths
from pipeline.gen.generator_training import GeneratorTraining
from pipeline.params import load_params
from pipeline.training import close_dist, init_dist

PATHS = RunPaths(artifacts.GEN_RUN, artifacts.checkpoint("train_gen"), artifacts.live("train_gen"))


def main() -> None:
    params = load_params()
    size = params.prepare.gen_size
    train = load_packed(artifacts.prepared("train", size))
    val = load_packed(artifacts.prepared("val", size))
    dist = init_dist()
    try:
        GeneratorTraining(params.gen, params.seed, train, val, dist).run(PATHS)
    finally:
        close_dist(dist)


if __name__ == "__main__":
    run_stage(main)
