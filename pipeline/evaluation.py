"""Evaluation on the GWHD test set (Table 1): every test image, brought to frame scale, is cut
into its four half-size quadrants; each model sees a quadrant at the scale it was trained on, and
its probabilities are compared with the quadrant's mask at the SR size (paper: 1024 → 512 → 256),
with Dice and IoU pooled over pixels, overall and per domain."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pipeline.layout import RawLayout, read_scaled_pair
from pipeline.metrics import PixelCounts
from pipeline.segmentation import SegModelConfig, predict_list


def quadrants(array: np.ndarray) -> list[np.ndarray]:
    """The four half-size crops of an H×W(×C) array: top-left, top-right, bottom-left,
    bottom-right (an odd last row or column is dropped)."""
    h, w = array.shape[0] // 2, array.shape[1] // 2
    return [array[y : y + h, x : x + w] for y in (0, h) for x in (0, w)]


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A boolean mask resized to size×size by nearest neighbour."""
    image = Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255)
    return np.asarray(image.resize((size, size), Image.Resampling.NEAREST)) > 0


@dataclass
class TestCrops:
    """GWHD test quadrants: images at frame scale, masks at the SR size, and their domains."""

    images: list[np.ndarray]
    masks: np.ndarray
    domains: list[str]
    ids: list[str]


def load_test_crops(layout: RawLayout, frame_size: int, out_size: int) -> TestCrops:
    """Every gwhd/test pair scaled to frame scale (shorter side `frame_size`), cut in quadrants."""
    pairs, domain_of = layout.gwhd("test")
    images, masks, domains, ids = [], [], [], []
    for pair in pairs:
        image, mask = read_scaled_pair(pair, frame_size)
        for k, (image_q, mask_q) in enumerate(zip(quadrants(image), quadrants(mask), strict=True)):
            images.append(np.ascontiguousarray(image_q))
            masks.append(resize_mask(mask_q, out_size))
            domains.append(domain_of[pair.stem])
            ids.append(f"{pair.stem}_q{k}")
    return TestCrops(images, np.stack(masks), domains, ids)


def resize_image(image: np.ndarray, scale: float) -> np.ndarray:
    """A uint8 image scaled by `scale` (bilinear, antialiased)."""
    if scale == 1:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def predict_at_scale(
    model: torch.nn.Module,
    config: SegModelConfig,
    images: list[np.ndarray],
    out_size: int,
    batch_size: int,
) -> np.ndarray:
    """Probabilities (N×out×out) of frame-scale images shown to the model at its training scale,
    area-averaged to out_size."""
    probs = predict_list(model, [resize_image(i, config.scale) for i in images], batch_size)
    out = [
        F.interpolate(torch.from_numpy(p)[None, None], size=(out_size, out_size), mode="area")[0, 0]
        for p in probs
    ]
    return torch.stack(out).numpy()


def score(
    probs: np.ndarray, masks: np.ndarray, domains: list[str], threshold: float
) -> dict[str, PixelCounts]:
    """Pooled pixel counts over all crops ('overall') and per domain."""
    counts: dict[str, PixelCounts] = defaultdict(PixelCounts)
    for prob, mask, domain in zip(probs, masks, domains, strict=True):
        p, m = torch.from_numpy(prob)[None], torch.from_numpy(mask)[None]
        counts["overall"].add(p, m, threshold)
        counts[domain].add(p, m, threshold)
    return dict(counts)
