"""Procedural wheat-field world: field photos in the style of GWHD domains with exact head masks.

A field is painted back to front on a 2x supersampled RGBA canvas with PIL: textured soil
(multi-scale noise, clods, stones, straw residue), several layers of curved leaf blades that
cast soft shadows on what lies beneath, wheat heads (stem, awns, spike body of spikelets) and
a few leaves in front of the heads. The alpha channel of the canvas records which pixel a head
body owns: every head-body shape is drawn with alpha 255, everything else with alpha 0, so
later shapes erase the mask exactly where they cover a head. Downsampling averages both; a
pixel is in the mask when head bodies cover at least half of it. Lighting (illumination
gradient, cloud shadows, colour cast, contrast), mild blur and sensor noise are applied last.

Sizes are given for a 256-pixel reference view and scale with min(height, width); counts of
heads and leaves are per reference view, so larger renders show the same scene at higher
resolution and non-square renders show proportionally more field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

RGB = tuple[float, float, float]

_SS = 2  # supersampling factor of the drawing canvas
_REF = 256.0  # reference view size in pixels
_SIDE = 9  # spikelets on each side of a spike
_STRAW = np.array([196.0, 168.0, 104.0])  # colour of senescent leaves and residue
# Leaf layers painted before the heads: (share of the blades, brightness, length factor).
_BACK_LAYERS = ((0.42, 0.38, 1.0), (0.33, 0.62, 1.0), (0.15, 0.88, 0.9))
_FRONT_LAYER = (0.10, 1.0, 0.7)
_CULMS = 0.12  # share of thin straight culms among the blades


@dataclass(frozen=True)
class Domain:
    """Style of one field domain (site, season, camera); colours are 0-255 RGB."""

    name: str
    soil: RGB  # light soil colour
    soil_dark: RGB  # dark soil colour (moist patches, clod shadows)
    stones: float  # stones per reference view
    residue: float  # straw residue pieces on the ground per reference view
    leaf: RGB  # leaf colour
    leaf_dry: float  # share of senescent, straw-coloured blades
    leaf_density: float  # leaf blades per reference view
    leaf_width: float  # blade width in reference pixels
    head: RGB  # head colour: green (heading) to yellow (filling) to golden (ripe)
    head_density: float  # heads per reference view
    head_length: float  # spike length as a fraction of the reference view
    head_width: float  # spike width over spike length
    tilt: float  # mean inclination of the spikes from vertical in degrees (0 = seen end-on)
    tilt_spread: float  # spread of that inclination in degrees
    droop: float  # bend of the spike (0 straight, 1 drooping)
    awn: float  # awn length over spike length (0 = awnless)
    rows: float  # row spacing as a fraction of the reference view (0 = no visible rows)
    oblique: float  # 0 = nadir view, 1 = oblique view (perspective, heads point up the image)
    brightness: float  # global brightness factor
    contrast: float  # contrast factor around the mean
    cast: RGB  # colour cast as per-channel gains
    sun: float  # 0 = overcast, 1 = direct sun with hard shadows
    gradient: float  # strength of the global illumination gradient
    blur: float  # Gaussian blur sigma in reference pixels


_BASE = Domain(
    name="base",
    soil=(132, 104, 78),
    soil_dark=(70, 54, 42),
    stones=4,
    residue=6,
    leaf=(72, 101, 61),
    leaf_dry=0.1,
    leaf_density=320,
    leaf_width=8.5,
    head=(168, 170, 92),
    head_density=45,
    head_length=0.149,
    head_width=0.26,
    tilt=65,
    tilt_spread=20,
    droop=0.2,
    awn=0.8,
    rows=0.0,
    oblique=0.0,
    brightness=1.0,
    contrast=1.15,
    cast=(1.0, 1.0, 0.97),
    sun=0.6,
    gradient=0.15,
    blur=0.5,
)


def _variant(name: str, **changes) -> Domain:
    """The base domain with some style numbers changed."""
    return replace(_BASE, name=name, **changes)


DOMAINS: tuple[Domain, ...] = (
    _variant("arvalis_1"),
    _variant(
        "arvalis_2", soil=(150, 120, 86), soil_dark=(88, 68, 48), residue=20,
        leaf=(145, 136, 96), leaf_dry=0.6, head=(208, 180, 116), head_density=60,
        droop=0.3, awn=0.9, cast=(1.04, 1.0, 0.9), sun=0.8, blur=0.4,
    ),
    _variant(
        "arvalis_3", soil=(118, 96, 76), soil_dark=(64, 50, 40), leaf=(67, 104, 65),
        leaf_dry=0.0, leaf_density=420, head=(118, 150, 74), head_density=55, head_width=0.24,
        tilt=50, droop=0.05, awn=0.0, brightness=0.95, contrast=0.9, cast=(0.98, 1.02, 1.0),
        sun=0.25, gradient=0.1, blur=0.6,
    ),
    _variant(
        "ethz_1", soil=(104, 88, 72), soil_dark=(56, 46, 38), leaf=(55, 86, 55),
        leaf_dry=0.05, leaf_density=500, leaf_width=6.5, head=(150, 172, 96), head_density=80,
        head_length=0.127, head_width=0.22, tilt=75, tilt_spread=12, droop=0.1, awn=0.5,
        oblique=0.8, brightness=1.0, contrast=0.95, cast=(0.96, 1.0, 1.02), sun=0.2,
        gradient=0.25, blur=0.8,
    ),
    _variant(
        "inrae_1", soil=(154, 126, 94), soil_dark=(90, 70, 52), stones=8, residue=10,
        leaf=(83, 111, 69), leaf_dry=0.25, leaf_density=220, head=(190, 180, 104),
        head_density=35, head_length=0.161, tilt=55, tilt_spread=25, awn=1.0, rows=0.16,
        brightness=1.1, contrast=1.15, cast=(1.02, 1.0, 0.95), sun=1.0, gradient=0.2, blur=0.4,
    ),
    _variant(
        "rres_1", soil=(84, 70, 58), soil_dark=(44, 36, 30), leaf=(59, 92, 60),
        leaf_dry=0.05, leaf_density=380, leaf_width=8.0, head=(150, 164, 86), head_length=0.184,
        head_width=0.24, droop=0.15, awn=0.0, oblique=0.2, brightness=0.9, contrast=0.95,
        cast=(0.97, 1.0, 1.03), sun=0.3, blur=0.7,
    ),
    _variant(
        "usask_1", soil=(70, 58, 48), soil_dark=(36, 30, 26), stones=2, residue=8,
        leaf=(67, 98, 68), leaf_dry=0.15, leaf_density=160, leaf_width=7.5,
        head=(150, 170, 100), head_density=22, head_length=0.138, head_width=0.28, tilt=30,
        droop=0.05, awn=1.3, brightness=0.8, contrast=1.1, cast=(1.0, 1.0, 1.05), sun=0.5,
        gradient=0.3,
    ),
    _variant(
        "utokyo_1", soil=(90, 74, 58), soil_dark=(40, 32, 26), residue=10,
        leaf=(62, 94, 66), leaf_dry=0.2, leaf_density=260, head=(176, 184, 120),
        head_density=40, head_length=0.138, tilt=45, tilt_spread=25, droop=0.1, awn=1.1,
        brightness=0.95, contrast=1.1, cast=(1.0, 1.0, 1.0), gradient=0.2,
    ),
    _variant(
        "utokyo_2", soil=(60, 52, 46), soil_dark=(24, 20, 18), stones=2, residue=4,
        leaf=(50, 77, 53), leaf_density=220, leaf_width=7.5, head=(206, 210, 176),
        head_density=35, head_length=0.115, head_width=0.3, tilt=15, tilt_spread=15,
        droop=0.05, awn=1.4, brightness=0.75, contrast=1.3, cast=(0.98, 1.0, 1.06), sun=0.0,
        gradient=0.45, blur=0.6,
    ),
    _variant(
        "uq_1", soil=(168, 108, 70), soil_dark=(110, 66, 42), stones=10, residue=12,
        leaf=(99, 119, 78), leaf_dry=0.35, leaf_density=150, leaf_width=7.5,
        head=(204, 182, 120), head_density=20, head_length=0.149, tilt=45, tilt_spread=25,
        droop=0.15, awn=0.9, rows=0.22, brightness=1.15, contrast=1.1, cast=(1.05, 1.0, 0.92),
        sun=0.9, blur=0.4,
    ),
    _variant(
        "nau_1", soil=(112, 100, 88), soil_dark=(62, 54, 48), stones=3, residue=3,
        leaf=(66, 103, 80), leaf_dry=0.0, leaf_density=460, leaf_width=7.0,
        head=(120, 158, 96), head_density=75, head_length=0.115, head_width=0.24, tilt=55,
        droop=0.1, awn=0.7, brightness=0.95, contrast=0.95, cast=(0.95, 1.0, 1.07), sun=0.35,
        gradient=0.1,
    ),
    _variant(
        "cimmyt_1", soil=(146, 118, 88), soil_dark=(86, 66, 48), stones=6, residue=8,
        leaf=(91, 118, 75), leaf_dry=0.3, leaf_density=200, leaf_width=7.5,
        head=(200, 170, 100), head_density=30, head_length=0.138, awn=1.0, rows=0.2,
        oblique=0.3, brightness=1.1, contrast=1.1, cast=(1.03, 1.0, 0.94), sun=0.9,
    ),
    _variant(
        "ksu_1", soil=(140, 112, 84), soil_dark=(84, 64, 48), stones=2, residue=25,
        leaf=(153, 139, 103), leaf_dry=0.75, leaf_density=280, leaf_width=7.0,
        head=(196, 162, 108), head_density=65, head_length=0.138, tilt=70, tilt_spread=15,
        droop=0.45, awn=1.0, cast=(1.03, 1.0, 0.92), sun=0.7, gradient=0.2,
    ),
    _variant(
        "terraref_1", soil=(176, 164, 146), soil_dark=(120, 110, 98), stones=12, residue=4,
        leaf=(70, 104, 66), leaf_dry=0.05, leaf_density=140, leaf_width=7.5,
        head=(150, 176, 104), head_density=25, head_length=0.115, tilt=25, tilt_spread=15,
        droop=0.05, awn=0.9, rows=0.18, brightness=1.2, contrast=1.0, cast=(1.0, 1.0, 1.0),
        sun=0.9, gradient=0.05, blur=0.3,
    ),
    _variant(
        "nmbu_1", soil=(96, 82, 68), soil_dark=(50, 42, 36), stones=2, residue=2,
        leaf=(74, 114, 84), leaf_dry=0.0, leaf_density=360, leaf_width=9.5,
        head=(176, 184, 118), head_density=45, head_length=0.161, head_width=0.22, tilt=55,
        droop=0.15, awn=0.0, oblique=0.5, brightness=1.1, contrast=0.9,
        cast=(0.92, 1.0, 1.1), sun=0.15, gradient=0.2, blur=0.6,
    ),
    _variant(
        "ukyoto_1", soil=(56, 48, 42), soil_dark=(28, 24, 22), stones=2, leaf=(76, 106, 72),
        leaf_dry=0.15, leaf_density=200, leaf_width=7.5, head=(168, 182, 132),
        head_density=30, head_length=0.138, tilt=40, tilt_spread=25, droop=0.1, awn=0.0,
        brightness=0.9, contrast=1.15, cast=(0.98, 1.0, 1.03), sun=0.5, gradient=0.25,
        blur=0.7,
    ),
    _variant(
        "uliege_1", soil=(128, 106, 84), soil_dark=(72, 58, 46), residue=8, leaf=(78, 107, 65),
        leaf_dry=0.35, leaf_density=340, head=(184, 172, 96), head_density=50,
        head_length=0.172, head_width=0.22, droop=0.25, awn=0.0, oblique=0.3, sun=0.55,
        gradient=0.2, blur=0.6,
    ),
    _variant(
        "arvalis_4", soil=(136, 108, 80), soil_dark=(76, 58, 42), residue=30,
        leaf=(143, 126, 93), leaf_dry=0.85, leaf_density=260, leaf_width=7.0,
        head=(178, 142, 96), head_density=55, tilt=75, tilt_spread=15, droop=0.5, awn=0.9,
        brightness=0.95, contrast=1.25, cast=(1.08, 0.98, 0.86), sun=1.0, gradient=0.35,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class _Scene:
    """Per-render geometry shared by the painting steps (canvas pixels)."""

    size: tuple[int, int]  # canvas (width, height)
    u: float  # canvas pixels per reference pixel
    light: np.ndarray  # unit vector towards the sun in the image plane
    rows: tuple[float, float, float]  # row spacing (0 = no rows), row normal angle, offset
    shadow: tuple[np.ndarray, float, float]  # shadow offset, darkness, blur radius


class _Spikes(NamedTuple):
    """Polygons, lines and fills of a batch of wheat heads, ready to draw."""

    outline: np.ndarray  # (n, 24, 2) spike body outlines
    grains: np.ndarray  # (n, 2 * _SIDE, 8, 2) spikelets
    glints: np.ndarray  # (n, 2 * _SIDE, 8, 2) sunlit tops of the spikelets
    awns: np.ndarray  # (n, 2 * _SIDE or 0 if awnless, 4) awn segments x0, y0, x1, y1
    stems: np.ndarray  # (n, 4) stem segments
    stem_width: list  # stem line widths
    body_fill: list  # spike body (gap) colours, alpha 255
    grain_fill: list  # per-spikelet colours, alpha 255
    glint_fill: list  # per-spikelet highlight colours, alpha 255
    awn_fill: list  # awn colours
    stem_fill: list  # stem colours


def render_field(
    rng: np.random.Generator, domain: Domain, height: int, width: int, heads: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """A top-down/oblique field photo: uint8 (height, width, 3) image and bool (height, width)
    mask of visible wheat heads.

    heads=False paints the same kind of field without heads (an all-False mask). All randomness
    comes from `rng`, so equal generator states give identical arrays.
    """
    if height < 64 or width < 64:
        raise ValueError(f"render_field needs height and width >= 64, got {height}x{width}")
    d = domain
    u = min(height, width) / _REF * _SS
    views = height * width / min(height, width) ** 2
    azimuth = rng.uniform(0, 2 * np.pi)
    light = np.array([np.cos(azimuth), np.sin(azimuth)])
    spacing = d.rows * _REF * u
    sc = _Scene(
        size=(width * _SS, height * _SS),
        u=u,
        light=light,
        rows=(spacing, rng.uniform(0, np.pi), rng.uniform(0, max(spacing, 1.0))),
        shadow=(-light * (1.5 + 4.5 * d.sun) * u, 0.2 + 0.45 * d.sun, (2.5 - 1.5 * d.sun) * u),
    )
    canvas = _soil(rng, d, height, width, light).resize(sc.size, Image.Resampling.BILINEAR)
    canvas.putalpha(0)
    _residue(rng, d, ImageDraw.Draw(canvas), sc, views)
    n_leaves = rng.poisson(d.leaf_density * views)
    for share, shade, length in _BACK_LAYERS:
        canvas = _leaf_layer(rng, d, canvas, sc, round(share * n_leaves), shade, length)
    if heads:
        canvas = _heads(canvas, _spikes(rng, d, sc, rng.poisson(d.head_density * views)), sc)
    share, shade, length = _FRONT_LAYER
    canvas = _leaf_layer(rng, d, canvas, sc, round(share * n_leaves), shade, length)
    return _finish(rng, d, canvas, height, width)


def _noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1] with features about `cell` pixels across."""
    cell = max(cell, 1.0)
    grid = rng.random((int(height / cell) + 3, int(width / cell) + 3), dtype=np.float32)
    box = (1.0, 1.0, 1.0 + width / cell, 1.0 + height / cell)
    img = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC, box=box)
    return np.asarray(img)


