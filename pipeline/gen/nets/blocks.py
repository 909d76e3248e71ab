"""Building blocks of the diffusion U-Nets: time embedding, residual and attention blocks,
resampling, and the skip blocks that join a backbone feature with its skip features:
`scaleu` (learned backbone and low-frequency skip scales, plain concatenation at start), `zeroconv`
(each skip enters only through a zero-initialised 1×1 conv, so it adds nothing at start) and
`concat` (plain concatenation).

Every block keeps the (B, C, H, W) layout and runs under bf16 autocast; the FFT of ScaleU is done in
float32 because the FFT kernels take no bf16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SKIP_KINDS = ("scaleu", "zeroconv", "concat")
DATA_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class UNetShape:
    """Sizes shared by the U-Nets: `widths` gives the channels of each resolution level;
    `prediction` names what the head's raw output stands for (`epsilon` or `v`); the networks
    do not use it, `pipeline.gen.diffusion.epsilon` reads their output by it.

    Saved beside the weights, it also says how to use them: `sample_size`, the side of the pairs
    they were trained on (None: not tied to one), and `data_range`, the range pairs are diffused
    in (this pipeline's [-1, 1], mask ±1; other ranges are refused).
    """

    widths: tuple[int, ...] = (32, 64, 128, 256)
    layers_per_level: int = 2
    heads: int = 4
    time_dim: int = 128
    groups: int = 8
    prediction: str = "epsilon"
    sample_size: int | None = None
    data_range: tuple[float, float] = DATA_RANGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "data_range", tuple(float(v) for v in self.data_range))
        if self.data_range != DATA_RANGE:
            raise ValueError(f"data_range {list(self.data_range)}: pairs are diffused in [-1, 1]")
        if self.sample_size is not None and (
            self.sample_size < 1 or self.sample_size % self.downsampling
        ):
            raise ValueError(
                f"sample_size {self.sample_size} must be a positive multiple of {self.downsampling}"
            )
        if not self.widths or any(w <= 0 or w % self.groups for w in self.widths):
            raise ValueError(f"widths {self.widths} must be positive multiples of {self.groups}")
        if self.widths[-1] % self.heads:
            raise ValueError(f"last width {self.widths[-1]} must split into {self.heads} heads")
        if self.layers_per_level < 1 or self.time_dim < 2 or self.time_dim % 2:
            raise ValueError("layers_per_level must be ≥ 1 and time_dim a positive even number")

    @staticmethod
    def sizes_of(section) -> dict:
        """The U-Net sizes and output type held by a params section (gen or sr) of that name."""
        names = ("widths", "layers_per_level", "heads", "time_dim", "prediction")
        return {name: getattr(section, name) for name in names}

    @property
    def downsampling(self) -> int:
        """The factor by which the bottleneck is smaller than the input (H, W must divide by it)."""
        return 2 ** (len(self.widths) - 1)


class SinusoidalTimeEmbedding(nn.Module):
    """Integer timesteps (B,) to (B, dim) features: sines then cosines of geometric frequencies."""

    def __init__(self, dim: int, max_period: float = 10_000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding size must be even, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = t.float()[:, None] * self.freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class TimeMLP(nn.Module):
    """Sinusoidal embedding followed by Linear → SiLU → Linear: the time vector of a network."""

    def __init__(self, dim: int):
        super().__init__()
        self.embed = SinusoidalTimeEmbedding(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(self.embed(t))


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv3×3, plus the projected time vector, GroupNorm → SiLU → conv3×3,
    added to the input (through a 1×1 conv when the channel count changes)."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time_proj = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, out_ch))
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_proj(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.shortcut(x) + h


class Downsample(nn.Module):
    """Halve the resolution with a strided 3×3 conv (channels kept)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double the resolution with a 4×4 stride-2 transposed conv."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Attention(nn.Module):
    """Multi-head attention over the pixels of a feature map, with a residual connection.

    Self-attention (`cross=False`): queries, keys and values all come from `x`. Cross-attention
    (`cross=True`): queries come from `x` and keys/values from `context` (same channels, any size),
    so the output has the shape of `x`; "image attends to mask" is `attn(image, context=mask)`.
    """

    def __init__(self, channels: int, heads: int, groups: int = 8, cross: bool = False):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.cross = cross
        self.norm = nn.GroupNorm(groups, channels)
        self.context_norm = nn.GroupNorm(groups, channels) if cross else None
        self.to_q = nn.Linear(channels, channels)
        self.to_kv = nn.Linear(channels, 2 * channels)
        self.to_out = nn.Linear(channels, channels)

    def _tokens(self, x: Tensor, norm: nn.GroupNorm) -> Tensor:
        return norm(x).flatten(2).transpose(1, 2)

    def _split_heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if (context is not None) != self.cross:
            raise ValueError("cross-attention needs a context; self-attention takes none")
        b, c, h, w = x.shape
        query = self._tokens(x, self.norm)
        source = query if context is None else self._tokens(context, self.context_norm)
        k, v = self.to_kv(source).chunk(2, dim=-1)
        q, k, v = (self._split_heads(y) for y in (self.to_q(query), k, v))
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        return x + self.to_out(out).transpose(1, 2).reshape(b, c, h, w)


def low_frequencies(x: Tensor, radius: int) -> Tensor:
    """The part of `x` whose 2-D spatial frequencies lie in the centred box |k_y|, |k_x| ≤ radius.

    The box is symmetric about the zero frequency, so the result of a real input is real; computed
    in float32 (rfft2/irfft2), returned in the input's dtype.
    """
    height, width = x.shape[-2:]
    spectrum = torch.fft.rfft2(x.float())
    ky = torch.fft.fftfreq(height, d=1.0 / height, device=x.device).abs()
    kx = torch.fft.rfftfreq(width, d=1.0 / width, device=x.device)
    box = (ky[:, None] <= radius) & (kx[None, :] <= radius)
    return torch.fft.irfft2(spectrum * box, s=(height, width)).to(x.dtype)


class ScaleU(nn.Module):
    """ScaleU skip block (InstanceDiffusion / FreeU): the backbone channels are scaled by
    b = 1 + tanh(β) (β per channel) and the lowest spatial frequencies of each skip i by
    s_i = 1 + tanh(σ_i) (σ_i a scalar), then all are concatenated. β = σ = 0 at start, so the block
    is then exactly plain concatenation. The low frequencies are the box |k_y|, |k_x| ≤ `radius`
    (cycles per image) around the zero frequency: FreeU's threshold-1 box {−1, 0}² made symmetric.
    """

    def __init__(self, backbone_channels: int, num_skips: int, radius: int = 1):
        super().__init__()
        self.radius = radius
        self.beta = nn.Parameter(torch.zeros(backbone_channels))
        self.sigma = nn.Parameter(torch.zeros(num_skips))

    def forward(self, h: Tensor, skips: list[Tensor]) -> Tensor:
        if len(skips) != len(self.sigma):
            raise ValueError(f"expected {len(self.sigma)} skip features, got {len(skips)}")
        scale = 1 + torch.tanh(self.beta).to(h.dtype)
        joined = [h * scale[None, :, None, None]]
        # scale·low + rest = skip + (scale − 1)·low: exactly the skip at σ = 0, with a σ gradient.
        for s, sigma in zip(skips, self.sigma, strict=True):
            gain = torch.tanh(sigma).to(s.dtype)
            joined.append(s + gain * low_frequencies(s, self.radius))
        return torch.cat(joined, dim=1)


class ZeroConvSkip(nn.Module):
    """ControlNet's zero-convolution: the backbone, then each skip through its own zero-initialised
    1×1 conv, concatenated. The skips contribute exactly nothing at start (the convs still get a
    gradient), so how much of them enters is learned."""

    def __init__(self, skip_channels: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, c, 1) for c in skip_channels)
        for conv in self.convs:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, h: Tensor, skips: list[Tensor]) -> Tensor:
        if len(skips) != len(self.convs):
            raise ValueError(f"expected {len(self.convs)} skip features, got {len(skips)}")
        return torch.cat([h, *(conv(s) for s, conv in zip(skips, self.convs, strict=True))], dim=1)


class ConcatSkip(nn.Module):
    """Plain concatenation of the backbone and its skips."""

    def forward(self, h: Tensor, skips: list[Tensor]) -> Tensor:
        return torch.cat([h, *skips], dim=1)


def make_skip(kind: str, backbone_channels: int, skip_channels: list[int]) -> nn.Module:
    """The skip block `kind` (scaleu | zeroconv | concat) for a backbone and its skips; every kind
    returns `backbone_channels + sum(skip_channels)` channels."""
    if kind == "scaleu":
        return ScaleU(backbone_channels, len(skip_channels))
    if kind == "zeroconv":
        return ZeroConvSkip(skip_channels)
    if kind == "concat":
        return ConcatSkip()
    raise ValueError(f"unknown skip block {kind!r}; expected one of {', '.join(SKIP_KINDS)}")
