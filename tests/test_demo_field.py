"""Tests of the procedural wheat-field world (pipeline.data.demo_field)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from pipeline.data.demo_field import DOMAINS, Domain, render_field

SIZE = 128


@pytest.fixture(scope="module")
def renders() -> list[tuple[np.ndarray, np.ndarray]]:
    """One SIZE x SIZE render per domain, each from its own seed."""
    return [render_field(np.random.default_rng(i), d, SIZE, SIZE) for i, d in enumerate(DOMAINS)]


def test_eighteen_distinct_named_domains():
    assert len(DOMAINS) == 18
    assert all(isinstance(d, Domain) and d.name for d in DOMAINS)
    assert len({d.name for d in DOMAINS}) == 18
    assert len(set(DOMAINS)) == 18


@pytest.mark.parametrize(("height", "width"), [(64, 64), (96, 160), (160, 96)])
@pytest.mark.parametrize("heads", [True, False])
def test_a_rendered_field_is_uint8_rgb_with_a_bool_mask_of_its_size(height, width, heads):
    image, mask = render_field(np.random.default_rng(0), DOMAINS[0], height, width, heads)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    assert mask.shape == (height, width) and mask.dtype == np.bool_


def test_too_small_is_rejected():
    with pytest.raises(ValueError, match="64"):
        render_field(np.random.default_rng(0), DOMAINS[0], 63, 128)


def test_a_seed_renders_the_same_field_and_another_seed_another():
    def run(seed):
        return render_field(np.random.default_rng(seed), DOMAINS[3], 96, 112)

    (a, ma), (b, mb), (c, mc) = run(7), run(7), run(8)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(a, c) and not np.array_equal(ma, mc)


@pytest.mark.parametrize("domain", DOMAINS[::4], ids=lambda d: d.name)
def test_no_heads_gives_empty_mask(domain):
    image, mask = render_field(np.random.default_rng(1), domain, 96, 96, heads=False)
    assert not mask.any()
    assert image.std() > 5  # still a textured field, not a blank frame


def test_mask_fraction_and_head_count_sane(renders):
    for d, (_, mask) in zip(DOMAINS, renders, strict=True):
        assert 0.015 < mask.mean() < 0.35, d.name
        assert ndimage.label(mask)[1] >= 5, d.name


def test_mask_pixels_show_head_colour(renders):
    for d, (image, mask) in zip(DOMAINS, renders, strict=True):
        pix = image.astype(float)
        head, rest = pix[mask].mean(0), pix[~mask].mean(0)
        expected = np.array(d.head) * d.brightness * np.array(d.cast)
        assert np.linalg.norm(head - rest) > 30, d.name
        assert np.linalg.norm(head - expected) < np.linalg.norm(rest - expected), d.name


@pytest.mark.parametrize("domain", DOMAINS[::3], ids=lambda d: d.name)
def test_every_mask_pixel_shows_head(domain):
    red_heads = replace(domain, head=(250, 20, 20), blur=0.0)
    image, mask = render_field(np.random.default_rng(4), red_heads, 128, 128)
    red_minus_green = image[..., 0].astype(int) - image[..., 1]
    assert mask.any() and red_minus_green[mask].min() > 10


def test_every_two_domains_differ_in_soil_head_colour_or_cover(renders):
    signature = np.array(
        [np.concatenate([img[~m].mean(0), img[m].mean(0), [300 * m.mean()]]) for img, m in renders]
    )
    dist = np.linalg.norm(signature[:, None] - signature[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > 6
    means = signature[:, :3]
    assert np.ptp(means, axis=0).max() > 60  # e.g. dark green canopies vs golden ripe fields


def test_front_leaves_hide_heads():
    few = replace(DOMAINS[0], leaf_density=0)
    many = replace(DOMAINS[0], leaf_density=3000)
    bare = render_field(np.random.default_rng(2), few, 96, 96)[1].mean()
    hidden = render_field(np.random.default_rng(2), many, 96, 96)[1].mean()
    assert hidden < 0.6 * bare


def test_awns_are_not_in_the_mask():
    awnless = replace(DOMAINS[0], awn=0.0)
    long_awns = replace(DOMAINS[0], awn=2.0)
    image_a, mask_a = render_field(np.random.default_rng(3), awnless, 128, 128)
    image_b, mask_b = render_field(np.random.default_rng(3), long_awns, 128, 128)
    assert not np.array_equal(image_a, image_b)
    assert not (mask_b & ~mask_a).any()  # awns never add mask pixels


def test_head_size_scales_with_image_size():
    def fraction(size):
        rngs = (np.random.default_rng(s) for s in range(3))
        return np.mean([render_field(r, DOMAINS[7], size, size)[1].mean() for r in rngs])

    assert 0.7 < fraction(96) / fraction(192) < 1.4
