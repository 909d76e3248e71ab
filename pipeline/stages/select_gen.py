"""Stage select_gen: the kept generator weights named by select_gen.weights, and a sample figure
at the size the weights were trained for."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from pipeline.diffusion import sample, to_uint8
from pipeline.diffusion_training import saved_size
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.gen_training import load_generator
from pipeline.io import atomic_dir, load_packed
from pipeline.params import load_params
from pipeline.seeding import stage_rng, torch_generator

log = logging.getLogger(__name__)

KEPT = Path("models/gen")
OUT = Path("models/generator")
GRID = Path("reports/gen_samples.png")
PREPARED = Path("data/prepared")
SHOWN = 8


def main() -> None:
    params = load_params()
    p = params.select_gen
    kept = KEPT / p.weights
    model = load_generator(kept)
    size = saved_size(model, kept, "generator")
    train = load_packed(PREPARED / f"train_{size}.npy")
    with atomic_dir(OUT) as out:
        for name in ("model.safetensors", "config.json"):
            shutil.copyfile(kept / name, out / name)
    log.info("generator: the %s weights of train_gen (%dpx pairs)", p.weights, size)
    shown = min(SHOWN, len(train))
    shape = (shown, 4, size, size)
    x = sample(model, shape, p.sampler, p.steps, torch_generator(params.seed, "show"))
    images, masks = to_uint8(x)
    picks = np.sort(stage_rng(params.seed, "select_gen").choice(len(train), shown, replace=False))
    real = train[picks]
    pair_grid(
        GRID,
        [*real[..., :3], *images],
        [*(real[..., 3] > 0), *masks],
        ["training crop"] * shown + [f"{model.config.arch} ({p.weights})"] * shown,
        f"training crops beside generated pairs ({p.sampler}, {p.steps} steps)",
    )


if __name__ == "__main__":
    run_stage(main)
