"""prepare's crops: binary masks after resizing, disjoint splits, seeded positions in bounds."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.crops import crop_positions, pack_crops, split_by_frame
from pipeline.errors import DataError


def _frame(rng, height=96, width=128):
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    mask = ((yy - 40) ** 2 / 200 + (xx - 60) ** 2 / 50) < 1
    mask |= rng.random((height, width)) > 0.97
    return image, mask


@pytest.mark.parametrize("size", [16, 32, 64, 48])
def test_resized_crops_keep_masks_binary(size):
    rng = np.random.default_rng(1)
    image, mask = _frame(rng)
    positions = crop_positions(rng, *mask.shape, 64, 5)
    packed = pack_crops(image, mask, positions, 64, size)
    assert packed.shape == (5, size, size, 4) and packed.dtype == np.uint8
    assert set(np.unique(packed[..., 3])) <= {0, 255}
    assert packed[..., 3].any()


def test_a_crop_at_its_own_size_is_the_exact_window():
    rng = np.random.default_rng(2)
    image, mask = _frame(rng)
    ((y, x),) = crop_positions(rng, *mask.shape, 32, 1)
    packed = pack_crops(image, mask, np.array([[y, x]]), 32, 32)[0]
    np.testing.assert_array_equal(packed[..., :3], image[y : y + 32, x : x + 32])
    np.testing.assert_array_equal(packed[..., 3] > 0, mask[y : y + 32, x : x + 32])


def test_positions_are_seeded_and_inside_the_frame():
    a = crop_positions(np.random.default_rng(3), 96, 128, 64, 200)
    b = crop_positions(np.random.default_rng(3), 96, 128, 64, 200)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0].min() >= 0 and a[:, 0].max() <= 32
    assert a[:, 1].min() >= 0 and a[:, 1].max() <= 64
    assert a[:, 1].max() > 32
    with pytest.raises(DataError, match="does not fit"):
        crop_positions(np.random.default_rng(3), 96, 128, 97, 1)


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_no_frame_is_in_both_splits(n):
    ids = [f"frame_{i:03d}" for i in range(n)]
    train, val = split_by_frame(ids, 0.2, np.random.default_rng(4))
    assert not set(train) & set(val)
    assert sorted(train + val) == ids
    assert train and val
    assert len(val) == min(max(1, round(0.2 * n)), n - 1)
    assert (train, val) == split_by_frame(ids, 0.2, np.random.default_rng(4))


def test_one_frame_cannot_be_split():
    with pytest.raises(DataError, match="at least 2 frames"):
        split_by_frame(["only"], 0.2, np.random.default_rng(0))
