"""Training crops: split by frame, seeded crop positions, resizing and packing (DESIGN §3)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.errors import DataError


def split_by_frame(
    ids: list[str], val_fraction: float, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """Seeded train/val split of frame ids; each split gets at least one frame."""
    if len(ids) < 2:
        raise DataError(f"a train/val split needs at least 2 frames, got {len(ids)}")
    order = rng.permutation(len(ids))
    n_val = min(max(1, round(val_fraction * len(ids))), len(ids) - 1)
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(ids[i] for i in order[n_val:])
    return train, val


def crop_positions(
    rng: np.random.Generator, height: int, width: int, crop: int, count: int
) -> np.ndarray:
    """`count` random top-left corners (y, x) of crop×crop windows inside a height×width frame."""
    if crop > min(height, width):
        raise DataError(f"crop {crop} does not fit in a {width}x{height} frame")
    ys = rng.integers(0, height - crop + 1, count)
    xs = rng.integers(0, width - crop + 1, count)
    return np.stack([ys, xs], axis=1)


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """One square pair resized to size×size as uint8 H×W×4: bilinear RGB, nearest 0/255 mask."""
    if image.shape[0] != size:
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        mask = np.asarray(
            Image.fromarray(mask.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
        )
    return np.concatenate([image, (mask > 0).astype(np.uint8)[..., None] * 255], axis=2)


def pack_crops(
    image: np.ndarray, mask: np.ndarray, positions: np.ndarray, crop: int, size: int
) -> np.ndarray:
    """The crops at `positions`, each resized to size×size, packed as uint8 N×size×size×4."""
    return np.stack(
        [
            resize_pair(image[y : y + crop, x : x + crop], mask[y : y + crop, x : x + crop], size)
            for y, x in positions
        ]
    )
