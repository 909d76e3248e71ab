"""Evaluation on the GWHD test set (Table 1): every test image, brought to frame scale, is cut
into its four half-size quadrants; each model sees a quadrant at the scale it was trained on, and
its probabilities are compared with the quadrant's mask at the SR size (paper: 1024 → 512 → 256),
with Dice and IoU pooled over pixels, overall and per domain."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.data.layout import RawLayout, read_scaled_pair
from pipeline.geometry import quadrants, resize_mask
from pipeline.metrics import PixelCounts


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
            masks.append(resize_mask(mask_q, (out_size, out_size)))
            domains.append(domain_of[pair.stem])
            ids.append(f"{pair.stem}_q{k}")
    return TestCrops(images, np.stack(masks), domains, ids)


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
