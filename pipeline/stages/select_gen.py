"""Stage select_gen: the kept generator weights named by select_gen.weights, and a sample figure
at the size the weights were trained for."""

from __future__ import annotations

import logging
import shutil

import numpy as np

from pipeline import artifacts
from pipeline.checkpoints import trained_size
from pipeline.datasets import load_packed
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.files import atomic_dir
from pipeline.gen import generator as gen
from pipeline.gen.diffusion import to_uint8
from pipeline.params import load_params
from pipeline.seeding import stage_rng, torch_generator

log = logging.getLogger(__name__)

SHOWN = 8


def main() -> None:
    params = load_params()
    p = params.select_gen
    kept = artifacts.GEN_RUN / p.weights
    model = gen.load(kept)
    size = trained_size(model, kept, "generator")
    train = load_packed(artifacts.prepared("train", size))
    with atomic_dir(artifacts.GENERATOR) as out:
        for name in ("model.safetensors", "config.json"):
            shutil.copyfile(kept / name, out / name)
    log.info("generator: the %s weights of train_gen (%dpx pairs)", p.weights, size)
    shown = min(SHOWN, len(train))
    x = gen.sample(model, shown, size, p.sampler, p.steps, torch_generator(params.seed, "show"))
    images, masks = to_uint8(x)
    picks = np.sort(stage_rng(params.seed, "select_gen").choice(len(train), shown, replace=False))
    real = train[picks]
    pair_grid(
        artifacts.GEN_SAMPLES,
        [*real[..., :3], *images],
        [*(real[..., 3] > 0), *masks],
        ["training crop"] * shown + [f"{model.config.arch} ({p.weights})"] * shown,
        f"training crops beside generated pairs ({p.sampler}, {p.steps} steps)",
    )


if __name__ == "__main__":
    run_stage(main)
