"""Image geometry, one place for every stage: the size for a shorter side, resizing images
(bilinear, antialiased: PIL's) and masks (nearest), centre squares and crops, quadrants, showing
images to a model at its own scale and area-averaging its probabilities back, and the mask
fraction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image


def short_side_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Width and height after scaling the shorter side to `short_side` (aspect kept)."""
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 H×W×3 image resized to (width, height) = `size`, bilinear and antialiased."""
    if size == (image.shape[1], image.shape[0]):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask (bool, or non-zero = wheat) resized to (width, height) = `size` by nearest
    neighbour, as bool."""
    image = Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255)
    return np.asarray(image.resize(size, Image.Resampling.NEAREST)) > 0


def resize_short_side(image: np.ndarray, size: int, mask: bool = False) -> np.ndarray:
    """Scale so the shorter side is `size`: bilinear (antialiased) for images, nearest for masks."""
    height, width = image.shape[:2]
    new = short_side_size(width, height, size)
    if new == (width, height):
        return image
    return resize_mask(image, new) if mask else resize_image(image, new)


def scale_image(image: np.ndarray, scale: float) -> np.ndarray:
    """A uint8 image scaled by `scale` (bilinear, antialiased)."""
    if scale == 1:
        return image
    h, w = image.shape[:2]
    return resize_image(image, (max(1, round(w * scale)), max(1, round(h * scale))))


def centre_square(array: np.ndarray) -> np.ndarray:
    """The centred square of side min(H, W) of an H×W(×C) array."""
    h, w = array.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(array[y : y + side, x : x + side])


def centre_crops(batch: np.ndarray, size: int) -> np.ndarray:
    """The centred size×size window of every item of an N×H×W(×C) batch."""
    height, width = batch.shape[1:3]
    y, x = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(batch[:, y : y + size, x : x + size])


def quadrants(array: np.ndarray) -> list[np.ndarray]:
    """The four half-size crops of an H×W(×C) array: top-left, top-right, bottom-left,
    bottom-right (an odd last row or column is dropped)."""
    h, w = array.shape[0] // 2, array.shape[1] // 2
    return [array[y : y + h, x : x + w] for y in (0, h) for x in (0, w)]


def area_average(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float H×W map brought to (width, height) = `size` by area averaging (torch's)."""
    import torch  # on use: the stages that only crop or resize do without its import time
    import torch.nn.functional as F

    out = F.interpolate(torch.from_numpy(prob)[None, None], size=size[::-1], mode="area")
    return out[0, 0].numpy()


def predict_at_scale(
    predict: Callable[[list[np.ndarray]], list[np.ndarray]],
    images: list[np.ndarray],
    scale: float,
    out_size: tuple[int, int],
) -> np.ndarray:
    """Probabilities (N×out_h×out_w) of images shown to a model scaled by `scale` (its own
    input pixels per image pixel), each area-averaged to (width, height) = `out_size`.
    `predict` maps a list of uint8 images to their probability maps."""
    probs = predict([scale_image(image, scale) for image in images])
    return np.stack([area_average(prob, out_size) for prob in probs])


def mask_fraction(mask: np.ndarray) -> float:
    """The share of a mask's pixels that are wheat (non-zero)."""
    return float(np.mean(np.asarray(mask) > 0))