def _fractal(rng: np.random.Generator, height: int, width: int, cells: tuple) -> np.ndarray:
    """Noise octaves of the given cell sizes (weights falling by 0.6), mean 0 and std 1."""
    total = sum(0.6**k * _noise(rng, height, width, c) for k, c in enumerate(cells))
    return (total - total.mean()) / (total.std() + 1e-6)


def _soil(
    rng: np.random.Generator, d: Domain, height: int, width: int, light: np.ndarray
) -> Image.Image:
    """Bare soil at output resolution: mottled multi-scale noise, speckle, clods and stones."""
    u = min(height, width) / _REF
    t = _fractal(rng, height, width, (60 * u, 22 * u, 8 * u, 3 * u))
    t = np.clip(0.55 + 0.22 * t + 0.12 * rng.standard_normal((height, width)), 0, 1)
    light_col, dark_col = np.array(d.soil, np.float32), np.array(d.soil_dark, np.float32)
    img = dark_col + (light_col - dark_col) * t[..., None]
    soil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    views = height * width / min(height, width) ** 2
    n_clods, n_stones = rng.poisson(40 * views), rng.poisson(d.stones * views)
    n = n_clods + n_stones
    stone = np.arange(n) >= n_clods
    rx = u * np.where(stone, rng.uniform(1.0, 2.5, n), rng.uniform(1.5, 5.0, n))
    radii = np.stack([rx, rx * rng.uniform(0.6, 1.0, n)], 1)
    centre = rng.uniform((0, 0), (width, height), (n, 2))
    base = np.where(stone[:, None], [150.0, 146, 138], light_col) * rng.uniform(0.85, 1.1, (n, 1))
    boxes = []  # (shadow, body, highlight) boxes of each clod or stone
    for shift, shrink in ((-0.35, 1.0), (0.0, 1.0), (0.3, 0.5)):
        c = centre + shift * light * rx[:, None]
        boxes.append(np.concatenate([c - shrink * radii, c + shrink * radii], 1).tolist())
    fills = (_fills(np.broadcast_to(dark_col, base.shape)), _fills(base), _fills(base * 1.12))
    draw = ImageDraw.Draw(soil)
    for i in range(n):
        for box, fill in zip(boxes, fills, strict=True):
            draw.ellipse(box[i], fill=fill[i][:3])
    return soil


