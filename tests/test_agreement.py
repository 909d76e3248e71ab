"""Teacher agreement of generated pairs: per-pair Dice, the keep threshold, the teacher's scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.errors import DataError
from pipeline.seg.agreement import agreement_threshold, pair_dice, teacher_dice
from pipeline.seg.segmentation import SegModelConfig, build_unet
from pipeline.stages.agree import labelling_threshold


def test_pair_dice_scores_each_pair_and_empty_pairs_agree():
    masks = np.zeros((3, 2, 2), bool)
    masks[0, 0] = True  # two head pixels
    masks[1, :, 0] = True
    probs = np.zeros((3, 2, 2), np.float32)
    probs[0, 0, 0] = 0.9  # one of the two found
    probs[1] = 0.7  # both found, two false alarms
    np.testing.assert_allclose(pair_dice(probs, masks), [2 / 3, 2 * 2 / 6, 1.0])


def test_the_threshold_is_the_crops_quantile_and_zero_keeps_everything():
    crops = np.linspace(0.0, 1.0, 101)
    assert agreement_threshold(crops, 0.1) == pytest.approx(0.1)
    assert agreement_threshold(crops, 0.0) == -np.inf
    with pytest.raises(ValueError, match="quantile"):
        agreement_threshold(crops, 1.0)


def test_the_teacher_sees_pairs_at_its_scale_and_scores_them_at_theirs():
    torch.manual_seed(0)
    model = build_unet(SegModelConfig("mobilenet_v2", 2, [8, 8], size=16))
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[-2:]))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    masks = rng.random((3, 8, 8)) > 0.5
    dice = teacher_dice(model, images, masks, 2.0, batch_size=2, threshold=0.5)
    assert dice.shape == (3,) and ((dice >= 0) & (dice <= 1)).all()
    assert all(tuple(shape) == (16, 16) for shape in seen)  # enlarged twice before predicting
    everything = teacher_dice(model, images, masks, 2.0, batch_size=2, threshold=0.0)
    heads = masks.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(everything, 2 * heads / (heads + 64))  # at 0 it marks every pixel


def test_agree_scores_at_the_threshold_the_pseudo_labels_were_cut_at():
    assert labelling_threshold(pd.DataFrame({"threshold": [0.87, 0.87]})) == 0.87
    with pytest.raises(DataError, match="2 thresholds"):
        labelling_threshold(pd.DataFrame({"threshold": [0.5, 0.87]}))
