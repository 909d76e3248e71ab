"""`synthset-arrange`: turn a folder of image/mask pairs into the raw input layout.

The pairs are shuffled (seeded) and dealt out: a few become the hand-annotated seed of copy-paste,
some the GWHD-style fine-tune set, some the test set, and the rest unlabelled field footage: an
H.264 video of a camera panning across a strip of those photos, plus the photos as stills.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import numpy as np

from pipeline.data.video import encode_video
from pipeline.datasets import list_pairs, read_pair, write_pair
from pipeline.errors import DataError, run_stage
from pipeline.files import atomic_dir
from pipeline.geometry import resize_short_side
from pipeline.images import read_rgb

log = logging.getLogger(__name__)


def pan_strip(photos: list[np.ndarray], size: int, step: int) -> list[np.ndarray]:
    """Frames of a size×size camera moving `step` px per frame along the photos side by side."""
    strip = np.concatenate([resize_short_side(p, size)[:size, :size] for p in photos], axis=1)
    return [strip[:, x : x + size] for x in range(0, strip.shape[1] - size + 1, step)]


def arrange(
    source: Path,
    target: Path,
    annotated: int,
    finetune: int,
    test: int,
    video_photos: int,
    size: int,
    seed: int,
    stills: int | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Deal the pairs of source/{images,masks} into target's raw layout; return the counts.

    The pairs left after the labelled sets and the video's photos become stills (at most `stills`).
    A target that exists and is not empty is replaced only with `force`.
    """
    if (
        Path(target).exists()
        and not force
        and (Path(target).is_file() or any(Path(target).iterdir()))
    ):
        raise DataError(f"{target} exists and is not empty: choose another or pass --force")
    pairs = list_pairs(source, "source")
    need = annotated + finetune + test + video_photos
    if need > len(pairs):
        raise DataError(f"{source} has {len(pairs)} pairs, the split asks for {need}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    picked = [pairs[i] for i in order]
    deal = {"annotated": picked[:annotated]}
    deal["gwhd/finetune"] = picked[annotated : annotated + finetune]
    deal["gwhd/test"] = picked[annotated + finetune : annotated + finetune + test]
    unlabelled = picked[annotated + finetune + test :]
    still_pairs = unlabelled[video_photos:][:stills]
    with atomic_dir(target) as out:
        for folder, group in deal.items():
            for pair in group:
                write_pair(out / folder, pair.stem, *read_pair(pair))
        photos = [read_rgb(pair.image) for pair in unlabelled[:video_photos]]
        encode_video(out / "videos" / "pan.mp4", pan_strip(photos, size, size // 16), fps=10)
        (out / "stills").mkdir()
        for pair in still_pairs:
            shutil.copyfile(pair.image, out / "stills" / pair.image.name)
    counts = {k: len(v) for k, v in deal.items()}
    counts.update(video_photos=len(photos), stills=len(still_pairs))
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="synthset-arrange",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("source", type=Path, help="folder with images/ and masks/ (same stems)")
    parser.add_argument("target", type=Path, help="new raw-layout folder")
    parser.add_argument("--annotated", type=int, default=3, help="copy-paste seed pairs")
    parser.add_argument("--finetune", type=int, default=36, help="GWHD-style fine-tune pairs")
    parser.add_argument("--test", type=int, default=80, help="test pairs")
    parser.add_argument("--video-photos", type=int, default=8, help="photos panned in the video")
    parser.add_argument(
        "--stills", type=int, default=argparse.SUPPRESS, help="cap on stills (default: all)"
    )
    parser.add_argument("--size", type=int, default=512, help="video frame size (px)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    parser.add_argument(
        "--force", action="store_true", help="replace a target that exists and is not empty"
    )
    args = parser.parse_args(argv)
    for name in ("annotated", "finetune", "test", "video_photos"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    stills = getattr(args, "stills", None)
    if stills is not None and stills < 0:
        parser.error("--stills must not be negative")

    def run() -> None:
        counts = arrange(
            args.source,
            args.target,
            args.annotated,
            args.finetune,
            args.test,
            args.video_photos,
            args.size,
            args.seed,
            stills,
            args.force,
        )
        log.info("wrote %s: %s", args.target, counts)

    run_stage(run)


if __name__ == "__main__":
    main()
