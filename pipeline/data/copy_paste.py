"""Copy-paste synthesis of wheat-head segmentation pairs.

Step 1 of SynthSet follows Najafian et al. 2023, "Semi-self-supervised learning for semantic
segmentation of wheat heads" (Plant Phenomics): real heads cut from a few annotated frames and
same-shaped distractors (head silhouettes filled with background texture) are augmented and
pasted on head-free field backgrounds; the mask marks exactly the visible pixels of real heads.

This module is pure array code (no file IO); every random choice comes from the caller's
``numpy.random.Generator``, so a seed fixes the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pipeline.errors import DataError
from pipeline.geometry import resize_image
from pipeline.params import CopyPasteParams

_EIGHT = np.ones((3, 3), dtype=bool)
_DILATE_PX = 3
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Cutout:
    """An object to paste: uint8 (h, w, 3) pixels and bool (h, w) hard alpha."""

    rgb: np.ndarray
    alpha: np.ndarray


def extract_heads(image: np.ndarray, mask: np.ndarray, min_area: int) -> list[Cutout]:
    """Real heads: 8-connected components of `mask` with area >= `min_area`, each cropped to
    its bounding box, alpha = that component only. Returns [] when there is none."""
    labels, count = ndimage.label(np.asarray(mask, dtype=bool), structure=_EIGHT)
    if count == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    heads = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if areas[index] >= min_area:
            heads.append(Cutout(image[box].copy(), labels[box] == index))
    return heads


def collect_heads(pairs: list[tuple[np.ndarray, np.ndarray]], min_area: int) -> list[Cutout]:
    """The real heads of all annotated (image, mask) pairs; DataError when there is none."""
    heads = [head for image, mask in pairs for head in extract_heads(image, mask, min_area)]
    if not heads:
        raise DataError(f"no wheat head of at least {min_area} pixels in the annotated masks")
    return heads


def derive_background(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A head-free background: the heads (mask dilated 3 px, undilated if that leaves no pixel)
    filled in from the surroundings by multi-scale normalised convolution; pixels outside the
    filled region are kept. DataError when the mask covers the whole frame."""
    mask = np.asarray(mask, dtype=bool)
    region = ndimage.binary_dilation(mask, _EIGHT, iterations=_DILATE_PX)
    if region.all():
        region = mask
    if region.all():
        raise DataError("an annotated frame is all wheat head: no background pixel to inpaint from")
    out = image.astype(np.float64)
    known = (~region).astype(np.float64)
    hole = region.copy()
    sigma = 1.0
    while hole.any():
        weight = ndimage.gaussian_filter(known, sigma)
        ready = hole & (weight > 0.05 * weight.max())
        if ready.any():
            sums = ndimage.gaussian_filter(out * known[..., None], (sigma, sigma, 0))
            out[ready] = sums[ready] / weight[ready][:, None]
            known[ready] = 1.0
            hole &= ~ready
        sigma *= 2.0
    filled = image.copy()
    filled[region] = np.clip(np.rint(out[region]), 0, 255).astype(np.uint8)
    return filled


