"""Stage select_gen: the kept generator weights named by gen.select, and a sample figure."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from pipeline.diffusion import sample, to_uint8
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
    p, size = params.gen, params.prepare.gen_size
    model = load_generator(KEPT / p.select)
    with atomic_dir(OUT) as out:
        for name in ("model.safetensors", "config.json"):
            shutil.copyfile(KEPT / p.select / name, out / name)
    log.info("generator: the %s weights of train_gen", p.select)
    train = load_packed(PREPARED / f"train_{size}.npy")
    shown = min(SHOWN, len(train))
    shape = (shown, 4, size, size)
    x = sample(model, shape, p.jsd_sampler, p.jsd_steps, torch_generator(params.seed, "show"))
    images, masks = to_uint8(x)
    picks = np.sort(stage_rng(params.seed, "select_gen").choice(len(train), shown, replace=False))
    real = train[picks]
    pair_grid(
        GRID,
        [*real[..., :3], *images],
        [*(real[..., 3] > 0), *masks],
        ["training crop"] * shown + [f"{p.arch} ({p.select})"] * shown,
        f"training crops beside generated pairs ({p.jsd_sampler}, {p.jsd_steps} steps)",
    )


if __name__ == "__main__":
    run_stage(main)
