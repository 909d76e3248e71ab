"""Dice/IoU against hand-computed cases; the colour Jensen–Shannon divergence of image sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.metrics import PixelCounts, jensen_shannon, mean_rgb_jsd, rgb_histograms


def _counts(pred, target) -> PixelCounts:
    counts = PixelCounts()
    counts.add(torch.tensor(pred, dtype=torch.float32)[None], torch.tensor(target)[None])
    return counts


def test_dice_and_iou_by_hand():
    pred = [[0.9, 0.8, 0.1], [0.2, 0.7, 0.0]]  # predicted wheat: 3 pixels
    target = [[1, 0, 0], [0, 1, 1]]  # true wheat: 3 pixels, 2 of them predicted
    counts = _counts(pred, target)
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (2, 1, 1, 2)
    assert counts.dice == pytest.approx(4 / 6)
    assert counts.iou == pytest.approx(2 / 4)


def test_precision_recall_and_mask_fractions_by_hand():
    pred = [[0.9, 0.8, 0.7, 0.6], [0.2, 0.1, 0.0, 0.0]]  # 4 predicted
    target = [[1, 0, 0, 0], [1, 0, 0, 0]]  # 2 true, 1 of them predicted
    counts = _counts(pred, target)
    assert counts.precision == pytest.approx(1 / 4)
    assert counts.recall == pytest.approx(1 / 2)
    assert counts.mask_fraction == pytest.approx(4 / 8)
    assert counts.target_mask_fraction == pytest.approx(2 / 8)
    assert _counts([[0.1]], [[0]]).precision == 1.0 and _counts([[0.1]], [[0]]).recall == 1.0


def test_dice_and_iou_are_1_when_both_masks_are_empty_and_0_when_one_is():
    assert _counts([[0.1, 0.2]], [[0, 0]]).dice == 1.0
    assert _counts([[0.1, 0.2]], [[0, 0]]).iou == 1.0
    assert _counts([[0.9, 0.2]], [[0, 0]]).dice == 0.0
    assert _counts([[0.1, 0.2]], [[1, 0]]).iou == 0.0


def test_counts_pool_over_batches():
    counts = PixelCounts()
    counts.add(torch.tensor([[[0.9, 0.1]]]), torch.tensor([[[1, 1]]]))
    counts.add(torch.tensor([[[0.9, 0.9]]]), torch.tensor([[[0, 1]]]))
    assert (counts.tp, counts.fp, counts.fn) == (2, 1, 1)
    assert counts.dice == pytest.approx(4 / 6)


def test_histograms_use_fixed_bins_without_stretching():
    dark = np.zeros((2, 4, 4, 3), np.uint8) + np.array([0, 3, 255], np.uint8)
    h = rgb_histograms(dark, bins=64)
    assert h.shape == (3, 64)
    np.testing.assert_allclose(h.sum(axis=1), 1.0)
    assert h[0, 0] == 1.0 and h[1, 0] == 1.0 and h[2, 63] == 1.0


def test_jsd_is_zero_for_identical_sets_symmetric_and_bounded():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    b = (rng.random((8, 16, 16, 3)) ** 2 * 255).astype(np.uint8)
    assert mean_rgb_jsd(a, a) == pytest.approx(0.0, abs=1e-12)
    assert mean_rgb_jsd(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)
    assert mean_rgb_jsd(a, b) == pytest.approx(mean_rgb_jsd(b, a))
    assert 0 < mean_rgb_jsd(a, b) < 1
    black, white = np.zeros_like(a), np.full_like(a, 255)
    assert mean_rgb_jsd(black, white) == pytest.approx(1.0)


def test_jensen_shannon_matches_the_value_worked_by_hand():
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])  # their mixture m = (0.75, 0.25)
    expected = 0.5 * np.log2(1 / 0.75) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(2))
    assert jensen_shannon(p, q) == pytest.approx(expected)
