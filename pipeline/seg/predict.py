"""`synthset-predict`: apply a trained segmentation model to photos or a video.

Any model folder the pipeline writes (models/labeler, models/pseudo_labeler, models/seg/<row>)
works. Each image is brought to frame scale (its shorter side `--frame-size`, the
`extract_frames.size` the model's pipeline ran at), shown to the model at the scale it was
trained on (the U-Net is fully convolutional, so a whole frame-scale image is one input), and its
probabilities are resized back to the image's own size (a video's frames are decoded at frame
scale, so that a long video fits in memory). OUT gets masks/<name>.png (255 = wheat
head), overlays/<name>.png (heads tinted) and cover.csv: each image's wheat-head cover fraction.
OUT is replaced whole only when every input has been processed.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from tqdm import tqdm

from pipeline.data.video import decode_frames
from pipeline.errors import DataError, run_stage
from pipeline.files import atomic_dir
from pipeline.geometry import resize_short_side, scale_image
from pipeline.images import IMAGE_EXTS, VIDEO_EXTS, list_files, read_rgb, write_mask, write_rgb
from pipeline.seg.segmentation import SegModelConfig, load_unet, predict_probs

log = logging.getLogger(__name__)

TINT = np.array([255, 0, 255], np.float32)  # overlay colour of the wheat heads


def frame_size_of(params: Path) -> int:
    """`extract_frames.size` of a params.yaml, for the default `--frame-size`."""
    if not params.is_file():
        raise DataError(f"no {params} here to read extract_frames.size from: pass --frame-size")
    try:
        return int(yaml.safe_load(params.read_text())["extract_frames"]["size"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        raise DataError(f"{params} has no integer extract_frames.size: pass --frame-size") from None


def inputs(source: Path, every: int, frame_size: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, uint8 H×W×3 image) for a photo, every photo of a folder (not recursive) or every
    `every`-th frame of a video, decoded at frame scale (named <video>_f<index>)."""
    if source.is_dir():
        photos = list_files(source, IMAGE_EXTS)
        if not photos:
            raise DataError(f"no photos ({', '.join(IMAGE_EXTS)}) in {source}")
        for photo in photos:
            yield photo.stem, read_rgb(photo)
    elif source.suffix.lower() in VIDEO_EXTS:
        frames, indices = decode_frames(source, frame_size, every)
        for frame, index in zip(frames, indices, strict=True):
            yield f"{source.stem}_f{index:06d}", frame
    elif not source.exists():
        raise DataError(f"input not found: {source}")
    elif source.suffix.lower() in IMAGE_EXTS:
        yield source.stem, read_rgb(source)
    else:
        raise DataError(
            f"{source} is neither a photo ({', '.join(IMAGE_EXTS)}), a video "
            f"({', '.join(VIDEO_EXTS)}) nor a folder"
        )


def predict_image(
    model: torch.nn.Module, config: SegModelConfig, image: np.ndarray, frame_size: int
) -> np.ndarray:
    """Wheat-head probabilities (float32, the image's H×W) of one photo."""
    shown = scale_image(resize_short_side(image, frame_size), config.scale)
    probs = predict_probs(model, shown[None].copy(), 1)  # writable: torch warns on read-only
    size = image.shape[:2]
    return F.interpolate(torch.from_numpy(probs)[None], size=size, mode="bilinear")[0, 0].numpy()


def check_out(out: Path, source: Path) -> None:
    """Refuse an OUT that would replace the input or a folder this command did not write."""
    out, source = out.resolve(), source.resolve()
    if out == source or out in source.parents:
        raise DataError(f"the output folder {out} holds the input {source}: choose another")
    ours = (out / "cover.csv").is_file()
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not ours):
        raise DataError(f"{out} exists and is not a synthset-predict output: choose another")


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with its wheat-head pixels tinted halfway to TINT."""
    out = image.astype(np.float32)
    out[mask] = 0.5 * out[mask] + 0.5 * TINT
    return out.round().astype(np.uint8)


def predict(
    model_dir: Path, source: Path, out: Path, frame_size: int, threshold: float, every: int
) -> pd.DataFrame:
    """Masks, overlays and cover.csv of every input under `out`; returns the cover table."""
    check_out(out, source)
    model, config = load_unet(model_dir)
    items = inputs(source, every, frame_size)
    first = next(items)  # fails early on a bad input, before OUT is touched
    rows, names = [], set()
    with atomic_dir(out) as tmp:
        (tmp / "masks").mkdir()
        (tmp / "overlays").mkdir()
        for name, image in tqdm(chain([first], items), desc="predict", unit="image"):
            if name in names:
                raise DataError(f"two inputs in {source} are named {name}: rename one")
            names.add(name)
            mask = predict_image(model, config, image, frame_size) >= threshold
            write_mask(tmp / "masks" / f"{name}.png", mask)
            write_rgb(tmp / "overlays" / f"{name}.png", overlay(image, mask))
            rows.append(
                {
                    "name": name,
                    "width": image.shape[1],
                    "height": image.shape[0],
                    "cover_fraction": float(mask.mean()),
                }
            )
        table = pd.DataFrame(rows)
        table.to_csv(tmp / "cover.csv", index=False)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="synthset-predict",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("model", type=Path, help="a trained model folder, e.g. models/seg/synthset")
    parser.add_argument("input", type=Path, help="a photo, a folder of photos or a video")
    parser.add_argument("out", type=Path, help="output folder (replaced when done)")
    parser.add_argument(
        "--frame-size",
        type=int,
        default=argparse.SUPPRESS,
        help="shorter side (px) images are brought to before the model's own scale "
        "(default: extract_frames.size of ./params.yaml)",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="mask threshold")
    parser.add_argument("--every", type=int, default=1, help="video: keep every k-th frame")
    args = parser.parse_args(argv)
    frame_size = getattr(args, "frame_size", None)
    if frame_size is not None and frame_size < 1:
        parser.error("--frame-size must be at least 1")
    if not 0 < args.threshold < 1:
        parser.error("--threshold must be in (0, 1)")
    if args.every < 1:
        parser.error("--every must be at least 1")

    def run() -> None:
        size = frame_size or frame_size_of(Path("params.yaml"))
        table = predict(args.model, args.input, args.out, size, args.threshold, args.every)
        log.info(
            "wrote %d masks to %s: mean wheat-head cover %.3f",
            len(table),
            args.out,
            table["cover_fraction"].mean(),
        )

    run_stage(run)


if __name__ == "__main__":
    main()
