"""Image geometry: sizes for a shorter side, resizing, centre squares and crops, quadrants,
prediction at a model's own scale, the mask fraction."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from pipeline.geometry import (
    area_average,
    centre_crops,
    centre_square,
    mask_fraction,
    predict_at_scale,
    quadrants,
    resize_image,
    resize_mask,
    resize_short_side,
    scale_image,
    short_side_size,
)
from pipeline.seg.segmentation import predict_list


def test_the_short_side_size_keeps_the_aspect():
    assert short_side_size(1920, 1080, 256) == (455, 256)
    assert short_side_size(100, 300, 51) == (51, 153)


def test_resize_short_side_keeps_masks_binary_and_images_smooth():
    rng = np.random.default_rng(0)
    mask = rng.random((60, 90)) > 0.7
    small = resize_short_side(mask, 20, mask=True)
    assert small.shape == (20, 30) and small.dtype == bool
    np.testing.assert_array_equal(small, mask[1::3, 1::3])  # nearest: every third pixel's centre
    image = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    shrunk = resize_short_side(image, 20)
    assert shrunk.shape == (20, 30, 3)
    block = image[:3, :3].reshape(-1, 3).mean(axis=0)  # antialiased: about the 3×3 block's mean
    assert np.abs(shrunk[0, 0] - block).max() < 40
    assert resize_short_side(image, 60) is image


def test_a_mask_resized_by_nearest_neighbour_takes_the_centre_pixels():
    mask = np.zeros((4, 4), bool)
    mask[1::2, 1::2] = True  # the bottom-right pixel of every 2×2 block
    np.testing.assert_array_equal(resize_mask(mask, (2, 2)), np.ones((2, 2), bool))
    np.testing.assert_array_equal(resize_mask(~mask, (2, 2)), np.zeros((2, 2), bool))
    assert resize_mask(mask, (8, 4)).shape == (4, 8)


def test_resize_image_is_the_identity_at_its_own_size_and_bilinear_otherwise():
    ramp = np.tile(np.arange(0, 256, 64, dtype=np.uint8), (4, 1))[..., None].repeat(3, 2)
    assert resize_image(ramp, (4, 4)) is ramp
    up = resize_image(ramp, (8, 4))
    assert up.shape == (4, 8, 3) and (np.diff(up[0, :, 0].astype(int)) >= 0).all()
    assert scale_image(ramp, 1) is ramp and scale_image(ramp, 0.5).shape == (2, 2, 3)


def test_centre_squares_and_crops():
    array = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(centre_square(array), array[:, :3])
    batch = np.arange(2 * 5 * 6).reshape(2, 5, 6)
    np.testing.assert_array_equal(centre_crops(batch, 3), batch[:, 1:4, 1:4])


def test_quadrants_are_the_four_half_size_crops_in_reading_order():
    grid = np.arange(4).reshape(2, 2).repeat(3, 0).repeat(3, 1)  # 6×6, one value per quadrant
    crops = quadrants(grid)
    assert [c.shape for c in crops] == [(3, 3)] * 4
    assert [int(np.unique(c)[0]) for c in crops] == [0, 1, 2, 3]
    odd = quadrants(np.zeros((7, 9, 3)))
    assert [c.shape for c in odd] == [(3, 4, 3)] * 4


def test_area_average_takes_block_means_and_puts_width_first():
    prob = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(area_average(prob, (2, 2)), [[2.5, 4.5], [10.5, 12.5]])
    assert area_average(prob, (4, 2)).shape == (2, 4)


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


@pytest.mark.parametrize(("scale", "seen"), [(1.0, (16, 16)), (0.5, (8, 8)), (2.0, (32, 32))])
def test_a_model_sees_images_at_its_own_scale_and_is_scored_at_the_output_size(scale, seen):
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, :8, 0] = 255
    model = Painter()
    predict = functools.partial(predict_list, model, batch_size=2)
    probs = predict_at_scale(predict, [image], scale, (4, 4))
    assert model.seen == [seen] and probs.shape == (1, 4, 4)
    np.testing.assert_allclose(probs[0, :, :2], 1.0, atol=1e-4)
    np.testing.assert_allclose(probs[0, :, 2:], 0.0, atol=1e-4)


def test_the_mask_fraction_counts_non_zero_pixels():
    mask = np.zeros((4, 5), np.uint8)
    mask[0, :2] = 255
    assert mask_fraction(mask) == 0.1
    assert mask_fraction(mask > 0) == 0.1 and mask_fraction(np.ones((2, 2), bool)) == 1.0
