"""Stage copy_paste: Najafian et al. synthesis of image/mask pairs from a few annotated frames.

Writes data/copy_paste, the labeler's training frames (`copy_paste.images` at `copy_paste.size`),
and data/copy_paste_crops, the Copy-Paste row's pairs: `generate.n` crops of `prepare.crop` frame
pixels from further synthesized frames, resized to `prepare.sr_size` like the generated pairs, so
that row's U-Net trains on as many pairs, at the same scale, as the SynthSet row's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline import artifacts
from pipeline.data.copy_paste import (
    collect_heads,
    colour_statistics,
    derive_background,
    make_fakes,
    synthesize,
    transfer_colours,
)
from pipeline.data.crops import pack_crops
from pipeline.data.layout import RawLayout, read_scaled_pair
from pipeline.data.video import decode_frames
from pipeline.datasets import PairWriter, read_manifest
from pipeline.errors import run_stage
from pipeline.figures import pair_grid
from pipeline.files import atomic_dir
from pipeline.geometry import resize_short_side
from pipeline.images import read_rgb
from pipeline.params import load_params
from pipeline.seeding import stage_rng

log = logging.getLogger(__name__)

Synth = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, int]]


def frame_images(frames: Path) -> list[np.ndarray]:
    """The extracted frames (data/frames), as they are."""
    return [read_rgb(frames / path) for path in read_manifest(frames)["image"]]


def load_backgrounds(layout: RawLayout, size: int, every: int) -> list[np.ndarray]:
    """Head-free frames from backgrounds/ videos (every k-th frame) and photos, scaled."""
    backgrounds = [resize_short_side(read_rgb(photo), size) for photo in layout.background_photos()]
    for video in layout.background_videos():
        backgrounds.extend(decode_frames(video, size, every=every)[0])
    return backgrounds


def write_crops(synth: Synth, n: int, size: int, crop: int, out_size: int, seed: int) -> None:
    """data/copy_paste_crops: `n` pairs, the crop×crop tiles of further synthesized size² frames
    (stream "crops"), resized to out_size² as prepare packs its crops."""
    per_row = size // crop
    tiles = np.array([(r * crop, c * crop) for r in range(per_row) for c in range(per_row)])
    with atomic_dir(artifacts.COPY_PASTE_CROPS) as out:
        writer = PairWriter(out)
        for i in tqdm(range(-(-n // len(tiles))), desc="copy-paste crops"):
            image, mask, b = synth(stage_rng(seed, "copy_paste", "crops", i))
            packed = pack_crops(image, mask, tiles[: n - i * len(tiles)], crop, out_size)
            for k, pair in enumerate(packed):
                writer.add(
                    f"cpc_{i * len(tiles) + k:05d}",
                    pair[..., :3],
                    pair[..., 3] > 0,
                    source="copy_paste",
                    frame=i,
                    background=b,
                    seed=seed,
                )
        writer.close()


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

    field_colours = colour_statistics(frame_images(artifacts.FRAMES)) if p.colour_transfer else None

    def synth(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        b = int(rng.integers(len(backgrounds)))
        image, mask = synthesize(rng, backgrounds[b], heads, fakes, p)
        if field_colours is not None and rng.random() < p.colour_transfer:
            image = transfer_colours(image, field_colours[rng.integers(len(field_colours))])
        return image, mask, b

    shown = []
    with atomic_dir(artifacts.COPY_PASTE) as out:
        writer = PairWriter(out)
        for i in tqdm(range(p.images), desc="copy-paste"):
            image, mask, b = synth(stage_rng(seed, "copy_paste", i))
            writer.add(f"cp_{i:05d}", image, mask, source="copy_paste", background=b, seed=seed)
            if len(shown) < 8:
                shown.append((image, mask))
        writer.close()
    write_crops(synth, params.generate.n, p.size, params.prepare.crop, params.prepare.sr_size, seed)
    shown_images, shown_masks = zip(*shown, strict=True)
    pair_grid(
        artifacts.COPY_PASTE_GRID,
        list(shown_images),
        list(shown_masks),
        suptitle="copy-paste pairs",
    )


if __name__ == "__main__":
    run_stage(main)
