"""Evaluation: the quadrant geometry, scaling to each model's input, per-domain pooling, and the
Table 1 report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.errors import DataError
from pipeline.evaluation import (
    load_test_crops,
    predict_at_scale,
    quadrants,
    resize_mask,
    score,
)
from pipeline.io import write_pair
from pipeline.layout import RawLayout
from pipeline.params import Params
from pipeline.report import ROWS, model_name, read_rows, table1_markdown
from pipeline.segmentation import SegModelConfig


def test_quadrants_are_the_four_half_size_crops_in_reading_order():
    grid = np.arange(4).reshape(2, 2).repeat(3, 0).repeat(3, 1)  # 6×6, one value per quadrant
    crops = quadrants(grid)
    assert [c.shape for c in crops] == [(3, 3)] * 4
    assert [int(np.unique(c)[0]) for c in crops] == [0, 1, 2, 3]
    odd = quadrants(np.zeros((7, 9, 3)))
    assert [c.shape for c in odd] == [(3, 4, 3)] * 4


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


class Painter(torch.nn.Module):
    """A stand-in U-Net: logit +10 where the red channel is bright, −10 elsewhere."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(1))
        self.encoder = type("E", (), {"out_channels": [3, 8, 8]})()
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape[-2:]))
        return torch.where(x[:, :1] > 0, 10.0, -10.0) + self.bias


@pytest.mark.parametrize(("scale", "seen"), [(1.0, (16, 16)), (0.5, (8, 8))])
def test_each_model_sees_crops_at_its_own_scale_and_is_scored_at_the_sr_size(scale, seen):
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, :8, 0] = 255
    model = Painter()
    config = SegModelConfig("x", 2, [8, 8], size=8, scale=scale)
    probs = predict_at_scale(model, config, [image], out_size=4, batch_size=2)
    assert model.seen == [seen] and probs.shape == (1, 4, 4)
    np.testing.assert_allclose(probs[0, :, :2], 1.0, atol=1e-4)
    np.testing.assert_allclose(probs[0, :, 2:], 0.0, atol=1e-4)


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


def test_resize_mask_stays_binary():
    mask = np.eye(8, dtype=bool)
    assert set(np.unique(resize_mask(mask, 3))) <= {False, True}


def test_report_collects_every_row_and_column(tmp_path):
    values = {"copy_paste": 0.25, "synthset": 0.5, "pseudo": 0.375, "real_only": 0.125}
    for row, columns in ROWS.items():
        for k, column in enumerate(columns):
            folder = tmp_path / f"evaluate_{model_name(row, column)}"
            folder.mkdir()
            value = values[row] + k / 100
            (folder / "metrics.json").write_text(json.dumps({"dice": value, "iou": value / 2}))
    table = read_rows(ROWS, tmp_path)
    assert table["synthset"]["all_finetune"] == {"dice": 0.52, "iou": 0.26}
    assert table["real_only"] == {"gwhd_finetune": {"dice": 0.125, "iou": 0.0625}}
    text = table1_markdown(table, Params())
    assert "| Copy-Paste (labeler) | 0.250 | 0.125 | 0.260 | 0.130 | 0.270 | 0.135 |" in text
    assert "| reference: real only | — | — | 0.125 | 0.062 | — | — |" in text
    assert "SynthSet (concat)" in text and "generated_pairs.png" in text
    with pytest.raises(DataError, match="evaluate_other_gwhd"):
        read_rows({"other": ("gwhd_finetune",)}, tmp_path)
