"""Evaluation: the GWHD test quadrants, per-domain pooling, and the Table 1 report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.data.layout import RawLayout
from pipeline.datasets import write_pair
from pipeline.seg.evaluation import load_test_crops, score


def test_test_crops_come_from_frame_scale_images_with_masks_at_the_sr_size(tmp_path):
    root = tmp_path / "raw"
    test = root / "gwhd/test"
    for k in range(2):
        image = np.full((32, 32, 3), 40 * k, np.uint8)
        mask = np.zeros((32, 32), bool)
        mask[:16, :16] = True  # the top-left quadrant is all wheat
        write_pair(test, f"img{k}", image, mask)
    pd.DataFrame({"file": ["img0.png", "img1.png"], "domain": ["field_a", "field_b"]}).to_csv(
        test / "domains.csv", index=False
    )
    crops = load_test_crops(RawLayout(root), frame_size=16, out_size=4)
    assert len(crops.images) == 8 and crops.masks.shape == (8, 4, 4)
    assert [im.shape for im in crops.images] == [(8, 8, 3)] * 8  # 32 → 16 (frame), halves of 8
    assert crops.masks[0].all() and not crops.masks[1:4].any()
    assert crops.domains == ["field_a"] * 4 + ["field_b"] * 4
    assert crops.ids[:2] == ["img0_q0", "img0_q1"]


def test_scores_pool_pixels_overall_and_per_domain():
    masks = np.zeros((3, 2, 2), bool)
    masks[0, 0] = True  # 2 wheat pixels
    masks[1, :, 0] = True  # 2 wheat pixels
    probs = np.zeros((3, 2, 2), np.float32)
    probs[0, 0, 0] = 1  # tp 1, fn 1
    probs[1] = 1  # tp 2, fp 2
    probs[2, 0, 0] = 1  # fp 1 on an empty mask
    counts = score(probs, masks, ["a", "b", "b"], 0.5)
    assert counts["a"].dice == pytest.approx(2 * 1 / (2 + 0 + 1))
    assert counts["b"].dice == pytest.approx(2 * 2 / (4 + 3))
    assert counts["b"].iou == pytest.approx(2 / 5)
    assert counts["overall"].dice == pytest.approx(2 * 3 / (6 + 3 + 1))