def _window_counts(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """Head pixels in every h×w window of `mask` (indexed by the window's top-left corner)."""
    integral = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def make_fakes(
    rng: np.random.Generator,
    heads: list[Cutout],
    sources: list[tuple[np.ndarray, np.ndarray]],
    count: int,
) -> list[Cutout]:
    """Same-shaped non-head distractors: the alpha of a random real head filled with the texture
    of a random head-free window of a random source (image, mask). When no window is head-free,
    the window with the fewest head pixels is taken from the inpainted source; a source smaller
    than the head is mirror-padded."""
    if count <= 0:
        return []
    if not heads or not sources:
        raise DataError("distractors need at least one real head and one source image")
    inpainted: dict[int, np.ndarray] = {}
    fakes = []
    for _ in range(count):
        head = heads[rng.integers(len(heads))]
        index = int(rng.integers(len(sources)))
        image, mask = sources[index]
        h, w = head.alpha.shape
        pad = ((0, max(0, h - image.shape[0])), (0, max(0, w - image.shape[1])))
        mask = np.pad(np.asarray(mask, dtype=bool), pad, mode="symmetric")
        counts = _window_counts(mask, h, w)
        best = np.flatnonzero(counts.ravel() == counts.min())
        y, x = np.unravel_index(best[rng.integers(len(best))], counts.shape)
        if counts[y, x] > 0:
            if index not in inpainted:
                inpainted[index] = derive_background(image, sources[index][1])
            image = inpainted[index]
        image = np.pad(image, (*pad, (0, 0)), mode="symmetric")
        fakes.append(Cutout(image[y : y + h, x : x + w].copy(), head.alpha.copy()))
    return fakes


def _extend_colours(cutout: Cutout) -> np.ndarray:
    """The cutout's rgb with every pixel outside the alpha set to its nearest alpha pixel, so
    bilinear resampling at the silhouette does not mix in the source's surroundings."""
    if cutout.alpha.all():
        return cutout.rgb
    _, (iy, ix) = ndimage.distance_transform_edt(~cutout.alpha, return_indices=True)
    return cutout.rgb[iy, ix]


def _bezier_basis(n: int) -> np.ndarray:
    """The (n, 4) cubic Bernstein weights at n points spread over [0, 1]."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.array([1, 3, 3, 1]) * t ** np.arange(4) * (1 - t) ** np.arange(3, -1, -1)


def augment_object(
    rng: np.random.Generator, cutout: Cutout, params: CopyPasteParams
) -> Cutout | None:
    """Random flips, rotation in ±rotation degrees, scale in [scale_min, scale_max] and a smooth
    elastic warp of up to `elastic` px (a cubic Bézier patch of random control displacements);
    rgb bilinear, alpha thresholded at 0.5 so it stays hard; cropped to the new bounding box.
    None when the warped alpha is empty."""
    h, w = cutout.alpha.shape
    flip = np.where(rng.random(2) < 0.5, -1.0, 1.0)
    angle = np.deg2rad(rng.uniform(-params.rotation, params.rotation))
    scale = rng.uniform(params.scale_min, params.scale_max)
    cos, sin = np.cos(angle), np.sin(angle)
    forward = scale * np.array([[cos, -sin], [sin, cos]]) @ np.diag(flip)
    centre_in = np.array([(h - 1) / 2, (w - 1) / 2])
    corners = np.array([[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1]], dtype=float)
    spread = np.abs((corners - centre_in) @ forward.T).max(axis=0)
    margin = int(np.ceil(params.elastic)) + 1 if params.elastic > 0 else 0
    out_h, out_w = (np.ceil(2 * spread).astype(int) + 1 + 2 * margin).tolist()
    centre_out = np.array([(out_h - 1) / 2, (out_w - 1) / 2])
    grid = np.indices((out_h, out_w), dtype=np.float64).reshape(2, -1)
    coords = np.linalg.inv(forward) @ (grid - centre_out[:, None]) + centre_in[:, None]
    if params.elastic > 0:
        knots = rng.uniform(-params.elastic, params.elastic, (2, 4, 4))
        rows, cols = _bezier_basis(out_h), _bezier_basis(out_w)
        coords += np.stack([(rows @ k @ cols.T).ravel() for k in knots])
    alpha = ndimage.map_coordinates(cutout.alpha.astype(np.float64), coords, order=1, cval=0.0)
    alpha = alpha.reshape(out_h, out_w) >= 0.5
    if not alpha.any():
        return None
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    coords = coords.reshape(2, out_h, out_w)[:, box[0], box[1]]
    colours = _extend_colours(cutout).astype(np.float64)
    channels = [
        ndimage.map_coordinates(colours[..., c], coords, order=1, mode="nearest") for c in (0, 1, 2)
    ]
    rgb = np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)
    return Cutout(rgb, alpha[box])


def augment_image(
    rng: np.random.Generator, image: np.ndarray, params: CopyPasteParams
) -> np.ndarray:
    """Photometric augmentation: brightness, contrast and saturation factors in
    1 ± color_jitter, Gaussian blur with sigma in [0, blur_max], Gaussian noise of std noise_std
    (0-255 units). uint8 in and out; a zero strength skips its step."""
    out = image.astype(np.float64)
    if params.color_jitter > 0:
        bright, contrast, saturation = 1 + rng.uniform(-params.color_jitter, params.color_jitter, 3)
        out *= bright
        out = (out - out.mean()) * contrast + out.mean()
        gray = (out @ _LUMA)[..., None]
        out = gray + (out - gray) * saturation
    if params.blur_max > 0:
        sigma = rng.uniform(0, params.blur_max)
        out = ndimage.gaussian_filter(out, (sigma, sigma, 0), mode="reflect")
    if params.noise_std > 0:
        out += rng.normal(0.0, params.noise_std, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def colour_statistics(images: list[np.ndarray]) -> np.ndarray:
    """Per-image RGB means and standard deviations: float (N, 2, 3)."""
    return np.stack(
        [np.stack([im.reshape(-1, 3).mean(0), im.reshape(-1, 3).std(0)]) for im in images]
    )


def transfer_colours(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The image with each RGB channel shifted and scaled to the target's mean and standard
    deviation (`target`: (2, 3), as colour_statistics gives), so a pair drawn from a few
    annotated frames takes the colours of a field frame; uint8 in and out."""
    pixels = image.astype(np.float64)
    mean, std = pixels.reshape(-1, 3).mean(0), pixels.reshape(-1, 3).std(0)
    out = (pixels - mean) / np.maximum(std, 1.0) * target[1] + target[0]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _background_view(rng: np.random.Generator, background: np.ndarray, size: int) -> np.ndarray:
    """A random square crop (75-100 % of the short side), resized to size², randomly flipped."""
    height, width = background.shape[:2]
    side = max(1, int(round(min(height, width) * rng.uniform(0.75, 1.0))))
    y, x = rng.integers(height - side + 1), rng.integers(width - side + 1)
    crop = np.ascontiguousarray(background[y : y + side, x : x + side])
    view = resize_image(crop, (size, size))
    if rng.random() < 0.5:
        view = view[:, ::-1]
    if rng.random() < 0.5:
        view = view[::-1]
    return view.copy()


def synthesize(
    rng: np.random.Generator,
    background: np.ndarray,
    heads: list[Cutout],
    fakes: list[Cutout],
    params: CopyPasteParams,
) -> tuple[np.ndarray, np.ndarray]:
    """One copy-paste pair at size²: n_real ~ U[real_min, real_max] augmented real heads and
    n_fake ~ U[fake_min, fake_max] augmented distractors (none when `fakes` is empty) pasted in
    one random order, each centred at a uniform position and clipped to the frame. A paste
    overwrites the pixels under its alpha and sets the mask there to real/fake, so the mask is
    exactly the visible real-head pixels. augment_image is applied last. Returns the uint8
    (size, size, 3) image and the bool (size, size) mask."""
    if not heads:
        raise DataError("copy-paste needs at least one real wheat head")
    size = params.size
    image = _background_view(rng, background, size)
    mask = np.zeros((size, size), dtype=bool)
    n_real = int(rng.integers(params.real_min, params.real_max + 1))
    n_fake = int(rng.integers(params.fake_min, params.fake_max + 1)) if fakes else 0
    for real in rng.permutation(np.repeat([True, False], [n_real, n_fake])):
        pool = heads if real else fakes
        obj = augment_object(rng, pool[rng.integers(len(pool))], params)
        if obj is None:
            continue
        h, w = obj.alpha.shape
        top = int(rng.integers(size)) - h // 2
        left = int(rng.integers(size)) - w // 2
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + h, size), min(left + w, size)
        alpha = obj.alpha[y0 - top : y1 - top, x0 - left : x1 - left]
        image[y0:y1, x0:x1][alpha] = obj.rgb[y0 - top : y1 - top, x0 - left : x1 - left][alpha]
        mask[y0:y1, x0:x1][alpha] = real
    return augment_image(rng, image, params), mask
