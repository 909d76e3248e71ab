"""Tests of the copy-paste synthesis on small synthetic fields with elliptical heads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from pipeline.data.copy_paste import (
    Cutout,
    augment_image,
    augment_object,
    collect_heads,
    colour_statistics,
    derive_background,
    extract_heads,
    make_fakes,
    synthesize,
    transfer_colours,
)
from pipeline.errors import DataError
from pipeline.params import CopyPasteParams

HEAD = np.array([240, 220, 120], dtype=np.uint8)
FAKE = np.array([200, 30, 200], dtype=np.uint8)
GROUND = np.array([40, 90, 30], dtype=np.uint8)
EIGHT = np.ones((3, 3), dtype=bool)
STILL = {"color_jitter": 0.0, "blur_max": 0.0, "noise_std": 0.0}


def ellipse(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.indices(shape)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def field(size: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A green noisy ground with four head-coloured ellipses (two with overlapping boxes)."""
    rng = np.random.default_rng(seed)
    image = np.clip(GROUND + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    for cy, cx, ry, rx in ((20, 20, 6, 10), (60, 25, 12, 5), (70, 70, 8, 8), (62, 86, 3, 9)):
        mask |= ellipse((size, size), cy, cx, ry, rx)
    image[mask] = HEAD
    return image, mask


def solid(colour: np.ndarray, alpha: np.ndarray) -> Cutout:
    return Cutout(np.broadcast_to(colour, (*alpha.shape, 3)).copy(), alpha)


def solid_objects() -> tuple[list[Cutout], list[Cutout]]:
    shapes = [ellipse((13, 21), 6, 10, 6, 10), ellipse((25, 11), 12, 5, 12, 5)]
    return [solid(HEAD, a) for a in shapes], [solid(FAKE, a) for a in shapes]


def test_extract_heads_components_filter_and_own_alpha():
    image, mask = field()
    mask[2:4, 90:92] = True  # a 4-pixel speck, below min_area
    image[2:4, 90:92] = HEAD
    heads = extract_heads(image, mask, min_area=10)
    labels, _ = ndimage.label(mask, structure=EIGHT)
    assert len(heads) == 4
    areas = sorted(int(h.alpha.sum()) for h in heads)
    big = sorted(np.bincount(labels.ravel())[1:])
    assert areas == [a for a in big if a >= 10]
    for head in heads:
        assert head.alpha.dtype == bool and head.rgb.dtype == np.uint8
        assert head.rgb.shape == (*head.alpha.shape, 3)
        assert (head.rgb[head.alpha] == HEAD).all()
        # the alpha is one whole component and touches every side of its box
        assert ndimage.label(head.alpha, structure=EIGHT)[1] == 1
        assert head.alpha[0].any() and head.alpha[-1].any()
        assert head.alpha[:, 0].any() and head.alpha[:, -1].any()
    # the two lower-right heads have overlapping boxes: each alpha holds only its own pixels
    assert sum(int(h.alpha.sum()) for h in heads) == int(mask.sum()) - 4
    assert len(extract_heads(image, mask, min_area=1)) == 5


def test_extract_heads_uses_eight_connectivity():
    mask = np.zeros((6, 6), dtype=bool)
    mask[1, 1] = mask[2, 2] = True
    heads = extract_heads(np.zeros((6, 6, 3), dtype=np.uint8), mask, min_area=2)
    assert len(heads) == 1 and heads[0].alpha.tolist() == [[True, False], [False, True]]


def test_collect_heads_raises_without_heads():
    image, mask = field()
    assert len(collect_heads([(image, mask), (image, mask)], 10)) == 8
    with pytest.raises(DataError, match="no wheat head of at least 500 pixels"):
        collect_heads([(image, mask)], 500)
    with pytest.raises(DataError):
        collect_heads([(image, np.zeros_like(mask))], 1)


def test_derive_background_removes_heads_and_keeps_the_rest():
    image, mask = field()
    background = derive_background(image, mask)
    assert background.shape == image.shape and background.dtype == np.uint8
    near_head = np.abs(background.astype(int) - HEAD).max(axis=2) <= 60
    assert not near_head.any()
    far = ~ndimage.binary_dilation(mask, EIGHT, iterations=4)
    assert np.array_equal(background[far], image[far])
    assert np.array_equal(derive_background(image, np.zeros_like(mask)), image)
    almost_all = np.ones_like(mask)
    almost_all[5, 7] = False
    filled = derive_background(image, almost_all)
    assert (filled == image[5, 7]).all(axis=2).all()
    with pytest.raises(DataError):
        derive_background(image, np.ones_like(mask))


def test_make_fakes_are_head_shaped_and_head_free():
    image, mask = field()
    heads = extract_heads(image, mask, 10)
    rng = np.random.default_rng(1)
    fakes = make_fakes(rng, heads, [(image, mask)], 30)
    assert len(fakes) == 30
    alphas = [h.alpha for h in heads]
    for fake in fakes:
        assert any(a.shape == fake.alpha.shape and np.array_equal(a, fake.alpha) for a in alphas)
        assert fake.rgb.shape == (*fake.alpha.shape, 3) and fake.rgb.dtype == np.uint8
        assert not (fake.rgb == HEAD).all(axis=2).any()
    assert make_fakes(rng, heads, [(image, mask)], 0) == []


def test_make_fakes_fall_back_when_no_head_free_window_fits():
    image, mask = field()
    heads = extract_heads(image, mask, 10)
    crowded = np.zeros((40, 40), dtype=bool)
    crowded[::6, :] = True
    crowded[:, ::6] = True
    crowded_image = np.where(crowded[..., None], HEAD, GROUND).astype(np.uint8)
    tiny = np.broadcast_to(GROUND, (5, 5, 3)).copy()
    sources = [(crowded_image, crowded), (tiny, np.zeros((5, 5), dtype=bool))]
    fakes = make_fakes(np.random.default_rng(2), heads, sources, 20)
    assert len(fakes) == 20
    for fake in fakes:
        colours = fake.rgb[fake.alpha].astype(int)
        assert (np.abs(colours - HEAD).max(axis=1) > 60).all()


def test_augment_object_keeps_a_hard_non_empty_alpha():
    rng = np.random.default_rng(3)
    params = CopyPasteParams(rotation=30.0, elastic=2.0, scale_min=0.7, scale_max=1.3)
    image, mask = field()
    for head in extract_heads(image, mask, 10) * 10:
        out = augment_object(rng, head, params)
        assert out is not None
        assert out.alpha.dtype == bool and out.rgb.dtype == np.uint8
        assert out.rgb.shape == (*out.alpha.shape, 3)
        assert 0.3 < out.alpha.sum() / head.alpha.sum() < 2.2
        assert out.alpha[0].any() and out.alpha[-1].any()
        assert out.alpha[:, 0].any() and out.alpha[:, -1].any()
        assert (np.abs(out.rgb[out.alpha].astype(int) - HEAD) <= 1).all()


def test_augment_object_without_warp_is_a_flip():
    rng = np.random.default_rng(4)
    alpha = np.tri(7, 9, 2, dtype=bool)
    cutout = Cutout(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8), alpha)
    params = CopyPasteParams(rotation=0.0, elastic=0.0, scale_min=1.0, scale_max=1.0)
    seen = set()
    for _ in range(40):
        out = augment_object(rng, cutout, params)
        matches = [
            (fy, fx)
            for fy in (1, -1)
            for fx in (1, -1)
            if np.array_equal(out.alpha, alpha[::fy, ::fx])
            and np.array_equal(out.rgb[out.alpha], cutout.rgb[::fy, ::fx][out.alpha])
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 4


def test_augment_object_elastic_warp_moves_pixels_by_at_most_its_strength():
    alpha = ellipse((21, 31), 10, 15, 10, 15)
    cutout = solid(HEAD, alpha)
    params = CopyPasteParams(rotation=0.0, elastic=3.0, scale_min=1.0, scale_max=1.0)
    rng = np.random.default_rng(12)
    outs = [augment_object(rng, cutout, params).alpha for _ in range(20)]
    assert sum(not np.array_equal(out, alpha) for out in outs) >= 15
    for out in outs:
        assert abs(out.shape[0] - 21) <= 6 and abs(out.shape[1] - 31) <= 6
        assert 0.7 < out.sum() / alpha.sum() < 1.4


def test_augment_object_returns_none_for_a_vanished_alpha():
    cutout = Cutout(np.zeros((1, 2, 3), dtype=np.uint8), np.array([[True, False]]))
    params = CopyPasteParams(rotation=0.0, elastic=0.0, scale_min=0.3, scale_max=0.3)
    assert augment_object(np.random.default_rng(5), cutout, params) is None
    background = np.broadcast_to(GROUND, (40, 40, 3)).copy()
    params = dataclasses.replace(params, size=32, **STILL)
    image, mask = synthesize(np.random.default_rng(5), background, [cutout], [], params)
    assert image.shape == (32, 32, 3) and not mask.any()


def test_augment_image_identity_and_effects():
    image, _ = field()
    still = CopyPasteParams(**STILL)
    assert np.array_equal(augment_image(np.random.default_rng(6), image, still), image)
    out = augment_image(np.random.default_rng(6), image, CopyPasteParams())
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    noisy = augment_image(
        np.random.default_rng(6), image, CopyPasteParams(**{**STILL, "noise_std": 8.0})
    )
    assert 5 < (noisy.astype(float) - image).std() < 11


def test_mask_is_exactly_the_visible_real_heads():
    heads, fakes = solid_objects()
    background = np.broadcast_to(GROUND, (100, 120, 3)).copy()
    params = CopyPasteParams(size=64, real_min=2, real_max=12, fake_min=2, fake_max=12, **STILL)
    fake_pixels = 0
    for seed in range(40):
        image, mask = synthesize(np.random.default_rng(seed), background, heads, fakes, params)
        is_head = (image == HEAD).all(axis=2)
        is_fake = (image == FAKE).all(axis=2)
        is_ground = (image == GROUND).all(axis=2)
        assert (is_head | is_fake | is_ground).all()
        assert np.array_equal(mask, is_head)
        assert mask.any()
        fake_pixels += int(is_fake.sum())
    assert fake_pixels > 0


def test_fakes_never_enter_the_mask():
    heads, fakes = solid_objects()
    background = np.broadcast_to(GROUND, (64, 64, 3)).copy()
    params = CopyPasteParams(size=64, real_min=0, real_max=0, fake_min=5, fake_max=10, **STILL)
    image, mask = synthesize(np.random.default_rng(7), background, heads, fakes, params)
    assert not mask.any() and (image == FAKE).all(axis=2).any()


def test_real_head_count_bounds_the_components():
    heads, _ = solid_objects()
    background = np.broadcast_to(GROUND, (64, 64, 3)).copy()
    counts = {}
    for k in (1, 5):
        params = CopyPasteParams(size=64, real_min=k, real_max=k, fake_min=0, fake_max=0)
        counts[k] = set()
        for seed in range(20):
            _, mask = synthesize(np.random.default_rng(seed), background, heads, [], params)
            counts[k].add(ndimage.label(mask, structure=EIGHT)[1])
    assert counts[1] == {1}
    assert min(counts[5]) > 0 and max(counts[5]) <= 5 and len(counts[5]) > 1


def test_default_synthesis_on_a_textured_field():
    image, mask = field(size=128)
    heads = collect_heads([(image, mask)], 10)
    fakes = make_fakes(np.random.default_rng(8), heads, [(image, mask)], 20)
    params = CopyPasteParams(size=96)
    background = derive_background(image, mask)
    for seed in range(5):
        out, out_mask = synthesize(np.random.default_rng(seed), background, heads, fakes, params)
        assert out.shape == (96, 96, 3) and out.dtype == np.uint8
        assert out_mask.shape == (96, 96) and out_mask.dtype == bool
        assert out_mask.any() and not out_mask.all()


def test_synthesis_is_deterministic_given_the_seed():
    image, mask = field()
    heads = collect_heads([(image, mask)], 10)
    fakes = make_fakes(np.random.default_rng(9), heads, [(image, mask)], 10)
    params = CopyPasteParams(size=64)
    first = synthesize(np.random.default_rng(10), image, heads, fakes, params)
    again = synthesize(np.random.default_rng(10), image, heads, fakes, params)
    other = synthesize(np.random.default_rng(11), image, heads, fakes, params)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_colour_transfer_gives_the_field_frames_colour_statistics():
    rng = np.random.default_rng(0)
    field = rng.normal((60, 110, 40), (12, 20, 8), (32, 32, 3)).clip(0, 255).astype(np.uint8)
    pair = rng.normal((170, 150, 90), (30, 25, 20), (24, 24, 3)).clip(0, 255).astype(np.uint8)
    target = colour_statistics([field])[0]
    moved = transfer_colours(pair, target)
    assert moved.dtype == np.uint8 and moved.shape == pair.shape
    np.testing.assert_allclose(colour_statistics([moved])[0], target, atol=1.0)
    flat = np.full((4, 4, 3), 77, np.uint8)  # no spread: only shifted
    np.testing.assert_array_equal(
        transfer_colours(flat, target),
        np.rint(target[0]).astype(np.uint8)[None, None].repeat(4, 0).repeat(4, 1),
    )
