"""Training crops: split by source segment, seeded crop positions, packing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.geometry import resize_image, resize_mask
from pipeline.images import read_mask, read_rgb


def source_segments(frames: pd.DataFrame, segment: int) -> pd.Series:
    """The split segment of every frame: a source's frames in order of their index, cut into runs
    of `segment` consecutive frames (`source#k`); a still is a source of one frame."""
    if segment < 1:
        raise ValueError(f"segment must be at least 1 frame, got {segment}")
    order = frames.sort_values(["source", "frame"], kind="stable")
    run = order.groupby("source", sort=False).cumcount() // segment
    return (order["source"] + "#" + run.astype(str)).reindex(frames.index)


def split_by_source(
    frames: pd.DataFrame, val_fraction: float, segment: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Seeded train/val split of frames (columns id, source, frame) by source segment.

    Consecutive frames of a video are near-duplicates, so whole segments go to one side: segments
    are drawn in seeded order into val until it holds round(val_fraction · frames) frames (at least
    one segment; at least one stays in train). Returns id, source, segment and split per frame.
    (scikit-learn's GroupShuffleSplit sizes val by its share of groups, not of frames, and draws
    with its own generator: other splits, and every output downstream would change.)
    """
    segments = source_segments(frames, segment)
    sizes = segments.value_counts(sort=False).sort_index()
    if len(sizes) < 2:
        raise DataError(
            f"a train/val split needs at least 2 source segments, got {len(sizes)} "
            f"({len(frames)} frames in segments of {segment}); lower prepare.segment"
        )
    target = max(1, round(val_fraction * len(frames)))
    val, count = set(), 0
    for name in sizes.index[rng.permutation(len(sizes))][:-1]:
        if count >= target:
            break
        val.add(name)
        count += int(sizes[name])
    split = np.where(segments.isin(val), "val", "train")
    return pd.DataFrame(
        {"id": frames["id"], "source": frames["source"], "segment": segments, "split": split}
    )


def crop_positions(
    rng: np.random.Generator, height: int, width: int, crop: int, count: int
) -> np.ndarray:
    """`count` random top-left corners (y, x) of crop×crop windows inside a height×width frame."""
    if crop > min(height, width):
        raise DataError(f"crop {crop} does not fit in a {width}x{height} frame")
    ys = rng.integers(0, height - crop + 1, count)
    xs = rng.integers(0, width - crop + 1, count)
    return np.stack([ys, xs], axis=1)


def pack_crops(
    image: np.ndarray, mask: np.ndarray, positions: np.ndarray, crop: int, size: int
) -> np.ndarray:
    """The crops at `positions`, each resized to size×size, packed as uint8 N×size×size×4."""
    return np.stack(
        [
            _packed_pair(image[y : y + crop, x : x + crop], mask[y : y + crop, x : x + crop], size)
            for y, x in positions
        ]
    )


def frame_crops(
    image: Path, mask: Path, rng: np.random.Generator, crop: int, count: int, sizes: list[int]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One frame's `count` seeded crop positions and its crops packed at each of `sizes`."""
    rgb, binary = read_rgb(image), read_mask(mask)
    positions = crop_positions(rng, *binary.shape, crop, count)
    return positions, {size: pack_crops(rgb, binary, positions, crop, size) for size in sizes}


def _packed_pair(image: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """One square pair resized to size×size as uint8 H×W×4: bilinear RGB, nearest 0/255 mask."""
    image, mask = resize_image(image, (size, size)), resize_mask(mask, (size, size))
    return np.concatenate([image, mask.astype(np.uint8)[..., None] * 255], axis=2)
