"""The super-resolver's front door (paper Fig. 3): its network config from the sr
params, loading the weights train_sr saved, the condition it is given, and super-resolution of
low-resolution pairs. Its training is in sr_training.

The super-resolver learns from high-resolution crops degraded by the SR factor (sr_size /
gen_size) the way `pipeline.data.crops` resizes crops: antialiased bilinear for the image, nearest
for the mask, so the mask stays exactly ±1. The condition is that degraded pair brought back to the
crop size (bilinear image, nearest mask).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pipeline.checkpoints import load_model
from pipeline.gen import diffusion
from pipeline.gen.diffusion import to_model_space, to_uint8
from pipeline.gen.nets.sr_unet import SRUNetConfig, build_sr
from pipeline.params import SRParams
from pipeline.training import autocast


def config(p: SRParams, sample_size: int | None = None, factor: int = 2) -> SRUNetConfig:
    """The super-resolver's network config from the sr params, enlarging by `factor` to pairs of
    `sample_size` pixels."""
    return SRUNetConfig(sample_size=sample_size, factor=factor, **SRUNetConfig.sizes_of(p))


def build(net_config: SRUNetConfig) -> torch.nn.Module:
    """The super-resolution network of `net_config` (its output read as its `prediction`)."""
    diffusion.check_prediction(net_config.prediction)
    return build_sr(net_config)


def load(folder: Path) -> torch.nn.Module:
    """A super-resolver saved by train_sr, in eval mode on the CPU."""
    return load_model(folder, lambda c: build(SRUNetConfig(**c)), "super-resolver")


def degrade(hr: Tensor, factor: int = 2) -> Tensor:
    """The low-resolution pair the super-resolver learns from: image channels downsampled by
    `factor` with antialiased bilinear filtering, the mask (last channel) by nearest neighbour."""
    if hr.ndim != 4 or hr.shape[1] < 2:
        raise ValueError(f"expected a (B, C, H, W) image+mask batch, got {tuple(hr.shape)}")
    if factor < 1 or hr.shape[2] % factor or hr.shape[3] % factor:
        raise ValueError(f"height and width {tuple(hr.shape[2:])} must divide by factor {factor}")
    size = (hr.shape[2] // factor, hr.shape[3] // factor)
    image = F.interpolate(hr[:, :-1], size=size, mode="bilinear", antialias=True)
    mask = F.interpolate(hr[:, -1:], size=size, mode="nearest-exact")
    return torch.cat([image, mask], dim=1)


def upsample_condition(lr: Tensor, size: tuple[int, int]) -> Tensor:
    """The low-resolution pair brought to `size`: bilinear for the image channels, nearest for the
    mask (last channel), which so stays exactly ±1."""
    if lr.ndim != 4 or lr.shape[1] < 2:
        raise ValueError(f"expected a (B, C, h, w) image+mask batch, got {tuple(lr.shape)}")
    image = F.interpolate(lr[:, :-1], size=tuple(size), mode="bilinear")
    mask = F.interpolate(lr[:, -1:], size=tuple(size), mode="nearest-exact")
    return torch.cat([image, mask], dim=1)


def training_condition(hr: Tensor, factor: int) -> Tensor:
    """The condition of a high-resolution batch: degraded by `factor`, upsampled back."""
    return upsample_condition(degrade(hr, factor), tuple(hr.shape[-2:]))


def binarise_mask(pair: Tensor) -> Tensor:
    """The pair with its mask channel (the last) set to exactly ±1 (threshold 0)."""
    mask = torch.where(pair[:, -1:] > 0, 1.0, -1.0).to(pair.dtype)
    return torch.cat([pair[:, :-1], mask], dim=1)


def super_resolve(
    model: torch.nn.Module,
    lowres: Tensor,
    factor: int,
    sampler: str,
    steps: int,
    generator: torch.Generator | list[torch.Generator],
    eta: float = 0.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """High-resolution pairs in [-1, 1] (B, 4, f·h, f·w) from low-resolution ones (B, 4, h, w)
    in model space; the low-resolution mask is thresholded at 0 first, as in training."""
    size = (lowres.shape[-2] * factor, lowres.shape[-1] * factor)
    cond = upsample_condition(binarise_mask(lowres.float()), size)
    with autocast(torch.device(device) if device is not None else lowres.device):
        x = diffusion.sample(
            model,
            (len(lowres), lowres.shape[1], *size),
            sampler,
            steps,
            generator,
            eta,
            device=device,
            cond=cond,
            prediction=model.config.prediction,
        )
    return x.float()


def upsampled(images: np.ndarray, masks: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and boolean masks enlarged by `factor` as the super-resolver's condition is:
    bilinear for images, nearest for masks."""
    pair = np.concatenate([images, np.where(masks > 0, 255, 0).astype(np.uint8)[..., None]], -1)
    lowres = to_model_space(pair)
    size = (lowres.shape[-2] * factor, lowres.shape[-1] * factor)
    return to_uint8(upsample_condition(lowres, size))
