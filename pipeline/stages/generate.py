"""Stage generate: generate.n pairs from noise (generator, then super-resolver), resumable, and
the figures of paper Fig. 4 (pairs) and Fig. 5 (upsampling beside super-resolution). Under
torchrun (dist.nproc processes, one per GPU) the ranks share the batches."""

from __future__ import annotations

import logging

import numpy as np

from pipeline import artifacts
from pipeline.errors import run_stage
from pipeline.figures import pair_grid, sr_grid
from pipeline.gen import generator as gen
from pipeline.gen import super_resolver
from pipeline.gen.generation import Generation, GenerationSpec, chained_sizes
from pipeline.images import read_mask, read_rgb
from pipeline.params import load_params
from pipeline.training import close_dist, init_dist

log = logging.getLogger(__name__)

SHOWN = 8


def main() -> None:
    params = load_params()
    g = params.generate
    weights = {"generator": artifacts.GENERATOR, "sr": artifacts.SR_RUN / g.sr_weights}
    generator, sr = gen.load(weights["generator"]), super_resolver.load(weights["sr"])
    gen_size, factor = chained_sizes(generator, sr, weights["generator"], weights["sr"])
    spec = GenerationSpec.from_params(g, params.seed, gen_size, factor)
    dist = init_dist()
    try:
        generation = Generation(
            spec,
            generator,
            sr,
            {name: folder / "model.safetensors" for name, folder in weights.items()},
            dist,
        )
        manifest = generation.run(artifacts.GENERATED, artifacts.checkpoint("generate"))
    finally:
        close_dist(dist)
    if not dist.main:
        return
    log.info(
        "generated %d pairs, mean mask fraction %.3f", len(manifest), manifest.mask_fraction.mean()
    )
    rows = manifest.iloc[np.linspace(0, len(manifest) - 1, min(SHOWN, len(manifest))).astype(int)]
    images = [read_rgb(artifacts.GENERATED / path) for path in rows["image"]]
    masks = [read_mask(artifacts.GENERATED / path) for path in rows["mask"]]
    sampling = f"{g.sampler} {g.steps} + SR {g.sr_sampler} {g.sr_steps} steps"
    pair_grid(
        artifacts.GENERATED_PAIRS, images, masks, list(rows["id"]), f"generated pairs ({sampling})"
    )
    low_images = np.stack([read_rgb(artifacts.GENERATED / path) for path in rows["lowres_image"]])
    low_masks = np.stack([read_mask(artifacts.GENERATED / path) for path in rows["lowres_mask"]])
    up_images, up_masks = super_resolver.upsampled(low_images, low_masks, factor)
    sr_grid(
        artifacts.SR_COMPARE,
        [
            ("bilinear", list(up_images)),
            ("SR image", images),
            ("nearest", list(up_masks)),
            ("SR mask", masks),
        ],
        list(rows["id"]),
        f"{gen_size}px generator output upsampled ×{factor} beside the super-resolver",
    )


if __name__ == "__main__":
    run_stage(main)
