"""The optional time-conditioned discriminator of the paired generator.

It scores a 4-channel image + mask pair at diffusion step t - 1 (the posterior mean from the
predicted noise is "fake", the one from the true noise "real") with the U-Nets' sinusoidal time
embedding and its own time MLP, never the generator's. `discriminator_losses` keeps the gradients
apart: the discriminator loss reaches only the discriminator, the adversarial loss only the
generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from pipeline.gen.nets.blocks import SinusoidalTimeEmbedding


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Channel widths per level (one stride-2 step between levels), time embedding size, input."""

    widths: tuple[int, ...] = (32, 64, 128, 256)
    time_dim: int = 128
    in_channels: int = 4

    def __post_init__(self):
        if not self.widths:
            raise ValueError("discriminator widths must not be empty")
        if self.time_dim < 2 or self.time_dim % 2:
            raise ValueError(f"discriminator time_dim must be even and >= 2, got {self.time_dim}")


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class _Block(nn.Module):
    """Strided or plain conv, GroupNorm, + time, LeakyReLU; then conv, GroupNorm, LeakyReLU."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.norm1 = _norm(out_ch)
        self.time = nn.Linear(time_dim, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.norm2 = _norm(out_ch)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.norm1(self.conv1(x)) + self.time(emb)[:, :, None, None]
        h = F.leaky_relu(h, 0.2)
        return F.leaky_relu(self.norm2(self.conv2(h)), 0.2)


class TimeDiscriminator(nn.Module):
    """Time-conditioned CNN on a pair (B, C, H, W) at step t - 1 -> one logit per sample (B,).

    One block per width, the first at full resolution and each further one halving H and W;
    global average pooling and a linear head. Any H and W work.
    """

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config or DiscriminatorConfig()
        widths, time_dim = self.config.widths, self.config.time_dim
        self.embed = SinusoidalTimeEmbedding(time_dim)
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)
        )
        ins = (self.config.in_channels, *widths[:-1])
        self.blocks = nn.ModuleList(
            _Block(i, o, time_dim, stride=1 if k == 0 else 2)
            for k, (i, o) in enumerate(zip(ins, widths, strict=True))
        )
        self.head = nn.Linear(widths[-1], 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.time_mlp(self.embed(t).to(x.dtype))
        h = x
        for block in self.blocks:
            h = block(h, emb)
        return self.head(h.mean(dim=(2, 3))).squeeze(1)


def discriminator_losses(
    disc: nn.Module, real: Tensor, fake: Tensor, t: Tensor
) -> tuple[Tensor, Tensor]:
    """BCE-with-logits losses (d_loss, g_adv_loss) with the gradients of D and G kept apart.

    d_loss = mean of BCE(disc(real), 1) and BCE(disc(fake), 0) on detached inputs, in one
    forward pass: its gradients reach the discriminator only. g_adv_loss = BCE(disc(fake), 1)
    evaluated with detached copies of the discriminator's parameters (sharing their storage):
    its gradient reaches the generator through `fake` and never the discriminator. Both may be
    backpropagated together (e.g. as one sum); step the optimizers after the backward passes. A
    DistributedDataParallel wrapper is used for d_loss and bypassed for g_adv_loss.
    """
    b = real.shape[0]
    logits = disc(torch.cat([real.detach(), fake.detach()]), torch.cat([t, t]))
    labels = torch.cat([logits.new_ones(b), logits.new_zeros(b)])
    d_loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())

    core = getattr(disc, "module", disc)
    frozen = {name: p.detach() for name, p in core.named_parameters()}
    g_logits = functional_call(core, frozen, (fake, t))
    g_adv_loss = F.binary_cross_entropy_with_logits(
        g_logits.float(), torch.ones_like(g_logits, dtype=torch.float32)
    )
    return d_loss, g_adv_loss