def _residue(
    rng: np.random.Generator, d: Domain, draw: ImageDraw.ImageDraw, sc: _Scene, views: float
) -> None:
    """Straw residue on the ground: short, pale, straight pieces."""
    n = rng.poisson(d.residue * views)
    start = rng.uniform((0, 0), sc.size, (n, 2))
    ang = rng.uniform(0, 2 * np.pi, n)
    end = start + (rng.uniform(8, 30, n) * sc.u)[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
    fills = _fills(_STRAW * rng.uniform(0.6, 1.0, (n, 1)))
    width = max(1, round(1.4 * sc.u))
    for seg, fill in zip(np.concatenate([start, end], 1).tolist(), fills, strict=True):
        draw.line(seg, fill=fill, width=width)


def _positions(rng: np.random.Generator, n: int, sc: _Scene, margin: float) -> np.ndarray:
    """Plant positions, uniform over the canvas (plus a margin) or gathered along crop rows."""
    w, h = sc.size
    xy = rng.uniform((-margin, -margin), (w + margin, h + margin), (n, 2))
    spacing, angle, offset = sc.rows
    if spacing > 0:
        normal = np.array([np.cos(angle), np.sin(angle)])
        p = xy @ normal
        target = np.round((p - offset) / spacing) * spacing + offset
        xy += (target + rng.normal(0, 0.13 * spacing, n) - p)[:, None] * normal
    return xy


def _directions(rng: np.random.Generator, d: Domain, n: int, spread: float) -> np.ndarray:
    """Image-plane angles: uniform in nadir views, mostly up the image in oblique views."""
    up = rng.random(n) < d.oblique
    return np.where(up, rng.normal(-np.pi / 2, spread, n), rng.uniform(0, 2 * np.pi, n))


def _perspective(d: Domain, y: np.ndarray, height: int) -> np.ndarray:
    """Size factor of things at canvas rows `y`: smaller towards the top in oblique views."""
    return 1.0 - 0.45 * d.oblique * (1.0 - np.clip(y / height, 0, 1))


def _leaf_layer(
    rng: np.random.Generator,
    d: Domain,
    canvas: Image.Image,
    sc: _Scene,
    n: int,
    shade: float,
    length: float,
) -> Image.Image:
    """Paint `n` curved, tapering, midrib-folded leaf blades after casting their shadow."""
    base = _positions(rng, n, sc, 20 * sc.u)
    ang = _directions(rng, d, n, 0.7)
    scale = _perspective(d, base[:, 1], sc.size[1]) * sc.u
    culm = rng.random(n) < _CULMS
    blade_len = rng.uniform(60, 170, n) * length * scale
    blade_w = d.leaf_width * np.where(culm, 0.3, rng.uniform(0.6, 1.3, n)) * scale
    bend = rng.normal(0, 0.6, n) * np.where(culm, 0.3, 1.0)
    m = 10
    t = np.linspace(0, 1, m)
    heading = ang[:, None] + bend[:, None] * t**1.5
    step = np.stack([np.cos(heading), np.sin(heading)], -1) * (blade_len / (m - 1))[:, None, None]
    centre = base[:, None] + np.concatenate([np.zeros((n, 1, 2)), np.cumsum(step[:, :-1], 1)], 1)
    normal = np.stack([-np.sin(heading), np.cos(heading)], -1)
    half = (blade_w[:, None] * np.sin(np.pi * (0.15 + 0.85 * t)) ** 0.6 / 2)[..., None] * normal
    left, right = centre + half, centre - half

    dry = rng.random(n) < d.leaf_dry
    col = np.where(dry[:, None], _STRAW * 0.85, np.array(d.leaf))
    col = col * rng.lognormal(0, 0.13, (n, 1)) * rng.lognormal(0, 0.04, (n, 3)) * shade
    facing = normal[:, m // 2] @ sc.light  # the half whose normal faces the sun is lit
    k = (0.15 + 0.2 * d.sun) * facing[:, None, None] * np.array([1.0, -1.0])[:, None]
    fills = _fills(col[:, None] * (1 + k))
    halves = np.concatenate(
        [np.stack([centre, centre], 1), np.stack([left, right], 1)[:, :, ::-1]], 2
    )
    canvas = _cast_shadow(canvas, np.concatenate([left, right[:, ::-1]], 1), sc.shadow)
    draw = ImageDraw.Draw(canvas)
    for blade, fill in zip(halves.reshape(n, 2, 4 * m).tolist(), fills, strict=True):
        draw.polygon(blade[0], fill=fill[0])
        draw.polygon(blade[1], fill=fill[1])
    return canvas


def _spikes(rng: np.random.Generator, d: Domain, sc: _Scene, n: int) -> _Spikes:
    """Geometry and colours of `n` wheat heads: curved spikes of alternating spikelets."""
    centre = _positions(rng, n, sc, 5 * sc.u)
    if d.oblique > 0:  # nearer (lower) heads in front
        centre = centre[np.argsort(centre[:, 1])]
    true_len = (
        d.head_length * _REF * sc.u * _perspective(d, centre[:, 1], sc.size[1])
    ) * rng.lognormal(0, 0.15, n)
    wid = true_len * d.head_width * rng.uniform(0.85, 1.15, n)
    fore = np.sin(np.radians(np.clip(rng.normal(d.tilt, d.tilt_spread, n), 0, 90)))
    length = np.maximum(true_len * fore, 1.25 * wid)  # foreshortened, end-on heads are blobs
    ang = _directions(rng, d, n, 0.5)
    bend = d.droop * fore * rng.uniform(0.3, 1.0, n) * rng.choice([-1.0, 1.0], n)
    axis = _SpikeAxis(centre, ang, length, bend)

    ts = np.linspace(0, 1, 12)
    pts, _, nrm = axis(ts)
    half = (wid[:, None] * _spike_profile(ts) / 2)[..., None] * nrm
    outline = np.concatenate([pts + half, (pts - half)[:, ::-1]], 1)

    tj = 0.05 + 0.9 * (np.arange(2 * _SIDE) + 0.5) / (2 * _SIDE)
    side = np.where(np.arange(2 * _SIDE) % 2 == 0, 1.0, -1.0)
    pj, tanj, nrmj = axis(tj)
    prof = _spike_profile(tj)
    grain_c = pj + nrmj * (side * 0.2 * prof)[None, :, None] * wid[:, None, None]
    orient = np.arctan2(tanj[..., 1], tanj[..., 0]) + side * (0.35 + 0.25 * (1 - fore))[:, None]
    a = np.maximum(0.85 * length / _SIDE, 0.3 * wid)[:, None] * np.ones_like(tj)
    b = 0.3 * wid[:, None] * prof
    grains = _ellipses(grain_c, orient, a, b)
    glints = _ellipses(grain_c + 0.25 * b[..., None] * sc.light, orient, 0.5 * a, 0.45 * b)

    # Awns leave each spikelet outward and forward; more radially for heads seen end-on.
    awn_ang = orient + side * (0.05 + 0.7 * (1 - fore))[:, None]
    awn_ang = awn_ang + rng.normal(0, 0.12, orient.shape)
    awn_len = d.awn * (true_len * (0.4 + 0.6 * fore))[:, None] * rng.uniform(0.6, 1.0, orient.shape)
    awn_end = grain_c + awn_len[..., None] * np.stack([np.cos(awn_ang), np.sin(awn_ang)], -1)
    p0, t0, _ = axis(np.zeros(1))
    stem_end = p0[:, 0] - t0[:, 0] * (true_len * (0.15 + 0.8 * fore))[:, None]

    col = np.array(d.head) * rng.lognormal(0, 0.08, (n, 1)) * rng.lognormal(0, 0.04, (n, 3))
    facing = (nrmj @ sc.light) * side  # spikelets on the sunny side are lighter
    grain_col = col[:, None] * (1 + (0.08 + 0.12 * d.sun) * facing)[..., None]
    return _Spikes(
        outline=outline,
        grains=grains,
        glints=glints,
        awns=np.concatenate([grain_c, awn_end], -1)[:, : 2 * _SIDE if d.awn > 0 else 0],
        stems=np.concatenate([p0[:, 0], stem_end], 1),
        stem_width=np.maximum(1, np.round(0.22 * wid)).astype(int).tolist(),
        body_fill=_fills(col * 0.5, 255),
        grain_fill=_fills(grain_col, 255),
        glint_fill=_fills(grain_col * 1.22, 255),
        awn_fill=_fills(col * 1.1),
        stem_fill=_fills(0.45 * (col + np.array(d.leaf))),
    )


class _SpikeAxis:
    """Curved (quadratically bent) axes of a batch of spikes."""

    def __init__(self, centre: np.ndarray, ang: np.ndarray, length: np.ndarray, bend: np.ndarray):
        self.centre = centre[:, None]
        self.dirs = np.stack([np.cos(ang), np.sin(ang)], -1)[:, None]
        self.nrms = np.stack([-np.sin(ang), np.cos(ang)], -1)[:, None]
        self.length = length[:, None, None]
        self.bend = bend[:, None]

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points, unit tangents and unit normals, each (n, len(t), 2), at t in [0, 1]."""
        s = t - 0.5
        offset = self.dirs * s[:, None] + self.nrms * (self.bend * s**2)[..., None]
        tan = self.dirs + self.nrms * (2 * self.bend * s)[..., None]
        tan /= np.linalg.norm(tan, axis=-1, keepdims=True)
        return self.centre + offset * self.length, tan, np.stack([-tan[..., 1], tan[..., 0]], -1)


def _spike_profile(t: np.ndarray) -> np.ndarray:
    """Relative spike width along the axis: blunt base, tapering tip."""
    return np.sin(np.pi * (0.1 + 0.85 * t)) ** 0.5


def _ellipses(centre: np.ndarray, angle: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Octagon approximations of rotated ellipses: (..., 8, 2) vertex arrays."""
    phi = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ca, sa = np.cos(angle)[..., None], np.sin(angle)[..., None]
    x, y = a[..., None] * np.cos(phi), b[..., None] * np.sin(phi)
    return centre[..., None, :] + np.stack([x * ca - y * sa, x * sa + y * ca], -1)


def _heads(canvas: Image.Image, sp: _Spikes, sc: _Scene) -> Image.Image:
    """Cast the heads' shadow, then paint each head: stem, awns, body, spikelets, glints."""
    canvas = _cast_shadow(canvas, sp.outline, sc.shadow)
    draw = ImageDraw.Draw(canvas)
    awn_width = max(1, round(0.4 * sc.u))
    n, k = sp.grains.shape[:2]
    grains = sp.grains.reshape(n, k, 2 * sp.grains.shape[2]).tolist()
    glints = sp.glints.reshape(n, k, 2 * sp.glints.shape[2]).tolist()
    awns = sp.awns.tolist()
    for i, outline in enumerate(sp.outline.reshape(n, 2 * sp.outline.shape[1]).tolist()):
        draw.line(sp.stems[i].tolist(), fill=sp.stem_fill[i], width=sp.stem_width[i])
        for seg in awns[i]:
            draw.line(seg, fill=sp.awn_fill[i], width=awn_width)
        draw.polygon(outline, fill=sp.body_fill[i])
        for j in range(k):
            draw.polygon(grains[i][j], fill=sp.grain_fill[i][j])
            draw.polygon(glints[i][j], fill=sp.glint_fill[i][j])
    return canvas


def _cast_shadow(canvas: Image.Image, polys: np.ndarray, shadow: tuple) -> Image.Image:
    """Darken the canvas RGB under the blurred, offset silhouettes of the shapes to come."""
    offset, strength, radius = shadow
    sil = Image.new("L", canvas.size, 0)
    draw = ImageDraw.Draw(sil)
    for poly in (polys + offset).reshape(len(polys), 2 * polys.shape[1]).tolist():
        draw.polygon(poly, fill=255)
    sil = sil.filter(ImageFilter.GaussianBlur(radius))
    factor = sil.point([255 - round(strength * v) for v in range(256)])
    r, g, b, alpha = canvas.split()
    return Image.merge("RGBA", (*(ImageChops.multiply(c, factor) for c in (r, g, b)), alpha))


def _finish(
    rng: np.random.Generator, d: Domain, canvas: Image.Image, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Downsample, derive the mask, then light, tint, blur and add noise to the image."""
    r, g, b, alpha = (band.reduce(_SS) for band in canvas.split())
    mask = np.asarray(alpha) >= 128
    img = np.asarray(Image.merge("RGB", (r, g, b)), dtype=np.float32)
    u = min(height, width) / _REF
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    g_ang = rng.uniform(0, 2 * np.pi)
    ramp = (xx - width / 2) * np.cos(g_ang) + (yy - height / 2) * np.sin(g_ang)
    gain = 1.0 + d.gradient * ramp / max(height, width)  # illumination gradient
    gain *= 1.0 + 0.08 * (0.3 + d.sun) * _fractal(rng, height, width, (90 * u, 40 * u))  # clouds
    gain *= 1.0 + 0.04 * _fractal(rng, height, width, (3 * u, 1.2 * u))  # fine surface texture
    img *= (gain * d.brightness)[..., None] * np.array(d.cast, np.float32)
    img = (img - img.mean()) * d.contrast + img.mean()
    img = np.clip(img, 0, 255).astype(np.uint8)
    if d.blur > 0:
        img = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(d.blur * u)))
    noisy = img + rng.normal(0, 2.5, img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8), mask


def _fills(cols: np.ndarray, alpha: int = 0) -> list:
    """RGBA fill tuples (nested like `cols` without its last axis) from float RGB colours."""
    rgb = np.clip(cols, 0, 255).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:-1], 1), alpha, np.uint8)], -1)
    flat = [tuple(c) for c in rgba.reshape(-1, 4).tolist()]
    if rgba.ndim == 2:
        return flat
    k = rgba.shape[1]
    return [flat[i : i + k] for i in range(0, len(flat), k)]
