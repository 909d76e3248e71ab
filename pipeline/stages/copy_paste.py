"""Stage copy_paste: Najafian et al. synthesis of image/mask pairs from a few annotated frames."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline import artifacts
from pipeline.copy_paste import collect_heads, derive_background, make_fakes, synthesize
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.geometry import resize_short_side
from pipeline.io import PairWriter, atomic_dir, read_rgb
from pipeline.layout import RawLayout, read_scaled_pair
from pipeline.params import load_params
from pipeline.seeding import stage_rng
from pipeline.video import decode_frames

log = logging.getLogger(__name__)


def load_backgrounds(layout: RawLayout, size: int, every: int) -> list[np.ndarray]:
    """Head-free frames from backgrounds/ videos (every k-th frame) and photos, scaled."""
    backgrounds = [resize_short_side(read_rgb(photo), size) for photo in layout.background_photos()]
    for video in layout.background_videos():
        backgrounds.extend(decode_frames(video, size, every=every)[0])
    return backgrounds


def main() -> None:
    params = load_params()
    p, seed, frame_size = params.copy_paste, params.seed, params.extract_frames.size
    layout = RawLayout(Path(params.data.root))
    annotated = [read_scaled_pair(pair, frame_size) for pair in layout.annotated()]
    heads = collect_heads(annotated, p.min_head_area)
    backgrounds = load_backgrounds(layout, frame_size, params.extract_frames.every)
    if not backgrounds:
        log.info("no backgrounds/ in %s: inpainting the heads out of annotated frames", layout.root)
        backgrounds = [derive_background(image, mask) for image, mask in annotated]
    sources = annotated + [(bg, np.zeros(bg.shape[:2], bool)) for bg in backgrounds]
    fakes = make_fakes(stage_rng(seed, "copy_paste", "fakes"), heads, sources, 2 * len(heads))
    log.info(
        "%d real heads, %d distractors, %d backgrounds", len(heads), len(fakes), len(backgrounds)
    )
    shown = []
    with atomic_dir(artifacts.COPY_PASTE) as out:
        writer = PairWriter(out)
        for i in tqdm(range(p.images), desc="copy-paste"):
            rng = stage_rng(seed, "copy_paste", i)
            b = int(rng.integers(len(backgrounds)))
            image, mask = synthesize(rng, backgrounds[b], heads, fakes, p)
            writer.add(f"cp_{i:05d}", image, mask, source="copy_paste", background=b, seed=seed)
            if len(shown) < 8:
                shown.append((image, mask))
        writer.close()
    pair_grid(
        artifacts.COPY_PASTE_GRID,
        [s[0] for s in shown],
        [s[1] for s in shown],
        suptitle="copy-paste pairs",
    )


if __name__ == "__main__":
    run_stage(main)
